"""SQL runs only in the store modules of server/records/: nothing else executes, commits or
rolls back on a connection, reaches a store's connection, or imports a database driver."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[3] / "server"
STORES = SERVER / "records"

_SQL_CALLS = {"execute", "executemany", "executescript"}
_ENDINGS = {"commit", "rollback"}  # the bus's commit(...) takes arguments; a connection's takes none
_CONNECTION = {"db", "_db", "_connection", "in_transaction", "_rows", "_row"}
_DRIVERS = {"sqlite3", "aiosqlite", "asyncpg", "psycopg"}


def _offences(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            # A redis pipeline's execute() takes no statement, at most how to treat errors: not SQL.
            keywords = [k for k in node.keywords if k.arg not in ("raise_on_error", "allow_redirections")]
            name, args = node.func.attr, node.args or keywords
            if (name in _SQL_CALLS and args) or name in ("executemany", "executescript"):
                found.append((node.lineno, f"{name}() of a statement"))
            elif name in _ENDINGS and not args:
                found.append((node.lineno, f"{name}() by hand"))
        elif isinstance(node, ast.Attribute) and node.attr in _CONNECTION:
            found.append((node.lineno, f"the store's connection (.{node.attr})"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] in _DRIVERS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _DRIVERS:
            found.append((node.lineno, f"from {node.module} import"))
    return sorted(found)


def test_the_checker_tells_sql_from_a_redis_pipeline() -> None:
    code = """
async def f(store, pipe, bus, db):
    await pipe.execute()
    await pipe.execute(raise_on_error=False)
    await bus.commit(plan, events)
    await store.db.execute("SELECT 1")
    await db.commit()
    cur = await db.executemany("INSERT INTO t VALUES (?)", rows)
"""
    assert [why for _, why in _offences(ast.parse(code))] == [
        "execute() of a statement",
        "the store's connection (.db)",
        "commit() by hand",
        "executemany() of a statement",
    ]


def test_no_module_outside_the_store_modules_runs_sql() -> None:
    modules = [p for p in sorted(SERVER.rglob("*.py")) if STORES not in p.parents]
    assert len(modules) > 50  # the walk found the server
    offences = [
        f"{path.relative_to(SERVER.parent)}:{line}: {why}"
        for path in modules
        for line, why in _offences(ast.parse(path.read_text(), str(path)))
    ]
    assert offences == [], "SQL outside server/records/ (put it behind a store method):\n" + "\n".join(offences)
