"""Every error leaves as JSON `{error, message, details, request_id}`: the field that is wrong is named,
and nothing of the server's insides (stack traces, SQL, paths) is ever in a response."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecomm.api.model_store import ModelUnavailable

log = logging.getLogger("ecomm.api")


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.details = status, error, message, details or []


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "") or ""


def error_response(request: Request, status: int, error: str, message: str, details=None, headers=None):
    return JSONResponse(
        {"error": error, "message": message, "details": details or [], "request_id": request_id(request)},
        status_code=status,
        headers=headers,
    )


def _field(loc) -> str:
    """('body', 'users', 0, 'age') -> 'users[0].age'; ('path', 'customer_id') -> 'customer_id'."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "path", "query", "header") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _validation(request: Request, exc: RequestValidationError):
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        where = (first.get("ctx") or {}).get("error", "")
        return error_response(request, 400, "invalid_json", f"the request body is not valid JSON ({where})")
    details = []
    for e in errors:
        message = e.get("msg", "invalid value")
        if e.get("type") == "missing":
            message = "field required"
        elif e.get("type") == "extra_forbidden":
            message = "unknown field"
        details.append({"field": _field(e.get("loc", ())), "message": message})
    return error_response(request, 422, "validation_error", validation_message(details), details)


def validation_message(details: list[dict]) -> str:
    """The first five wrong fields in one line: 'invalid request: users[0].age: field required; …'."""
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    return f"invalid request: {summary}{more}"


def invalid_body(details: list[dict]) -> ApiError:
    """A 422 like pydantic's, for what only a handler can check (fields a loaded model decides)."""
    return ApiError(422, "validation_error", validation_message(details), details)


def _http(request: Request, exc: StarletteHTTPException):
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "payload_too_large"}
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    return error_response(
        request, exc.status_code, codes.get(exc.status_code, "http_error"), message, headers=exc.headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return error_response(request, exc.status, exc.error, exc.message, exc.details)

    @app.exception_handler(ModelUnavailable)
    async def model_unavailable(request: Request, exc: ModelUnavailable):
        return error_response(request, 503, "model_unavailable", str(exc), headers={"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError):
        return _validation(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException):
        return _http(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("request %s failed", request_id(request))
        return error_response(
            request,
            500,
            "internal_error",
            f"the server failed to answer; quote request id {request_id(request)}",
        )
