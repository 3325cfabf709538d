"""A hard kill (SIGKILL) of a real captioning process loses at most one batch and leaves no temp file behind."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

OLD = json.dumps({"path": "old.jpg", "caption": "an earlier run's output"}) + "\n"


def lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def start(cmd, env):
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after(proc, journal: Path, count: int) -> int:
    deadline = time.time() + 120
    while time.time() < deadline and lines(journal) < count and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    return lines(journal)


def test_killed_fresh_and_resumed_runs_lose_nothing_and_leave_no_temp_file(trained, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    src = sorted(trained["images"].iterdir())
    for i in range(120):
        shutil.copy(src[i % len(src)], folder / f"p{i:03d}.jpg")
    out = tmp_path / "out.jsonl"
    journal = tmp_path / "out.jsonl.partial"
    out.write_text(OLD)  # an earlier run's output: stays as it is until a run finishes
    base = [sys.executable, "-m", "captioner", "caption", str(folder), "--weights", str(trained["model"])]
    base += ["--format", "jsonl", "-o", str(out), "--batch-size", "2", "--workers", "0", "-q", "--backend", "torch"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    first = kill_after(start(base, env), journal, 10)  # a fresh run, killed
    assert 10 <= first < 120 and out.read_text() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many", "out.jsonl", "out.jsonl.partial"]
    with open(journal, "a") as f:
        f.write('{"path": "half a line')  # what a kill in the middle of a write leaves

    second = kill_after(start([*base, "--resume"], env), journal, first + 6)  # a resumed run, killed
    assert first + 6 <= second < 120 and out.read_text() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many", "out.jsonl", "out.jsonl.partial"]

    proc = start([*base, "--resume"], env)  # interrupted again, by Ctrl-C: what is done becomes the output
    while lines(journal) < second + 4 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"--resume" in err
    assert second + 4 <= lines(out) < 120 and not journal.exists()

    done = subprocess.run([*base, "--resume"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    paths = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    assert sorted(paths) == sorted(str(p) for p in folder.iterdir())  # each exactly once; old.jpg was replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many", "out.jsonl"]  # no journal, no temp file
