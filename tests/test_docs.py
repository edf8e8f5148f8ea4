"""The docs' examples stay true to the code: their imports import, their commands parse.

Every ```python block of README.md and docs/*.md must parse and each of its
`kerasreg` imports must succeed; every `kerasreg ...` command line (fenced
or indented, backslash continuations joined) must be accepted by the CLI's
own parser. Nothing is trained: the examples that train are run by their
own tests and benchmarks.
"""

import ast
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from kerasreg.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def _blocks(language):
    for page in PAGES:
        for lang, body in FENCE.findall(page.read_text()):
            if lang == language:
                yield page.name, body


def _commands():
    """`kerasreg ...` lines of code: in a fenced block, or indented by 4."""
    for page in PAGES:
        fenced = False
        for raw in page.read_text().replace("\\\n", " ").splitlines():
            if raw.startswith("```"):
                fenced = not fenced
                continue
            line = raw.strip().removeprefix("$ ")
            code = fenced or raw.startswith("    ")
            if code and line.startswith("kerasreg "):
                yield page.name, line.split(" #")[0].strip()


def _imports():
    for page, body in _blocks("python"):
        for node in ast.walk(ast.parse(body)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "kerasreg"
            ):
                yield page, ast.unparse(node)
            elif isinstance(node, ast.Import) and node.names[0].name.startswith(
                "kerasreg"
            ):
                yield page, ast.unparse(node)


def test_the_docs_have_examples_to_check():
    assert len(list(_blocks("python"))) >= 40
    assert len(list(_imports())) >= 40
    assert len(list(_commands())) >= 25


@pytest.mark.parametrize("page, body", list(_blocks("python")))
def test_python_blocks_parse(page, body):
    ast.parse(body, filename=page)


@pytest.mark.parametrize("page, statement", sorted(set(_imports())))
def test_imports_in_the_docs_import(page, statement):
    exec(statement, {})


@pytest.mark.parametrize("page, line", list(_commands()))
def test_commands_in_the_docs_parse(page, line):
    errors = io.StringIO()
    try:
        with (
            contextlib.redirect_stderr(errors),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            build_parser().parse_args(shlex.split(line)[1:])
    except SystemExit as exit_:
        assert not exit_.code, f"{page}: {line}\n{errors.getvalue()}"


def test_a_wrong_flag_would_be_caught():
    with pytest.raises(SystemExit) as exit_, contextlib.redirect_stderr(io.StringIO()):
        build_parser().parse_args(["prune", "--model", "m.keras", "--sparsty", "0.9"])
    assert exit_.value.code == 2
