"""The output's journal on its own: synced records, the rename at the end, resuming, compaction, the lock."""

import os

import pytest

from captioner.errors import CaptionerError
from captioner.photos.journal import Journal, journal_path
from captioner.photos.merge import merge_outputs
from captioner.photos.records import CaptionRecord, latest, read_records


def ok(path, caption="a dog"):
    return CaptionRecord(path, caption, -1.0, [])


def bad(path):
    return CaptionRecord(path, error=f"{path}: truncated")


def paths_and_errors(path):
    return [(r.path, r.error) for r in read_records(path).records]


def test_records_reach_the_journal_and_become_the_output_at_the_end(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"path": "old.jpg", "caption": "old"}\n')
    os.chmod(out, 0o640)
    journal = Journal(out, "jsonl", resume=False)
    journal.write(ok("a.jpg"))
    journal.sync()
    assert journal_path(out).read_text().count("\n") == 1 and "old.jpg" in out.read_text()  # output untouched
    journal.write(bad("b.jpg"))
    journal.finish()
    assert paths_and_errors(out) == [("a.jpg", None), ("b.jpg", "b.jpg: truncated")]
    assert os.listdir(tmp_path) == ["out.jsonl"] and out.stat().st_mode & 0o777 == 0o640


def test_a_killed_run_is_continued_from_its_journal(tmp_path):
    out = tmp_path / "out.csv"
    first = Journal(out, "csv", resume=False)
    first.write(ok("a.jpg"))
    first.write(bad("b.jpg"))
    first.close()  # killed: no finish
    with open(journal_path(out), "a") as f:
        f.write("c.jpg,half a li")
    again = Journal(out, "csv", resume=True)
    assert [(r.path, r.ok) for r in again.records] == [("a.jpg", True), ("b.jpg", False)]
    again.write(ok("b.jpg", "a cat"))  # the failed file, tried again
    again.write(ok("c.jpg"))
    again.finish()
    text = out.read_text()
    assert text.count("path,caption") == 1 and "half a li" not in text
    assert paths_and_errors(out) == [("a.jpg", None), ("b.jpg", None), ("c.jpg", None)]  # compacted
    assert os.listdir(tmp_path) == ["out.csv"]


def test_resume_without_a_journal_starts_from_the_output_and_leaves_it_until_the_end(tmp_path):
    out = tmp_path / "out.jsonl"
    first = Journal(out, "jsonl", resume=False)
    first.write(ok("a.jpg"))
    first.write(bad("b.jpg"))
    first.finish()
    before = out.read_bytes()
    again = Journal(out, "jsonl", resume=True)
    assert [r.path for r in again.records] == ["a.jpg", "b.jpg"]
    again.write(bad("b.jpg"))  # failed again
    again.close()
    assert out.read_bytes() == before
    third = Journal(out, "jsonl", resume=True)
    assert [r.path for r in third.records] == ["a.jpg", "b.jpg", "b.jpg"]
    third.finish()
    assert paths_and_errors(out) == [("a.jpg", None), ("b.jpg", "b.jpg: truncated")]


def test_a_fresh_run_starts_over_and_removes_a_leftover_compaction(tmp_path):
    out = tmp_path / "out.jsonl"
    killed = Journal(out, "jsonl", resume=False)
    killed.write(ok("a.jpg"))
    killed.close()
    (tmp_path / "out.jsonl.compact").write_text("left by a kill during compaction\n")
    fresh = Journal(out, "jsonl", resume=False)
    assert fresh.records == [] and not (tmp_path / "out.jsonl.compact").exists()
    fresh.write(ok("z.jpg"))
    fresh.finish()
    assert paths_and_errors(out) == [("z.jpg", None)]


def test_text_outputs_hold_no_error_records_so_nothing_to_compact(tmp_path):
    out = tmp_path / "out.txt"
    journal = Journal(out, "text", resume=False)
    journal.write(bad("a.jpg"))
    journal.write(ok("a.jpg"))
    assert journal.duplicates == 0
    journal.finish()
    assert out.read_text() == "a.jpg\ta dog\n"


def test_two_runs_on_one_output_and_unwritable_places(tmp_path):
    out = tmp_path / "out.jsonl"
    holder = Journal(out, "jsonl", resume=False)
    with pytest.raises(CaptionerError, match="out.jsonl: another captioner run is writing it"):
        Journal(out, "jsonl", resume=True)
    holder.close()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CaptionerError, match="caps.txt: cannot write here"):
        Journal(blocker / "caps.txt", "text", resume=False)


def test_a_bad_output_to_resume_is_one_error_and_no_journal_is_left(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("not json\n")
    with pytest.raises(CaptionerError, match="out.jsonl:1: not JSON"):
        Journal(out, "jsonl", resume=True)
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_one_record_per_path_a_caption_beats_an_error():
    records = [bad("a"), ok("b", "first"), ok("a", "later"), bad("a"), ok("b", "second"), bad("c"), bad("c")]
    got = latest(records)
    assert list(got) == ["a", "b", "c"]
    assert got["a"].caption == "later" and got["b"].caption == "second" and not got["c"].ok


def test_merge_takes_the_same_rule_within_one_file(tmp_path):
    resumed = tmp_path / "resumed.jsonl"
    resumed.write_text(
        '{"path": "a.jpg", "error": "a.jpg: gone"}\n{"path": "b.jpg", "caption": "b"}\n'
        '{"path": "a.jpg", "caption": "a"}\n'
    )
    summary = merge_outputs([resumed], tmp_path / "merged.jsonl")
    assert summary.records == 2 and summary.duplicates == 1 and summary.failed == 0
    assert paths_and_errors(tmp_path / "merged.jsonl") == [("a.jpg", None), ("b.jpg", None)]


def test_a_run_killed_before_its_first_record_is_resumed_from_nothing(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("path,caption,score,tags,error\nold.jpg,an earlier run,,,\n")
    Journal(out, "csv", resume=False).close()  # a fresh run, killed at once: it meant to replace the output
    again = Journal(out, "csv", resume=True)
    assert again.records == []
    again.write(ok("new.jpg"))
    again.finish()
    assert paths_and_errors(out) == [("new.jpg", None)] and out.read_text().count("path,caption") == 1
