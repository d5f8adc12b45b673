"""Recognise date headers (English and Arabic) in scraped pages.

Cleaning uses this twice: to tell a date-only header line ("Friday, 28 November
2025", "الاثنين: 15 ديسمبر 2025") from article text, and to record the date
an article carries.
"""

from __future__ import annotations

import re

_MONTHS: dict[str, int] = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6,
    "july": 7, "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    # Arabic, Egyptian/Gulf names
    "يناير": 1, "فبراير": 2, "مارس": 3, "أبريل": 4, "ابريل": 4, "مايو": 5, "يونيو": 6,
    "يوليو": 7, "أغسطس": 8, "اغسطس": 8, "سبتمبر": 9, "أكتوبر": 10, "اكتوبر": 10,
    "نوفمبر": 11, "ديسمبر": 12,
    # Arabic, Levantine names
    "كانون الثاني": 1, "شباط": 2, "آذار": 3, "نيسان": 4, "أيار": 5, "حزيران": 6,
    "تموز": 7, "آب": 8, "أيلول": 9, "تشرين الأول": 10, "تشرين الثاني": 11,
    "كانون الأول": 12,
}  # fmt: skip

_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday "
    "mon tue tues wed thu thur thurs fri sat sun "
    "الأحد الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة السبت"
).split()
_FILLERS = "date published updated posted last on at am pm gmt utc est edt bst cet".split()

_MONTH_ALT = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_WORD_ALT = "|".join(
    sorted(map(re.escape, [*_MONTHS, *_WEEKDAYS, *_FILLERS]), key=len, reverse=True)
)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH_ALT})\.?,?\s+(\d{{4}})\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(
    rf"\b({_MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.IGNORECASE
)
_DATE_WORDS = re.compile(rf"(?<!\w)(?:{_WORD_ALT})(?!\w)|\d+(?:st|nd|rd|th)?", re.IGNORECASE)


def find_date(text: str) -> str | None:
    """The first date in `text` as YYYY-MM-DD, or None."""
    candidates: list[tuple[int, int, int, int]] = []  # (position, year, month, day)
    for match in _ISO.finditer(text):
        candidates.append((match.start(), int(match[1]), int(match[2]), int(match[3])))
    for match in _DAY_MONTH_YEAR.finditer(text):
        month = month_number(match[2])
        candidates.append((match.start(), int(match[3]), month, int(match[1])))
    for match in _MONTH_DAY_YEAR.finditer(text):
        month = month_number(match[1])
        candidates.append((match.start(), int(match[3]), month, int(match[2])))
    for _, year, month, day in sorted(candidates):
        if 1 <= month <= 12 and 1 <= day <= 31 and 1900 <= year <= 2200:
            return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def month_number(name: str) -> int:
    """The month a matched month name stands for, by the same case rules the patterns use.

    `re.IGNORECASE` matches "ſ" (long s) as "s" and "ı" (dotless i) as "i", which
    `str.lower` does not undo, so a plain dictionary lookup would miss such names.
    """
    number = _MONTHS.get(name.lower())
    if number is not None:
        return number
    return next(
        number
        for key, number in _MONTHS.items()
        if re.fullmatch(re.escape(key), name, re.IGNORECASE)
    )


def strip_date_words(line: str) -> str:
    """`line` without month and weekday names, numbers and date fillers.

    A line that contains a number and is empty after this is a date or time header.
    Without a number nothing is stripped, so a heading like "March" stays.
    """
    if not any(ch.isdigit() for ch in line):
        return line
    return _DATE_WORDS.sub("", line)
