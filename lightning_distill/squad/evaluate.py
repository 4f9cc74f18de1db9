"""``python -m lightning_distill.squad.evaluate``: the official SQuAD 2.0 evaluator's command line, offline.

Same arguments and output as ``evaluate-v2.0.py`` (metrics as JSON on stdout), so a run's
``predictions.json`` / ``null_odds.json`` can be re-scored without the hub. A bad input file is a
one-line message naming the file and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from lightning_distill.errors import USER_ERROR_EXIT_CODE, DataError
from lightning_distill.squad.squad_metrics import (
    load_gold_answers,
    load_na_probs,
    load_predictions,
    squad_v2_metrics,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lightning_distill.squad.evaluate", description="Official SQuAD 2.0 evaluation, offline."
    )
    parser.add_argument("data_file", metavar="DATA.json", help="gold data in the official SQuAD 2.0 JSON format")
    parser.add_argument("pred_file", metavar="PREDICTIONS.json", help='{question id: answer text, "" for no answer}')
    parser.add_argument(
        "--na-prob-file", metavar="NULL_ODDS.json", help="{question id: score}, larger = more likely unanswerable"
    )
    parser.add_argument(
        "--na-prob-thresh",
        type=float,
        default=1.0,
        help="predict no answer when the na-prob exceeds this (default: %(default)s)",
    )
    parser.add_argument("--out-file", metavar="metrics.json", help="also write the metrics JSON here")
    parser.add_argument(
        "--predicted-only",
        action="store_true",
        help="score only the questions the predictions answer (a run limited by data.max_eval_examples or "
        "data.eval_part predicts a subset of the file); says how many of the file's questions that is",
    )
    return parser


def evaluate_files(
    data_file: str | Path,
    pred_file: str | Path,
    na_prob_file: str | Path | None = None,
    na_prob_thresh: float = 1.0,
    predicted_only: bool = False,
) -> dict[str, float]:
    gold = load_gold_answers(data_file)
    predictions = load_predictions(pred_file)
    if predicted_only:
        unknown = [qid for qid in predictions if qid not in gold]
        if unknown:
            raise DataError(f"{pred_file} answers {len(unknown)} question(s) {data_file} does not have, e.g. {unknown[:3]}")
        logging.getLogger(__name__).warning(
            "--predicted-only: scoring the %d of %d questions of %s that %s answers",
            len(predictions), len(gold), data_file, pred_file,
        )  # fmt: skip
        gold = {qid: gold[qid] for qid in predictions}
    na_probs = load_na_probs(na_prob_file) if na_prob_file else None
    try:
        return squad_v2_metrics(gold, predictions, na_probs=na_probs, na_prob_thresh=na_prob_thresh)
    except DataError as error:
        # Coverage problems are about the prediction / na-prob files: say which ones.
        files = f"{pred_file}" + (f" / {na_prob_file}" if na_prob_file else "")
        hint = "" if predicted_only else " (predictions of a subset, e.g. a run with a question limit: add --predicted-only)"
        raise DataError(f"{files} vs {data_file}: {error}{hint}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        metrics = evaluate_files(args.data_file, args.pred_file, args.na_prob_file, args.na_prob_thresh, args.predicted_only)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    text = json.dumps(metrics, indent=2)
    if args.out_file:
        try:
            Path(args.out_file).write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            print(f"error: {args.out_file}: cannot write the metrics file ({error}).", file=sys.stderr)
            return USER_ERROR_EXIT_CODE
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
