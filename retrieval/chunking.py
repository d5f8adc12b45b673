"""Split clean article text into sentences and sentence-aligned chunks with exact offsets.

Sentences are what is embedded (each exactly once); chunks are windows of whole
neighbouring sentences, what search ranks and what the full-text index holds.

Every span here is a pair of character offsets into the article's clean text,
so `text[start:end]` is always the passage itself. Later stages quote by
offsets, which is what makes quotes verifiable.
"""

from __future__ import annotations

import re
from typing import TypeVar

from retrieval.models import Article, Chunk, Sentence

Span = tuple[int, int]
T = TypeVar("T", Chunk, Sentence)

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc inc ltd co corp gov sen rep gen lt col capt sgt "
    "no nos fig approx est dept univ mt ft u.s u.k u.n e.g i.e a.m p.m".split()
)
# A sentence ends at . ! or ? (with closing quotes/brackets) followed by whitespace.
# A match may only start where a run of marks starts, and its quantifiers never give
# back (possessive): a long run of "!" that is not followed by whitespace is then
# scanned once, not once per mark (which took a minute for 40,000 marks).
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]++[\"”’')\]]*+(?=\s)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*|\n(?=[^a-z])")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"“‘(\[]?[A-Z0-9\u00C0-\u024F\u0370-\uFFFF]")


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text`, trimmed of surrounding whitespace, in order."""
    spans: list[Span] = []
    for block_start, block_end in _blocks(text):
        start = block_start
        for match in _SENTENCE_END.finditer(text, block_start, block_end):
            if not _ends_sentence(text, match.start(), match.end()):
                continue
            spans.append((start, match.end()))
            start = match.end()
        spans.append((start, block_end))
    return [trimmed for span in spans if (trimmed := _trim(text, span))]


def _blocks(text: str) -> list[Span]:
    """Paragraphs and lines that start something new (a wrapped line continues its block)."""
    blocks, start = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        blocks.append((start, match.start()))
        start = match.end()
    blocks.append((start, len(text)))
    return blocks


def _ends_sentence(text: str, mark: int, end: int) -> bool:
    if not _NEXT_STARTS_SENTENCE.match(text, end):
        return False
    if text[mark] != ".":
        return True
    word = re.search(r"[\w.]+$", text[max(0, mark - 12) : mark])
    if word is None:
        return True
    token = word.group(0).lower()
    return not (token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()))


def _trim(text: str, span: Span) -> Span | None:
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _word_pieces(text: str, span: Span, max_words: int) -> list[Span]:
    """Cut a sentence longer than `max_words` into consecutive word windows."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[span[0] : span[1]])]
    if len(words) <= max_words:
        return [span]
    offset = span[0]
    return [
        (offset + words[i][0], offset + words[min(i + max_words, len(words)) - 1][1])
        for i in range(0, len(words), max_words)
    ]


def sentence_spans(text: str, max_words: int) -> list[Span]:
    """The sentences of `text`, a sentence longer than `max_words` cut into word windows."""
    return [
        piece
        for sentence in split_sentences(text)
        for piece in _word_pieces(text, sentence, max_words)
    ]


def chunk_spans(text: str, chunk_words: int, overlap_words: int) -> list[Span]:
    """Group sentences into chunks of about `chunk_words` words, overlapping by whole sentences.

    Chunk boundaries are `sentence_spans(text, chunk_words)` boundaries, so every such
    sentence lies wholly inside each chunk that holds any of it.
    """
    pieces = sentence_spans(text, chunk_words)
    counts = [len(text[start:end].split()) for start, end in pieces]
    spans: list[Span] = []
    first = 0
    while first < len(pieces):
        last, words = first, counts[first]
        while last + 1 < len(pieces) and words + counts[last + 1] <= chunk_words:
            last += 1
            words += counts[last]
        spans.append((pieces[first][0], pieces[last][1]))
        if last + 1 >= len(pieces):
            break
        next_first, overlap = last + 1, 0
        while next_first - 1 > first and overlap + counts[next_first - 1] <= overlap_words:
            next_first -= 1
            overlap += counts[next_first]
        first = next_first
    return spans


def chunk_article(article: Article, chunk_words: int, overlap_words: int) -> list[Chunk]:
    """The article's chunks; ids derive from article id and content so they are stable."""
    spans = chunk_spans(article.text, chunk_words, overlap_words)
    return _records(Chunk, article, spans, "")


def sentences_of(article: Article, max_words: int) -> list[Sentence]:
    """The article's sentences as embedded; ids derive from article id and content."""
    return _records(Sentence, article, sentence_spans(article.text, max_words), "s")


def _records(kind: type[T], article: Article, spans: list[Span], tag: str) -> list[T]:
    """One `kind` record (id, article id, index, text, start, end) per span of the article."""
    prefix = f"{article.article_id}::{article.fingerprint[:12]}::{tag}"
    return [
        kind(f"{prefix}{index}", article.article_id, index, article.text[start:end], start, end)
        for index, (start, end) in enumerate(spans)
    ]
