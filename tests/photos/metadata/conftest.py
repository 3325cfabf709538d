"""Fixtures: the generated photo library, exiftool when it is there, and helpers to look inside files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.photos.metadata.library import build

REPO = Path(__file__).resolve().parents[3]
SHARED_EXIFTOOL = REPO.parent / "shared" / "tools" / "exiftool" / "exiftool"


@pytest.fixture
def lib(tmp_path: Path) -> dict[str, Path]:
    """The library (see ``library.build``), fresh for each test."""
    return build(tmp_path / "library")


def exiftool_command() -> list[str] | None:
    if shutil.which("exiftool"):
        return ["exiftool"]
    if SHARED_EXIFTOOL.is_file() and shutil.which("perl"):
        return ["perl", str(SHARED_EXIFTOOL)]
    return None


@pytest.fixture
def exiftool() -> list[str]:
    command = exiftool_command()
    if command is None:
        pytest.skip(f"exiftool is neither on PATH nor runnable as: perl {SHARED_EXIFTOOL}")
    return command


def validate(command: list[str], paths: list[Path]) -> dict[Path, set[str]]:
    """exiftool -validate warnings for each file."""
    folder = paths[0].parent
    assert all(p.parent == folder for p in paths)
    names = [p.name for p in paths]
    out = subprocess.run(
        [*command, "-validate", "-warning", "-a", "-s", "-G1", *names],
        cwd=folder,
        capture_output=True,
        check=False,
    ).stdout.decode("utf-8", "surrogateescape")
    result: dict[Path, set[str]] = {p: set() for p in paths}
    current = paths[0]
    for line in out.splitlines():
        if line.startswith("======== "):
            current = folder / line[len("======== ") :]
        elif line.startswith("[ExifTool]") and line.split(":", 1)[0].split()[-1] == "Warning":
            result[current].add(line.split(":", 1)[1].strip())
    return result
