"""API errors in the one JSON shape of ARCHITECTURE.md, and the view wrapper that
turns every failure a client can cause into a 4xx with that shape, never a 500."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger("tm.api")

MAX_JSON_BODY = 16 * 1024  # the largest legitimate body is a room's settings


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str,
        fields: dict[str, str] | None = None, headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        response = JsonResponse({"error": body}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def bad_field(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid", message, fields={field: message})


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or an ApiError saying what is wrong with it."""
    content_type = request.content_type or ""
    if content_type != "application/json":
        # Also a CSRF defence: a cross-site HTML form cannot send application/json.
        raise ApiError(415, "unsupported_media_type",
                       "send the body as JSON with Content-Type: application/json")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, "bad_request", "Content-Length is not a number") from None
    if declared > MAX_JSON_BODY:
        raise ApiError(413, "too_large", f"request body over {MAX_JSON_BODY} bytes")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "too_large", f"request body over {MAX_JSON_BODY} bytes") from None
    if len(raw) > MAX_JSON_BODY:
        raise ApiError(413, "too_large", f"request body over {MAX_JSON_BODY} bytes")
    if not raw.strip():
        raise ApiError(400, "invalid_json", "request body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "request body is not UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not JSON: {exc.msg}") from None
    except (ValueError, RecursionError):
        # json raises these for input it will not read rather than malformed input: an
        # integer over Python's 4300-digit limit, or nesting deeper than the recursion
        # limit (16 KiB of "[" is plenty). Bad input all the same, not a server error.
        raise ApiError(400, "invalid_json", "request body is JSON too deep or a number "
                       "too long to read") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    return data


def api_view(*methods: str) -> Callable:
    """Wrap a JSON API view: allowed methods, ApiError and 404 as JSON errors."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                error = ApiError(405, "method_not_allowed",
                                 f"use {' or '.join(methods)} here")
                response = error.response()
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as error:
                return error.response()
            except Http404:
                return ApiError(404, "not_found", "no such thing here").response()

        # The API checks CSRF itself: only where a cookie authenticates (tm/auth.py).
        wrapper.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapper

    return decorate


def json_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return ApiError(404, "not_found", "no such thing here").response()
