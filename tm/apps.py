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
