"""Article titles and sources that carry mentions, masked links and markdown (issue 27),
through every Discord path that shows them: answers, related passages, /articles,
/remove and /restore with their autocomplete, /status, /reload, /help examples.

Anyone who can write to the corpus folder, or run a page through /add, picks titles.
No message may ping (every one carries AllowedMentions.none()), show a masked link
the article wrote, or format text the article marked up. The bot, engine and members
are test_client's (SimCord at the Discord boundary, a real index).
"""

from __future__ import annotations

import re
from pathlib import Path

import discord
import pytest

from bot.frontends.discord.cogs.catalog import CHOICE_CHARS
from tests.bot.conftest import ScriptedGenerator
from tests.bot.frontends.discord import test_client
from tests.conftest import write_town_corpus

settings, engine, library, simcord_bot, world = (
    test_client.settings,
    test_client.engine,
    test_client.library,
    test_client.simcord_bot,
    test_client.world,
)

pytestmark = pytest.mark.slow
MOD_ROLE = 4242
HOSTILE_TITLE = (
    "@everyone <@&4242> [free nitro](http://phish.example/login) **Harbour** __news__ "
    "||secret|| `code` # heading"
)
HOSTILE_SOURCE = "http://harbour.example/a>) [click me](http://phish.example/x"
HOSTILE_TEXT = (
    "Harbour master Ines Varga said the Dunmore ferry will stop running in May. "
    "The ferry carried 40,000 passengers last year."
)
HARBOUR_QUESTION = "Who is the harbour master in Dunmore?"
# what the article wrote, as it would act if it reached Discord unescaped
RAW_MARKUP = (
    "[free nitro](http://phish.example",
    "[click me](http://phish.example",
    "**Harbour**",
    "__news__",
    "||secret||",
    "`code`",
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = write_town_corpus(tmp_path / "corpus")
    (folder / "harbour.md").write_text(
        f'---\ntitle: "{HOSTILE_TITLE}"\nurl: "{HOSTILE_SOURCE}"\ndate: 2024-03-05\n---\n'
        f"{HOSTILE_TEXT}\n",
        encoding="utf-8",
    )
    (folder / "linked.md").write_text(
        "---\ntitle: '[x](http://phish.example) @here <@123> Ferry ~~timetable~~'\n"
        "url: 'https://harbour.example/ferry_*timetable*_|x|'\n---\n"
        "The Dunmore ferry timetable changes on 1 May, the harbour office said.\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def moderator(world):
    env, guild, _, _ = world
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    return guild.add_member(env.create_user("mod"), roles=[mods])


_CODE_SOURCE = re.compile(r" · `[^`\n]*`$", re.MULTILINE)  # /articles: "title · `source`"


def _messages(env) -> list[dict]:
    """Every message body the bot sent or edited (interaction callbacks included)."""
    bodies = []
    for entry in env.http_requests:
        body = entry.json if isinstance(entry.json, dict) else {}
        body = body.get("data") if isinstance(body.get("data"), dict) else body
        if isinstance(body.get("content"), str):
            bodies.append(body)
    return bodies


def _assert_inert(env) -> list[str]:
    """No message pings or shows the articles' own markup; returns their texts."""
    bodies = _messages(env)
    assert bodies
    for body in bodies:
        assert body.get("allowed_mentions") == {"parse": []}, body
        shown = _CODE_SOURCE.sub("", body["content"])  # a source in code shows as typed
        for raw in RAW_MARKUP:
            assert raw not in shown, (raw, body["content"])
        # the only masked links are the bot's own: an escaped title, the address in <…>
        for _label, target in re.findall(r"(?<!\\)\[(.*?)(?<!\\)\]\((.*?)\)", shown):
            assert target.startswith("<https://harbour.example/") and target.endswith(">"), target
    return [body["content"] for body in bodies]


async def test_an_answer_and_a_related_passage_show_a_hostile_title_as_text(world) -> None:
    env, _, channel, alice = world
    env.bot.engine.generator = ScriptedGenerator("Ines Varga")
    answered = await alice.slash(channel, "ask", question=HARBOUR_QUESTION)
    assert "Ines Varga" in answered.response.content
    assert "\\[free nitro\\]\\(http://phish.example/login\\)" in answered.response.content
    env.bot.engine.generator = ScriptedGenerator("Captain Nobody")  # not in the text: declined
    declined = await alice.slash(channel, "ask", question=HARBOUR_QUESTION)
    assert "related, not an answer" in declined.response.content
    linked = await alice.slash(channel, "ask", question="When does the ferry timetable change?")
    assert "1 May" in linked.response.content or "related" in linked.response.content
    _assert_inert(env)


async def test_the_catalogue_paths_show_hostile_titles_as_text(
    world, moderator, corpus: Path
) -> None:
    """/status escaped with discord.py's escape_markdown, which leaves the rest of a
    line alone once it holds a web address: the hidden article's masked link and bold
    title were shown as the article wrote them."""
    env, _, channel, alice = world
    (corpus / "pier.txt").write_text(f"{HOSTILE_TITLE} pier\n\nThe pier reopens in June.\n")
    reloaded = await moderator.slash(channel, "reload")
    assert "1 added" in reloaded.response.content
    listed = await alice.slash(channel, "articles", words="harbour")
    assert "free nitro" in listed.response.content
    choices = await moderator.autocomplete(channel, "remove", "article", "nitro")
    assert choices and all(1 <= len(c["name"]) <= CHOICE_CHARS for c in choices)
    assert all(len(c["value"]) <= CHOICE_CHARS for c in choices)
    removed = await moderator.slash(channel, "remove", article=choices[0]["value"])
    assert "Hid" in removed.response.content
    status = await moderator.slash(channel, "status")
    assert "Hidden articles" in status.response.content
    hidden = await moderator.autocomplete(channel, "restore", "article", "")
    restored = await moderator.slash(channel, "restore", article=hidden[0]["value"])
    assert "Restored" in restored.response.content
    helped = await alice.slash(channel, "help")
    assert "articles say about" in helped.response.content
    _assert_inert(env)
