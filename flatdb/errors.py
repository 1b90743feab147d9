"""The one error shape: `{"error": {"code": ..., "message": ...}}` with a fitting status.

Views raise `ApiError`; Werkzeug's own HTTP errors (404 routes, 405, the 413 that
MAX_CONTENT_LENGTH raises) and anything unexpected are turned into the same shape here,
so clients never have to parse an HTML error page.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

log = logging.getLogger("flatdb")

# Werkzeug names its exceptions "Request Entity Too Large"; clients get stable codes.
_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "headers_too_large",
}


class ApiError(Exception):
    """An answer to a bad request, raised anywhere below a view."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_body(data: object) -> bytes:
    # Compact and UTF-8: values are often JSON documents themselves, kept small on the wire.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(data: object, status: int = 200) -> Response:
    return Response(json_body(data), status=status, mimetype="application/json")


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = error_response(status, _CODES.get(status, f"http_{status}"),
                                  exc.description or exc.name)
        allow = dict(exc.get_headers()).get("Allow")
        if allow:  # a 405 says which methods the path does take
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal", "internal error; see the server log")
