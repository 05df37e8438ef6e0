#!/usr/bin/env bash
# Every benchmark figure, ours and the LangChain baseline in the same run, then bench/RESULTS.md.
# Usage: bench/run_all.sh [--quick]    (--quick: one round, short load test; for a smoke check)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if [[ "${1:-}" == "--quick" ]]; then
  rounds=1; runs=2; duration=10
else
  rounds=3; runs=5; duration=30
fi

"$PY" -m bench.indexing --rounds "$rounds"
"$PY" -m bench.latency --rounds "$(( rounds > 1 ? 2 : 1 ))"
"$PY" -m bench.cold_start --runs "$runs"
if "$PY" -c "from assistant.server import create_app" 2>/dev/null; then
  "$PY" -m bench.load --duration "$duration"
else
  echo "skipping bench.load: assistant.server is not available" >&2
fi
"$PY" -m bench.query_quality
"$PY" -m bench.report
