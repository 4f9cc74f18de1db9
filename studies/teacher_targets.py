"""How much does the reference teacher's soft target say beyond the gold span, on the training features?

Distillation transfers what the teacher's distribution says beyond its argmax. This reads the
teacher-logit cache that every distilled run of the study trains on (built by
``lightning_distill.training.pipeline.prepare`` for ``experiment=offline``) and reports, for temperatures
T: the mean probability the teacher gives its top start/end position, how often its top position
is the gold one, and the mean entropy. Run from the repository root:

    python -m studies.teacher_targets [hydra overrides]    # docs/results/offline-distillation/teacher_targets.txt
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

TEMPERATURES = (1.0, 2.0, 4.0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.teacher_targets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="Hydra overrides on top of experiment=offline")
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from hydra import compose, initialize_config_dir

    import lightning_distill  # noqa: F401  (registers the config resolvers)
    from lightning_distill.config.instantiate import instantiate
    from lightning_distill.config.resolvers import PROJECT_ROOT
    from lightning_distill.training.teacher_setup import TeacherSetup

    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=offline", *args.overrides])
    tokenizer = instantiate(cfg.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer)
    teacher = TeacherSetup(cfg, tokenizer, datamodule)
    teacher.prepare(datamodule)
    logits = datamodule.teacher_logits
    gold = datamodule.train_features.select_columns(["start_positions", "end_positions"])
    gold = np.stack([np.asarray(gold["start_positions"]), np.asarray(gold["end_positions"])], axis=1)
    print(f"teacher {Path(str(cfg.teacher.name_or_path)).name}: {len(logits)} training features")
    print(f"{'T':>4} {'mean top prob':>14} {'top prob > 0.9':>15} {'top == gold':>12} {'entropy (nats)':>15}")
    for temperature in TEMPERATURES:
        top, confident, correct, entropy = [], [], [], []
        for index in range(len(logits)):
            values = logits.feature(index).T / temperature  # (2, length): start, end
            probabilities = torch.softmax(values.double(), dim=-1)
            best = probabilities.max(dim=-1)
            top.append(best.values.mean().item())
            confident.append((best.values > 0.9).float().mean().item())
            correct.append((best.indices.numpy() == gold[index]).mean())
            entropy.append(-(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum(-1).mean().item())
        print(f"{temperature:>4g} {np.mean(top):>14.3f} {np.mean(confident):>15.3f} {np.mean(correct):>12.3f} {np.mean(entropy):>15.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
