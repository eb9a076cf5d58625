"""The Starlette app: the contract's routes, admin routes (optional), JSON errors for the rest."""
from __future__ import annotations

from . import _requires_extra  # noqa: F401  (first: no extra, one clear line)

# isort: split
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .admin import admin_routes
from .middleware import EmulatorMiddleware
from .options import EmulatorOptions
from .routes import ROUTES, Endpoint
from .runtime import Emulator
from .wire import ApiError, error_body, error_response, json_response


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
        return json_response(error_body(405, "invalid_request", message), 405)
    message = f"No such endpoint: {request.url.path}."
    return json_response(error_body(404, "not_found", message), 404)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


def create_app(options: EmulatorOptions | None = None,
               emulator: Emulator | None = None) -> Starlette:
    """The ASGI app; `app.state.emulator` is its runtime (keys, sessions, faults, stats)."""
    emulator = emulator or Emulator(options or EmulatorOptions())
    routes = [Route(path, Endpoint(emulator, handler), methods=[method])
              for path, method, handler in ROUTES]
    if emulator.options.admin:
        routes += admin_routes(emulator)
    app = Starlette(routes=routes,
                    exception_handlers={HTTPException: _http_error, ApiError: _api_error},
                    middleware=[Middleware(EmulatorMiddleware, emulator=emulator)])
    app.state.emulator = emulator
    return app
