"""`python -m whistle_intake`: run the intake service (FastAPI + Faust on one loop);
`python -m whistle_intake retrain|evaluate|check-overrides`: the classifier's commands."""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1:
        from .entrypoints.cli import main

        sys.exit(main(sys.argv[1:]))
    from whistle_common.service import serve

    from .main import create_app
    from .settings import Settings

    settings = Settings()
    serve(lambda: create_app(settings), settings)
