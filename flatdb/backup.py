"""Consistent backups and restores of a LevelDB, with no server or HTTP in sight.

A backup is a plain LevelDB directory: every key of one plyvel snapshot copied into a
fresh database. It is written under a hidden ".partial" name beside the target and
renamed into place when complete, so a crash never leaves something that looks like a
finished backup. A restore copies such a directory the same way into a staging
directory beside the database, then swaps it in.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import plyvel

from flatdb.db import DatabaseUnavailable, open_database

# Flush the copy every few MiB: bounded memory, and few enough writes to be fast.
BATCH_BYTES = 4 * 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


class TargetExists(BackupError):
    """The backup target is already there; backups never overwrite."""


def _is_leveldb(path: Path) -> bool:
    return (path / "CURRENT").is_file()


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _sibling(path: Path, purpose: str) -> Path:
    return path.parent / f".{path.name}.{purpose}-{uuid.uuid4().hex[:12]}"


def _copy_into_new(source: plyvel.DB, target: Path) -> int:
    """Copy one snapshot of `source` into a new LevelDB at `target` (which must not exist);
    the number of keys copied."""
    count = 0
    with source.snapshot() as snapshot, snapshot.iterator() as items:
        out = plyvel.DB(os.fspath(target), create_if_missing=True, error_if_exists=True)
        try:
            batch, size = out.write_batch(), 0
            for key, value in items:
                batch.put(key, value)
                count += 1
                size += len(key) + len(value)
                if size >= BATCH_BYTES:
                    batch.write()
                    batch, size = out.write_batch(), 0
            batch.write()
        finally:
            out.close()
    return count


def backup(db: plyvel.DB, target: str | os.PathLike[str]) -> int:
    """Write a consistent copy of the open `db` to the new directory `target`.

    `target` must not exist (an empty directory is taken as not existing). Returns the
    number of keys copied.
    """
    target = Path(target)
    if target.exists() and not _is_empty_dir(target):
        raise TargetExists(f"backup target {target} already exists")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {target.parent}: {exc.strerror}") from None
    partial = _sibling(target, "partial")
    try:
        count = _copy_into_new(db, partial)
        if target.exists():
            target.rmdir()  # the empty directory an operator made for us
        partial.rename(target)
    except (OSError, plyvel.Error) as exc:
        raise BackupError(f"backup to {target} failed: {exc}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return count


def backup_path(database: str | os.PathLike[str], target: str | os.PathLike[str]) -> int:
    """Back up the LevelDB at the path `database`, which no server may hold open."""
    try:
        db = open_database(database, create=False)
    except DatabaseUnavailable as exc:
        raise BackupError(f"{exc}; back up a running flatdb with POST /backup") from None
    try:
        return backup(db, target)
    finally:
        db.close()


def restore(source: str | os.PathLike[str], database: str | os.PathLike[str], *,
            force: bool = False) -> int:
    """Make `database` a copy of the backup at `source`; the number of keys restored.

    Refuses to replace a database that holds any key unless `force`, never replaces a
    directory that is not a LevelDB, and fails when a running server holds the database.
    """
    source, database = Path(source), Path(database)
    if not _is_leveldb(source):
        raise BackupError(f"{source} is not a flatdb backup (no LevelDB there)")
    if source.resolve() == database.resolve():
        raise BackupError("the backup and the database are the same directory")
    replacing = database.exists() and not _is_empty_dir(database)
    if replacing:
        if not _is_leveldb(database):
            raise BackupError(f"{database} is not a LevelDB; refusing to replace it")
        # Opening takes the LOCK: a running flatdb makes this fail with a clear message.
        current = open_database(database, create=False)
        try:
            with current.iterator(include_value=False) as keys:
                has_keys = next(keys, None) is not None
        finally:
            current.close()
        if has_keys and not force:
            raise BackupError(f"database {database} is not empty; "
                              "use --force to replace it with the backup")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {database.parent}: {exc.strerror}") from None

    staging, old = _sibling(database, "restoring"), _sibling(database, "replaced")
    try:
        from_db = open_database(source, create=False)
    except DatabaseUnavailable as exc:
        raise BackupError(str(exc)) from None
    try:
        count = _copy_into_new(from_db, staging)
    except (OSError, plyvel.Error) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BackupError(f"restore into {database} failed: {exc}") from None
    finally:
        from_db.close()
    # Swap by renames, so a crash leaves the old database or the new one in place
    # (and a hidden leftover beside it), never half of each.
    moved_aside = False
    try:
        if database.exists():
            database.rename(old)
            moved_aside = True
        staging.rename(database)
    except OSError as exc:
        if moved_aside and not database.exists():
            old.rename(database)
        shutil.rmtree(staging, ignore_errors=True)
        raise BackupError(f"restore into {database} failed: {exc}") from None
    shutil.rmtree(old, ignore_errors=True)
    return count
