from __future__ import annotations

import time

import pytest

from retrieval.cleaning import clean_article, make_title
from tests.conftest import SEED_CORPUS
from tests.seed_expectations import EXPECTED_DATES, FURNITURE, split_raw

SEED_FILES = sorted(FURNITURE)


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_article_keeps_every_article_line(name: str) -> None:
    path = SEED_CORPUS / name
    clean = clean_article(path.read_text(encoding="utf-8"))
    article_lines, _ = split_raw(path)
    missing = [line for line in article_lines if line not in clean.text]
    assert missing == []


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_article_drops_furniture(name: str) -> None:
    path = SEED_CORPUS / name
    clean = clean_article(path.read_text(encoding="utf-8"))
    clean_lines = set(clean.text.split("\n"))
    _, furniture = split_raw(path)
    left = [
        line for line in furniture if line in clean_lines or (len(line) > 25 and line in clean.text)
    ]
    assert left == []


def test_teaser_section_is_cut_entirely() -> None:
    clean = clean_article((SEED_CORPUS / "000_514cd35078f175e9.txt").read_text(encoding="utf-8"))
    for teaser in ("Kaspersky", "Battlefield 6", "Related Articles", "Popular Categories"):
        assert teaser not in clean.text


def test_inline_date_prefix_is_removed_and_recorded() -> None:
    clean = clean_article((SEED_CORPUS / "002_2221671125f550ba.txt").read_text(encoding="utf-8"))
    assert clean.text.startswith("Meta CEO Mark Zuckerberg has recently dined")
    assert clean.date == "2024-11-28"


@pytest.mark.parametrize("name,date", sorted(EXPECTED_DATES.items()))
def test_seed_dates(name: str, date: str) -> None:
    assert clean_article((SEED_CORPUS / name).read_text(encoding="utf-8")).date == date


@pytest.mark.parametrize(
    "name,title",
    [
        ("000_514cd35078f175e9.txt", "Mark Zuckerberg meets Donald Trump for dinner at Mar-a-Lago"),
        (
            "004_d66de69f9eedc3bf.txt",
            "After His Dispute with Musk Zuckerberg and Altman Try to Get Closer to Trump",
        ),
    ],
)
def test_headline_becomes_title(name: str, title: str) -> None:
    assert clean_article((SEED_CORPUS / name).read_text(encoding="utf-8")).title == title


def test_title_falls_back_to_shortened_first_sentence() -> None:
    text = "In a surprising turn of events, " + "very " * 40 + "long opening sentence. Then more."
    title = make_title(text)
    assert title.startswith("In a surprising turn of events,")
    assert title.endswith("…") and len(title) <= 91


@pytest.mark.parametrize(
    "line",
    ["Follow us on Instagram", "Advertisement", "13:16", "•", "Published: 3 March 2024 10:00 GMT"],
)
def test_furniture_line_shapes_are_dropped(line: str) -> None:
    body = "A real sentence about the council budget that is long enough to be body text."
    clean = clean_article(f"{body}\n\n{line}\n\n{body}")
    assert line not in clean.text.split("\n")
    assert clean.text == f"{body}\n\n{body}"


@pytest.mark.parametrize(
    "line",
    [
        "Mayor says yes.",
        "March",
        "The vote is on 3 March 2024 in the town hall, officials said.",
        "42 C was the hottest day on record in the city, the weather office said.",
    ],
)
def test_article_lines_that_resemble_furniture_are_kept(line: str) -> None:
    body = "A real sentence about the council budget that is long enough to be body text."
    assert line in clean_article(f"{body}\n\n{line}\n\n{body}").text


def test_non_latin_article_keeps_its_own_script() -> None:
    arabic = "أعلنت الحكومة اليوم عن خطة جديدة لدعم الاقتصاد المحلي وتوفير فرص العمل للشباب."
    clean = clean_article(f"{arabic}\n\nقصير جدا\n\n{arabic}")
    assert "قصير جدا" in clean.text


def test_crlf_and_control_characters_are_normalised() -> None:
    clean = clean_article(
        "Headline here\r\n\r\nBody sentence with a\x07 bell in it, long enough to count."
    )
    assert clean.text == "Headline here\n\nBody sentence with a bell in it, long enough to count."


@pytest.mark.parametrize(
    "line",
    [
        "Loading" + "." * 20_000 + "x",  # boilerplate "loading…" with a long tail
        "1" + " " * 20_000 + "x",  # a temperature-like start with a long gap
        "25" + " " * 10_000 + "°" + " " * 10_000 + "x",
    ],
)
def test_furniture_patterns_take_linear_time_on_long_lines(line: str) -> None:
    started = time.process_time()
    clean = clean_article(f"{line}\n\nThe council approved the new budget on Tuesday evening.")
    assert time.process_time() - started < 0.5
    assert clean.text.endswith("The council approved the new budget on Tuesday evening.")
