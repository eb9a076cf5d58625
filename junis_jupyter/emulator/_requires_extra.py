"""Imported first by every module that imports starlette or uvicorn: see `_extra`."""
from ._extra import require_server_extra

require_server_extra()
