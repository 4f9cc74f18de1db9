#!/usr/bin/env bash
# The offline search's lite and random searches again over the narrowed space (search_space=offline_narrow),
# 16 trials each, everything else as docs/results/offline-search/ (trials, objective, threshold, seeds,
# parallelism 2 on local Ray), one search after the other (2 cores), then the report:
#   nohup docs/results/offline-search-narrow/run.sh > outputs/offline-search-narrow/queue.out 2>&1 &
# Resumable: each search continues where it stopped (../offline-search/run_search.sh).
set -uo pipefail
cd "$(dirname "$0")/../../.."
export SPACE=offline_narrow OUT=outputs/offline-search-narrow PUBLISHED=docs/results/offline-search-narrow/sweeps
export BUDGET=${BUDGET:-16}
mkdir -p "$OUT"
for search in lite random; do
  echo "$(date -u +%FT%TZ) $search start" >> "$OUT/queue.log"
  docs/results/offline-search/run_search.sh "$search" >> "$OUT/$search.log" 2>&1
  echo "$(date -u +%FT%TZ) $search done rc=$?" >> "$OUT/queue.log"
done
