"""What the privacy notice says of who runs tm (settings TM_PRIVACY_CONTROLLER and
TM_PRIVACY_CONTACT), for every page: the join forms carry a short notice, /privacy the
whole one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def notice(request: HttpRequest) -> dict[str, Any]:
    """A template context processor: `privacy` on every page."""
    contact = settings.TM_PRIVACY_CONTACT
    if "@" in contact and not contact.startswith(("http://", "https://")):
        url = f"mailto:{contact}"
    elif contact.startswith(("http://", "https://")):
        url = contact
    else:
        url = ""  # neither an address nor a link: shown, not linked
    return {"privacy": {"controller": settings.TM_PRIVACY_CONTROLLER, "contact": contact,
                        "contact_url": url, "audit_days": settings.TM_AUDIT_RETENTION_DAYS}}
