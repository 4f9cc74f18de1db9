#!/usr/bin/env bash
# Issue 33: the real study's front students scored on test (the held-out protocol), beside the default recipe and
# the untrained pruned teacher at the same shape, and two trials the early-stopping rule stopped, run whole.
# Run from the repository root after `python -m studies.search_comparison_real run` (its sweeps in
# outputs/search-comparison-real/). Resumable: a cell with heldout.json (or a finished metrics.json) is skipped.
set -u
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
STUDY=outputs/search-comparison-real
OUT=$STUDY/front-test
SPLIT_B=../shared/data/squad_v2/dev-v2.0.splitB.json
BASE=(experiment=offline_search data.eval_part=null data.max_eval_examples=null deployment_metrics=onnx quiet=true)
heldout() { python -m lightning_distill.squad.heldout_scores "$1" --data "$SPLIT_B"; }
rescore() {  # cell, trial directory: the searched student re-scored on all of split B, then select-calibrated on test
  [ -f "$OUT/$1/heldout.json" ] && return
  python -m lightning_distill.search.rescore "$2" --out "$OUT/$1" data.eval_part=null data.max_eval_examples=null && heldout "$OUT/$1"
}
train() {  # cell, overrides: the default recipe (or, with +trainer.max_steps=0, the untrained pruned teacher)
  local cell=$OUT/$1; shift
  [ -f "$cell/heldout.json" ] && return
  python train.py "${BASE[@]}" "$@" "hydra.run.dir=$cell" && heldout "$cell"
}
# lite-seed1 trial 4: 5L/12H, pruning_seed 2, vocab min_count 2 (13.12 M), learning rate 2.8e-6
rescore searched-lite1-t4 "$STUDY/lite-seed1/4"
train default-5L12H-ps2-mc2 student.n_layers=5 student.n_heads=12 student.pruning_seed=2 student.vocab.min_count=2
train untrained-5L12H-ps2-mc2 student.n_layers=5 student.n_heads=12 student.pruning_seed=2 student.vocab.min_count=2 +trainer.max_steps=0
# lite-seed1 trial 1: 5L/11H, pruning_seed 42, vocab min_count 1 (14.54 M), learning rate 7.4e-6
rescore searched-lite1-t1 "$STUDY/lite-seed1/1"
train default-5L11H-ps42-mc1 student.n_layers=5 student.n_heads=11 student.pruning_seed=42 student.vocab.min_count=1
train untrained-5L11H-ps42-mc1 student.n_layers=5 student.n_heads=11 student.pruning_seed=42 student.vocab.min_count=1 +trainer.max_steps=0
# lite-seed2 trial 6: 6L/12H, vocab min_count 4 (13.36 M), learning rate 2.4e-5 (its default-recipe twin: the shrink
# study's L6H12-vocab-mc4)
rescore searched-lite2-t6 "$STUDY/lite-seed2/6.attempt2"  # its second start (the sweep was stopped once during it)
# lite-seed1 trials 0 and 3, stopped early by the rule, run whole (single runs: the rule is off outside a search)
for t in 0 3; do
  cell=$OUT/full-lite1-t$t
  grep -q '"status": "finished"' "$cell/metrics.json" 2>/dev/null && continue
  mapfile -t overrides < <(sed -n 's/^- //p' "$STUDY/lite-seed1/$t/.hydra/overrides.yaml" | grep -v "^hparams_search=\|^search.warm_start=")
  python train.py "${overrides[@]}" deployment_metrics=onnx "hydra.run.dir=$cell"
done
