"""The answering engine: question → search → evidence → model → verified, quoted answer.

Console, CLI and Discord all call `Engine.ask`. The guarantees live here, not in
the prompt:
- every quote is the stored article text at its offsets, checked before it is
  returned (a quote that fails is dropped);
- a non-abstained answer carries at least one quote, and its words must be
  supported by the quoted sentences, which must in turn be about the question
  (its key terms, or its meaning by embedding similarity); an answer that only
  repeats the question is no answer; otherwise the engine abstains;
- when retrieval finds nothing relevant the model is not even asked;
- when the model fails or runs over its budget, the best sentences are
  returned as an extractive answer instead of an error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from bot.evidence import Evidence, headline_of, select_evidence
from bot.generation import GenerationFailed, Generator, Reply, TextCallback
from bot.grounding import (
    addresses_question,
    answer_support,
    names_missing_from,
    number_cut_from_a_word,
    only_repeats_question,
    question_names,
    quote_is_exact,
    says_not_found,
    wrong_kind_of_answer,
)
from bot.prompting import Prompts, build_messages
from retrieval.lexical import query_terms
from retrieval.search import Searcher, SearchResults
from retrieval.store import IndexStore

NOT_FOUND = "I couldn't find that in the articles."
MAX_QUESTION_CHARS = 1000
MAX_QUOTES = 2
# Replies that tried to answer but failed a check; the model gets one more, focused try.
_RETRYABLE = frozenset(
    {"answer repeats the question", "answer not in the sentences", "quotes miss the question"}
)


@dataclass(frozen=True)
class Quote:
    """A verbatim span of a stored article."""

    text: str
    article_id: str
    title: str
    source: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """What the engine returns to every front end."""

    question: str
    answer: str
    quotes: tuple[Quote, ...]
    abstained: bool
    timings: dict[str, float] = field(default_factory=dict)
    closest: tuple[str, ...] = ()  # titles of the nearest articles, when abstaining
    reason: str = ""  # why it abstained or fell back, for logs and eval

    def as_dict(self) -> dict:
        """JSON-ready form (the `ask --json` shape)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "quotes": [quote.__dict__ for quote in self.quotes],
            "timings": self.timings,
        }


@dataclass(frozen=True)
class EngineOptions:
    """Tuning knobs, from settings."""

    top_k: int = 4
    evidence_sentences: int = 3
    evidence_margin: float = 0.4
    relevance_threshold: float = 0.38
    min_answer_support: float = 0.6
    min_question_coverage: float = 0.3
    min_quote_similarity: float = 0.6
    time_budget_seconds: float = 20.0


class Engine:
    """One index, one search, one model: answers questions with verified quotes."""

    def __init__(
        self,
        store: IndexStore,
        searcher: Searcher,
        generator: Generator,
        prompts: Prompts,
        options: EngineOptions | None = None,
    ) -> None:
        self.store = store
        self.searcher = searcher
        self.generator = generator
        self.prompts = prompts
        self.options = options or EngineOptions()

    def ask(self, question: str, on_text: TextCallback | None = None) -> Answer:
        """Answer one question; `on_text` receives the model's answer as it streams."""
        started = time.perf_counter()
        question = " ".join(question.split())[:MAX_QUESTION_CHARS]
        timings: dict[str, float] = {}
        if not question.strip(" ?!.,"):
            return Answer(question, "Please ask a question about the articles.", (), True,
                          timings, reason="empty question")  # fmt: skip

        with self.store.snapshot():  # a reload switching meanwhile stays unseen until done
            results = self.searcher.search(question, k=self.options.top_k)
            timings["search"] = _since(started)
            closest = _closest_titles(results)
            if results.relevance < self.options.relevance_threshold:
                return self._abstain(question, timings, started, closest, "nothing relevant found")
            weights = self.searcher.term_weights(query_terms(question))
            evidence = select_evidence(
                question,
                results.passages,
                self.searcher.embedder,
                self.options.evidence_sentences,
                weights,
                self.options.evidence_margin,
            )
        timings["evidence"] = _since(started) - timings["search"]
        if not evidence:
            return self._abstain(question, timings, started, closest, "no sentences to quote")

        budget = self.options.time_budget_seconds
        try:
            reply, chosen, reason = self._attempt(question, evidence, weights, on_text, budget)
        except GenerationFailed as error:
            timings["total"] = _since(started)
            return self._extractive(question, evidence, timings, f"fallback: {error}")
        timings["first_token"] = reply.first_token_seconds
        timings["generate"] = reply.seconds
        if reason in _RETRYABLE and len(evidence) > 1:
            # A small model often answers from the wrong sentence; asked again with only
            # the best one, it reads that one. The same checks judge the second reply.
            focused = [replace(evidence[0], number=1)]
            try:
                retry = self._attempt(question, focused, weights, on_text, budget - reply.seconds)
                reply, chosen, reason = retry
                timings["generate"] += reply.seconds
            except GenerationFailed:
                pass  # out of time: keep the first verdict
        if reason:
            return self._abstain(question, timings, started, closest, reason)
        quotes = self._verified_quotes(chosen)
        if not quotes:
            return self._abstain(question, timings, started, closest, "no quote verified")
        timings["total"] = _since(started)
        return Answer(question, reply.answer, quotes, False, timings)

    def _attempt(
        self,
        question: str,
        evidence: list[Evidence],
        weights: dict[str, float],
        on_text: TextCallback | None,
        budget: float,
    ) -> tuple[Reply, list[Evidence], str]:
        """Ask the model once; its reply, the sentences it rests on, and why not ("" if fine)."""
        messages = build_messages(self.prompts, question, evidence)
        if budget <= 0:
            raise GenerationFailed("no time left in the budget")
        reply = self.generator.generate(messages, on_text, budget)
        if says_not_found(reply.answer):
            return reply, [], "model found no answer"
        if only_repeats_question(reply.answer, question):
            return reply, [], "answer repeats the question"
        if wrong_kind_of_answer(reply.answer, question):
            return reply, [], "answer is a date the question did not ask for"
        chosen = self._supporting(reply.answer, reply.sources, evidence)
        if not chosen:
            return reply, [], "answer not in the sentences"
        if number_cut_from_a_word(reply.answer, question, [e.text for e in chosen]):
            return reply, [], "answer is a number cut from a word"
        options = self.options
        if not addresses_question(
            chosen,
            evidence[0],
            weights,
            options.min_quote_similarity,
            options.min_question_coverage,
        ):
            return reply, [], "quotes miss the question"
        names = question_names(question)
        missing = names_missing_from(names, self._article_texts(chosen))
        if names and len(missing) * 2 > len(names):  # one missing may be a paraphrase ("US")
            return reply, [], "quoted articles are about something else"
        return reply, chosen, ""

    # -- steps --------------------------------------------------------------------
    def _article_texts(self, chosen: list[Evidence]) -> list[str]:
        """Title and text of each quoted article, for the names check."""
        found = (self.store.article(aid) for aid in dict.fromkeys(e.article_id for e in chosen))
        return [f"{article.title}\n{article.text}" for article in found if article is not None]

    def _supporting(
        self, answer: str, sources: tuple[int, ...], evidence: list[Evidence]
    ) -> list[Evidence]:
        """The sentences the answer rests on: cited ones that support it, else the best one.

        Failing those, the headline of a shown sentence's article, since the model
        reads the title beside each sentence.
        """
        minimum = self.options.min_answer_support
        cited = [evidence[n - 1] for n in dict.fromkeys(sources) if 1 <= n <= len(evidence)]
        backing = [e for e in cited if answer_support(answer, [e.text]) >= minimum]
        if not backing:
            backing = [e for e in evidence if answer_support(answer, [e.text]) >= minimum][:1]
        if not backing and len(cited) >= 2:
            pair = cited[:2]  # an answer that combines two cited sentences
            if answer_support(answer, [e.text for e in pair]) >= minimum:
                backing = pair
        if not backing:
            backing = self._supporting_headline(answer, [*cited, *evidence])
        return backing[:MAX_QUOTES]

    def _supporting_headline(self, answer: str, shown: list[Evidence]) -> list[Evidence]:
        """The first headline, among the shown sentences' articles, that holds the answer.

        It is quoted with the sentence it was shown beside, which is what ties it to
        the question.
        """
        minimum = self.options.min_answer_support
        articles: dict[str, Evidence] = {}
        for item in shown:
            articles.setdefault(item.article_id, item)
        for item in articles.values():
            article = self.store.article(item.article_id)
            headline = headline_of(item, article.text) if article else None
            if headline and answer_support(answer, [headline.text]) >= minimum:
                return [headline, item]
        return []

    def _verified_quotes(self, chosen: list[Evidence]) -> tuple[Quote, ...]:
        """Quotes whose text is exactly the stored article text at their offsets."""
        quotes = []
        for item in chosen:
            article = self.store.article(item.article_id)
            stored = article.text if article else None
            if quote_is_exact(stored, item.text, item.start, item.end):
                quotes.append(
                    Quote(item.text, item.article_id, item.title, item.source, item.start, item.end)
                )
        return tuple(quotes)

    def _extractive(
        self, question: str, evidence: list[Evidence], timings: dict[str, float], reason: str
    ) -> Answer:
        """When the model cannot answer, show the best-supported sentence itself."""
        quotes = self._verified_quotes(evidence[:1])
        if not quotes:
            return Answer(question, NOT_FOUND, (), True, timings, reason=reason)
        text = "The model is unavailable right now; this is the most relevant passage I found."
        return Answer(question, text, quotes, False, timings, reason=reason)

    def _abstain(
        self,
        question: str,
        timings: dict[str, float],
        started: float,
        closest: tuple[str, ...],
        reason: str,
    ) -> Answer:
        timings["total"] = _since(started)
        return Answer(question, NOT_FOUND, (), True, timings, closest, reason)


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)


def _closest_titles(results: SearchResults) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.title for p in results.passages))[:3]
