"""No request of any service hops to FastAPI's thread pool: FastAPI runs a plain function
(endpoint or dependency) in a worker thread, a hand-off there and back on every request."""

from __future__ import annotations

import inspect

import pytest
from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

SERVICES = ("intake", "dispatch", "scoring", "notify")


def app_of(service: str):
    module = __import__(f"whistle_{service}.main", fromlist=["create_app"])
    return module.create_app()


def api_routes(routes) -> list[APIRoute]:
    """The API routes of an app, those of its included routers too (FastAPI includes a
    router as one entry holding the `original_router`)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif getattr(route, "original_router", None) is not None:
            found.extend(api_routes(route.original_router.routes))
    return found


def calls(dependant: Dependant):
    """Every callable FastAPI runs for a route: its endpoint and dependencies, nested."""
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from calls(sub)


def blocking(call) -> bool:
    """What FastAPI would run in its thread pool: neither a coroutine function nor an async
    generator function (for a callable object, its `__call__`)."""
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else call.__call__
    return not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target))


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_runs_on_the_event_loop(service):
    routes = api_routes(app_of(service).routes)
    assert any(route.path.startswith("/v1/") for route in routes)
    hops = sorted({f"{route.path}: {getattr(call, '__qualname__', call)}"
                   for route in routes for call in calls(route.dependant) if blocking(call)})
    assert hops == []


def test_a_plain_function_dependency_is_caught():
    def plain() -> int:
        return 1

    app = FastAPI()

    @app.get("/x")
    async def x(_: int = Depends(plain)) -> int:
        return 1

    [route] = api_routes(app.routes)
    assert [c for c in calls(route.dependant) if blocking(c)] == [plain]
