"""The directory the processes of one `serve --workers N` exchange their metrics through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltigate.cache import process_metrics
from ltigate.cache.process_metrics import MetricsDirectory


def test_each_process_reads_the_others_snapshots_and_not_its_own(tmp_path: Path) -> None:
    first, second, third = (MetricsDirectory(tmp_path, pid=pid) for pid in (101, 102, 103))
    first.publish({"counters": [1]})
    second.publish({"counters": [2]})
    first.publish({"counters": [3]})  # replaces its own, whole

    assert third.others() == [{"counters": [3]}, {"counters": [2]}]
    assert first.others() == [{"counters": [2]}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["101.json", "102.json"]  # no partial file left


def test_what_is_not_a_snapshot_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_metrics, "MAX_FILE_BYTES", 64)
    (tmp_path / "1.json").write_text("{not json")
    (tmp_path / "2.json").write_bytes(b"\xff\xfe")
    (tmp_path / "3.json").write_text(json.dumps({"counters": ["x" * 100]}))  # over the size cap
    (tmp_path / "4.json").write_text("[1, 2]")
    (tmp_path / "5.json").mkdir()
    (tmp_path / "6.txt").write_text("{}")
    (tmp_path / "7.json").write_text('{"counters": []}')

    assert MetricsDirectory(tmp_path, pid=9).others() == [{"counters": []}]


def test_a_directory_gone_leaves_the_scrape_its_own_figures(tmp_path: Path) -> None:
    directory = MetricsDirectory(tmp_path / "removed", pid=1)
    directory.publish({"counters": []})  # logged, not raised

    assert directory.others() == []
