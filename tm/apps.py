from django.apps import AppConfig


class TmConfig(AppConfig):
    name = "tm"
    verbose_name = "tm backchannel"
    default_auto_field = "django.db.models.BigAutoField"
