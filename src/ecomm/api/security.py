"""Optional API keys: with `ECOMM_API_KEYS` empty (the local default) every caller is let in; with keys
set, prediction routes need a matching `X-API-Key` header (compared in constant time)."""

from __future__ import annotations

import hmac

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from ecomm.api.errors import ApiError

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Needed when ECOMM_API_KEYS is set."
)


async def require_api_key(request: Request, key: str | None = Security(API_KEY_HEADER)) -> None:
    # async: no I/O, so FastAPI runs it on the event loop instead of handing it to a thread
    keys = request.app.state.settings.api_keys
    if not keys:
        return
    if key is None:
        raise ApiError(401, "unauthorized", "this API needs an X-API-Key header")
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise ApiError(401, "unauthorized", "the X-API-Key is not valid")
