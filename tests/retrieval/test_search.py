"""Search on the real embedding model over the demo corpus indexed in a temp dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.reading import ArticleTexts, SearchIndex
from retrieval.search import (
    Passage,
    PassageSentence,
    Searcher,
    SearchRules,
    drop_near_duplicates,
    passage_cosine,
    rank_by_best_sentence,
    reciprocal_rank_fusion,
)
from retrieval.store import IndexStore

SETTINGS_THRESHOLD = 0.38  # the shipped RELEVANCE_THRESHOLD default


def _passage(text: str, article: str = "a") -> Passage:
    return Passage(article, article, article, text, 0, len(text), 0.0, 0.0)


def test_the_index_store_has_both_reading_roles(tmp_path: Path) -> None:
    """Search and the engine are typed with the roles (`retrieval/reading.py`), the bot
    hands them an `IndexStore`: it must have every method the roles list."""
    with IndexStore(tmp_path / "index") as store:
        assert isinstance(store, SearchIndex) and isinstance(store, ArticleTexts)


def test_rrf_rewards_agreement_between_rankings() -> None:
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["d", "b", "e"]], k=60)
    order = sorted(scores, key=scores.__getitem__, reverse=True)
    assert order[0] == "b" and set(order) == {"a", "b", "c", "d", "e"}
    assert scores["b"] == pytest.approx(2 / 62)


def test_near_duplicates_keep_only_the_first() -> None:
    base = "Zuckerberg met Trump for dinner at Mar-a-Lago on Wednesday evening."
    passages = [
        _passage(base, "x"),
        _passage(base + " Reports said.", "y"),
        _passage("Budget news.", "z"),
        _passage("Weather news.", "w"),
    ]
    assert [p.article_id for p in drop_near_duplicates(passages, 0.6, 5)] == ["x", "z", "w"]
    assert [p.article_id for p in drop_near_duplicates(passages, 0.6, 2)] == ["x", "z"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "question,gold",
    [
        ("How much did Zuckerberg's charity give for election infrastructure?", "$420 million"),
        ("What is the name of Trump's book?", "Save America"),
        ("What did Zuckerberg gift Trump at dinner?", "Ray-Ban"),
        ("Which newspaper reported that Meta confirmed the shift?", "Wall Street Journal"),
    ],
)
def test_gold_passage_is_in_the_top_three(
    seed_searcher: Searcher, question: str, gold: str
) -> None:
    results = seed_searcher.search(question, k=3)
    assert any(gold in p.text for p in results.passages)


@pytest.mark.slow
def test_passages_carry_exact_offsets_and_metadata(
    seed_searcher: Searcher, seed_index: Path
) -> None:
    results = seed_searcher.search("Where did they have dinner?", k=5)
    assert len(results.passages) == 5
    with IndexStore(seed_index) as store:
        for passage in results.passages:
            article = store.article(passage.article_id)
            assert article.text[passage.start : passage.end] == passage.text
            assert passage.title == article.title and passage.source == article.source
    assert [p.score for p in results.passages] == sorted(
        (p.score for p in results.passages), reverse=True
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_finds_something(seed_searcher: Searcher, mode: str) -> None:
    assert seed_searcher.search("Mar-a-Lago dinner", k=3, mode=mode).passages


@pytest.mark.slow
def test_relevance_separates_on_topic_from_off_corpus(seed_searcher: Searcher) -> None:
    on_topic = seed_searcher.search("Which estate hosted the Zuckerberg and Trump dinner?")
    off_corpus = seed_searcher.search("How long should I bake banana bread?")
    assert on_topic.relevance >= SETTINGS_THRESHOLD > off_corpus.relevance


@pytest.mark.slow
def test_empty_question_finds_nothing(seed_searcher: Searcher) -> None:
    assert seed_searcher.search("   ").passages == ()
    assert seed_searcher.search("?!").relevance <= SETTINGS_THRESHOLD


@pytest.mark.slow
def test_syndicated_copies_do_not_crowd_the_results(
    tmp_path: Path, embedder, run_sync, index_dir
) -> None:
    story = (
        "The harbour authority approved a new ferry terminal on Monday. "
        "The terminal will cost forty million pounds and open in 2027. "
        "Local fishermen said the building work would disturb the spring catch."
    )
    corpus = tmp_path / "syndicated"
    corpus.mkdir()
    for site in ("site-a", "site-b", "site-c"):
        (corpus / f"{site}.txt").write_text(f"Ferry terminal approved\n\n{story}\n")
    (corpus / "other.txt").write_text(
        "Ferry fares rise\n\nFerry fares on the island route rise by ten percent next month."
    )
    run_sync(corpus)
    question = "How much will the new ferry terminal cost?"
    with IndexStore(index_dir) as store:
        results = Searcher(store, embedder).search(question, k=3)
        # Rules under which no two passages are ever copies: all three stay.
        crowded = Searcher(store, embedder, SearchRules(duplicate_jaccard=1.01)).search(
            question, k=3
        )
    texts = [p.text for p in results.passages]
    assert sum("forty million pounds" in t for t in texts) == 1
    assert results.passages[0].article_id.startswith("site-")
    assert sum("forty million pounds" in p.text for p in crowded.passages) == 3


def test_a_passage_ranks_by_its_closest_sentence() -> None:
    hits = [("s9", 0.9), ("s1", 0.8), ("s2", 0.7), ("s5", 0.6)]
    holding = {"s9": ["c3"], "s1": ["c1", "c2"], "s2": ["c1"], "s5": ["c4"]}
    ranked = rank_by_best_sentence(hits, holding, limit=3)
    assert ranked == [("c3", 0.9), ("c1", 0.8), ("c2", 0.8)]  # c1 keeps its best, not s2's


@pytest.mark.slow
def test_found_passages_carry_their_stored_sentence_vectors(
    seed_searcher: Searcher, embedder
) -> None:
    results = seed_searcher.search("What did the charity give money for?", k=3)
    assert results.passages and results.query_vector is not None
    for passage in results.passages:
        assert passage.sentences, passage.chunk_id
        spans = [(s.start, s.end) for s in passage.sentences]
        assert spans == sorted(spans) and passage.start <= spans[0][0] < spans[-1][1] <= passage.end
        texts = [
            passage.text[s.start - passage.start : s.end - passage.start] for s in passage.sentences
        ]
        fresh = embedder.embed(texts)  # the vectors stored at ingest are these sentences'
        for sentence, vector in zip(passage.sentences, fresh, strict=True):
            assert float(sentence.vector @ vector) > 0.99
            assert sentence.cosine == pytest.approx(float(sentence.vector @ results.query_vector))


def test_a_passage_close_throughout_beats_one_close_in_a_single_sentence() -> None:
    query = np.array([1.0, 0.0, 0.0])
    near, far = np.array([0.9, 0.436, 0.0]), np.array([0.0, 0.0, 1.0])

    def sentences(*vectors: np.ndarray) -> list[PassageSentence]:
        return [PassageSentence(0, 1, float(v @ query), v) for v in vectors]

    share = SearchRules().closest_sentence_share
    focused = passage_cosine(sentences(near, near), query, share)
    diluted = passage_cosine(sentences(near, far, far, far), query, share)
    assert focused > diluted > 0.45  # the close sentence still counts for half
    assert passage_cosine(sentences(far), query, share) == pytest.approx(0.0)
    assert passage_cosine(sentences(near, far, far, far), query, 1.0) == pytest.approx(0.9)


@pytest.mark.slow
def test_a_follow_up_looks_first_in_the_conversations_article(
    tmp_path: Path, embedder, run_sync, index_dir
) -> None:
    corpus = tmp_path / "towns"
    corpus.mkdir()
    (corpus / "buses.txt").write_text(
        "Bus company grows\n\nThe bus company employs 90 people in the town. "
        "It bought six new buses this spring.\n"
    )
    (corpus / "ferries.txt").write_text(
        "Ferry operator expands\n\nThe island ferry operator added a third boat. "
        "The ferry operator employs 340 staff across both harbours.\n"
    )
    run_sync(corpus)
    question = "How many people does the company employ?"
    with IndexStore(index_dir) as store:
        searcher = Searcher(store, embedder)
        ferries = next(s.article_id for s in store.article_summaries() if "Ferry" in s.title)
        alone = searcher.search(question, k=1)
        in_conversation = searcher.search(question, k=1, context=[ferries])
        gone = searcher.search(question, k=1, context=["no-such-article"])
    assert alone.passages[0].title == "Bus company grows"  # the wording fits buses best
    assert in_conversation.passages[0].article_id == ferries
    assert [p.chunk_id for p in gone.passages] == [p.chunk_id for p in alone.passages]
