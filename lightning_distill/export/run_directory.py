"""What an export needs from a run directory: the student, and how the run evaluated it.

A run keeps its student in ``student/`` (the ``student_checkpoint`` callback) and its composed
config in ``.hydra/config.yaml``. The eval questions and the window / answer settings come from
that config, so an export is scored on what the run was scored on; flags override them, and a
bare student directory (no run around it) works with ``--eval-file``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lightning_distill.errors import ExportError, first_line
from lightning_distill.portable.question_answering import ANSWER_KEYS, DEFAULT_SETTINGS, WINDOW_KEYS

STUDENT_SUBDIR = "student"
RUN_CONFIG = Path(".hydra") / "config.yaml"
CHECKPOINT_FILES = ("config.json",)


@dataclass
class RunInputs:
    """The student directory and the evaluation it should be scored with."""

    student_dir: Path
    eval_files: list[str]
    max_eval_examples: int | None = None
    subset_seed: int = 0
    window: dict[str, int] = field(default_factory=lambda: {key: DEFAULT_SETTINGS[key] for key in WINDOW_KEYS})
    answer: dict[str, Any] = field(default_factory=lambda: {key: DEFAULT_SETTINGS[key] for key in ANSWER_KEYS})


def student_directory(run_dir: Path) -> Path:
    """``RUN_DIR/student`` or RUN_DIR itself when it is a saved student."""
    for candidate in (run_dir / STUDENT_SUBDIR, run_dir):
        if all((candidate / name).is_file() for name in CHECKPOINT_FILES):
            return candidate
    if not run_dir.is_dir():
        raise ExportError(f"RUN_DIR {str(run_dir)!r} does not exist: give a run directory of `python train.py`.")
    raise ExportError(
        f"RUN_DIR {str(run_dir)!r} has no student: expected {str(run_dir / STUDENT_SUBDIR)!r} holding config.json "
        "and the weights, which the student_checkpoint callback writes when training ends. Did the run finish? "
        "A student directory itself is accepted too."
    )


def read_run_inputs(
    run_dir: Path, eval_files: list[str] | None, max_eval_examples: int | None, *, needs_eval: bool = True
) -> RunInputs:
    student_dir = student_directory(run_dir)
    config = _run_config(run_dir)
    data = config.get("data", {}) if config else {}
    answer = (config.get("callbacks", {}) or {}).get("squad_evaluation", {}) if config else {}
    files = eval_files or _as_list(data.get("eval_files"))
    if not files and needs_eval:
        raise ExportError(
            f"RUN_DIR {str(run_dir)!r}: no eval file to score the export on "
            f"({'its run evaluated on a hub dataset' if config else 'no .hydra/config.yaml found'}). "
            "Give one with --eval-file DATA.json (official SQuAD 2.0 format)."
        )
    source = "--eval-file" if eval_files else f"data.eval_files of {str(run_dir / RUN_CONFIG)!r}"
    for path in files:
        if not Path(path).is_file():
            raise ExportError(
                f"{source}: eval file {path!r} does not exist. Give an existing SQuAD 2.0 JSON file with --eval-file "
                "(the shipped presets read $LIGHTNING_DISTILL_SQUAD_DIR)."
            )
    return RunInputs(
        student_dir=student_dir,
        eval_files=files,
        max_eval_examples=max_eval_examples if max_eval_examples is not None else data.get("max_eval_examples"),
        subset_seed=data.get("subset_seed", 0),
        window={key: data.get(key, DEFAULT_SETTINGS[key]) for key in WINDOW_KEYS},
        answer={key: answer.get(key, DEFAULT_SETTINGS[key]) for key in ANSWER_KEYS},
    )


def _run_config(run_dir: Path) -> dict[str, Any] | None:
    """The parts of the run's config an export reads, resolved (None: not a Hydra run)."""
    path = run_dir / RUN_CONFIG
    if not path.is_file():
        return None
    try:
        config = OmegaConf.load(path)
        return {
            "data": _resolved(config, "data", ("eval_files", "max_eval_examples", "subset_seed", *WINDOW_KEYS)),
            "callbacks": {"squad_evaluation": _resolved(config, "callbacks.squad_evaluation", ANSWER_KEYS)},
        }
    except (OmegaConfBaseException, OSError, ValueError) as error:
        raise ExportError(
            f"{path}: cannot read the run's data settings ({first_line(error)}). Pass --eval-file, or fix the file."
        ) from None


def _resolved(config: Any, key: str, names: tuple[str, ...]) -> dict[str, Any]:
    node = OmegaConf.select(config, key)
    if node is None:
        return {}
    return {name: _value(node, name) for name in names if name in node}


def _value(node: Any, name: str) -> Any:
    value = node[name]  # resolves interpolations of this key only (others may need Hydra's runtime)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _as_list(files: Any) -> list[str]:
    if files is None:
        return []
    return [files] if isinstance(files, str) else [str(file) for file in files]
