from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class TmConfig(AppConfig):
    name = "tm"
    verbose_name = "tm backchannel"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A typo in TM_TRUSTED_PROXIES stops tm at start-up, not at the first request.
        from .clientkey import trusted_networks

        try:
            trusted_networks()
        except ValueError as error:
            raise ImproperlyConfigured(f"TM_TRUSTED_PROXIES: {error}") from None
        from django.conf import settings

        from .languages import LANGUAGES

        if not 1 <= settings.TM_MAX_ROOM_DAYS <= 3650:
            raise ImproperlyConfigured("TM_MAX_ROOM_DAYS must be 1 to 3650 (days)")
        if settings.TM_DEFAULT_ROOM_LANGUAGE not in LANGUAGES:
            raise ImproperlyConfigured(
                f"TM_DEFAULT_ROOM_LANGUAGE must be one of {', '.join(LANGUAGES)}")
        # The abuse check's model is read before the first post, not during it.
        from . import screening

        screening.warm()
        # Signing in or up in a browser that made rooms or opened moderator links
        # attaches them to the account (tm/moderators.py).
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(_claim_browser_rooms, dispatch_uid="tm-claim-browser-rooms")


def _claim_browser_rooms(sender, request, user, **kwargs) -> None:
    from .moderators import claim_browser_rooms

    if request is not None:
        claim_browser_rooms(request, user)
