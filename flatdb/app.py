"""The app factory: configuration, the database handle, the blueprints, the error shape.

Configuration, lowest to highest precedence: DEFAULTS below, FLATDB_* environment
variables (FLATDB_DATABASE, FLATDB_BACKUP_ROOT, FLATDB_MAX_VALUE_BYTES, ...; values are
parsed as JSON when they can be), TM_INTERNAL_SECRET for signed admin calls, then the
`config` mapping given to create_app (tests, the command line).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter

from flatdb import admin, api, compat, db, errors

MIB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    "DATABASE": None,              # path of the LevelDB directory, created when missing
    "MAX_CONTENT_LENGTH": 8 * MIB,  # one request body; Werkzeug answers 413 past it
    "MAX_VALUE_BYTES": 1 * MIB,    # one stored value, in bytes after decoding
    "MAX_KEY_BYTES": 64 * 1024,    # one key: keys fill index blocks and every comparison
    "BACKUP_ROOT": None,           # POST /backup writes only below this directory
    "INTERNAL_SECRET": "",         # HMAC key for signed admin calls (contract/signing.py)
    # Host header names answered (Flask's check, port ignored); any other is a 400. A
    # browser page on another site could otherwise reach a flatdb on this machine by
    # DNS rebinding (its own name, resolved to 127.0.0.1). Never empty: Flask reads an
    # empty list as "any host". The command line adds the bound address and --allowed-host.
    "TRUSTED_HOSTS": ["localhost", "127.0.0.1"],
}


class AnyPathConverter(BaseConverter):
    """Matches any rest of the path, empty or starting with "/": a key can be any bytes."""

    regex = ".*"
    part_isolating = False


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app and open its database (db.DatabaseUnavailable when it cannot)."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FLATDB")
    app.config["INTERNAL_SECRET"] = os.environ.get("TM_INTERNAL_SECRET",
                                                   app.config["INTERNAL_SECRET"])
    if config:
        app.config.update(config)
    if not app.config["TRUSTED_HOSTS"]:
        raise ValueError("TRUSTED_HOSTS must name at least one host")

    # "a//b" is a key of its own, not a URL to tidy up with a redirect.
    app.url_map.merge_slashes = False
    app.url_map.converters["anypath"] = AnyPathConverter

    errors.register(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(compat.bp)
    app.register_blueprint(admin.bp)
    db.init_app(app)
    return app
