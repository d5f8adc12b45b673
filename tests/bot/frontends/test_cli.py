from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest

from bot import app
from bot.frontends.cli import main
from tests.conftest import PROJECT, TOWN_QUESTIONS, TOWN_UNANSWERABLE


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer .env or environment settings leak into these tests."""
    monkeypatch.chdir(tmp_path)
    for key in (
        "CORPUS_DIR",
        "INDEX_DIR",
        "CHUNK_WORDS",
        "CHUNK_OVERLAP_WORDS",
        "EMBEDDING_MODEL_PATH",
    ):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.slow
def test_ingest_then_status_json(seed_corpus: Path, index_dir: Path, capsys) -> None:
    assert main(["ingest", "--corpus", str(seed_corpus), "--index", str(index_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["added"]) == 5 and summary["skipped"] == []
    assert (
        summary["articles"] == 5
        and summary["sentences"] == summary["sentences_embedded"] > summary["chunks"] > 0
    )

    assert main(["status", "--index", str(index_dir), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["articles"] == 5 and status["chunks"] == summary["chunks"]
    assert status["embedding_model"] == "all-MiniLM-L6-v2"
    # The ingest just ran it, so ONNX is exported (an AMX CPU adds bf16 for large batches).
    assert status["embedding_backend"].split(",")[0] == "onnx"
    assert status["last_sync"]


@pytest.mark.slow
def test_ingest_prints_a_readable_summary_with_skips(
    seed_corpus: Path, index_dir: Path, capsys
) -> None:
    (seed_corpus / "broken.txt").write_bytes(b"\x00\x00")
    assert main(["ingest", "--corpus", str(seed_corpus), "--index", str(index_dir), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "skipped broken.txt: binary file" in out
    assert "5 added, 0 updated, 0 removed, 0 unchanged, 1 skipped" in out


def test_settings_come_from_dotenv(tmp_path: Path, capsys) -> None:
    (tmp_path / ".env").write_text(f"INDEX_DIR={tmp_path / 'elsewhere'}\n")
    assert main(["status"]) == 2
    assert "elsewhere" in capsys.readouterr().err


def test_missing_corpus_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["ingest", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "--corpus" in err


def test_status_without_index_says_how_to_build_it(tmp_path: Path, capsys) -> None:
    assert main(["status", "--index", str(tmp_path / "none")]) == 2
    assert "python -m bot ingest" in capsys.readouterr().err


def test_invalid_settings_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("CHUNK_WORDS", "50")
    monkeypatch.setenv("CHUNK_OVERLAP_WORDS", "50")
    assert main(["status"]) == 2
    assert "CHUNK_OVERLAP_WORDS" in capsys.readouterr().err


@pytest.mark.slow
def test_search_json_shape(seed_index: Path, capsys) -> None:
    assert (
        main(
            [
                "search",
                "Where did they have dinner?",
                "--index",
                str(seed_index),
                "-k",
                "3",
                "--json",
            ]
        )
        == 0
    )
    passages = json.loads(capsys.readouterr().out)
    assert len(passages) == 3
    for passage in passages:
        assert set(passage) == {
            "article_id",
            "title",
            "source",
            "text",
            "start",
            "end",
            "score",
            "relevance",
        }
        assert passage["end"] - passage["start"] == len(passage["text"])


@pytest.mark.slow
def test_eval_reports_every_mode(seed_index: Path, capsys) -> None:
    qa = Path(__file__).resolve().parents[3] / "eval" / "seed_holdout.jsonl"
    assert main(["eval", str(qa), "--index", str(seed_index), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [one] = report["sets"]
    modes = {r["mode"]: r for r in one["retrieval"]}
    assert set(modes) == {"hybrid", "dense", "lexical"}
    assert modes["hybrid"]["recall"]["@5"] >= 0.8


def test_search_without_index_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["search", "anything", "--index", str(tmp_path / "none")]) == 2
    assert "python -m bot ingest" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.usefixtures("synced_seed")  # as an ingest of seed_corpus leaves it
def test_an_index_from_an_older_version_asks_for_a_rebuild(
    seed_corpus: Path, index_dir: Path, capsys
) -> None:
    with sqlite3.connect(index_dir / "articles.sqlite") as db:  # as version 1 left it
        config = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        config["pipeline_version"] = 1
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(config),))
        db.execute("DELETE FROM meta WHERE key = 'collection'")
    assert main(["search", "dinner", "--index", str(index_dir)]) == 2
    assert "older version" in capsys.readouterr().err
    assert main(["ingest", "--corpus", str(seed_corpus), "--index", str(index_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rebuilt"] is True
    assert main(["search", "Where did they have dinner?", "--index", str(index_dir)]) == 0
    assert "Mar-a-Lago" in capsys.readouterr().out


@pytest.mark.slow
def test_eval_answers_reports_tune_and_holdout_with_intervals_and_the_curve(
    town_index: Path, tmp_path: Path, capsys, monkeypatch, generator
) -> None:
    monkeypatch.setenv("PROMPTS_DIR", str(PROJECT / "prompts"))
    # The small model, as in the other tests of the answer path, loaded once for the session
    # (each `eval` loaded the default model anew).
    monkeypatch.setenv("ANSWER_MODEL", "qwen-0.5b")
    monkeypatch.setattr(app, "load_generator", lambda settings: generator)
    lines = {
        # Two of each: the report's shape is under test, not the answers (each costs the model).
        "tune": [
            {"question": q, "answers": [g], "type": "answerable"} for q, g in TOWN_QUESTIONS[:2]
        ],
        "holdout": [
            {"question": q, "answers": [], "type": "unanswerable"} for q in TOWN_UNANSWERABLE[:2]
        ],
    }
    for split, rows in lines.items():
        text = "\n".join(json.dumps(row) for row in rows)
        (tmp_path / f"town_{split}.jsonl").write_text(text)
    args = ["eval", str(tmp_path / "town"), "--answers", "--mode", "hybrid"]
    assert main([*args, "--index", str(town_index)]) == 0
    text = capsys.readouterr().out
    assert "town_tune.jsonl: 2 questions" in text and "town_holdout.jsonl: 2 questions" in text
    assert "precision" in text and "[" in text and "risk/coverage" in text
    assert main([*args, "--index", str(town_index), "--json"]) == 0
    tune, holdout = json.loads(capsys.readouterr().out)["sets"]
    assert tune["answers"]["answerable"] == 2 and holdout["answers"]["unanswerable"] == 2
    assert set(tune["answers"]["intervals"]) >= {"precision", "accuracy", "false_abstention"}
    assert [row["min_confidence"] for row in holdout["answers"]["curve"]][:2] == [0.0, 0.1]
    assert all("signals" in d for d in tune["answers"]["details"])


@pytest.fixture
def _root_logging_restored() -> Iterator[None]:
    """`discord` sets up logging on the root logger; later tests must not write through it."""
    handlers, level = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


_WELL_SHAPED = "M" * 24 + "." + "G" * 6 + "." + "x" * 38  # the shape of a bot token, not a real one


@pytest.mark.parametrize(
    ("token", "hint"),
    [("Bot " + _WELL_SHAPED, "'Bot ' prefix"), (f'"{_WELL_SHAPED}"', "quotes"), ("abc", "")],
)
@pytest.mark.usefixtures("_root_logging_restored")
def test_a_token_of_the_wrong_shape_is_refused_before_anything_loads(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, token: str, hint: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", token)
    assert main(["discord", "--index", str(tmp_path / "no-index")]) == 2
    err = capsys.readouterr().err
    assert "does not look like a bot token" in err and hint in err


@pytest.mark.usefixtures("_root_logging_restored")
def test_discord_logs_in_before_loading_the_models(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No index, no network: the login is what fails, so the models were never loaded."""
    monkeypatch.setenv("DISCORD_TOKEN", _WELL_SHAPED)
    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:9/api/v10")  # closed port
    assert main(["discord", "--index", str(tmp_path / "no-index")]) == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]  # after discord.py's log lines
    assert "Cannot reach Discord" in message and "index" not in message.lower()


def test_an_unknown_env_key_is_a_warning_naming_the_closest_setting(tmp_path: Path, capsys) -> None:
    (tmp_path / ".env").write_text("RELEVANCE_TRESHOLD=0.2\n")
    assert main(["status", "--index", str(tmp_path / "none")]) == 2  # no index: still warned
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "did you mean RELEVANCE_THRESHOLD?" in err


def test_corpus_naming_a_file_says_so_and_names_its_folder(tmp_path: Path, capsys) -> None:
    article = tmp_path / "articles" / "budget.txt"
    article.parent.mkdir()
    article.write_text("The council approved the budget.")
    assert main(["ingest", "--corpus", str(article), "--index", str(tmp_path / "i")]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and f"--corpus {article.parent}" in err


OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # writes "echo pwned" to the operator's clipboard
FORGED_NAME = "evil\nadded: fake\u202egnp.md"  # a forged summary line; shows as "fakedm.png"


def _assert_shown_not_raw(out: str) -> None:
    assert not {"\x1b", "\x07", "\u202e"} & set(out), repr(out)
    assert not any(line.startswith("added: fake") for line in out.splitlines()), out
    assert "\\x1b]52;c;" in out


@pytest.mark.slow
def test_titles_and_file_names_print_as_visible_escapes(tmp_path: Path, capsys) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    body = "The council approved the new budget on Tuesday after a long debate.\n"
    (corpus / FORGED_NAME).write_text(f"---\ntitle: Budget {OSC52}day\n---\n{body}")
    (corpus / "feed.jsonl").write_text(
        json.dumps({"id": "one", "title": f"Bridge\x1b[2J{OSC52}", "text": body}) + "\n"
    )
    assert main(["ingest", "--quiet", "--corpus", str(corpus), "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "evil\\nadded: fake\\u202egnp.md" in out
    assert not {"\x1b", "\u202e"} & set(out) and "\nadded: fake" not in out
    for command in (["articles"], ["search", "budget approved", "-k", "2"]):
        assert main([*command, "--corpus", str(corpus), "--index", str(index)]) == 0
        _assert_shown_not_raw(capsys.readouterr().out)
