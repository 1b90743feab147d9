"""flatdb/backup.py without a server: the edges of backup and restore."""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from flatdb.backup import BackupError, TargetExists, backup, backup_path, restore


def make_db(path: Path, items: dict[bytes, bytes]) -> None:
    db = plyvel.DB(str(path), create_if_missing=True)
    try:
        for key, value in items.items():
            db.put(key, value)
    finally:
        db.close()


def read_db(path: Path) -> dict[bytes, bytes]:
    db = plyvel.DB(str(path))
    try:
        return dict(db)
    finally:
        db.close()


def test_backup_is_one_snapshot(tmp_path: Path):
    db = plyvel.DB(str(tmp_path / "db"), create_if_missing=True)
    try:
        db.put(b"a", b"1")
        assert backup(db, tmp_path / "bk") == 1
        db.put(b"b", b"2")
    finally:
        db.close()
    assert read_db(tmp_path / "bk") == {b"a": b"1"}


def test_backup_into_an_empty_directory_is_allowed(tmp_path: Path):
    make_db(tmp_path / "db", {b"k": b"v"})
    (tmp_path / "bk").mkdir()
    assert backup_path(tmp_path / "db", tmp_path / "bk") == 1
    with pytest.raises(TargetExists):
        backup_path(tmp_path / "db", tmp_path / "bk")


def test_backup_of_a_missing_database_fails(tmp_path: Path):
    with pytest.raises(BackupError, match="does not exist"):
        backup_path(tmp_path / "nothing", tmp_path / "bk")
    assert not (tmp_path / "nothing").exists()


def test_restore_creates_parents_and_replaces_an_empty_database(tmp_path: Path):
    make_db(tmp_path / "bk", {b"k": b"v"})
    make_db(tmp_path / "empty-db", {})
    assert restore(tmp_path / "bk", tmp_path / "empty-db") == 1  # no keys: no --force needed
    assert restore(tmp_path / "bk", tmp_path / "deep" / "new") == 1
    assert read_db(tmp_path / "deep" / "new") == {b"k": b"v"}


def test_restore_never_replaces_what_is_not_a_leveldb(tmp_path: Path):
    make_db(tmp_path / "bk", {b"k": b"v"})
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("years of work")
    with pytest.raises(BackupError, match="not a LevelDB"):
        restore(tmp_path / "bk", tmp_path / "docs", force=True)
    assert (tmp_path / "docs" / "thesis.txt").read_text() == "years of work"


def test_restore_onto_itself_is_refused(tmp_path: Path):
    make_db(tmp_path / "bk", {b"k": b"v"})
    with pytest.raises(BackupError, match="same directory"):
        restore(tmp_path / "bk", tmp_path / "bk", force=True)
    assert read_db(tmp_path / "bk") == {b"k": b"v"}
