"""Addresses as students and teachers type them: TM_PUBLIC_URL, or this request's host."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def public_url(request: HttpRequest, path: str) -> str:
    base = settings.TM_PUBLIC_URL or f"{request.scheme}://{request.get_host()}"
    return base.rstrip("/") + path
