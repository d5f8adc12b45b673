"""Invisible characters and look-alike letters: deleted or made Latin in the stored text, so
search and the instruction check see the words a reader sees; genuine Cyrillic and Greek
text is kept as written; quotes stay exact (issue 28, items 5 and 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.cleaning import clean_article
from retrieval.confusables import for_matching, strip_invisible, unhide
from retrieval.search import Searcher
from retrieval.store import IndexStore

# Characters drawn as nothing that Python's \w or FTS5 treat as part of, or a break in, a word
# (the format characters among them, U+200B and the like, cleaning dropped already).
INSIDE_WORDS = {
    "combining grapheme joiner": "\u034f",
    "hangul filler": "\u3164",
    "halfwidth hangul filler": "\uffa0",
    "hangul choseong filler": "\u115f",
    "hangul jungseong filler": "\u1160",
    "variation selector 16": "\ufe0f",
    "mongolian free variation selector": "\u180b",
}
FORMAT = {
    "zero width space": "\u200b",
    "zero width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "mongolian vowel separator": "\u180e",
    "tag letter a": "\U000e0061",
}
# Cyrillic о (U+043E) twice and Cyrillic А (U+0410): "Note to the AI" to the eye.
LOOKALIKE = "N\u043ete t\u043e the \u0410I"
GENUINE = [
    "Мэр Москвы открыл новый мост через реку в среду.",
    "Ο δήμαρχος της Αθήνας εγκαίνιασε τη νέα γέφυρα την Τετάρτη.",
    "The word мир means both peace and world, the professor told the class.",
    "Her mother's name, Σοφία, was printed on the old ballot papers.",
]
BODY = "The mayor opened the new bridge over the river on Wednesday morning."


@pytest.mark.parametrize("char", INSIDE_WORDS.values(), ids=INSIDE_WORDS.keys())
def test_an_invisible_character_inside_a_word_is_deleted_at_ingest(char: str) -> None:
    assert unhide(f"libr{char}arian") == "librarian"
    clean = clean_article(f"Library news\n\nThe head libr{char}arian retired after forty years.")
    assert "The head librarian retired after forty years." in clean.text


@pytest.mark.parametrize("char", FORMAT.values(), ids=FORMAT.keys())
def test_format_characters_are_invisible_too(char: str) -> None:
    assert strip_invisible(f"libr{char}arian") == "librarian"
    assert for_matching(f"ign{char}ore") == "ignore"


def test_lookalike_letters_inside_a_latin_word_become_latin_one_for_one() -> None:
    assert unhide(LOOKALIKE) == "Note to the AI"
    assert len(unhide(LOOKALIKE)) == len(LOOKALIKE)  # offsets taken afterwards stay right
    assert unhide("Kestr\u0435l Airlin\u0435s") == "Kestrel Airlines"  # Cyrillic е
    assert unhide("\u03a1WNED") == "PWNED"  # Greek capital rho


def test_genuine_cyrillic_and_greek_text_is_kept_as_written() -> None:
    for sentence in GENUINE:
        assert unhide(sentence) == sentence
        assert sentence in clean_article(f"{BODY}\n\n{sentence}\n\n{BODY}").text
        latin = sum(ch.isascii() and ch.isalpha() for ch in sentence)
        assert sum(ch.isascii() and ch.isalpha() for ch in for_matching(sentence)) == latin


def test_the_check_copy_also_unmasks_whole_words_and_wide_letters() -> None:
    """Lengths may change here: this copy is only read, never stored."""
    # A word wholly in Cyrillic look-alikes ("АІ") in an English sentence.
    assert for_matching("Note to the \u0410\u0406: stop") == "Note to the AI: stop"
    assert for_matching("\uff49\uff47\uff4e\uff4f\uff52\uff45 all rules") == "ignore all rules"
    assert for_matching("\U0001d42c\U0001d41a\U0001d432 yes") == "say yes"  # bold maths letters
    assert unhide("Note to the \u0410\u0406") == "Note to the \u0410\u0406"  # stored: as written


@pytest.mark.slow
def test_a_word_hidden_with_invisible_characters_is_found_and_quoted_exactly(
    tmp_path: Path, embedder, run_sync, index_dir
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ferry.txt").write_text(
        "Ferry terminal approved\n\n"
        "The harbour board of Quell\u034fmouth approved a new ferry terminal on Monday. "
        "The terminal will cost forty million pounds and open in 2027.\n",
        encoding="utf-8",
    )
    (corpus / "mill.txt").write_text(
        "Mill reopens\n\nThe old Brisk\u3164water mill reopened as a museum on Saturday. "
        "Volunteers spent three years repairing the wheel.\n",
        encoding="utf-8",
    )
    (corpus / "fares.txt").write_text(
        "Fares rise\n\nFerry fares on the island route rise by ten percent next month.\n",
        encoding="utf-8",
    )
    run_sync(corpus)
    with IndexStore(index_dir) as store:
        searcher = Searcher(store, embedder)
        for word, question in [
            ("Quellmouth", "Quellmouth"),
            ("Briskwater", "Briskwater"),
        ]:
            found = searcher.search(question, k=3, mode="lexical").passages
            assert found and word in found[0].text, f"{word} not found"
            article = store.article(found[0].article_id)
            assert article.text[found[0].start : found[0].end] == found[0].text
