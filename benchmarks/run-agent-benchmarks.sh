#!/usr/bin/env bash
# The agent's hot paths (AgentHotPathBenchmark: one clock determinant, one socket read determinant
# per KiB) with and without the agent, in alternating JMH runs, and the ratio of each benchmark
# against the same benchmark without the agent. Writes benchmarks/results/agent-<time>.{json,md}.
#
#   benchmarks/run-agent-benchmarks.sh             # 2 rounds x 2 sides, about 3 minutes
#
# Environment:
#   ROUNDS [2]     rounds; round 1 runs without the agent first, round 2 with it first, ...
#   JMH_OPTS       extra JMH options (default: the class's own -f 1 -wi 3 -w 1s -i 5 -r 1s)
#   AGENT_ARGS     agent arguments besides log= (default commit=none; see AgentHotPathBenchmark)
#   SKIP_BUILD=1   use benchmarks/target/benchmarks.jar and agent/target/revenant-agent.jar as they are
#   JAVA           java binary (default: java on PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
JAR="$HERE/target/benchmarks.jar"
JAVA=${JAVA:-java}
ROUNDS=${ROUNDS:-2}
AGENT_ARGS=${AGENT_ARGS:-commit=none}
read -r -a EXTRA <<<"${JMH_OPTS:-}"
STAMP=$(date +%Y-%m-%d-%H%M%S)
WORK="$HERE/target/agent-bench"
RESULTS="$HERE/results"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  echo "== building the agent and benchmarks.jar"
  (cd "$ROOT" && mvn -B -q -pl logger-store,agent,benchmarks package -DskipTests)
fi
[[ -f $JAR ]] || { echo "no $JAR; build failed?" >&2; exit 1; }
[[ -f $ROOT/agent/target/revenant-agent.jar ]] || { echo "no agent jar; build failed?" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK/jar" "$RESULTS"
# The jar's Boot-Class-Path names revenant-agent.jar: the copy keeps that name.
cp "$ROOT/agent/target/revenant-agent.jar" "$WORK/jar/revenant-agent.jar"
[[ $(df --output=fstype "$WORK" | tail -1) != tmpfs ]] || echo "warning: $WORK is on tmpfs" >&2

run_side() { # $1 round, $2 side (plain|agent)
  local out="$WORK/$2-$1.json" opts=()
  if [[ $2 == agent ]]; then
    opts=(-jvmArgsAppend "-javaagent:$WORK/jar/revenant-agent.jar=log=$WORK/log-$1,$AGENT_ARGS")
  fi
  echo "== round $1, $2"
  "$JAVA" -jar "$JAR" 'AgentHotPathBenchmark' ${EXTRA[@]+"${EXTRA[@]}"} ${opts[@]+"${opts[@]}"} \
    -rf json -rff "$out" | grep -E '^(Benchmark|AgentHotPath)' || true
}

echo "== $("$JAVA" -version 2>&1 | head -1); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for (( r = 1; r <= ROUNDS; r++ )); do
  if (( r % 2 == 1 )); then run_side "$r" plain; run_side "$r" agent; else run_side "$r" agent; run_side "$r" plain; fi
done

python3 - "$WORK" "$ROUNDS" "$RESULTS/agent-$STAMP" "$AGENT_ARGS" "$("$JAVA" -version 2>&1 | head -1)" <<'EOF'
import json, statistics, sys, os
work, rounds, out, args, java = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def load(side, r):
    res = {}
    for b in json.load(open(os.path.join(work, f"{side}-{r}.json"))):
        name = b["benchmark"].rsplit(".", 1)[1] + "".join(f" {k}={v}" for k, v in sorted(b.get("params", {}).items()))
        res[name] = b["primaryMetric"]["score"]
    return res
plain = [load("plain", r) for r in range(1, rounds + 1)]
agent = [load("agent", r) for r in range(1, rounds + 1)]
rows = []
for name in plain[0]:
    p = statistics.median(x[name] for x in plain)
    a = statistics.median(x[name] for x in agent)
    ratios = [agent[i][name] / plain[i][name] for i in range(rounds)]
    extra = a - p
    per_kib = ""
    if "size=" in name:
        kib = int(name.split("size=")[1]) / 1024
        per_kib = f"{extra / kib:,.0f}"
    rows.append({"benchmark": name, "plain_ns": p, "agent_ns": a, "ratio": statistics.median(ratios),
                 "ratios": ratios, "added_ns": extra, "added_ns_per_kib": per_kib})
md = [f"# Agent hot paths ({os.path.basename(out)})", "",
      f"{java}; {os.cpu_count()} CPUs; JMH AverageTime (ns/op), 1 fork, 3 x 1 s warm-up, 5 x 1 s measured per side "
      f"and round; {rounds} rounds, sides alternating. Agent: `-javaagent:revenant-agent.jar=log=...,{args}`.", "",
      "| benchmark | without agent (ns/op) | with agent (ns/op) | ratio (per round) | added ns/op | added ns per KiB |",
      "|---|---:|---:|---|---:|---:|"]
for r in rows:
    md.append(f"| {r['benchmark']} | {r['plain_ns']:,.1f} | {r['agent_ns']:,.1f} | {r['ratio']:.2f}× "
              f"({', '.join(f'{x:.2f}' for x in r['ratios'])}) | {r['added_ns']:,.1f} | {r['added_ns_per_kib']} |")
text = "\n".join(md) + "\n"
print(text)
open(out + ".md", "w").write(text)
json.dump({"java": java, "agent_args": args, "rounds": rounds, "rows": rows}, open(out + ".json", "w"), indent=1)
print(f"written: {out}.md and .json")
EOF
