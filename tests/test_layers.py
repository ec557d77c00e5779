"""The package's layers, as docs/contributing.rst draws them, hold for every import."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nmcraman"
PICTURE = ROOT / "docs" / "contributing.rst"
#: Above every layer: the package's entry modules.
TOP = {"__init__", "__main__"}


def _layers() -> list[set[str]]:
    """The picture's lines, top first: each a set of module or folder names."""
    text = PICTURE.read_text(encoding="utf-8")
    block = text.split("Each line of this picture is a layer", 1)[1].split("::\n\n", 1)[1]
    layers = []
    for line in block.splitlines():
        if not line.startswith("    "):
            break
        names = re.split(r"\s{3,}", line.strip())[0].split()
        layers.append({n.rstrip("/") for n in names})
    return layers


def _unit(module: str) -> str:
    """The picture's name for a module: its folder (``maps``) or its own name (``fit``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _runtime_imports(path: Path, package: str):
    """Absolute names of the nmcraman modules ``path`` imports, outside TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "nmcraman":
                yield from (f"nmcraman.{a.name}" for a in node.names)
            elif target.startswith("nmcraman."):
                yield target
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("nmcraman."))


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_init else parts)
        yield path, name, name if is_init else name.rsplit(".", 1)[0]


def test_picture_names_every_module_once():
    layers = _layers()
    named = [n for layer in layers for n in layer]
    assert len(named) == len(set(named))
    units = {_unit(name) for _, name, _ in _modules()} - TOP
    assert units == set(named)


@pytest.mark.parametrize(("path", "name", "package"), list(_modules()), ids=lambda v: str(v))
def test_every_import_points_down_or_across(path, name, package):
    layers = _layers()
    rank = {n: len(layers) - k for k, layer in enumerate(layers) for n in layer}
    own = _unit(name)
    if own in TOP:
        return
    upward = sorted(
        t for t in set(_runtime_imports(path, package)) if rank.get(_unit(t), 0) > rank[own]
    )
    assert not upward, f"{name} imports from a layer above its own: {upward}"
