"""`--guild ID`: the command line on one server's articles when CORPUS_PER_GUILD is on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.communities import for_guild_settings, guild_settings
from bot.errors import BotError
from bot.frontends.cli import main
from bot.settings import Settings
from tests.conftest import TOWN_ARTICLES

HOME, OTHER = 111, 222


@pytest.fixture(autouse=True)
def _per_guild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two servers with a corpus each under tmp_path; no developer .env leaks in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CORPUS_DIR", str(tmp_path / "corpus"))
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("CORPUS_PER_GUILD", "true")
    monkeypatch.setenv("DISCORD_GUILD_IDS", f"{HOME},{OTHER}")
    for key in ("CHUNK_WORDS", "CHUNK_OVERLAP_WORDS", "EMBEDDING_MODEL_PATH"):
        monkeypatch.delenv(key, raising=False)


def test_a_server_gets_its_own_folders_inside_the_configured_ones(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, corpus_per_guild=True, discord_guild_ids=[HOME])
    own = for_guild_settings(settings, HOME)
    assert own == guild_settings(settings, HOME)
    assert own.corpus_dir == settings.corpus_dir / str(HOME)
    assert own.index_dir == settings.index_dir / str(HOME)
    assert own.discord_guild_ids == [HOME] and own.min_confidence == settings.min_confidence


def test_without_per_server_corpora_guild_is_refused_and_nothing_changes() -> None:
    shared = Settings(_env_file=None, discord_guild_ids=[HOME], corpus_per_guild=False)
    assert for_guild_settings(shared, None) is shared
    with pytest.raises(BotError, match="only with CORPUS_PER_GUILD=true"):
        for_guild_settings(shared, HOME)


@pytest.mark.parametrize(
    ("argv", "told"),
    [
        (["status"], f"pass --guild ID to say whose (one of {HOME}, {OTHER})"),
        (["ingest", "--guild", "333"], "Server 333 is not in DISCORD_GUILD_IDS"),
        (["discord", "--guild", str(HOME)], "`discord` takes no --guild"),
    ],
)
def test_a_missing_unknown_or_needless_guild_says_what_to_pass(argv, told, capsys) -> None:
    assert main(argv) == 2
    assert told in capsys.readouterr().err


def test_per_server_corpora_without_servers_listed_say_what_to_set(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DISCORD_GUILD_IDS", "")
    assert main(["status", "--guild", str(HOME)]) == 2
    assert "Set DISCORD_GUILD_IDS" in capsys.readouterr().err


@pytest.mark.slow
def test_ingest_and_status_work_on_the_named_servers_articles_only(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus" / str(HOME)
    corpus.mkdir(parents=True)
    for name in ("glenfield_bridge.txt", "brookvale_library.txt"):
        (corpus / name).write_text(TOWN_ARTICLES[name], encoding="utf-8")
    assert main(["ingest", "--guild", str(HOME), "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 2
    assert main(["status", "--guild", str(HOME), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["articles"] == 2 and status["index_dir"] == str(tmp_path / "index" / str(HOME))
    assert main(["status", "--guild", str(OTHER)]) == 2  # the other server's is not built
    assert str(tmp_path / "index" / str(OTHER)) in capsys.readouterr().err
    assert not (tmp_path / "index" / "articles.sqlite").exists(), "nothing in the shared folder"
