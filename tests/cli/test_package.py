"""The shipped model travels inside the installed package (pip install ., not only -e)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_and_finds_the_default_model(tmp_path):
    assert (ROOT / "weights" / "default.pt").is_file(), "weights/default.pt is the shipped model"
    src = tmp_path / "src"  # a clean copy: a stale build/ folder in the checkout must not leak into the wheel
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("captioner", "weights"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path, src],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("captioner-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "captioner/weights/default.pt" in names and "captioner/weights/README.md" in names
    packages = [p.parent.relative_to(src).as_posix() for p in (src / "captioner").rglob("__init__.py")]
    missing = [pkg for pkg in packages if f"{pkg}/__init__.py" not in names]
    assert not missing, f"pyproject.toml's package list lacks {missing}"
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel], check=True)
    probe = "import captioner.model.checkpoint as c; print(c.__file__); print(c.default_weights())"
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
