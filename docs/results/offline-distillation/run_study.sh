#!/usr/bin/env bash
# The offline distillation study: does distillation help, at which student size?
# Every cell trains the same MiniLM-seeded student with the `offline` preset's recipe, once distilled
# from the reference teacher (Table 1 loss: T = 1, soft/hard 0.5/0.5) and once on hard labels only
# (teacher=none); data, epochs, batch size, learning rate and seeds are the same for both.
#
#   nohup docs/results/offline-distillation/run_study.sh > study.log 2>&1 &
#
# Resumable: a finished run leaves RUN_DIR/.done and is skipped; an unfinished one is restarted from
# scratch. Required cells come first, seed by seed (each cell has its first seed before any has a
# second), then the optional ones.
# Environment: STUDY_DIR (run directories), SEEDS, CELLS and OPTIONAL_CELLS (layers x heads), TEACHERS,
# REPORT_DIR.
set -uo pipefail
cd "$(dirname "$0")/../../.."
STUDY_DIR=${STUDY_DIR:-outputs/offline-distillation}
SEEDS=${SEEDS:-"1 2"}
CELLS=${CELLS:-"3x12 2x12"}
OPTIONAL_CELLS=${OPTIONAL_CELLS:-"2x6 6x12"}
TEACHERS=${TEACHERS:-"minilm_squad2_reference none"}
REPORT_DIR=${REPORT_DIR:-docs/results/offline-distillation}

for cells in "$CELLS" "$OPTIONAL_CELLS"; do
 for seed in $SEEDS; do
  for cell in $cells; do
    for teacher in $TEACHERS; do
      layers=${cell%x*}
      heads=${cell#*x}
      run_dir="$STUDY_DIR/L${layers}H${heads}-teacher_${teacher}/seed${seed}"
      if [ -f "$run_dir/.done" ]; then
        echo "skip (finished): $run_dir"
        continue
      fi
      rm -rf "$run_dir"
      echo "$(date -u +%FT%TZ) start $run_dir"
      if python train.py experiment=offline "student.n_layers=$layers" "student.n_heads=$heads" \
          "teacher=$teacher" "seed=$seed" "hydra.run.dir=$run_dir"; then
        touch "$run_dir/.done"
        echo "$(date -u +%FT%TZ) done $run_dir"
      else
        status=$?
        echo "$(date -u +%FT%TZ) FAILED $run_dir (exit $status); going on"
      fi
      python -m lightning_distill.search.report "$STUDY_DIR" --out "$REPORT_DIR" --title "Offline distillation study" \
        || echo "report failed; the runs are intact"
    done
  done
 done
done
