"""Operator calls: GET /healthz, and POST /backup of the running database.

POST /backup {"target": "name"} copies one snapshot of the database into a new
directory under BACKUP_ROOT (a relative name, or an absolute path inside the root;
anything that resolves outside it is refused). Without "target" the name is the UTC
time, e.g. "flatdb-20261123T100000Z". It writes to the disk, so unlike the data API it
is an internal call: signed with the shared secret (X-TM-Signature, contract/signing.py),
401 without a good signature, 403 when no backup root is configured.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Blueprint, Response, current_app, request

from contract import signing
from flatdb.backup import BackupError, TargetExists, backup
from flatdb.db import get_db
from flatdb.errors import ApiError, json_response
from flatdb.inputs import read_json

bp = Blueprint("admin", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    get_db().get(b"\x00flatdb-healthz")  # a read that touches the open handle
    return json_response({"status": "ok"})


@bp.post("/backup")
def post_backup() -> Response:
    refused = signing.verify(current_app.config["INTERNAL_SECRET"],
                             request.headers.get(signing.HEADER), request.method,
                             request.path, request.get_data())
    if refused:
        raise ApiError(401, "unauthorized", refused)
    root = current_app.config["BACKUP_ROOT"]
    if not root:
        raise ApiError(403, "backup_disabled",
                       "no backup root configured (BACKUP_ROOT / --backup-root)")
    body = read_json() if request.get_data().strip() else {}
    if not isinstance(body, dict) or set(body) - {"target"}:
        raise ApiError(400, "bad_request", 'the body must be {"target": "<directory>"}')
    name = body.get("target") or dt.datetime.now(dt.UTC).strftime("flatdb-%Y%m%dT%H%M%SZ")
    if not isinstance(name, str):
        raise ApiError(400, "bad_request", "target must be a string")
    target = _inside(Path(root), name)
    try:
        count = backup(get_db(), target)
    except TargetExists as exc:
        raise ApiError(409, "target_exists", str(exc)) from None
    except BackupError as exc:
        raise ApiError(500, "backup_failed", str(exc)) from None
    return json_response({"target": str(target), "keys": count}, 201)


def _inside(root: Path, name: str) -> Path:
    """`name` under `root`, refusing anything that resolves outside it (.., symlinks)."""
    base = root.resolve()
    target = (base / name).resolve()
    if target == base or not target.is_relative_to(base):
        raise ApiError(400, "bad_target", "the backup target must be inside the backup root")
    return target
