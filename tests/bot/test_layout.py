"""The wings of `bot/` stand on each other in one order: no wing imports one above it;
only the entry points import the wiring (`bot.app`), and no front end reaches through the
engine for the index or the embedding model.

Read from the source's imports (no module is loaded), so a new arrow that runs back up,
say a library module importing a front end, fails here with the file and the import.
"""

from __future__ import annotations

import ast
import re
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


# -- the wiring ---------------------------------------------------------------------------
# The command line (cli and its `feeds` verbs) and the console; Discord starts from cli.
ENTRY_POINTS = {"bot/frontends/cli.py", "bot/frontends/feeds_cli.py", "bot/frontends/console.py"}


def test_only_the_entry_points_import_the_wiring() -> None:
    importers = {
        path.relative_to(PROJECT).as_posix()
        for path in (PROJECT / "bot").rglob("*.py")
        if "bot.app" in project_imports(path)
    }
    assert importers <= ENTRY_POINTS, importers - ENTRY_POINTS


def test_no_cog_imports_the_bot_that_loads_it() -> None:
    """The bot's module imports the cogs; they see it as `cogs.host.CommunityBot`."""
    cogs = sorted((PROJECT / "bot" / "frontends" / "discord" / "cogs").glob("*.py"))
    assert len(cogs) > 10, "the cogs moved: point this test at their folder"
    client = "bot.frontends.discord.client"
    importers = [path.name for path in cogs if client in project_imports(path)]
    assert importers == []


def test_no_front_end_reaches_through_the_engine_for_the_index_or_the_model() -> None:
    reaching = re.compile(r"engine\.store\b|engine\.searcher\.embedder\b")
    offenders = [
        path.relative_to(PROJECT).as_posix()
        for path in (PROJECT / "bot").rglob("*.py")
        if path.name not in ("app.py", "engine.py") and reaching.search(path.read_text())
    ]
    assert offenders == []
