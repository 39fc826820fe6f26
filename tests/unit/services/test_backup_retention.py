from __future__ import annotations

from streams.services.backup import count_mismatches, to_prune


def test_prune_keeps_the_newest_archives_and_ignores_other_files() -> None:
    names = [
        "hslr-backup-20260103T223000Z.tar.gz",
        "hslr-backup-20260101T223000Z.tar.gz",
        "notes.txt",
        "hslr-backup-20260102T223000Z.tar.gz",
        "hslr-backup-20260102T223000Z.partial",
    ]
    assert to_prune(names, 2) == ["hslr-backup-20260101T223000Z.tar.gz"]
    assert to_prune(names, 0) == to_prune(names, 1)  # the newest is always kept
    assert to_prune(names, 5) == []


def test_count_mismatches_name_each_table() -> None:
    assert count_mismatches({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0}) == ["b: 2 -> 3", "c: None -> 0"]
