from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.chunking import chunk_article, chunk_spans, split_sentences
from retrieval.cleaning import clean_article
from retrieval.models import Article
from tests.conftest import SEED_CORPUS


def _article(text: str) -> Article:
    return Article("a.txt", "A", text, "a.txt", "a.txt", "f" * 32)


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("One here. Two there! Three?", ["One here.", "Two there!", "Three?"]),
        ("Dr. Simmons met J. K. Rowling in the U.S. today. Then left.",
         ["Dr. Simmons met J. K. Rowling in the U.S. today.", "Then left."]),
        ('He said: "Stop." She left.', ['He said: "Stop."', "She left."]),
        ("Heading\n\nBody text here.", ["Heading", "Body text here."]),
        ("A line that wraps\nonto the next line.", ["A line that wraps\nonto the next line."]),
        ("It cost $4.5 million. Next.", ["It cost $4.5 million.", "Next."]),
    ],
)  # fmt: skip
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert _sentences(text) == expected


def test_chunks_respect_target_size_and_overlap() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(60))
    spans = chunk_spans(text, chunk_words=50, overlap_words=14)
    sizes = [len(text[s:e].split()) for s, e in spans]
    assert all(size <= 50 for size in sizes)
    assert len(spans) > 5
    for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        shared = len(text[s2:e1].split()) if s2 < e1 else 0
        assert shared == 14  # two whole seven-word sentences repeated


def test_every_sentence_lands_in_a_chunk() -> None:
    text = clean_article(
        (SEED_CORPUS / "003_6340dca613459c69.txt").read_text(encoding="utf-8")
    ).text
    spans = chunk_spans(text, 120, 30)
    for start, end in split_sentences(text):
        assert any(s <= start and end <= e for s, e in spans), text[start:end]


def test_overlong_sentence_is_split_into_word_windows() -> None:
    text = " ".join(["word"] * 1000)
    sizes = [len(text[s:e].split()) for s, e in chunk_spans(text, 100, 20)]
    assert max(sizes) <= 100 and sum(sizes) >= 1000


def test_chunk_ids_are_stable_and_derive_from_content() -> None:
    article = _article("First sentence here. Second one there.")
    first = chunk_article(article, 120, 30)
    assert first == chunk_article(article, 120, 30)
    changed = Article("a.txt", "A", article.text, "a.txt", "a.txt", "e" * 32)
    assert first[0].chunk_id != chunk_article(changed, 120, 30)[0].chunk_id


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list('ab .!?\n"”A1é ')), max_size=600),
    words=st.integers(min_value=20, max_value=80),
    overlap=st.integers(min_value=0, max_value=19),
)
def test_offsets_always_slice_the_chunk_text(text: str, words: int, overlap: int) -> None:
    chunks = chunk_article(_article(text), words, overlap)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
    covered = "".join(text[c.start : c.end] for c in chunks)
    assert set(covered.split()) == set(text.split())


@pytest.mark.parametrize("mark", ["!", ".", "?", "'", "!'"])
@pytest.mark.parametrize("tail", ["", "x", " Next one."])
def test_a_long_punctuation_run_splits_in_linear_time(mark: str, tail: str) -> None:
    text = "It began " + mark * 20_000 + tail
    started = time.process_time()
    spans = split_sentences(text)
    assert time.process_time() - started < 0.5
    assert spans and all(text[s:e] == text[s:e].strip() for s, e in spans)
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Wow!!! Then more.", ["Wow!!!", "Then more."]),
        ("Wait...x Now. Yes.", ["Wait...x Now.", "Yes."]),
        ("He said \"go.'.' Now", ["He said \"go.'.'", "Now"]),
        ("Stop?!) Fine.", ["Stop?!)", "Fine."]),
    ],
)  # fmt: skip
def test_punctuation_runs_end_sentences_as_before(text: str, expected: list[str]) -> None:
    assert _sentences(text) == expected
