"""The wings of `bot/` stand on each other in one order: no wing imports one above it.

Read from the source's imports (no module is loaded), so a new arrow that runs back up,
say a library module importing a front end, fails here with the file and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT

# Lowest first. A module may import its own wing and any wing below it.
FLOORS = (
    {"errors", "settings", "sources", "terminal", "deadline", "local_sqlite"},
    {"generation", "library"},
    {"answering"},
    {"evaluation", "feedback"},
    {"communities"},
    {"app"},
    {"frontends"},
    {"__main__"},
)


def floor_of(module: str) -> int:
    wing = module.split(".")[1]
    return next(number for number, wings in enumerate(FLOORS) if wing in wings)


def project_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("bot.")]
    return found


def bot_modules() -> dict[str, Path]:
    modules = {}
    for path in (PROJECT / "bot").rglob("*.py"):
        parts = path.relative_to(PROJECT).with_suffix("").parts
        if parts[-1] != "__init__":
            modules[".".join(parts)] = path
    return modules


def test_every_module_of_bot_stands_on_a_known_wing() -> None:
    modules = bot_modules()
    assert len(modules) > 50
    for module in modules:
        floor_of(module)  # raises StopIteration for a wing FLOORS does not name


def test_no_wing_imports_one_above_it() -> None:
    upward = [
        f"{path.relative_to(PROJECT)} imports {imported}"
        for module, path in bot_modules().items()
        for imported in project_imports(path)
        if floor_of(imported) > floor_of(module)
    ]
    assert upward == []


def test_the_check_sees_an_arrow_running_back_up(tmp_path: Path) -> None:
    """A library module importing a front end is what the test above must catch."""
    source = tmp_path / "adding.py"
    source.write_text("from bot.frontends.discord.formatting import escape_markdown\n")
    [imported] = project_imports(source)
    assert floor_of(imported) > floor_of("bot.library.adding")
