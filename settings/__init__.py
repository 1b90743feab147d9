"""Django settings for tm, as a layered package.

`base` names every setting once; `dev` (the default), `test` and `prod` change only
what differs. Pick one with DJANGO_SETTINGS_MODULE=settings.<name>.
"""
