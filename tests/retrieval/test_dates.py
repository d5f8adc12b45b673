from __future__ import annotations

import pytest

from retrieval.cleaning import clean_article
from retrieval.dates import find_date


@pytest.mark.parametrize(
    "text,date",
    [
        ("1 Sep 2024", "2024-09-01"),
        ("Friday, 28 NOVEMBER 2025", "2025-11-28"),
        ("الاثنين: 15 ديسمبر 2025", "2025-12-15"),
        ("2024-05-01 and 3 March 2020", "2024-05-01"),
    ],
)
def test_find_date_reads_the_usual_headers(text: str, date: str) -> None:
    assert find_date(text) == date


@pytest.mark.parametrize(
    "text,date",
    [
        ("1 ſep 2024", "2024-09-01"),  # long s: the regex's case-insensitivity matches it as "s"
        ("auguſt 3, 2024", "2024-08-03"),
        ("aprıl 3, 2024", "2024-04-03"),  # dotless i
        ("3 APRİL 2024", "2024-04-03"),  # dotted capital I
        ("Decem\u212aber 1, 2024", None),  # a Kelvin sign is no month letter here
    ],
)
def test_months_that_case_fold_oddly_read_as_dates_and_never_raise(
    text: str, date: str | None
) -> None:
    assert find_date(text) == date


def test_an_odd_case_date_header_does_not_stop_cleaning() -> None:
    clean = clean_article("1 ſep 2024\n\nThe council approved the new budget on Tuesday evening.")
    assert clean.date == "2024-09-01"
    assert clean.text == "The council approved the new budget on Tuesday evening."
