"""Checking a JSON body field by field: unknown fields refused, each field through one
of tm/validation.py's checks, every refusal an ApiError that names the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import validation
from .errors import ApiError, bad_field


def only(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, "invalid", f"unknown field(s): {', '.join(unknown)}",
                       fields={name: "unknown field" for name in unknown})


def field(data: dict[str, Any], name: str, check: Callable[..., Any], *args: Any) -> Any:
    try:
        return check(data[name], *args)
    except validation.Invalid as error:
        raise bad_field(name, error.message) from None


def choice(value: Any, name: str, choices: list[str]) -> str:
    if value not in choices:
        raise validation.Invalid(f"{name} must be one of: {', '.join(choices)}")
    return value
