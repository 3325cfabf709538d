"""The layout keeps its shape: rooms import only downward, the CLI is the top floor, functions and classes stay small.

See docs/architecture.md for the rooms and what flows between them.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "captioner"
GROUND = {"errors", "atomic", "paths", "jsonl", "pages", "devices"}  # the ground floor: shared by every room
# room -> rooms it may import (besides the ground floor and itself)
ALLOWED = {
    "model": set(),
    "labels": {"model"},
    "data": {"model"},
    "evaluation": {"model", "data", "photos", "labels"},
    "training": {"model", "data", "evaluation", "labels"},
    "photos": {"model", "data", "labels"},
    "serve": {"model", "data", "photos", "labels"},
    "ray": {"model", "data", "photos", "labels"},
    "cli": {"model", "data", "evaluation", "training", "photos", "labels", "serve", "ray"},
}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def room_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_rooms(tree: ast.AST) -> set[str]:
    rooms = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "captioner" and len(parts) > 1:
                rooms.add(parts[1])
    return rooms


def test_rooms_import_only_downward():
    bad = []
    for path, tree in modules():
        room = room_of(path)
        if room in ("__init__", "__main__"):
            continue
        allowed = ALLOWED.get(room, set()) | GROUND | {room}
        for other in imported_rooms(tree) - allowed:
            bad.append(f"{path.relative_to(PACKAGE)} imports captioner.{other}")
    assert not bad, "\n".join(bad)


def test_no_function_takes_more_than_six_positional_parameters():
    bad = []
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                params = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
                if len(params) > 6:
                    bad.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}({', '.join(params)})")
    assert not bad, "\n".join(bad)


def test_no_class_is_over_220_lines_and_no_module_over_400():
    bad = []
    for path, tree in modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > 400:
            bad.append(f"{path.relative_to(PACKAGE)}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 220:
                bad.append(f"{path.relative_to(PACKAGE)}:{node.lineno} class {node.name}")
    assert not bad, "\n".join(bad)


def test_the_architecture_page_names_every_module():
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [
        str(p.relative_to(PACKAGE.parent))
        for p, _ in modules()
        if p.name != "__init__.py" and p.relative_to(PACKAGE).as_posix() not in page
    ]
    assert not missing, f"docs/architecture.md does not mention {missing}"
