"""Answer latency benchmark: warm p50 / p95 end-to-end, first-passage and first-token time,
default model.

Usage: python benchmarks/answer.py [INDEX_DIR] [QA.jsonl ...]
Defaults: INDEX_DIR from settings (.index, the demo corpus after `make ingest`) and the
demo-corpus holdout questions (eval/seed_holdout.jsonl).
Targets (issue 13): end-to-end p50 <= 2.5 s and p95 <= 4 s; the first streamed token p50
<= 1.5 s after the question (search, evidence and prompt included). The first verified
passage (what the console and Discord show as "Checking this passage:" before the model is
asked) p50 <= 0.5 s after the question. Set LLM_BASE_URL to time a model server instead
(benchmarks/model_server.py compares the two).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answering.engine import Engine
from bot.app import open_engine
from bot.evaluation.scoring import load_qa, percentile
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QA = [ROOT / "eval" / "seed_holdout.jsonl"]


def measure(engine: Engine, questions: list[str]) -> dict:
    """Ask every question once (after one warm-up) and collect the timings."""
    engine.ask(questions[0])  # warm-up: the first call pays one-off costs
    totals, firsts, from_question, generated, passages = [], [], [], [], []
    abstained = 0
    for question in questions:
        answer = engine.ask(question)
        totals.append(answer.timings["total"])
        abstained += answer.abstained
        if "first_passage" in answer.timings:
            passages.append(answer.timings["first_passage"])
        if "first_token" in answer.timings:
            firsts.append(answer.timings["first_token"])
            from_question.append(answer.timings["question_to_first_token"])
            generated.append(answer.timings["generate"])
    return {
        "model": engine.generator.name,
        "questions": len(questions),
        "abstained": abstained,
        "totals": totals,
        "firsts": firsts,
        "from_question": from_question,
        "generated": generated,
        "passages": passages,
    }


def report(figures: dict) -> None:
    """Print p50/p95 end-to-end, first-passage and first-token times against the targets."""
    totals, firsts = figures["totals"], figures["firsts"]
    print(f"model            {figures['model']}")
    print(f"questions        {figures['questions']} ({figures['abstained']} abstained)")
    print(
        f"end-to-end       p50 {statistics.median(totals):5.2f} s   "
        f"p95 {percentile(totals, 95):5.2f} s   (target p50 <= 2.5 s, p95 <= 4 s)"
    )
    passages = figures["passages"]
    if passages:
        print(
            f"first passage    p50 {statistics.median(passages):5.2f} s   "
            f"p95 {percentile(passages, 95):5.2f} s   after the question "
            f"(target p50 <= 0.5 s; {len(passages)} shown)"
        )
    if firsts:
        from_question = figures["from_question"]
        print(
            f"first token      p50 {statistics.median(from_question):5.2f} s   "
            f"p95 {percentile(from_question, 95):5.2f} s   after the question "
            f"(target p50 <= 1.5 s; {len(firsts)} calls)"
        )
        print(
            f"                 p50 {statistics.median(firsts):5.2f} s   "
            f"p95 {percentile(firsts, 95):5.2f} s   after the model was called"
        )
        print(f"generation       p50 {statistics.median(figures['generated']):5.2f} s")


def questions_from(files: list[Path]) -> list[str]:
    """The questions of the given QA files, or of the default seed sets."""
    files = files or [p for p in DEFAULT_QA if p.exists()]
    return [item.question for path in files for item in load_qa(path)]


def main() -> int:
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        return 0
    overrides = {"index_dir": Path(sys.argv[1])} if len(sys.argv) > 1 else {}
    settings = Settings(**overrides)
    questions = questions_from([Path(p) for p in sys.argv[2:]])
    with open_engine(settings) as engine:
        report(measure(engine, questions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
