"""Every module says what it offers: an ``__all__`` that names only what exists, and every public
class and function it defines (a name without a leading underscore is public, so a helper meant
to stay inside is named ``_like_this``). Packages' ``__init__`` modules that only describe the
package need none."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["protocol", "server", "clients", "loadtest"]


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "node_modules" not in p.parts)


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _declared(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, list | tuple)
            return [str(v) for v in value]
    return None


def _public_definitions(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not node.name.startswith("_")
    }


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_every_module_declares_what_it_offers(path: Path) -> None:
    tree = ast.parse(path.read_text())
    declared = _declared(tree)
    if declared is None:
        definitions = _public_definitions(tree)
        assert path.name in ("__init__.py", "__main__.py") and not definitions, (
            f"{_name(path)} has no __all__; it defines {sorted(definitions)}"
        )
        return
    assert len(declared) == len(set(declared)), f"{_name(path)}: __all__ names something twice"
    missing = _public_definitions(tree) - set(declared)
    assert not missing, f"{_name(path)} defines {sorted(missing)} but leaves it out of __all__ (or name it _private)"
    module = importlib.import_module(_name(path))
    absent = [n for n in declared if not hasattr(module, n)]
    assert not absent, f"{_name(path)}.__all__ names {absent}, which it does not have"
