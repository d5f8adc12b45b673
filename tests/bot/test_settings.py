from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, UnknownSettingWarning
from tests.conftest import PROJECT


def _example_keys() -> dict[str, str]:
    pairs = {}
    for line in (PROJECT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_env_example_documents_every_setting_with_its_default(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    example = _example_keys()
    assert set(example) == {name.upper() for name in Settings.model_fields}
    defaults = Settings()
    for key, value in example.items():
        default = getattr(defaults, key.lower())
        if isinstance(default, list):
            default = ",".join(map(str, default))
        assert (str(default) if default is not None else "") == value, key


def test_readme_settings_table_lists_every_key_with_its_default() -> None:
    """The README's table and .env.example name the same keys with the same defaults."""
    readme = (PROJECT / "README.md").read_text()
    table = readme[readme.index("\n## Settings\n") : readme.index("\n## Deployment\n")]
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]*?) \|", table, re.MULTILINE))
    shown = {key: f"`{value}`" if value else "(empty)" for key, value in _example_keys().items()}
    assert rows == shown


def test_empty_embedding_path_means_bundled(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMBEDDING_MODEL_PATH", "")
    assert Settings().embedding_model_path is None


def test_overlap_must_be_smaller_than_chunk(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="CHUNK_OVERLAP_WORDS"):
        Settings(chunk_words=40, chunk_overlap_words=40)


def test_an_unknown_env_key_warns_with_the_closest_setting(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("RELEVANCE_TRESHOLD=0.2\nHF_HUB_OFFLINE=1\n")
    with pytest.warns(UnknownSettingWarning) as caught:
        settings = Settings()
    messages = sorted(str(w.message) for w in caught)
    assert "HF_HUB_OFFLINE" in messages[0] and "did you mean" not in messages[0]
    assert "RELEVANCE_TRESHOLD" in messages[1] and "did you mean RELEVANCE_THRESHOLD" in messages[1]
    assert settings.relevance_threshold == 0.38  # still ignored: only a warning


def test_known_env_keys_give_no_warning(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("relevance_threshold=0.2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Settings().relevance_threshold == 0.2


@pytest.mark.parametrize("bad", ["wiki.example.org/articles", "javascript:alert(1)", "https://a b"])
def test_source_base_url_must_be_a_web_address(monkeypatch, tmp_path: Path, bad: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_BASE_URL", bad)
    with pytest.raises(ValidationError, match="SOURCE_BASE_URL must be a plain http"):
        Settings()
    monkeypatch.setenv("SOURCE_BASE_URL", " https://wiki.example.org/a/ ")
    assert Settings().source_base_url == "https://wiki.example.org/a/"


def test_allowed_channels_are_comma_separated_ids(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALLOWED_CHANNEL_IDS", "111, 222")
    assert Settings().allowed_channel_ids == [111, 222]
    monkeypatch.setenv("ALLOWED_CHANNEL_IDS", "")
    assert Settings().allowed_channel_ids == []


@pytest.mark.parametrize(
    ("given", "ids"),
    [("", []), ("111", [111]), ("111, 222", [111, 222]), ("[111;222]", [111, 222])],
)
def test_served_guilds_are_comma_separated_ids(monkeypatch, tmp_path: Path, given, ids) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_GUILD_IDS", given)
    assert Settings().discord_guild_ids == ids


def test_a_corpus_per_server_needs_the_servers_listed(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="Set DISCORD_GUILD_IDS to the comma-separated ids"):
        Settings(corpus_per_guild=True)
    assert Settings(corpus_per_guild=True, discord_guild_ids="1,2").discord_guild_ids == [1, 2]
