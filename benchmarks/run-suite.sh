#!/usr/bin/env bash
# The whole benchmark suite, in the order a user asks "what does it cost?": start-up, the agent's
# hot paths (JMH), the end-to-end cost per demo app, and recovery speed. Each part writes its own
# results/<part>-<time>.{json,md} (the end-to-end part a .png too) and prints its table; this script
# prints where they went. Builds the jars first (never `mvn install`).
#
#   benchmarks/run-suite.sh          # about 25 minutes on 2 cores
#   QUICK=1 benchmarks/run-suite.sh  # smoke settings, about 6 minutes: figures not worth quoting
#
# The parts' own settings (REPS, DURATION, CLIENTS, ...) pass through; see each script's header.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  echo "== building (mvn -B -q -pl logger-store,agent,demo-apps,benchmarks package -DskipTests)"
  (cd "$ROOT" && mvn -B -q -pl logger-store,agent,demo-apps,benchmarks package -DskipTests)
fi
export SKIP_BUILD=1
if [[ "${QUICK:-0}" == 1 ]]; then
  export REPS=${REPS:-1} WARMUP=${WARMUP:-1} DURATION=${DURATION:-3} ROUNDS=${ROUNDS:-1} RUNS=${RUNS:-4}
  export JMH_OPTS=${JMH_OPTS:-"-wi 1 -w 1s -i 2 -r 1s"}
fi
echo "== machine: $(nproc) CPUs, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== disk under benchmarks/target: $(df --output=source,fstype,target "$HERE" | tail -1)"
echo; echo "== 1/4 start-up"
STAMP=$(date +%Y-%m-%d-%H%M%S)
OUT="$HERE/target/startup" "$HERE/startup/run.sh" | tee "$HERE/results/startup-$STAMP.txt"
for f in "$HERE"/target/startup/startup-jdk*.json; do cp "$f" "$HERE/results/$(basename "${f%.json}")-$STAMP.json"; done
echo; echo "== 2/4 agent hot paths (JMH)"; "$HERE/run-agent-benchmarks.sh"
echo; echo "== 3/4 end to end"; "$HERE/e2e/run.sh"
echo; echo "== 4/4 recovery speed"; "$HERE/e2e/recovery.sh"
echo; echo "== done: results in $HERE/results (newest files)"; ls -t "$HERE/results" | head -12
