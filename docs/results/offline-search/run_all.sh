#!/usr/bin/env bash
# The three searches one after the other (2 cores: one search at a time), then the summary.
#   nohup docs/results/offline-search/run_all.sh > outputs/offline-search/queue.out 2>&1 &
# Resumable: each search continues where it stopped (run_search.sh), a finished one returns at once.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-outputs/offline-search}
mkdir -p "$OUT"
for search in lite random nsga2; do
  echo "$(date -u +%FT%TZ) $search start" >> "$OUT/queue.log"
  docs/results/offline-search/run_search.sh "$search" >> "$OUT/$search.log" 2>&1
  echo "$(date -u +%FT%TZ) $search done rc=$?" >> "$OUT/queue.log"
done
