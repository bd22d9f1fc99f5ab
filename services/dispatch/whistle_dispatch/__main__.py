"""`python -m whistle_dispatch`: run the dispatch service (FastAPI + Faust on one loop)."""

from whistle_common.service import serve

from .main import create_app
from .settings import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(lambda: create_app(settings), settings)
