"""Answers on a busy machine: the demo questions asked while other processes burn the CPU.

Usage: python benchmarks/contention.py [QA.jsonl ...] [--burners N] [--threads T ...]
(the question files first: --threads takes every number after it)
Defaults: 2 burners (on the 2-core reference machine, the CPU shared three ways), the
model's default thread count, and the demo-corpus questions (eval/seed_tune.jsonl and
eval/seed_holdout.jsonl) over INDEX_DIR (`make ingest` builds it).
Prints, per thread setting, the share of questions the model answered itself (no
fallback; target >= 0.9), how many fell back and why, and p50/p95 end-to-end and
first-token times. The model is warmed up before the burners start, as the bot does
before it says it is ready.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.answer import questions_from
from bot.app import open_engine
from bot.evaluation.scoring import percentile
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QA = [ROOT / "eval" / "seed_tune.jsonl", ROOT / "eval" / "seed_holdout.jsonl"]


def _burn() -> None:
    """Busy-loop until killed: another job on the same cores."""
    x = 0
    while True:
        x = (x * 7 + 1) % 1_000_003


def run(settings: Settings, questions: list[str], burners: int) -> dict:
    """Ask every question with `burners` CPU-burning processes running beside the bot."""
    with open_engine(settings) as engine:  # loads and warms up the model first
        procs = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(burners)]
        for proc in procs:
            proc.start()
        try:
            answers = [engine.ask(question) for question in questions]
        finally:
            for proc in procs:
                proc.kill()
                proc.join()
    totals = [a.timings["total"] for a in answers]
    firsts = [a.timings["first_token"] for a in answers if "first_token" in a.timings]
    fallbacks = collections.Counter(a.fallback for a in answers if a.fallback)
    asked_model = [a for a in answers if "first_token" in a.timings or a.fallback]
    return {
        "threads": settings.llm_threads or "(empty: the cores other processes leave free)",
        "asked": len(asked_model),
        "answered_by_model": sum(1 for a in asked_model if not a.fallback),
        "fallbacks": fallbacks,
        "totals": totals,
        "firsts": firsts,
    }


def report(figures: dict, burners: int) -> None:
    """One block of figures per thread setting."""
    asked, by_model = figures["asked"], figures["answered_by_model"]
    share = by_model / asked if asked else 0.0
    totals, firsts = figures["totals"], figures["firsts"]
    print(f"LLM_THREADS={figures['threads']}, {burners} CPU burners")
    print(f"  answered by the model  {by_model} of {asked} ({share:.2f}; target >= 0.9)")
    for reason, count in figures["fallbacks"].items():
        print(f"  fell back {count}x: {reason}")
    print(
        f"  end-to-end    p50 {statistics.median(totals):6.2f} s  "
        f"p95 {percentile(totals, 95):6.2f} s"
    )
    if firsts:
        print(
            f"  first token   p50 {statistics.median(firsts):6.2f} s  "
            f"p95 {percentile(firsts, 95):6.2f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, nargs="*", default=[0], help="0 = the default: adapt to the load"
    )
    parser.add_argument("qa", nargs="*", type=Path)
    args = parser.parse_args()
    questions = questions_from(args.qa or [p for p in DEFAULT_QA if p.exists()])
    for threads in args.threads:
        settings = Settings(llm_threads=threads or None)
        report(run(settings, questions, args.burners), args.burners)
    return 0


if __name__ == "__main__":
    sys.exit(main())
