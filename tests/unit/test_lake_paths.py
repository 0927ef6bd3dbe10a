"""No module under gamelake/ touches a lake or checkpoint location with pathlib, os or shutil:
they go through gamelake.lakefs, which reaches a local folder and an S3 bucket alike.

The rule (an AST scan of each function, and of each module's top level, in source order):
- a *lake expression* is written with an identifier (a name, an attribute, a keyword; string
  literals do not count, but for "_delta_log") that names a location: one containing
  `checkpoint`, `delta_log` or `table_path`, or having `lake`, `table` or `commit` as a word
  (`paths.lake`, `lake_dir`, `job.checkpoints`, `DELTA_LOG`, `table_path(...)`, `table_dir`;
  not `gamelake` or `lakefs`); or a name the scope assigned, looped or `with`-bound from a
  lake expression: `log_dir = table / DELTA_LOG; log_dir.is_dir()` is caught via `log_dir`.
  Text is no location: `str(lake).replace(...)` and f-strings are left alone;
- a violation is a filesystem call (`FS_CALLS`: mkdir, exists, is_dir, iterdir, read_text,
  open, stat, rename, rmtree, resolve, listdir, unlink, ...) made as a method of a lake
  expression (`(lake / layer).iterdir()`), or as a function of os, os.path, shutil, Path or a
  builtin (`os.scandir(log_dir)`, `shutil.rmtree(area)`, `open(commit)`) given a lake
  expression.
It follows names within a scope, not values through calls: a parameter counts by its name
only, so a helper taking `path`, handed a lake path, is not seen (keeping lake code on lakefs
makes that moot). Run on the tree before lakefs, it finds every site of the scale-out spike's
list but ledger._checksum_txn's two (on a parameter named `log_dir`). gamelake/lakefs.py is
the one module allowed to do this.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gamelake"
ALLOWED = {PACKAGE / "lakefs.py"}
FS_CALLS = {
    "exists", "is_dir", "is_file", "isdir", "isfile", "lexists", "getmtime", "iterdir", "glob",
    "rglob", "walk", "listdir", "scandir", "read_text", "read_bytes", "write_text",
    "write_bytes", "open", "stat", "touch", "mkdir", "makedirs", "rename", "replace", "unlink",
    "remove", "rmdir", "rmtree", "resolve", "copytree", "move",
}  # fmt: skip
# Modules whose functions take a path argument (os.scandir(p), shutil.rmtree(p), open(p)).
FS_MODULES = {"os", "os.path", "shutil", "Path", "pathlib.Path"}
LAKE_WORDS = re.compile(r"checkpoint|delta_log|table_path", re.IGNORECASE)


# Words of an identifier (split at `_`) that name a lake location: `lake`, `lake_dir`,
# `table`, `table_dir`, `commit` (a commit file); not `gamelake`, `lakefs`, `tables`.
LAKE_NAME_WORDS = {"lake", "table", "commit"}


def _lake_word(identifier: str) -> bool:
    """True for an identifier that names a lake or checkpoint location."""
    words = set(identifier.lower().split("_"))
    return bool(LAKE_WORDS.search(identifier)) or bool(words & LAKE_NAME_WORDS)


def _identifiers(node: ast.AST) -> list[str]:
    """The names, attribute names and keyword names an expression is written with."""
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.append(n.id)
        elif isinstance(n, ast.Attribute):
            out.append(n.attr)
        elif isinstance(n, ast.keyword) and n.arg:
            out.append(n.arg)
    return out


# Calls whose value is text or a number, never a location: str(lake).replace(...) is no rename.
_TEXT_CALLS = {"str", "repr", "int", "len", "format"}


def _textual(node: ast.AST) -> bool:
    """True for text: a literal, an f-string, str(...), or a method chain on one."""
    if isinstance(node, (ast.Constant, ast.JoinedStr)):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id in _TEXT_CALLS
        return isinstance(func, ast.Attribute) and _textual(func.value)
    return False


class _Scope(ast.NodeVisitor):
    """Violations of one function (or module) body, names tainted in source order."""

    def __init__(self, params: list[str]) -> None:
        self.tainted = {p for p in params if _lake_word(p)}
        self.found: list[tuple[int, str]] = []

    def mentions_lake(self, node: ast.AST) -> bool:
        if any(_lake_word(i) or i in self.tainted for i in _identifiers(node)):
            return True
        # A literal "_delta_log" joined to a path: `(path / "_delta_log").is_dir()`.
        return any(
            isinstance(n, ast.Constant) and isinstance(n.value, str) and "_delta_log" in n.value
            for n in ast.walk(node)
        )

    def _taint(self, targets: list[ast.expr], value: ast.AST | None) -> None:
        if value is None or _textual(value) or not self.mentions_lake(value):
            return
        for target in targets:
            for n in ast.walk(target):
                if isinstance(n, ast.Name):
                    self.tainted.add(n.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        self._taint(node.targets, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        self._taint([node.target], node.value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.generic_visit(node)
        self._taint([node.target], node.value)

    def visit_For(self, node: ast.For) -> None:
        self._taint([node.target], node.iter)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._taint([node.target], node.iter)
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._taint([item.optional_vars], item.context_expr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in FS_CALLS:
            owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            if owner in FS_MODULES or not owner:  # os.scandir(p), shutil.rmtree(p), open(p)
                hit = any(self.mentions_lake(a) for a in [*node.args, *node.keywords])
            else:  # p.is_dir()
                hit = not _textual(func.value) and self.mentions_lake(func.value)
            if hit:
                self.found.append((node.lineno, ast.unparse(node)))
        self.generic_visit(node)

    # Nested functions are scanned as scopes of their own.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return None

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    visit_Lambda = visit_FunctionDef  # type: ignore[assignment]


def violations(source: str) -> list[tuple[int, str]]:
    """(line, call) of every filesystem call on a lake or checkpoint location in `source`."""
    tree = ast.parse(source)
    scopes: list[tuple[list[str], list[ast.AST]]] = [([], list(tree.body))]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            params = [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
            body = node.body if isinstance(node.body, list) else [node.body]
            scopes.append((params, body))
    found = []
    for params, body in scopes:
        scope = _Scope(params)
        for stmt in body:
            scope.visit(stmt)
        found += scope.found
    return sorted(found)


def test_no_module_touches_a_lake_location_but_lakefs():
    report = [
        f"{name}:{line}: {call}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in ALLOWED and (name := path.relative_to(PACKAGE.parent).as_posix())
        for line, call in violations(path.read_text())
    ]
    assert not report, "use gamelake.lakefs for lake and checkpoint paths:\n" + "\n".join(report)


PLANTED = """
import os, shutil
from pathlib import Path

def start(checkpoint: Path):
    checkpoint.mkdir(parents=True, exist_ok=True)          # 6: method on a lake parameter

def versions(table):
    log_dir = table / DELTA_LOG
    with os.scandir(log_dir) as entries:                    # 10: os function, tainted name
        return [e.name for e in entries]

def layers(settings):
    return [p.name for p in (settings.paths.lake / "silver").iterdir()]  # 14

def wipe(lake):
    area = lake / "_bench"
    shutil.rmtree(area, ignore_errors=True)                 # 18: through a local name
    return open(table_path(lake, "ops", "x") / "f").read()  # 19: open() of a lake path

def fine(conf_dir, lake):
    rules = conf_dir / "rules"
    name = str(lake).replace("s3a://", "s3://")             # a str method, not the filesystem
    return rules.is_dir(), (conf_dir / "x.yaml").read_text(), name
"""


def test_the_scanner_finds_planted_violations_and_spares_other_paths():
    assert [line for line, _ in violations(PLANTED)] == [6, 10, 14, 18, 19]
