#!/usr/bin/env bash
# CI gate: index corpus/ into a temporary folder, run the sample gold set, fail on a regression.
# Thresholds sit just under the values measured on this corpus (eval/README.md, "CI gate");
# groundedness and marker consistency must be perfect.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BIN/assistant" index build corpus --index-dir "$work/index" >/dev/null
mkdir -p eval/reports
"$BIN/assistant" eval eval/sample.jsonl --index-dir "$work/index" \
  --out eval/reports/sample.json --failures 5 \
  --min groundedness=1.0 \
  --min markers_consistent=1.0 \
  --min citation_precision=0.95 \
  --min accuracy=0.55 \
  --min answer_accuracy=0.50 \
  --min abstention_recall=0.70 \
  --min hit@5=0.95 \
  --min mrr=0.90 \
  --min passage_hit@5=0.80
