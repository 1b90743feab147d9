"""Secrets for dev and test, made on first use and kept out of the repository.

Each machine gets its own random values in var/local-secrets.json (mode 0600), so a
clone never ships a key and a restart keeps teachers signed in.
"""

import json
import os
import secrets
from pathlib import Path

NAMES = ("SECRET_KEY", "TM_INTERNAL_SECRET", "TM_CLIENT_KEY_SECRET")


def load_or_create(var_dir: Path) -> dict[str, str]:
    path = var_dir / "local-secrets.json"
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        values = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        values = {}
    missing = [name for name in NAMES if not values.get(name)]
    if missing:
        for name in missing:
            values[name] = secrets.token_urlsafe(48)
        # Write-then-rename so two processes starting at once never read half a file.
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(values, f)
        os.replace(tmp, path)
        values = json.loads(path.read_text())
    return values
