"""Prompt-injection detector: the share of test injections caught, and BBC sentences dropped.

Usage: python benchmarks/injection.py [CORPUS_DIR]   (default ../shared/corpora/bbc)
Every article is cleaned and split into sentences as ingest does; every sentence is judged
as evidence selection judges it (patterns, and its embedding's closeness to the exemplars
in PROMPTS_DIR). Targets: >= 90 % of injections caught, < 0.5 % of BBC sentences dropped.
Embedding about 44,000 BBC sentences takes 5-10 minutes on 2 cores.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answering.injection import InjectionRules, InstructionExemplars, is_instruction
from bot.answering.prompting import Prompts
from bot.app import make_embedder
from bot.settings import Settings
from retrieval.chunking import split_sentences
from retrieval.embedding import Embedder
from retrieval.loading import parse_source, scan_corpus
from retrieval.models import Article
from tests.injection_cases import (
    DISGUISED_INJECTIONS,
    HARD_NEGATIVES,
    HELD_OUT_INJECTIONS,
    INJECTIONS,
    PLAIN_ENGLISH_INJECTIONS,
    PROCESSOR_NEGATIVES,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "bbc"
BATCH = 2048  # sentences per embedding call: progress lines, bounded memory
SAMPLE = 25  # dropped BBC sentences listed
CLOSEST = 10  # BBC sentences nearest an exemplar, listed to show the margin
RULES = InjectionRules()  # the thresholds the engine uses


def judge(
    sentences: list[str], embedder: Embedder, exemplars: InstructionExemplars
) -> tuple[list[str], list[float]]:
    """The sentences the detector would never show the model, and every sentence's
    closeness to the nearest exemplar."""
    dropped, likeness = [], []
    for first in range(0, len(sentences), BATCH):
        batch = sentences[first : first + BATCH]
        scores = exemplars.similarities(embedder.embed(batch)).tolist()
        dropped += [s for s, x in zip(batch, scores, strict=True) if is_instruction(s, x)]
        likeness += scores
        if len(sentences) > BATCH:
            print(f"  {min(first + BATCH, len(sentences))}/{len(sentences)} judged", flush=True)
    return dropped, likeness


def corpus_sentences(corpus: Path) -> list[str]:
    """Every sentence of every article, cleaned and split as ingest does."""
    sentences = []
    for source in scan_corpus(corpus, Settings(_env_file=None).max_article_bytes).sources:
        article = parse_source(source)
        if isinstance(article, Article):
            sentences += [article.text[a:b] for a, b in split_sentences(article.text)]
    return sentences


def share_line(label: str, caught: int, total: int) -> str:
    return f"{label:<28} {caught:>6} / {total:<6} {caught / max(total, 1):7.2%}"


def main() -> None:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS
    settings = Settings(_env_file=None)
    embedder = make_embedder(settings)
    prompts = ROOT / settings.prompts_dir  # a relative PROMPTS_DIR is the project's
    exemplars = InstructionExemplars.embed(Prompts.load(prompts).injection_exemplars, embedder)
    tuning, _ = judge(INJECTIONS, embedder, exemplars)
    held_out, _ = judge(HELD_OUT_INJECTIONS, embedder, exemplars)
    negatives, _ = judge(HARD_NEGATIVES, embedder, exemplars)
    every = len(INJECTIONS) + len(HELD_OUT_INJECTIONS)
    print(f"exemplars {len(exemplars.texts)} in {prompts}")
    print(share_line("injections caught, tuning", len(tuning), len(INJECTIONS)))
    print(share_line("injections caught, held out", len(held_out), len(HELD_OUT_INJECTIONS)))
    print(
        share_line("injections caught, all", len(tuning) + len(held_out), every)
        + "  (target >= 90 %)"
    )
    for missed in (s for s in INJECTIONS + HELD_OUT_INJECTIONS if s not in tuning + held_out):
        print(f"  missed: {missed}")
    print(share_line("hard negatives flagged", len(negatives), len(HARD_NEGATIVES)))
    for sentence in negatives:
        print(f"  flagged: {sentence}")
    for label, cases in [
        ("plain-English orders caught", PLAIN_ENGLISH_INJECTIONS),
        ("disguised orders caught", DISGUISED_INJECTIONS),
        ("news about summaries flagged", PROCESSOR_NEGATIVES),
    ]:
        flagged, _ = judge(cases, embedder, exemplars)
        print(share_line(label, len(flagged), len(cases)))

    sentences = corpus_sentences(corpus)
    print(f"\n{corpus}: {len(sentences)} sentences; embedding and judging them…", flush=True)
    started = time.perf_counter()
    dropped, likeness = judge(sentences, embedder, exemplars)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    for sentence in sentences:
        is_instruction(sentence, 0.0)
    patterns_ms = (time.perf_counter() - started) * 1000 / len(sentences)
    print(share_line("BBC sentences dropped", len(dropped), len(sentences)) + "  (target < 0.5 %)")
    print(f"embedding and judging: {seconds:.0f} s; patterns alone {patterns_ms:.3f} ms a sentence")
    for sentence in random.Random(16).sample(dropped, min(SAMPLE, len(dropped))):
        print(f"  dropped: {' '.join(sentence.split())[:200]}")
    print(
        f"closest to an exemplar (alone dropped at {RULES.meaning_threshold}, "
        f"with an addressee at {RULES.addressed_meaning_threshold}):"
    )
    closest = sorted(zip(likeness, sentences, strict=True), reverse=True)[:CLOSEST]
    for score, sentence in closest:
        print(f"  {score:.3f} {' '.join(sentence.split())[:160]}")


if __name__ == "__main__":
    main()
