"""The rules the package layout keeps (issue: one package per technique).

- no import cycles, counting imports inside functions too;
- a private module, or a private name, is imported only inside its package;
- data flows one way: data -> models -> training -> compression -> tuning,
  with the CLI on top;
- no module over 400 lines, no function body over 60 lines unless its
  docstring says why ("is long because");
- every private Keras / keras-tuner API is reached through `_keras_compat`;
- no package attribute is shadowed by a submodule of the same name.
"""

import ast
import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kerasreg"


def _module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
PACKAGES = {name for name, p in MODULES.items() if p.name == "__init__.py"}


def _package_of(module):
    return module if module in PACKAGES else module.rpartition(".")[0]


def _lazy_target(package, name):
    """The module a package's lazy table sends `name` to, or None."""
    table = getattr(importlib.import_module(package), "_NAMES", {})
    if name in table:
        target = f"{package}.{table[name]}"
        return _lazy_target(target, name) if target in PACKAGES else target
    return None


def _imports(module):
    """`(imported module, imported name or None, line)` of every kerasreg import."""
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kerasreg"):
                    yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            if not node.module.startswith("kerasreg"):
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in MODULES:
                    yield sub, None, node.lineno
                else:
                    yield node.module, alias.name, node.lineno


def _edges():
    edges = {}
    for module in MODULES:
        targets = set()
        for target, name, _ in _imports(module):
            if target in PACKAGES and name is not None:
                target = _lazy_target(target, name) or target
            if target != module:
                targets.add(target)
        edges[module] = targets
    return edges


def test_no_import_cycles():
    edges = _edges()
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert cycles == []


def test_private_modules_and_names_stay_in_their_package():
    crossings = []
    for module in MODULES:
        home = _package_of(module)
        for target, name, line in _imports(module):
            owner = _package_of(target)
            private_module = target.rpartition(".")[2].startswith("_")
            private_name = (
                name is not None and name.startswith("_") and not name.startswith("__")
            )
            inside = home == owner or home.startswith(owner + ".")
            if private_module and not inside:
                crossings.append(f"{module}:{line} imports {target}")
            if private_name and home != _package_of(target):
                crossings.append(f"{module}:{line} imports {target}.{name}")
    assert crossings == []


# Lower layers never import higher ones.
LAYERS = [
    ("kerasreg._", "kerasreg.metrics", "kerasreg.report"),
    ("kerasreg.data",),
    ("kerasreg.models", "kerasreg.layers", "kerasreg.normalization",
     "kerasreg.initializers", "kerasreg.regularizers", "kerasreg.losses",
     "kerasreg.callbacks", "kerasreg.saving", "kerasreg.testing", "kerasreg.noise"),
    ("kerasreg.distribute",),
    ("kerasreg.training",),
    ("kerasreg.compression",),
    ("kerasreg.compression.pipeline", "kerasreg.tuning"),
    ("kerasreg.cli", "kerasreg"),
]  # fmt: skip


def _layer(module):
    best = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            hit = module == prefix or module.startswith(
                prefix if prefix.endswith("_") else prefix + "."
            )
            if hit and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    return best[0]


def test_data_flows_one_way():
    upward = [
        f"{module} -> {target}"
        for module, targets in _edges().items()
        for target in targets
        if target != "kerasreg" and _layer(target) > _layer(module)
    ]
    assert upward == []


def _long_functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            doc = ast.get_docstring(node) or ""
            if isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant
            ):
                body = body[1:] or body
            length = body[-1].end_lineno - body[0].lineno + 1
            if length > 60 and "is long because" not in doc:
                yield node.name, length


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_and_function_sizes(module):
    text = MODULES[module].read_text()
    lines = text.count("\n")
    assert lines <= 400, f"{module} has {lines} lines"
    assert list(_long_functions(ast.parse(text))) == []


def test_private_third_party_apis_only_in_keras_compat():
    pattern = re.compile(
        r"keras\.src|keras_tuner\.src|_inbound_nodes|_keras_history|"
        r"_nodes_by_depth|_outputs_struct|_run_through_graph|_standardize_inputs|"
        r"\._functional\b|_collective_key_base"
    )
    offenders = [
        f"{module}:{n}"
        for module, path in MODULES.items()
        if module != "kerasreg._keras_compat"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_no_submodule_shadows_a_public_name():
    clashes = []
    for package in PACKAGES:
        table = getattr(importlib.import_module(package), "_NAMES", {})
        for name in table:
            if f"{package}.{name}" in MODULES:
                clashes.append(f"{package}.{name}")
    assert clashes == []


def test_no_document_numbers_in_the_code():
    # "seed 001" and "issue 6" say where an idea came from in our notes, not
    # what it is; they also read like random seeds.
    pattern = re.compile(r"\b([Ss]eeds?) 0\d\d\b|\b[Ii]ssue \d+|SEED_[A-Z]|seed_space")
    offenders = [
        f"{module}:{n}: {line.strip()[:60]}"
        for module, path in MODULES.items()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
