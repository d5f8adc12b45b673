"""The answering engine: search → evidence → generate → judge → score → quote.

Console, CLI and Discord all call `Engine.ask`. Hard guarantees stay outside the
confidence score:
- every quote is the stored article text at its offsets, checked before it is
  returned, and a shown answer carries at least one, holding the answer's words;
- when retrieval finds nothing relevant the model is not asked;
- article text that gives the model orders is never shown to it, and an answer that
  repeats what such a sentence orders ("reply with PWNED") is never shown
  (`bot/answering/injection.py`).
Between them, one calibrated confidence (`bot/answering/signals.py`, `bot/answering/confidence.py`)
decides whether the model's answer is shown; where it was fitted with it, one of
its signals is the model's own yes/no verdict on the quote (`bot/answering/judge.py`). When
it is not shown, or the model is too slow, the reader gets the closest verified
passage, marked as related, not as an answer.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from bot.answering import signals
from bot.answering.conversation import Rewriter, Turn, conversation_articles, cut
from bot.answering.evidence import Evidence, headline_of, select_evidence
from bot.answering.injection import InstructionExemplars, answer_is_target, instruction_targets
from bot.answering.judge import judge
from bot.answering.outcomes import FALLBACKS, Decline, Declined, reason_text
from bot.answering.policy import AnswerPolicy
from bot.answering.prompting import Prompts, build_messages
from bot.answering.question import Question, normalise, parse_question
from bot.generation.generators import GenerationFailed, Generator, ModelTooSlow, Reply, TextCallback
from retrieval.chunking import split_sentences
from retrieval.cleaning import shorten
from retrieval.reading import ArticleTexts
from retrieval.search import Passage, Searcher, SearchResults

NOT_FOUND = "I couldn't find that in the articles."
UNSURE = "I'm not sure this answers it, but the closest passage says:"
SLOW = (
    "The model is slow right now, so I have no checked answer. "
    "This is the closest passage I found, not an answer:"
)
FAILED = (
    "The model could not answer just now, so I have no checked answer. "
    "This is the closest passage I found, not an answer:"
)
_NOT_FOUND = re.compile(
    r"^\W*(?:(?:not found|n/?a|none|unknown|no answer)\W*$|i (?:do not|don't|cannot|can't) "
    r"(?:know|find|answer)|(?:the )?(?:sentences|articles|text|context) (?:do(?:es)? not|don't) "
    r"(?:say|state|mention|contain|provide)|there is no (?:information|mention))",
    re.IGNORECASE,
)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quote:
    """A verbatim span of a stored article."""

    text: str
    article_id: str
    title: str
    source: str
    start: int
    end: int
    date: str | None = None  # the article's date, YYYY-MM-DD when known
    path: str = ""  # the article's file in the corpus folder (for SOURCE_BASE_URL links)


@dataclass(frozen=True)
class Scoring:
    """How the model's answer was scored, also when it was not shown.

    Only `eval` and calibration read it; front ends never do, so it stays off the
    fields they use.
    """

    signals: dict[str, float | None]
    candidate: str  # the model's answer
    candidate_quotes: tuple[Quote, ...] = ()  # the verified quotes that hold it


@dataclass(frozen=True)
class Answer:
    """What the engine returns to every front end.

    `decline` says why it abstained, as a value to compare; `detail` is the
    human-readable part (the confidence and its threshold, the model's error), never
    compared.
    """

    question: str
    answer: str
    quotes: tuple[Quote, ...]
    abstained: bool
    timings: dict[str, float] = field(default_factory=dict)
    closest: tuple[str, ...] = ()  # titles of the nearest articles, when abstaining
    decline: Decline | None = None  # why it abstained
    detail: str = ""  # what a reader of the logs needs besides `decline`
    related: Quote | None = None  # when abstaining: the closest passage, never an answer
    confidence: float | None = None
    scoring: Scoring | None = None  # set once the model's answer was scored (for eval)
    standalone: str = ""  # the question read: a follow-up rewritten to stand alone
    search_text: str = ""  # what search read, when not `standalone` (REWRITE=both)
    follow_up: bool = False  # read as a rewritten follow-up of a conversation

    @property
    def rewritten(self) -> bool:
        """True when what was searched is not what the member typed ("Searching for: …")."""
        return bool(self.standalone) and self.standalone != self.question

    def as_turn(self, question: str) -> Turn:
        """The conversation turn this answer makes of `question`: a declined one keeps
        its question, which still sets the topic, but no answer text, and the article of
        the closest passage it showed."""
        shown = "" if self.abstained else self.answer
        titles = tuple(dict.fromkeys(q.title for q in self.quotes))[:3]
        passages = self.quotes or ((self.related,) if self.related else ())
        articles = tuple(dict.fromkeys(q.article_id for q in passages))[:3]
        return Turn(cut(question), cut(self.standalone or question), cut(shown), titles, articles)

    @property
    def reason(self) -> str:
        """Why it abstained, in one line for logs and JSON ("" for an answer)."""
        return reason_text(self.decline, self.detail)

    @property
    def fallback(self) -> str:
        """The model's error when it could not answer in time or failed, else ""."""
        return self.detail if self.decline in FALLBACKS else ""

    def as_dict(self) -> dict:
        """JSON-ready form (the `ask --json` shape)."""
        data = {
            "question": self.question,
            "standalone_question": self.standalone or self.question,
            **({"searched_question": self.search_text} if self.search_text else {}),
            "answer": self.answer,
            "abstained": self.abstained,
            "decline": self.decline.value if self.decline else None,
            "reason": self.reason,
            "quotes": [quote.__dict__ for quote in self.quotes],
            "related": self.related.__dict__ if self.related else None,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "timings": self.timings,
        }
        if self.fallback:
            data["fallback"] = self.fallback
        return data


def says_not_found(answer: str) -> bool:
    """True when the model's answer is a refusal or empty."""
    return not answer.strip() or bool(_NOT_FOUND.match(answer.strip()))


def quote_is_exact(article_text: str | None, text: str, start: int, end: int) -> bool:
    """The quote is exactly the stored article text at its offsets."""
    return article_text is not None and 0 <= start < end and article_text[start:end] == text


def ordered_answer(answer: str, passages: tuple[Passage, ...] | list[Passage]) -> str | None:
    """The sentence of `passages` that orders the model to say `answer`, if one does."""
    for passage in passages:
        for start, end in split_sentences(passage.text):
            sentence = passage.text[start:end]
            if answer_is_target(answer, instruction_targets(sentence)) is not None:
                return shorten(" ".join(sentence.split()), 120)
    return None


class Engine:
    """One index, one search, one model: answers questions with verified quotes."""

    def __init__(
        self,
        store: ArticleTexts,
        searcher: Searcher,
        generator: Generator,
        prompts: Prompts,
        policy: AnswerPolicy,
        exemplars: Callable[[], InstructionExemplars],
        rewriter: Rewriter | None = None,
    ) -> None:
        """`exemplars` gives the instruction exemplars embedded with `searcher.embedder`;
        it is called on first use (a `LazyExemplars`, shared by the engines on one model)."""
        self.store = store
        self.searcher = searcher
        self.generator = generator
        self.prompts = prompts
        self.policy = policy
        self.rewriter = rewriter or Rewriter(template=prompts.rewrite)
        self._exemplars = exemplars

    @property
    def exemplars(self) -> InstructionExemplars:
        """The instruction exemplars, embedded on first use with the search's own model."""
        return self._exemplars()

    def warm_up(self) -> None:
        """Load both models, embed the instruction exemplars and run the answer model once
        over the prompt every question starts with, so none of that counts against the
        first question."""
        _ = self.exemplars  # loads the embedding model too
        self.generator.warm_up(build_messages(self.prompts, "", []))

    def ask(
        self,
        text: str,
        on_text: TextCallback | None = None,
        on_passage: Callable[[Quote], None] | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer one question; `on_text` receives the model's answer as it streams, and
        `on_passage` the closest verified passage, once, before the model is asked.

        With `history` (the conversation's earlier turns), a follow-up that leans on
        them is rewritten into a standalone question (`bot/answering/conversation.py`, `REWRITE`):
        search reads `Rewrite.search`, the model, the judge and the confidence read
        `Rewrite.read`; the answer carries the latter as `standalone` and the former,
        when it differs, as `search_text`. Search also looks first in the articles the
        conversation last showed (`conversation_articles`).
        """
        started = time.perf_counter()
        rewrite = self.rewriter.rewrite(text, history, self.generator)
        rewriting = _since(started)
        split = rewrite.search if rewrite.search != rewrite.read else None
        context = conversation_articles(history) if rewrite.how else ()
        answer = self._ask(rewrite.read, on_text, on_passage, split, context, bool(rewrite.how))
        if not rewrite.how:
            return replace(answer, standalone=answer.question)
        log.info("follow-up rewritten (%s): %r -> %r", rewrite.how, text, rewrite.read)
        answer.timings["rewrite"] = rewriting
        answer.timings["total"] = round(answer.timings.get("total", 0.0) + rewriting, 4)
        return replace(
            answer,
            question=normalise(text),
            standalone=answer.question,
            search_text=normalise(split) if split else "",
            follow_up=True,
        )

    def _ask(
        self,
        text: str,
        on_text: TextCallback | None,
        on_passage: Callable[[Quote], None] | None,
        search_text: str | None = None,
        context: Sequence[str] = (),
        follow_up: bool = False,
    ) -> Answer:
        """Answer `text`; search reads `search_text` instead when one is given, and looks
        first in the `context` articles. `follow_up`: `text` is a rewritten follow-up,
        which the confidence scores with its own offset."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        if not " ".join(text.split()).strip(" ?!.,"):
            return Answer(text.strip(), "Please ask a question about the articles.", (), True,
                          timings, decline=Decline.EMPTY_QUESTION)  # fmt: skip
        policy = self.policy
        with self.store.snapshot():  # a reload switching meanwhile stays unseen until done
            question = parse_question(text, self.searcher.term_weights)
            results = self.searcher.search(
                search_text or question.text, k=policy.passages, context=context
            )
            timings["search"] = _since(started)
            closest = _closest_titles(results)
            if results.relevance < policy.relevance_threshold:
                return self._abstain(question, timings, started, closest, Decline.NOTHING_RELEVANT)
            evidence = select_evidence(
                question,
                results.passages,
                self.searcher.embedder,
                policy.evidence,
                self.exemplars,
                results.query_vector,
            )
            timings["evidence"] = _since(started) - timings["search"]
            related = self._verified(evidence[:1])
            if not evidence or not related:
                return self._abstain(question, timings, started, closest, Decline.NO_SENTENCES)

        timings["first_passage"] = _since(started)
        if on_passage is not None:
            on_passage(related[0])
        model_called = _since(started)
        try:
            reply = self._generate(question, evidence, on_text)
        except GenerationFailed as error:
            timings["total"] = _since(started)
            log.warning("answer fell back (%s); timings %s", error, timings)
            slow = isinstance(error, ModelTooSlow)
            return Answer(question.text, SLOW if slow else FAILED, (), True, timings, closest,
                          Decline.SLOW if slow else Decline.FAILED, str(error),
                          related[0])  # fmt: skip
        timings["first_token"] = reply.first_token_seconds
        timings["question_to_first_token"] = round(model_called + reply.first_token_seconds, 4)
        timings["generate"] = reply.seconds
        unsure = (question, timings, started, closest)
        if says_not_found(reply.answer):
            return self._abstain(*unsure, Decline.MODEL_NOT_FOUND, related[0])
        with self.store.snapshot():
            candidate = self._candidate(reply, evidence, results.passages)
            if isinstance(candidate, Declined):
                return self._abstain(*unsure, candidate, related[0])
            quotes = self._verified(candidate.quoted)
            articles = self._article_texts(candidate.quoted)
        verdict = self._judge(question, candidate, timings) if quotes else None
        found = signals.compute(
            question,
            results.relevance,
            evidence,
            candidate,
            articles,
            policy.evidence.margin,
            verdict,
        )
        confidence = policy.confidence.score(found, follow_up)
        scored = {"confidence": confidence, "scoring": Scoring(found, candidate.answer, quotes)}
        if not quotes:
            return self._abstain(*unsure, Decline.NO_QUOTE_VERIFIED, related[0], **scored)
        if confidence < policy.min_confidence:
            detail = f"confidence {confidence:.2f} below {policy.min_confidence:.2f}"
            return self._abstain(*unsure, Declined(Decline.UNSURE, detail), related[0], **scored)
        timings["total"] = _since(started)
        return Answer(question.text, candidate.answer, quotes, False, timings, **scored)

    # -- steps --------------------------------------------------------------------
    def _generate(
        self, question: Question, evidence: list[Evidence], on_text: TextCallback | None
    ) -> Reply:
        messages = build_messages(self.prompts, question.text, evidence)
        return self.generator.generate(messages, on_text, self.policy.time_budget_seconds)

    def _judge(
        self, question: Question, candidate: signals.Candidate, timings: dict[str, float]
    ) -> float | None:
        """The model's P(Yes) that the quoted text states the candidate, when the policy asks."""
        if not self.policy.judge:
            return None
        started = time.perf_counter()
        verdict = judge(
            self.generator,
            self.prompts.judge,
            question.text,
            candidate.quoted,
            candidate.answer,
            self.policy.time_budget_seconds,
        )
        timings["judge"] = _since(started)
        return verdict

    def _candidate(
        self, reply: Reply, evidence: list[Evidence], passages: tuple[Passage, ...]
    ) -> signals.Candidate | Declined:
        """The model's answer with the stored text that holds it, or why there is none.

        An answer that is what an article sentence orders the model to say is refused
        outright, whatever holds it. Otherwise the cited sentences first, then any shown
        sentence, then two cited ones together, then the headline of a shown sentence's
        article (the model reads each title).
        """
        ordered = ordered_answer(reply.answer, passages)
        if ordered is not None:
            return Declined(Decline.ORDERED_BY_ARTICLE, ordered)
        minimum = self.policy.min_answer_support

        def holds(items: list[Evidence]) -> bool:
            return signals.answer_support(reply.answer, [e.text for e in items]) >= minimum

        cited = [evidence[n - 1] for n in dict.fromkeys(reply.sources) if 1 <= n <= len(evidence)]
        options = [[e] for e in cited] + [[e] for e in evidence]
        if len(cited) > 1:
            options.append(cited[:2])  # an answer that combines two cited sentences
        quoted = next((items for items in options if holds(items)), None)
        if quoted is not None:
            rank = evidence.index(quoted[0]) + 1
        else:
            headline = self._headline_holding(reply.answer, [*cited, *evidence])
            if headline is None:
                return Declined(Decline.ANSWER_NOT_IN_SENTENCES)
            quoted, rank = [headline], 0
        return signals.Candidate(
            reply.answer,
            tuple(quoted[: self.policy.max_quotes]),
            rank,
            reply.cite_probability(len(evidence)),
            reply.answer_probability(),
            reply.answer_min_probability(),
        )

    def _headline_holding(self, answer: str, shown: list[Evidence]) -> Evidence | None:
        """The first headline, among the shown sentences' articles, that holds the answer."""
        first: dict[str, Evidence] = {}
        for item in shown:
            first.setdefault(item.article_id, item)
        for item in first.values():
            article = self.store.article(item.article_id)
            headline = headline_of(item, article.text) if article else None
            if headline and signals.answer_support(answer, [headline.text]) >= (
                self.policy.min_answer_support
            ):
                return headline
        return None

    def _article_texts(self, quoted: tuple[Evidence, ...]) -> list[str]:
        """Title and text of each quoted article, for the names signal."""
        found = (self.store.article(aid) for aid in dict.fromkeys(e.article_id for e in quoted))
        return [f"{article.title}\n{article.text}" for article in found if article is not None]

    def _verified(self, items: list[Evidence] | tuple[Evidence, ...]) -> tuple[Quote, ...]:
        """Quotes whose text is exactly the stored article text at their offsets."""
        quotes = []
        for item in items:
            article = self.store.article(item.article_id)
            stored = article.text if article else None
            if quote_is_exact(stored, item.text, item.start, item.end):
                quotes.append(
                    Quote(item.text, item.article_id, item.title, item.source, item.start,
                          item.end, article.date, article.path)
                )  # fmt: skip
        return tuple(quotes)

    def _abstain(
        self,
        question: Question,
        timings: dict[str, float],
        started: float,
        closest: tuple[str, ...],
        why: Decline | Declined,
        related: Quote | None = None,
        **scored: object,
    ) -> Answer:
        timings["total"] = _since(started)
        text = UNSURE if related else NOT_FOUND
        why = why if isinstance(why, Declined) else Declined(why)
        return Answer(question.text, text, (), True, timings, closest, why.decline, why.detail,
                      related, **scored)  # fmt: skip


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)


def _closest_titles(results: SearchResults) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.title for p in results.passages))[:3]
