#!/usr/bin/env bash
# The offline search (issue 21, part 3): lite (SigOpt's sigoptlite), random search and Optuna NSGA-II at the
# same budget (32), parallelism (2, local Ray, one core per trial), space (search_space=offline), trials
# (experiment=offline_search) and objectives (best_f1 with its threshold, trainable parameters).
#
#   nohup docs/results/offline-search/run_search.sh lite > outputs/offline-search/lite.log 2>&1 &
#   nohup docs/results/offline-search/run_search.sh random > outputs/offline-search/random.log 2>&1 &
#   nohup docs/results/offline-search/run_search.sh nsga2 > outputs/offline-search/nsga2.log 2>&1 &
#
# Resumable. lite: rerunning continues the journaled sweep (hydra.sweeper.resume=true after the first
# start); nothing finished runs again, trials in flight at a stop re-run in a fresh attempt folder; in a new
# checkout (no outputs/) it continues from the published journal ($PUBLISHED/lite/). Optuna:
# the study lives in a SQLite file beside the sweep folders; each start runs in a new folder part-N and
# asks for the trials still missing (an interrupted Optuna trial stays RUNNING in the study: lost, counted
# in the README).
#
# SPACE=offline_narrow OUT=outputs/offline-search-narrow PUBLISHED=docs/results/offline-search-narrow/sweeps
# BUDGET=16 runs the same searches over the narrowed space (docs/results/offline-search-narrow/run.sh).
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-outputs/offline-search}
BUDGET=${BUDGET:-32}
PUBLISHED=${PUBLISHED:-docs/results/offline-search/sweeps}
SPACE=${SPACE:-offline}
RAY=(hydra/launcher=ray +hydra.launcher.ray.init.num_cpus=2 +hydra.launcher.ray.init.include_dashboard=false)
mkdir -p "$OUT"

case "${1:?lite | random | nsga2}" in
  lite)
    # outputs/ does not outlive a checkout: continue from the published journal where the outputs are gone
    # (finished trials are not repeated; their folders, with the students, are not restored).
    if [ ! -s "$OUT/lite/journal.jsonl" ] && [ -s "$PUBLISHED/lite/journal.jsonl" ]; then
      mkdir -p "$OUT/lite" && cp "$PUBLISHED"/lite/{journal.jsonl,observations.jsonl,observations.csv,pareto.json} "$OUT/lite/"
      echo "lite: continuing from the published copy $PUBLISHED/lite"
    fi
    resume=false
    [ -s "$OUT/lite/journal.jsonl" ] && resume=true
    exec python train.py experiment=offline_search hparams_search=sigopt_offline search_space="$SPACE" "${RAY[@]}" \
      hydra.sweeper.budget="$BUDGET" hydra.sweeper.seed=0 hydra.sweeper.resume=$resume hydra.sweep.dir="$OUT/lite"
    ;;
  random | nsga2)
    preset=$([ "$1" = random ] && echo optuna_offline_random || echo optuna_offline)
    db="$OUT/$1.db"
    done_trials=0
    if [ -f "$db" ]; then
      done_trials=$(python -c "import optuna,sys; s=optuna.load_study(study_name=sys.argv[2], storage='sqlite:///'+sys.argv[1]); \
print(sum(t.state.is_finished() for t in s.trials))" "$db" "$([ "$1" = random ] && echo offline-minilm-random || echo offline-minilm)")
    fi
    left=$((BUDGET - done_trials))
    [ "$left" -le 0 ] && { echo "$1: $done_trials trials finished, budget $BUDGET reached"; exit 0; }
    part=$(ls -d "$OUT/$1"/part-* 2>/dev/null | wc -l)
    exec python train.py experiment=offline_search hparams_search="$preset" search_space="$SPACE" "${RAY[@]}" \
      hydra.sweeper.n_trials="$left" hydra.sweeper.storage="sqlite:///$db" hydra.sweep.dir="$OUT/$1/part-$part"
    ;;
  *) echo "unknown search $1: lite | random | nsga2" >&2; exit 2 ;;
esac
