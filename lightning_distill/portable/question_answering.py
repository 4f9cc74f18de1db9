"""``pipeline("question-answering", model=dir, trust_remote_code=True)`` for saved students.

Transformers 5.3 removed its question-answering pipeline (the v5 migration guide points users to
``AutoModelForQuestionAnswering`` plus their own post-processing). A saved student therefore ships
this pipeline through the ``custom_pipelines`` convention, so the familiar call still answers
questions. It cuts windows and picks spans with the same code as the project's evaluation
(``squad_windows``, ``answer_spans``), with the settings the student was evaluated with (from
``config.question_answering``), so its answers are the ones ``predictions.json`` scored.

Call it as the old pipeline: ``qa(question=..., context=...)`` or ``qa({"question": ..., "context":
...})``, or with lists of either; each answer is ``{"answer", "score", "start", "end"}``, where
``answer`` is "" when the model abstains and ``score`` is the best span's score minus the null
score (positive: the span beats "no answer").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import Pipeline

from .answer_spans import answer_question
from .model_inputs import BASE_INPUTS, SEGMENT_IDS, forward_inputs
from .squad_windows import context_offsets, encode_windows

TASK = "question-answering"
DEFAULT_SETTINGS = {
    "max_seq_length": 384,
    "doc_stride": 128,
    "max_query_length": 64,
    "n_best_size": 20,
    "max_answer_length": 30,
    "null_score_diff_threshold": 0.0,
}
"""Used where the checkpoint's ``config.question_answering`` does not say (SPEC's evaluation)."""
WINDOW_KEYS = ("max_seq_length", "doc_stride", "max_query_length")
ANSWER_KEYS = ("n_best_size", "max_answer_length", "null_score_diff_threshold")
ENCODED_NAMES = (*BASE_INPUTS, SEGMENT_IDS)
SEGMENT_IDS_SETTING = "segment_ids"
"""``config.question_answering.segment_ids``: how a BERT-layout model was fine-tuned (``model_inputs.py``);
the tokenizer's segment ids where it is not recorded."""


class SquadQuestionAnsweringPipeline(Pipeline):
    """Extractive SQuAD 2.0 question answering with abstention."""

    def __call__(self, inputs: Any = None, *, question: Any = None, context: Any = None, **kwargs: Any) -> Any:
        if inputs is None:
            if question is None or context is None:
                raise ValueError("Give question= and context= (strings or equal-length lists), or a dict of both.")
            if isinstance(question, str):
                inputs = {"question": question, "context": context}
            else:
                inputs = [{"question": q, "context": c} for q, c in zip(question, context, strict=True)]
        return super().__call__(inputs, **kwargs)

    def _settings(self) -> dict[str, Any]:
        return {**DEFAULT_SETTINGS, **(getattr(self.model.config, "question_answering", None) or {})}

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        unknown = set(kwargs) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"Unknown argument(s) {sorted(unknown)}; this pipeline takes {sorted(DEFAULT_SETTINGS)}.")
        settings = {**self._settings(), **kwargs}
        return (
            {key: settings[key] for key in WINDOW_KEYS},
            {},
            {key: settings[key] for key in ANSWER_KEYS},
        )

    def preprocess(self, inputs: dict[str, str], **window_settings: Any) -> dict[str, Any]:
        if not isinstance(inputs, dict) or not {"question", "context"} <= set(inputs):
            raise ValueError(f"Each input needs 'question' and 'context'; got {inputs!r}.")
        encoded = encode_windows(self.tokenizer, [inputs["question"]], [inputs["context"]], **window_settings)
        windows = range(len(encoded["input_ids"]))
        padded = self.tokenizer.pad(
            {name: encoded[name] for name in ENCODED_NAMES}, padding="longest", return_tensors="pt"
        )
        return {
            **{name: padded[name] for name in ENCODED_NAMES},
            "offsets": [context_offsets(encoded["offset_mapping"][i], encoded.sequence_ids(i)) for i in windows],
            "context": inputs["context"],
        }

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        segment_ids = (getattr(self.model.config, "question_answering", None) or {}).get(SEGMENT_IDS_SETTING, "tokenizer")
        with torch.no_grad():
            output = self.model(**forward_inputs(self.model.config, model_inputs, segment_ids))
        return {
            "start_logits": output.start_logits.float().cpu().numpy(),
            "end_logits": output.end_logits.float().cpu().numpy(),
            "offsets": model_inputs["offsets"],
            "context": model_inputs["context"],
        }

    def postprocess(self, model_outputs: dict[str, Any], **answer_settings: Any) -> dict[str, Any]:
        answer = answer_question(
            model_outputs["context"],
            model_outputs["offsets"],
            list(np.asarray(model_outputs["start_logits"])),
            list(np.asarray(model_outputs["end_logits"])),
            **answer_settings,
        )
        abstains = answer is None or answer.text == ""
        return {
            "answer": "" if abstains else answer.text,
            "score": float("-inf") if answer is None else -answer.null_odds,
            "start": -1 if abstains else answer.best_start,
            "end": -1 if abstains else answer.best_end,
        }


def custom_pipeline_entry() -> dict[str, Any]:
    """The ``config.custom_pipelines`` entry that makes ``pipeline(TASK, model=dir,
    trust_remote_code=True)`` load this class from the checkpoint."""
    return {
        TASK: {
            "impl": f"{__name__.rsplit('.', 1)[-1]}.{SquadQuestionAnsweringPipeline.__name__}",
            "pt": ["AutoModelForQuestionAnswering"],
            "type": "text",
        }
    }
