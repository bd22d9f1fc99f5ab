"""`python -m whistle_console`: serve the console with uvicorn (CONSOLE_PORT, default 8080)."""

from __future__ import annotations

import logging

import uvicorn
from whistle_serving import serve

from .app import create_app
from .settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                            log_level=settings.log_level.lower(), proxy_headers=True,
                            server_header=False)
    serve(config)


if __name__ == "__main__":
    main()
