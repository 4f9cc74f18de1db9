"""The configured student, built for a run: seeded and pruned by ``models.student``, its vocabulary trimmed to the
training texts when ``student.vocab`` asks (which needs the data, so it happens here and not in the builder), and
``seeding_report.json`` written beside the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lightning_distill.config.instantiate import instantiate
from lightning_distill.data.datamodule import SquadDataModule
from lightning_distill.errors import ConfigError
from lightning_distill.models.student import StudentBuild
from lightning_distill.models.vocabulary_trim import VocabularySettings, corpus_texts, trim_vocabulary
from lightning_distill.models.weight_transfer import SeedReport
from lightning_distill.storage.atomic_files import write_json_atomically

WORD_EMBEDDINGS = "distilbert.embeddings.word_embeddings.weight"


VOCAB_KEY = "vocab"


def student_build_config(cfg: DictConfig) -> DictConfig:
    """``cfg.student`` as ``build_student`` takes it: without ``vocab`` (trimming needs the data, done after the build)."""
    return OmegaConf.create({key: value for key, value in OmegaConf.to_container(cfg.student, resolve=True).items() if key != VOCAB_KEY})


def build_configured_student(cfg: DictConfig, tokenizer: Any, datamodule: SquadDataModule, output_dir: Path) -> StudentBuild:
    """Build, seed and prune the student; trim its vocabulary to the training texts when ``student.vocab`` asks
    (the data module then evaluates with the student's tokenizer); write ``seeding_report.json``."""
    vocab_size = len(tokenizer)
    build = instantiate(student_build_config(cfg), key="student", vocab_size=vocab_size)
    report = build.report
    if report is not None and any(entry.student_key == WORD_EMBEDDINGS for entry in report.shape_mismatch):
        raise ConfigError(
            f"Vocabulary mismatch: student.seed_from={cfg.student.get('seed_from')!r} has word embeddings "
            f"of another shape than the tokenizer's {vocab_size} tokens x student.dim. Choose a seed "
            "checkpoint with the teacher's vocabulary and hidden size (or student.seed_from=null)."
        )
    if report is None:  # seed_from: null, or a student loaded whole: nothing seeded, said as plainly
        report = SeedReport(source=None, layer_seeding=None, initialized=list(build.model.state_dict()))
    document = report.as_dict()
    document["ffn_pruning"] = None if build.ffn_pruning is None else build.ffn_pruning.as_dict()
    document["vocabulary"] = None
    vocabulary = VocabularySettings.from_config(cfg.student.get(VOCAB_KEY))
    if vocabulary is not None and vocabulary.trims:
        trim = trim_vocabulary(build.model, tokenizer, corpus_texts(datamodule.records("train")), vocabulary)
        datamodule.use_student_vocabulary(trim.tokenizer, trim.id_map)
        document["vocabulary"] = trim.report
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(output_dir / "seeding_report.json", document)
    return build
