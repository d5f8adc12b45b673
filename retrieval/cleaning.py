"""Strip scraped-page furniture from article text, keeping every article sentence.

Scraped news pages carry lines that are not the story: weather widgets
("25.3 C" / "Singapore"), date and time headers in another language, bare
bullets, "View on Threads" embeds, and trailing teaser sections ("Hot this
week", "Related Articles"). If they were embedded they would crowd search
results and could be quoted as if they were the article. The rules here are
deliberately conservative: a line is dropped only when it matches a known
furniture shape, so article sentences are never lost.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from retrieval.confusables import unhide
from retrieval.dates import find_date, strip_date_words

# Headings that start a block of links to other stories; everything after them
# (once the article body has begun) is page furniture.
TEASER_HEADINGS = frozenset(
    {
        "hot this week",
        "related articles",
        "related stories",
        "related posts",
        "related news",
        "popular categories",
        "popular posts",
        "read more",
        "read next",
        "more stories",
        "more news",
        "most popular",
        "most read",
        "trending now",
        "you may also like",
        "you might also like",
        "recommended for you",
        "latest news",
        "topics you may like",
        "مواضيع قد تعجبك",
        "اقرأ أيضا",
        "اقرأ أيضاً",
        "مواضيع ذات صلة",
    }
)

# Possessive spaces (*+): two plain \s* around an optional ° backtrack quadratically
# on a long run of spaces.
_TEMPERATURE = re.compile(r"^[-+]?\d{1,3}(?:[.,]\d+)?\s*+°?\s*+[CF]$")
_NO_LETTERS = re.compile(r"^[\W\d_]+$")
_SOCIAL_EMBED = re.compile(
    r"^(?:view|see|watch|follow us|follow|share|open)\b.{0,30}\b(?:on|via)\s+"
    r"(?:threads|instagram|x|twitter|facebook|youtube|tiktok|linkedin|bluesky)\W*$",
    re.IGNORECASE,
)
_BOILERPLATE_LINE = re.compile(
    r"^(?:advertisement|sponsored(?: content)?|share this(?: article| story)?|"
    r"subscribe(?: to our newsletter| now)?|sign up for our newsletter|"
    r"click here to [\w ]{1,40}|skip to (?:main )?content|back to top|"
    r"loading|print this (?:article|page))\W*$",  # "loading...": the dots are \W*
    re.IGNORECASE,
)
_INLINE_DATE_PREFIX = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+(?=\S)", re.IGNORECASE)
_BODY_MIN_WORDS = 8
_FOREIGN_MAX_WORDS = 8
_PLACE_MAX_WORDS = 4
_TITLE_MAX_CHARS = 90


@dataclass(frozen=True)
class CleanText:
    """The article text with furniture removed, plus what the furniture told us."""

    text: str
    title: str
    date: str | None


def normalize(raw: str) -> str:
    """Unify newlines, drop control characters and trailing spaces on each line.

    Invisible characters go too, and Cyrillic or Greek look-alikes inside a Latin word
    become Latin (`retrieval.confusables.unhide`): "ign\u034fore" and "Nоte" (Cyrillic о)
    would otherwise hide from search and from the instruction check. This happens before
    any offset is taken, so quotes sliced from the stored text stay exact.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    return "\n".join(line.strip() for line in unhide(text).split("\n"))


def clean_article(raw: str, title_hint: str | None = None) -> CleanText:
    """Return the article's clean text, its title and a date if the page shows one."""
    lines = normalize(raw).split("\n")
    script = dominant_script("\n".join(lines))
    blocks: list[list[str]] = [[]]
    dates_before_body: list[str] = []
    body_started = False
    drop_place_name = False

    for line in lines:
        follows_temperature, drop_place_name = drop_place_name, False
        if not line:
            blocks.append([])
            continue
        inline = _INLINE_DATE_PREFIX.match(line)
        if inline:
            dates_before_body.append(inline.group(1))
            line = line[inline.end() :]
        if body_started and _is_teaser_heading(line):
            break
        if _TEMPERATURE.match(line):
            drop_place_name = True
            blocks.append([])
            continue
        if follows_temperature and _looks_like_place(line):
            blocks.append([])
            continue
        if _is_furniture_line(line, script):
            date = find_date(line)
            if date and not body_started:
                dates_before_body.append(date)
            blocks.append([])
            continue
        if len(line.split()) >= _BODY_MIN_WORDS:
            body_started = True
        blocks[-1].append(line)

    text = "\n\n".join("\n".join(block) for block in blocks if block)
    date = dates_before_body[-1] if dates_before_body else None
    title = unhide(title_hint) if title_hint else ""  # a title of invisible characters: none
    return CleanText(text=text, title=title or make_title(text), date=date)


def _is_teaser_heading(line: str) -> bool:
    return line.strip(" :·•*-#").casefold() in TEASER_HEADINGS


def _is_furniture_line(line: str, script: str) -> bool:
    if _NO_LETTERS.match(line):
        return True  # bullets, times, bare numbers, "*"
    if _SOCIAL_EMBED.match(line) or _BOILERPLATE_LINE.match(line):
        return True
    if _is_teaser_heading(line):
        return True
    if not strip_date_words(line).strip(" ,.:;-–—•|/*"):
        return True  # a date header such as "Friday, 28 November 2025"
    words = len(line.split())
    return words <= _FOREIGN_MAX_WORDS and dominant_script(line) not in (script, "")


def _looks_like_place(line: str) -> bool:
    words = line.split()
    return (
        len(words) <= _PLACE_MAX_WORDS
        and not any(ch.isdigit() for ch in line)
        and not line.endswith((".", "!", "?", ":", ","))
    )


def dominant_script(text: str) -> str:
    """The writing system most letters in `text` belong to ("LATIN", "ARABIC", ...)."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            script = name.split(" ", 1)[0] if name else ""
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else ""


def make_title(text: str) -> str:
    """A headline-like title: the first line if it reads like one, else the first sentence."""
    first_line = text.split("\n", 1)[0].strip()
    if not first_line:
        return "Untitled"
    looks_like_headline = len(first_line) <= 150 and not first_line.endswith((".", "!", ";"))
    candidate = first_line if looks_like_headline else _first_sentence(first_line)
    return shorten(candidate, _TITLE_MAX_CHARS)


def _first_sentence(line: str) -> str:
    match = re.search(r"[.!?](?=\s|$)", line)
    return line[: match.end()] if match else line


def shorten(text: str, limit: int) -> str:
    """Cut `text` at a word boundary to at most `limit` characters, marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return cut + "…"
