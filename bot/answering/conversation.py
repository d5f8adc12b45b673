"""Conversations: the last few turns, and follow-ups rewritten into standalone questions.

Search reads one question at a time, so "And what did he lend him?" after "Where did
Ada Byrne meet Tom Hale?" finds nothing: the names it leans on are in the earlier turn.
Before searching, a follow-up that leans on earlier turns is rewritten into a
standalone question from the last turn's question (itself already standalone), its
answer and the titles it quoted. The rewrite only chooses what is searched: the answer
still rests on verified quotes, with every check, and front ends show the rewrite
("Searching for: …") so the member sees how the question was read.

Two ways of rewriting: rules (`standalone_question`, pure and instant) and the answer
model (`model_rewrite`, with `prompts/rewrite.txt`), bounded by a time budget and
falling back to the rules when slow or when its reply is not a question. `REWRITE`
picks one; the README gives the dev-set figures that chose the default.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.generation.generators import GenerationFailed, Generator
from retrieval.text import MONTHS, QUESTION_WORDS, STOPWORDS, words

MAX_TURNS = 3  # earlier turns kept as context: follow-ups lean on the last one or two
MAX_CONTEXT_TERMS = 6  # names and words added to a follow-up from the earlier turn
MAX_TURN_CHARS = 600  # each stored field is cut to this: context, not a transcript
_MAX_ANSWER_WORDS = 20  # names are taken from short answers only; long ones wander
_MAX_REWRITE_CHARS = 300
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """One question of a conversation, as it was read and answered."""

    question: str  # what the member typed
    standalone: str  # what was searched (the question itself when it stood alone)
    answer: str = ""  # the answer shown; empty when the bot declined
    titles: tuple[str, ...] = ()  # the quoted articles' titles
    # the articles the member was shown: the quoted ones, or when the bot declined, the
    # closest passage's. A follow-up is most often about the same article.
    articles: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """JSON-ready form (the conversation files of `ask --conversation`)."""
        return {"question": self.question, "standalone": self.standalone,
                "answer": self.answer, "titles": list(self.titles),
                "articles": list(self.articles)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> Turn:
        """A turn from `as_dict` output, every field cut to its bound."""
        titles = data.get("titles") or []
        articles = data.get("articles") or []
        return cls(
            cut(str(data.get("question", ""))),
            cut(str(data.get("standalone", "") or data.get("question", ""))),
            cut(str(data.get("answer", ""))),
            tuple(cut(str(t)) for t in titles[:3] if isinstance(t, str)),
            tuple(cut(a) for a in articles[:3] if isinstance(a, str)),
        )


def conversation_articles(history: Sequence[Turn]) -> tuple[str, ...]:
    """The articles of the latest turn that showed any: what a follow-up most likely
    asks about next."""
    return next((turn.articles for turn in reversed(history) if turn.articles), ())


def remember(history: Sequence[Turn], turn: Turn, limit: int = MAX_TURNS) -> tuple[Turn, ...]:
    """The conversation with `turn` added, keeping only the last `limit` turns."""
    return (*history, turn)[-limit:] if limit > 0 else ()


def cut(text: str) -> str:
    """`text` on one line, at most MAX_TURN_CHARS: context, not a transcript."""
    return " ".join(text.split())[:MAX_TURN_CHARS]


# -- does a question lean on earlier turns? -----------------------------------------
_PRONOUNS = frozenset(
    "he she it they him her them his hers its their theirs that this those these there "
    "then else other others rest same former latter".split()
)
_LEADS = re.compile(
    r"^\W*(?:and|but|so|also|then|ok(?:ay)?|what about|how about|and what about)\b", re.I
)
# "this year", "that week": times, not references to an earlier turn
_TIME_PHRASE = re.compile(
    r"\b(?:this|that|these|those)\s+(?:year|years|week|weeks|month|months|season|weekend|"
    r"summer|spring|autumn|winter|morning|afternoon|evening|decade|century|time)\b",
    re.I,
)
_EXISTENTIAL = re.compile(
    r"\b(?:is|are|was|were|be|been)\s+there\b|\bthere\s+(?:is|are|was|were)\b", re.I
)
_ONE = re.compile(r"\b(?:the|that|this|other|which|another)\s+(?:one|ones)\b", re.I)
_NAME_SPAN = re.compile(r"[A-Z][\w'’.&-]*(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][\w'’.&-]*)*")


def leans_on_history(question: str) -> bool:
    """True when, asked in a conversation, the question needs its earlier turns: a
    pronoun or "the other one", a leading "and …" / "what about …", or no name of its
    own ("Who won the second race?" is about the meeting just discussed)."""
    if _LEADS.search(question) or _ONE.search(question):
        return True
    if not words(question):
        return False
    plain = _EXISTENTIAL.sub(" ", _TIME_PHRASE.sub(" ", question))
    if any(token in _PRONOUNS for token in words(plain)):
        return True
    return not names_in(question)


def names_in(text: str) -> list[str]:
    """Capitalised word runs ("Ada Byrne", "Bank of Alder"), without a sentence-opening
    question or function word and without a trailing 's."""
    found = []
    for match in _NAME_SPAN.finditer(text):
        parts = match.group().split()
        while parts and parts[0].lower().strip("'’") in QUESTION_WORDS | STOPWORDS:
            parts = parts[1:]
        name = re.sub(r"['’]s$", "", " ".join(parts)).strip(" .'’-")
        if name and name.lower() not in STOPWORDS:
            found.append(name)
    return list(dict.fromkeys(found))


# -- the rule-based rewrite ---------------------------------------------------------
_SUBJECT = re.compile(r"\b(?:he|she)\b", re.I)
_OBJECT = re.compile(r"\bhim\b", re.I)
_POSSESSIVE = re.compile(r"\bhis\b", re.I)
_LEAD_WORDS = re.compile(r"^\W*(?:and|but|so|also|then|ok(?:ay)?)\b[\s,]*", re.I)
# "Who did Ada Byrne beat?": the name is the subject, the answer the object
_WHO_DID = re.compile(
    r"^\W*(?i:who|whom|which \w+)\s+(?i:did|does|do|will|would|has|had|is|was)\s+[A-Z]"
)
_WHO_ASKS = re.compile(r"^\W*(?:who|whose|which|what)\b", re.I)


def standalone_question(question: str, history: Sequence[Turn]) -> str:
    """`question` rewritten to stand alone, from the last turn; unchanged when it does
    not lean on the conversation.

    He/she/him/his become the person they most likely mean (the last answer when it
    was a name the last question asked for, else the names of the last question, in
    order); the last turn's other names and key words follow in brackets, since a
    name the follow-up leaves out is what search needs most.
    """
    question = " ".join(question.split())
    if not history or not leans_on_history(question):
        return question
    last = history[-1]
    people = _people(last)
    text = _LEAD_WORDS.sub("", question)
    text = text[:1].upper() + text[1:]
    if people:
        subject = people[0]
        other = next((p for p in people[1:] if p != subject), subject)
        if not _SUBJECT.search(text):  # "did he win his cap": one name is enough
            text = _POSSESSIVE.sub(f"{subject}'s", text)
        text = _SUBJECT.sub(subject, text)
        text = _OBJECT.sub(other, text)
    context = _context_terms(last, text)
    return f"{text} ({', '.join(context)})" if context else text


def _people(last: Turn) -> list[str]:
    """Who "he" or "she" may be, most likely first: names only, never months."""
    asked = [n for n in names_in(last.standalone.split(" (", 1)[0]) if not MONTHS.fullmatch(n)]
    answer = _short_answer_names(last.answer)
    answer_is_a_name = bool(answer) and len(last.answer.split()) <= 4
    if (
        answer_is_a_name
        and _WHO_ASKS.search(last.standalone)
        and not _WHO_DID.search(last.standalone)
    ):
        return [*answer, *asked]
    return [*asked, *(answer if answer_is_a_name else [])]


def _short_answer_names(answer: str) -> list[str]:
    if not answer or len(answer.split()) > _MAX_ANSWER_WORDS:
        return []
    return [n for n in names_in(answer) if not MONTHS.fullmatch(n)]


def _context_terms(last: Turn, question: str) -> list[str]:
    """Names of the last turn's question, answer and quoted titles, then its key words,
    leaving out what the question already says."""
    said = question.lower()
    names = names_in(last.standalone) + _short_answer_names(last.answer)
    for title in last.titles:
        names += names_in(title)
    terms: list[str] = []
    for name in names:
        if name.lower() not in said and not any(name.lower() in t.lower() for t in terms):
            terms.append(name)
    taken = " ".join(terms).lower()
    for word in words(last.standalone):
        if len(terms) >= MAX_CONTEXT_TERMS:
            break
        if len(word) > 3 and word not in STOPWORDS and word not in said and word not in taken:
            terms.append(word)
            taken += f" {word}"
    return terms[:MAX_CONTEXT_TERMS]


# -- the model's rewrite ------------------------------------------------------------
REWRITE_SYSTEM = "You rewrite follow-up questions so they can be understood on their own."
_QUESTION_START = re.compile(
    r"^(?:who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|does|did|can|"
    r"could|will|would|has|have|had|should|in|on|at|by|for|from|to|of|with)\b",
    re.I,
)


class _TooSlow(Exception):
    """Raised from the streaming callback to stop a rewrite past its budget."""


def format_history(history: Sequence[Turn]) -> str:
    """The earlier turns as the rewrite prompt shows them."""
    lines = []
    for turn in history:
        lines.append(f"Question: {turn.standalone}")
        answer = turn.answer or "(no answer found)"
        titles = f" [from: {'; '.join(turn.titles)}]" if turn.titles else ""
        lines.append(f"Answer: {answer}{titles}")
    return "\n".join(lines)


def rewrite_messages(template: str, question: str, history: Sequence[Turn]) -> list[dict]:
    """The chat messages that ask the model for a standalone question."""
    user = template.format(history=format_history(history), question=question)
    return [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}]


def is_question(text: str) -> bool:
    """A single plausible question: ends with its only "?" or opens with a question word.
    A small model sometimes repeats the earlier question before the follow-up; two
    questions in one search would match the earlier turn's article again."""
    text = text.strip()
    return (
        0 < len(text) <= _MAX_REWRITE_CHARS
        and "\n" not in text
        and text.count("?") <= 1
        and (text.endswith("?") or bool(_QUESTION_START.match(text)))
    )


def _plain(text: str) -> str:
    return " ".join(words(text))


def keeps_the_follow_up(rewrite: str, history: Sequence[Turn]) -> bool:
    """False when the model's rewrite is an earlier question again (a small model
    sometimes answers "How much will it cost?" with the question before it, which would
    search and read that question a second time)."""
    plain = _plain(rewrite)
    return all(plain not in (_plain(t.question), _plain(t.standalone)) for t in history)


def model_rewrite(
    generator: Generator,
    template: str,
    question: str,
    history: Sequence[Turn],
    seconds: float,
) -> str | None:
    """The model's standalone question, or None when it is slower than `seconds` in all,
    fails, or replies with anything but the follow-up as one question (the caller then
    uses the rules)."""
    started = time.perf_counter()

    def watch(_text: str) -> None:
        if time.perf_counter() - started > seconds:
            raise _TooSlow

    try:
        reply = generator.generate(rewrite_messages(template, question, history), watch, seconds)
    except (GenerationFailed, _TooSlow) as error:
        log.info("the model's rewrite gave up (%s); using the rules", error or "too slow")
        return None
    if time.perf_counter() - started > seconds:
        return None
    text = " ".join(reply.answer.split())
    return text if is_question(text) and keeps_the_follow_up(text, history) else None


@dataclass(frozen=True)
class Rewrite:
    """A question as search reads it and as the model, judge and confidence read it."""

    search: str  # what search reads
    read: str  # what the model, the judge and the confidence read; shown to the member
    how: str = ""  # "" (it stood alone), "rules", "model" or "both"


@dataclass(frozen=True)
class Rewriter:
    """How follow-ups become standalone questions (`REWRITE`):

    - "rules": the rules' rewrite, earlier names and words in brackets, read by all;
    - "model": the answer model's fluent question, searched and read (rules as fallback);
    - "both": search reads the rules' rewrite, the model, judge and confidence read the
      model's fluent question (the rules' alone when the model gives none in time).
    """

    mode: str = "rules"
    template: str = ""  # prompts/rewrite.txt; without it the model is never asked
    seconds: float = 8.0

    def rewrite(
        self, question: str, history: Sequence[Turn], generator: Generator | None
    ) -> Rewrite:
        """The question to search and to read, and how they were made."""
        question = " ".join(question.split())
        if not history or not leans_on_history(question):
            return Rewrite(question, question)
        rules = standalone_question(question, history)
        if self.mode in ("model", "both") and self.template and generator is not None:
            fluent = model_rewrite(generator, self.template, question, history, self.seconds)
            if fluent is not None:
                search = rules if self.mode == "both" else fluent
                return Rewrite(search, fluent, self.mode)
        return Rewrite(rules, rules, "rules")


class ConversationMemory:
    """The bot's own recent answers, for Discord: a thread id or the id of an answer
    message → that conversation's last turns. Bounded (the least recently used keys
    go first) and in memory only: a restart forgets, which costs a follow-up its
    context, never a wrong one."""

    def __init__(self, max_keys: int = 2000, turns: int = MAX_TURNS) -> None:
        self.max_keys = max_keys
        self.turns = turns
        self._map: OrderedDict[int, tuple[Turn, ...]] = OrderedDict()

    def history(self, *keys: int | None) -> tuple[Turn, ...]:
        """The turns under the first key that has any (a replied-to answer, then a thread)."""
        for key in keys:
            if key is not None and key in self._map:
                self._map.move_to_end(key)
                return self._map[key]
        return ()

    def record(self, history: Sequence[Turn], turn: Turn, keys: Iterable[int | None]) -> None:
        """Remember the conversation with `turn` added under every key of `keys`."""
        turns = remember(history, turn, self.turns)
        for key in keys:
            if key is None:
                continue
            self._map[key] = turns
            self._map.move_to_end(key)
        while len(self._map) > self.max_keys:
            self._map.popitem(last=False)

    def __len__(self) -> int:
        return len(self._map)
