"""Serve the console on fake services, to develop pages and take screenshots without the stack:

    python -m tests.unit.console.devserver [port]      # default 18080

Tokens: tok-street-wenchang, tok-street-chaicun, tok-operator, tok-chengguan, tok-huanbao.
"""

from __future__ import annotations

import sys

import uvicorn
from whistle_console.app import create_app
from whistle_console.settings import ConsoleSettings

from tests.unit.console.fakes import URLS, FakePlatform, seed


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 18080
    platform = FakePlatform()
    seed(platform)
    settings = ConsoleSettings(port=port, intake_url=URLS["intake"],
                               dispatch_url=URLS["dispatch"], scoring_url=URLS["scoring"],
                               notify_url=URLS["notify"], poll_seconds=5)
    uvicorn.run(create_app(settings, transport=platform.transport()), host="127.0.0.1",
                port=port, log_level="warning")


if __name__ == "__main__":
    main()
