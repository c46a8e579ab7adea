"""The library's shape: imports flow one way through the stages, never in a cycle, and modules stay one idea long.

Layer order (README, "How the library is organised"):
base (config, device, checkpoint, course, assets, distributed) -> data -> nn -> models / schedules / losses / theory
-> train / sample -> metrics / viz / bench / exercises -> cli. A module may import its own layer or any layer below it.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sdgan_course"
LAYERS = {
    "config": 0, "device": 0, "checkpoint": 0, "course": 0, "assets": 0, "distributed": 0,
    "data": 1,
    "nn": 2,
    "models": 3, "schedules": 3, "losses": 3, "theory": 3,
    "train": 4, "sample": 4,
    "metrics": 5, "viz": 5, "bench": 5, "gpu_estimate": 5, "widgets": 5, "exercises": 5,
    "cli": 6,
}
MAX_LINES = 400  # a longer module says why in its docstring (it mentions "400-line")
# Known arrows against the order, each with its way out. Keep this list short; an entry that no longer exists fails.
KNOWN_EXCEPTIONS = {
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The sdgan_course modules that ``name`` imports (relative imports resolved; a package's own submodules
    excluded)."""
    path = MODULES[name]
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and not (is_package and target.startswith(name + ".")):
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def stage(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None  # sdgan_course itself has no stage


def test_every_stage_has_a_layer():
    unknown = {stage(n) for n in MODULES if stage(n) and stage(n) not in LAYERS} - {"__main__"}
    assert not unknown, f"new top-level modules or packages need a place in LAYERS (and the README map): {unknown}"


def test_imports_follow_the_layer_order():
    wrong = [
        f"{a} ({stage(a)}, layer {LAYERS[stage(a)]}) imports {b} ({stage(b)}, layer {LAYERS[stage(b)]})"
        for a, targets in GRAPH.items()
        for b in targets
        if stage(a) in LAYERS and stage(b) in LAYERS and LAYERS[stage(b)] > LAYERS[stage(a)]
        and (a, b) not in KNOWN_EXCEPTIONS
    ]
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_known_exceptions_still_exist():
    stale = [pair for pair in KNOWN_EXCEPTIONS if pair[0] not in GRAPH or pair[1] not in GRAPH[pair[0]]]
    assert not stale, f"fixed: remove these from KNOWN_EXCEPTIONS: {stale}"


def test_there_is_no_import_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


def test_only_the_cli_parses_arguments():
    offenders = [n for n in MODULES if stage(n) != "cli" and "argparse" in _imported_top_level(n)]
    assert not offenders, f"argparse outside sdgan_course/cli/: {offenders}"


def _imported_top_level(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_modules_stay_one_idea_long_or_say_why():
    long = []
    for name, path in MODULES.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if lines > MAX_LINES and "400-line" not in doc:
            long.append(f"{name}: {lines} lines")
    assert not long, f"split these modules, or say at their top why they are longer than {MAX_LINES} lines: {long}"


def test_the_walk_finds_the_imports_that_exist():
    """The walk above is not vacuous: it finds the arrows that do exist."""
    assert "sdgan_course.train.loop" in GRAPH["sdgan_course.train.gan"]
    assert "sdgan_course.models.gan" in GRAPH["sdgan_course.sample.gan"]
    assert LAYERS[stage("sdgan_course.cli.main")] > LAYERS[stage("sdgan_course.train.gan")]


def test_no_test_module_skips_itself_whole_for_an_optional_package():
    """A module-level ``pytest.importorskip`` silently skips every test after it (16 core tests of the samplers and
    schedules were skipped that way when diffusers was missing). Tests that need an optional package take a fixture
    (``diffusers`` in tests/conftest.py) or call importorskip inside themselves."""
    root = PACKAGE.parent
    offenders = []
    for path in sorted((root / "tests").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            if "importorskip" in ast.unparse(node) and not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, f"module-level importorskip: {offenders}"
