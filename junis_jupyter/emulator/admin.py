"""`/_emulator/*`: test-only controls (faults, extra keys, statistics), mounted with --admin."""
from __future__ import annotations

from . import _requires_extra  # noqa: F401  (first: no extra, one clear line)

# isort: split
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import parse_fault
from .options import NO_PLAN, PLANS
from .runtime import Emulator
from .validate import invalid, read_json
from .wire import json_response


def admin_routes(emulator: Emulator) -> list[Route]:
    # an ApiError raised here becomes its error response in the app's exception handler
    async def queue_faults(request: Request) -> Response:
        body = await read_json(request)
        raw = body.get("faults") if isinstance(body, dict) else None
        if not isinstance(raw, list):
            raise invalid("Invalid 'faults': must be a list of fault objects.")
        try:
            faults = [parse_fault(item, index) for index, item in enumerate(raw)]
        except (ValueError, TypeError) as exc:
            raise invalid(f"Invalid {exc}.") from None
        emulator.faults.add(faults)
        return json_response({"queued": len(faults), "pending": len(emulator.faults)})

    async def clear_faults(request: Request) -> Response:
        cleared = len(emulator.faults)
        emulator.faults.clear()
        return json_response({"cleared": cleared})

    async def add_key(request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise invalid("Request body must be a JSON object.")
        scopes = body.get("scopes")
        if scopes is not None and not (isinstance(scopes, list)
                                       and all(isinstance(s, str) for s in scopes)):
            raise invalid("Invalid 'scopes': must be a list of strings.")
        plan = body.get("plan", "pro")
        if plan not in PLANS and plan != NO_PLAN:
            raise invalid(f"Invalid 'plan': must be basic, pro or {NO_PLAN}.")
        numbers = {}
        for name in ("credits", "rpm", "concurrency"):
            value = body.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < 0):
                raise invalid(f"Invalid '{name}': must be a non-negative integer.")
            numbers[name] = value
        record = emulator.store.add_key(scopes=scopes, plan=plan, **numbers)
        return json_response({"key": record.key})

    async def stats(request: Request) -> Response:
        return json_response(emulator.stats.as_dict())

    return [Route("/_emulator/faults", queue_faults, methods=["POST"]),
            Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
            Route("/_emulator/keys", add_key, methods=["POST"]),
            Route("/_emulator/stats", stats, methods=["GET"])]
