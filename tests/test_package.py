"""The shipped model travels inside the installed package (pip install ., not only -e)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_and_finds_the_default_model(tmp_path):
    assert (ROOT / "weights" / "default.pt").is_file(), "weights/default.pt is the shipped model"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path, ROOT],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("captioner-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "captioner/weights/default.pt" in names and "captioner/weights/README.md" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel], check=True)
    probe = "import captioner.checkpoint as c; print(c.__file__); print(c.default_weights())"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith(str(target))  # the installed copy, not this checkout
    assert out[1] == str(target / "captioner" / "weights" / "default.pt")
