"""The process's one LevelDB handle: opening it, finding it, closing it.

Unlike the Flask tutorial's SQLite connection per request, a LevelDB is opened once per
process and shared by every thread: LevelDB is thread-safe, and its LOCK file lets only
one process open a database at all. So `init_app` opens it when the app is made (a
locked or unwritable path fails there, before the server listens) and `close_db` closes
it when the server stops.
"""

from __future__ import annotations

import os
from pathlib import Path

import plyvel
from flask import Flask, current_app

EXTENSION = "flatdb.db"


class DatabaseUnavailable(Exception):
    """The LevelDB cannot be opened; the message says why in words an operator can act on."""


def _explain(path: Path, exc: plyvel.Error) -> str:
    detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(
        exc.args[0], bytes) else str(exc)
    if "lock" in detail.lower() and ("unavailable" in detail or "already held" in detail):
        return (f"database {path} is locked by another process "
                "(is another flatdb serving it?)")
    if "Permission denied" in detail or "Read-only file system" in detail:
        return f"database {path} is not writable: {detail}"
    if "Not a directory" in detail:
        return f"database {path} is not a directory path: {detail}"
    if "does not exist" in detail or "No such file" in detail:
        return f"database {path} does not exist"
    return f"cannot open database {path}: {detail}"


def open_database(path: str | os.PathLike[str], *, create: bool = True) -> plyvel.DB:
    """Open (and by default create) the LevelDB at `path`, or raise DatabaseUnavailable."""
    where = Path(path)
    if not create and not (where / "CURRENT").is_file():
        # Checked here: LevelDB would make the directory and a LOCK file before failing.
        raise DatabaseUnavailable(f"database {where} does not exist")
    try:
        if create:  # LevelDB makes the last directory only
            where.parent.mkdir(parents=True, exist_ok=True)
        return plyvel.DB(os.fspath(where), create_if_missing=create)
    except plyvel.Error as exc:  # IOError (lock, permissions), Corruption, InvalidArgument
        raise DatabaseUnavailable(_explain(where, exc)) from None
    except OSError as exc:  # a parent directory that cannot be made
        reason = "a parent is not a directory" if isinstance(
            exc, FileExistsError | NotADirectoryError) else exc.strerror
        raise DatabaseUnavailable(f"cannot create database {where}: {reason}") from None


def init_app(app: Flask) -> None:
    """Open the configured DATABASE and keep it on the app for the views."""
    path = app.config.get("DATABASE")
    if not path:
        raise DatabaseUnavailable("no database configured (DATABASE / --database)")
    app.extensions[EXTENSION] = open_database(path)


def get_db() -> plyvel.DB:
    """The current app's LevelDB handle."""
    return current_app.extensions[EXTENSION]


def close_db(app: Flask) -> None:
    """Close the app's LevelDB (and, through plyvel, its open iterators); safe to repeat."""
    db = app.extensions.pop(EXTENSION, None)
    if db is not None:
        db.close()
