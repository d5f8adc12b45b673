"""Would a question-level answerability judgement improve the confidence? (issue 24)

The judge (`bot/answering/judge.py`) asks the answer model whether the quoted text states one
proposed answer. This probe asks it something else, with no answer proposed: do the
sentences shown to the model answer the question at all? P(Yes) is read from the
logits, as the judge's is. It is then added to the recorded signals of every
candidate and the confidence is fitted out of fold on tune, with and without it.

Usage:
    python benchmarks/answerability.py RUN.json [--index DIR] [--scores FILE]

RUN.json is `python -m bot eval TUNE.jsonl --answers --mode hybrid --json` recorded
with MIN_CONFIDENCE=0 and JUDGE=on (every candidate answered and judged), over the
index given with --index (as for the eval). The shown sentences are not recorded, so
search and evidence selection run again (deterministic, no model); each prompt below
is then asked once per question. The P(Yes) values and timings are written to
--scores (default: RUN.answerability.json) and read back from there when it exists,
so the comparison can be re-run without the model. Fit on tune runs only.
The prompts are asked in order over the same sentences, so only the first one's time
is what such a judgement costs on its own: the others reuse llama.cpp's cached prefix.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answering.confidence import ConfidenceModel, fit
from bot.answering.evidence import select_evidence
from bot.answering.prompting import format_evidence
from bot.answering.question import parse_question
from bot.answering.signals import FEATURES
from bot.evaluation.calibration import load_details, select_features
from bot.evaluation.scoring import auc, percentile, wilson
from bot.settings import Settings

SYSTEM = "You check whether texts answer a question. Reply Yes or No."
PROMPTS = {
    "answers": "Texts:\n{evidence}\nQuestion: {question}\n"
    "Do these texts answer the question? Reply Yes or No.",
    "exact": "Texts:\n{evidence}\nQuestion: {question}\n"
    "Do these texts answer this exact question, with every name, number, date and place in "
    "the question matching the texts? Reply Yes or No.",
    "premise": "Texts:\n{evidence}\nQuestion: {question}\n"
    "Do the texts confirm every fact the question takes for granted? Reply Yes or No.",
}
FOLDS, SHUFFLES, L2 = 5, 5, 3.0  # as `bot/evaluation/calibration.py`, and five fold shuffles
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def score_questions(details: Sequence[dict], index: Path | None) -> list[dict]:
    """P(Yes) per prompt for every recorded question, over the sentences the engine shows."""
    from bot.app import open_engine

    settings = Settings(index_dir=index) if index else Settings()
    rows = []
    with open_engine(settings) as engine:
        policy, searcher = engine.policy, engine.searcher
        for number, record in enumerate(details, start=1):
            with engine.store.snapshot():
                question = parse_question(record["question"], searcher.term_weights)
                results = searcher.search(question.text, k=policy.passages)
                evidence = []
                if results.relevance >= policy.relevance_threshold:
                    evidence = select_evidence(
                        question, results.passages, searcher.embedder, policy.evidence,
                        engine.exemplars, results.query_vector,
                    )  # fmt: skip
            shown = [" ".join(e.text.split()) for e in evidence]
            quotes = [" ".join(q.split()) for q in record.get("candidate_quotes") or []]
            row = {
                "id": record["id"],
                "qa_file": record["qa_file"],
                # the recorded candidate rests on these very sentences (a headline aside)
                "quotes_shown": all(any(q in s for s in shown) for q in quotes),
            }
            for name, template in PROMPTS.items():
                row[name] = row[f"{name}_seconds"] = None
                if not evidence:
                    continue
                user = template.format(evidence=format_evidence(evidence), question=question.text)
                messages = [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": user},
                ]
                started = time.perf_counter()
                row[name] = engine.generator.yes_probability(messages, 300.0)
                row[f"{name}_seconds"] = round(time.perf_counter() - started, 3)
            rows.append(row)
            print(f"{number}/{len(details)}", file=sys.stderr, end="\r", flush=True)
    return rows


def out_of_fold(
    signals: Sequence[dict], labels: Sequence[int], features: Sequence[str], select: bool, seed: int
) -> list[float]:
    """Each candidate's confidence from a model fitted (and its signals chosen) without it."""
    folds = [i % FOLDS for i in range(len(signals))]
    random.Random(seed).shuffle(folds)
    scores = [0.0] * len(signals)
    for k in range(FOLDS):
        train = [i for i, f in enumerate(folds) if f != k]
        x, y = [signals[i] for i in train], [labels[i] for i in train]
        chosen = select_features(x, y, features, L2)[0] if select else tuple(features)
        model = fit(x, y, chosen, l2=L2)
        for i, f in enumerate(folds):
            if f == k:
                scores[i] = model.score(signals[i])
    return scores


def split_auc(values: Sequence[float | None], positive: Sequence[bool], keep: Callable) -> str:
    """AUROC of `values` for `positive` over the items `keep` selects, as text."""
    pairs = [(v, p) for i, (v, p) in enumerate(zip(values, positive, strict=True)) if keep(i)]
    pairs = [(v, p) for v, p in pairs if v is not None]
    found = auc([v for v, p in pairs if p], [v for v, p in pairs if not p])
    return "–" if found is None else f"{found:.3f}"


def report(details: Sequence[dict], scores: dict[str, dict], bundled: ConfidenceModel) -> None:
    """The new signals alone, then the confidence out of fold with and without each."""
    names = [n for n in PROMPTS if any(s.get(n) is not None for s in scores.values())]
    rows = [d for d in details if d.get("signals")]
    labels = [int(bool(d["candidate_correct"]) and d["answerable"]) for d in rows]
    for d in rows:
        for name in names:
            d["signals"][f"answerable_{name}"] = scores.get(d["id"], {}).get(name)
    print(f"{len(details)} questions, {len(rows)} candidates, {sum(labels)} right")
    answerable = [d["answerable"] for d in details]
    near = [bool(d.get("near_miss")) for d in details]
    judge = [d["signals"].get("judge_yes") for d in rows]
    right_or_near = [i for i, d in enumerate(rows) if labels[i] or d.get("near_miss")]
    print(f"  judge_yes, candidates: right/wrong {split_auc(judge, labels, lambda i: True)}, "
          f"right/near-miss {split_auc(judge, labels, lambda i: i in right_or_near)}")  # fmt: skip
    for name in names:
        by_question = [scores.get(d["id"], {}).get(name) for d in details]
        by_candidate = [d["signals"][f"answerable_{name}"] for d in rows]
        seconds = [s[f"{name}_seconds"] for s in scores.values() if s.get(f"{name}_seconds")]
        print(
            f"  {name}, questions: answerable/unanswerable "
            f"{split_auc(by_question, answerable, lambda i: True)}, answerable/near-miss "
            f"{split_auc(by_question, answerable, lambda i: answerable[i] or near[i])}; "
            f"candidates: right/wrong {split_auc(by_candidate, labels, lambda i: True)}, "
            f"right/near-miss {split_auc(by_candidate, labels, lambda i: i in right_or_near)}; "
            f"seconds p50 {percentile(seconds, 50):.2f} p95 {percentile(seconds, 95):.2f}"
        )
    configs = [("every signal, forward selection", list(FEATURES), True)]
    configs += [(f"  + answerable_{n}", [*FEATURES, f"answerable_{n}"], True) for n in names]
    bundled_title = f"the bundled file's {', '.join(bundled.features)}"
    configs += [(bundled_title, list(bundled.features), False)]
    configs += [
        (f"  + answerable_{n}", [*bundled.features, f"answerable_{n}"], False) for n in names
    ]
    wanted = sum(answerable)
    unanswerable = len(details) - wanted
    for title, features, select in configs:
        aucs, points = [], {t: [] for t in THRESHOLDS}
        for seed in range(1, SHUFFLES + 1):
            confidence = out_of_fold([d["signals"] for d in rows], labels, features, select, seed)
            pairs = list(zip(confidence, labels, strict=True))
            aucs.append(auc([c for c, y in pairs if y], [c for c, y in pairs if not y]))
            for t in THRESHOLDS:
                shown = [i for i, c in enumerate(confidence) if c >= t]
                right = sum(labels[i] for i in shown)
                unanswered = sum(not rows[i]["answerable"] for i in shown)
                near_missed = sum(bool(rows[i].get("near_miss")) for i in shown)
                points[t].append((len(shown), right, unanswered, near_missed))
        print(f"\n{title}: out-of-fold AUROC {statistics.mean(aucs):.3f} "
              f"(shuffles {', '.join(f'{a:.3f}' for a in aucs)})")  # fmt: skip
        for t, found in points.items():
            shown = statistics.mean(n for n, *_ in found)
            right = statistics.mean(r for _, r, *_ in found)
            low, high = wilson(round(right), round(shown))
            print(
                f"  t={t}: answered {shown:.1f}, precision {right / max(shown, 1):.3f} "
                f"[{low:.2f}–{high:.2f}], accuracy {right / wanted:.3f}, unanswerables declined "
                f"{1 - statistics.mean(u for _, _, u, _ in found) / max(unanswerable, 1):.2f}, "
                f"near misses {1 - statistics.mean(m for *_, m in found) / max(sum(near), 1):.2f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--scores", type=Path)
    args = parser.parse_args()
    details = load_details([args.run])
    if any("holdout" in Path(d["qa_file"]).name for d in details):
        parser.error("compare on tune runs only")
    path = args.scores or args.run.with_suffix(".answerability.json")
    if not path.exists():
        path.write_text(json.dumps(score_questions(details, args.index)), encoding="utf-8")
    scores = {row["id"]: row for row in json.loads(path.read_text(encoding="utf-8"))}
    from bot.answering.policy import load_confidence

    report(details, scores, load_confidence(Settings()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
