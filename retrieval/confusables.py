"""Invisible characters and Latin look-alike letters, which hide words from search and checks.

An article can write "Nоte tо the АI" with Cyrillic о and А, or put U+034F (an invisible
combining joiner) or U+3164 (the Hangul filler, drawn as nothing) inside "ignore": the
words look the same to a reader but are other strings to a pattern, an FTS5 index or an
embedding model. Two levels:
- `unhide`, applied to article text at ingest (`retrieval.cleaning.normalize`), before any
  offset is taken: it deletes invisible characters and replaces the Cyrillic and Greek
  look-alikes inside a word that also has Latin letters, one character for one. Quotes are
  sliced from the stored text, so they stay exact (and look as the page did). A word wholly
  in Cyrillic or Greek ("мир", "Αθήνα") is left as it is: that is genuine text;
- `for_matching`, applied only to the copy a check reads (`bot/answering/injection.py`): also
  NFKC (fullwidth and mathematical letters become plain ones), combining marks dropped, and
  look-alike letters replaced in whole words too, when the text is mostly Latin (an
  all-Cyrillic "АІ" in an English sentence). It changes lengths, so it is never stored.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15): drawn as
# nothing. Most are format characters (Cf), which cleaning drops anyway; the others are
# letters or marks Python's \w counts as part of a word: U+034F COMBINING GRAPHEME JOINER,
# U+115F/U+1160/U+3164/U+FFA0 Hangul fillers, U+17B4/U+17B5 Khmer inherent vowels, the
# Mongolian and other variation selectors (U+180B-U+180F, U+FE00-U+FE0F, U+E0100-U+E01EF).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Cyrillic and Greek letters drawn like a Latin letter (Unicode's confusables.txt, the
# unambiguous ones), each to that letter.
_LATIN_TWINS = str.maketrans(
    {
        **dict(zip("аеорсухѕіјԁһԛԝӏү", "aeopcyxsijdhqwly", strict=True)),
        **dict(zip("АВЕКМНОРСТХЅІЈԚԜҮӀ", "ABEKMHOPCTXSIJQWYI", strict=True)),
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
        **dict(zip("οναριυκ", "ovapiuk", strict=True)),
    }
)
_TWINS = frozenset(chr(code) for code in _LATIN_TWINS)
_WORD = re.compile(r"\w+")


def strip_invisible(text: str) -> str:
    """`text` without the characters that are drawn as nothing (see `_INVISIBLE`)."""
    return _INVISIBLE.sub("", text)


def unhide(text: str) -> str:
    """Invisible characters deleted, and Cyrillic or Greek look-alikes inside a word that
    also has Latin letters made Latin ("Nоte" → "Note"); whole words in another script stay.
    Replaces one character by one, so it is safe before offsets are taken."""
    text = strip_invisible(text)
    if text.isascii() or _TWINS.isdisjoint(text):
        return text
    return _WORD.sub(lambda m: _latin_word(m[0], whole_words=False), text)


def for_matching(text: str) -> str:
    """The copy of `text` a check reads: `unhide`, then NFKC letters, no combining marks,
    and look-alike letters made Latin in whole words too when Latin letters outnumber the
    other scripts' (a Russian sentence stays Russian). Lengths change: never store it."""
    text = strip_invisible(text)
    if text.isascii():
        return text
    kept = (ch for ch in unicodedata.normalize("NFKD", text) if _drawn(ch))
    # Dotless ı is Latin, but not the i the patterns look for (a Turkish word is never
    # an English order, so the check loses nothing).
    text = unicodedata.normalize("NFC", "".join(kept)).replace("ı", "i")
    if _TWINS.isdisjoint(text):
        return text
    latin = sum(1 for ch in text if ch.isalpha() and _is_latin(ch))
    foreign = sum(1 for ch in text if ch.isalpha() and not _is_latin(ch) and ch not in _TWINS)
    whole_words = latin > foreign
    return _WORD.sub(lambda m: _latin_word(m[0], whole_words=whole_words), text)


def _latin_word(word: str, whole_words: bool) -> str:
    """The word with its look-alikes made Latin, if it is a Latin word in disguise."""
    if word.isascii() or not any(ch in _TWINS for ch in word):
        return word
    letters = [ch for ch in word if ch.isalpha()]
    if any(not _is_latin(ch) and ch not in _TWINS for ch in letters):
        return word  # a letter only another script has: genuine text in that script
    if whole_words or any(_is_latin(ch) for ch in letters):
        return word.translate(_LATIN_TWINS)
    return word


def _drawn(ch: str) -> bool:
    """Neither a combining mark nor a control or format character (newlines and tabs are)."""
    if ch in "\n\t":
        return True
    return not unicodedata.combining(ch) and unicodedata.category(ch) not in ("Cf", "Cc")


def _is_latin(ch: str) -> bool:
    return ch.isascii() or unicodedata.name(ch, "").startswith("LATIN")
