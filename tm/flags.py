"""Feature flags (django-waffle) for features still rolling out.

Each flag is created by a data migration with the default it ships with; operators
flip it in the Django admin (Waffle > Flags) without a deploy.
"""

# The LMS embed view: third-party framing is the newest surface, so it can be turned
# off at once if an LMS misbehaves. Ships on for everyone.
EMBED_VIEW = "embed_view"

DEFAULTS = {EMBED_VIEW: {"everyone": True, "note": "Embed view for LMS iframes"}}
