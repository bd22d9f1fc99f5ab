"""`python -m whistle_scoring` runs the service; `… rebuild-assessment` replays cases.events."""

import sys

from whistle_common.service import serve

from .main import create_app
from .settings import Settings

if __name__ == "__main__":
    if sys.argv[1:] == ["rebuild-assessment"]:
        from .rebuild import main

        main()
    else:
        settings = Settings()
        serve(lambda: create_app(settings), settings)
