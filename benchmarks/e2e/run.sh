#!/usr/bin/env bash
# End-to-end cost of recording: each demo app (KvServer, HttpCounter, LineCounter) under
# closed-loop load (KvLoad), without the agent and with it (commit=none, commit=pessimistic), REPS
# interleaved repetitions, plus the raw fdatasync latency of the log's disk (FsyncProbe). Writes
# benchmarks/results/e2e-<time>.{json,md,png} and prints the Markdown tables.
#
#   benchmarks/e2e/run.sh                      # 5 x 3 apps x 3 configurations x (3 s + 10 s): about 13 minutes
#   REPS=2 WARMUP=1 DURATION=2 benchmarks/e2e/run.sh
#
# Environment (defaults in brackets):
#   REPS [5]              repetitions; each runs all configurations, in the order A B C, then C B A, ...
#   APPS [kv http line]   which demo apps: kv (KvServer, NIO), tkv (ThreadedKvServer: a thread per
#                         connection, one ReentrantLock-guarded store), bank (BankServer: a thread per connection
#                         handing transfers to 4 pool workers; XFER/AUDIT), http (HttpCounter, the JDK's HttpServer,
#                         run with -Dsun.net.httpserver.nodelay=true in every configuration), line
#                         (LineCounter, blocking sockets, one connection at a time: always 1 client)
#   CONFIGS               which configurations, of: no-agent commit-none commit-pessimistic [those three],
#                         unscheduled (commit=pessimistic with schedule=none: what the serial scheduler costs),
#                         no-preempt (commit=pessimistic with preempt=0: what the preemption points cost)
#   WARMUP [3] DURATION [10]   KvLoad's warm-up and measured seconds per run
#   CLIENTS [16] KEYS [10000] VALUE_SIZE [32]   KvLoad's clients, key space and value length
#   TTL_SHARE [0] TTL_MS [5000]   percentage of SETs with a ttl (makes the server read its clock)
#   SERVER_HEAP [-Xms512m -Xmx512m]   heap flags of the server, the same in every configuration
#   SERVER_OPTS []        more JVM options for the server, every configuration
#   FSYNC_ITERATIONS [300]   FsyncProbe iterations per repetition
#   STARTUP_TIMEOUT [60]  seconds to wait for the server's "kv listening on" line
#   JAVA [java]           the JVM of the server, KvLoad and FsyncProbe
#   AGENT_JAR [agent/target/revenant-agent.jar]  DEMO_JAR [demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar]
#   WORK [benchmarks/target/e2e]   classes, logs, server output; the logs must be on the disk to measure
#   OUT [benchmarks/results]       where the results go
#   ALLOW_TMPFS=1         run even if WORK is on tmpfs (the figures then say nothing about a disk)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC="$ROOT/benchmarks/src/main/java/dev/revenant/bench/e2e"

REPS=${REPS:-5}
APPS=${APPS:-"kv http line"}
CONFIGS=${CONFIGS:-"no-agent commit-none commit-pessimistic"}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
KEYS=${KEYS:-10000}
VALUE_SIZE=${VALUE_SIZE:-32}
TTL_SHARE=${TTL_SHARE:-0}
TTL_MS=${TTL_MS:-5000}
SERVER_HEAP=${SERVER_HEAP:-"-Xms512m -Xmx512m"}
SERVER_OPTS=${SERVER_OPTS:-}
FSYNC_ITERATIONS=${FSYNC_ITERATIONS:-300}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-60}
JAVA=${JAVA:-java}
AGENT_JAR=${AGENT_JAR:-$ROOT/agent/target/revenant-agent.jar}
DEMO_JAR=${DEMO_JAR:-$ROOT/demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar}
WORK=${WORK:-$ROOT/benchmarks/target/e2e}
OUT=${OUT:-$ROOT/benchmarks/results}

die() { echo "e2e: $*" >&2; exit 2; }

for a in $APPS; do
  case $a in kv|tkv|bank|http|line) ;; *) die "unknown app '$a' in APPS (kv, tkv, bank, http, line)" ;; esac
done
for c in $CONFIGS; do
  case $c in no-agent|commit-none|commit-pessimistic|unscheduled|no-preempt) ;; *) die "unknown configuration '$c' in CONFIGS" ;; esac
done
for jar in "$AGENT_JAR" "$DEMO_JAR"; do
  [[ -f $jar ]] || die "missing $jar: build it first from $ROOT with: mvn -B -q package -DskipTests"
done

mkdir -p "$WORK" "$OUT"
WORK=$(cd "$WORK" && pwd)
LOGS="$WORK/logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"

# The logs and the fsync probe must be on a real disk.
FS_TYPE=$(stat -f -c %T "$LOGS")
read -r FS_DEVICE FS_KIND FS_MOUNT < <(df --output=source,fstype,target "$LOGS" | tail -1)
if [[ $FS_KIND == tmpfs || $FS_KIND == ramfs || $FS_TYPE == tmpfs ]] && [[ ${ALLOW_TMPFS:-} != 1 ]]; then
  die "$LOGS is on $FS_KIND: set WORK to a directory on the disk to measure (or ALLOW_TMPFS=1)"
fi

# Compiled on their own (JDK types only); the benchmarks uber-jar is not needed.
CLASSES="$WORK/classes"
rm -rf "$CLASSES"
mkdir -p "$CLASSES"
javac --release 17 -d "$CLASSES" "$SRC/KvLoad.java" "$SRC/FsyncProbe.java" "$SRC/Chart.java"

# A private copy, so that a rebuild during the run cannot change what is measured; it keeps the
# name revenant-agent.jar, which the jar's Boot-Class-Path names.
mkdir -p "$WORK/jar"
cp "$AGENT_JAR" "$WORK/jar/revenant-agent.jar"
cp "$DEMO_JAR" "$WORK/jar/demo-apps.jar"
AGENT="$WORK/jar/revenant-agent.jar"
DEMO="$WORK/jar/demo-apps.jar"

STAMP=$(date +%Y-%m-%d-%H%M%S)
RUNS="$WORK/runs-$STAMP.jsonl"
PROBES="$WORK/fsync-$STAMP.jsonl"
: >"$RUNS"
: >"$PROBES"
TICKS=$(getconf CLK_TCK)
read -r -a HEAP <<<"$SERVER_HEAP"
read -r -a EXTRA <<<"$SERVER_OPTS"

json_str() { # a JSON string literal of $1
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/ }
  printf '"%s"' "${s//$'\n'/ }"
}
cpu_seconds() { # user+system CPU seconds of process $1 so far
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }
  awk -v t="$TICKS" '{ printf "%.3f", ($12 + $13) / t }' <<<"$stat"
}
dir_bytes() { # bytes allocated on disk under $1 (the segment files are sparse: apparent sizes mean nothing)
  if [[ -d $1 ]]; then du -sB1 "$1" | cut -f1; else echo 0; fi
}

SERVER_PID=
DRAIN_PID=
stop_server() {
  if [[ -n $SERVER_PID ]]; then
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
  if [[ -n $DRAIN_PID ]]; then
    wait "$DRAIN_PID" 2>/dev/null || true
    DRAIN_PID=
  fi
}
trap stop_server EXIT

source "$HERE/apps.sh"

# One run: start app $4 in configuration $2, load it, kill it, measure and delete its log.
run_one() {
  local rep=$1 config=$2 slot=$3 app=$4
  local log="$LOGS/$rep-$app-$config" out="$WORK/server-$rep-$app-$config.out" err="$WORK/server-$rep-$app-$config.err"
  local ready main clients
  ready=$(app_ready "$app")
  main=$(app_main "$app")
  clients=$(app_clients "$app")
  local appopts=()
  read -r -a appopts <<<"$(app_opts "$app")"
  local agent=()
  case $config in
    commit-none) agent=("-javaagent:$AGENT=log=$log,commit=none") ;;
    commit-pessimistic) agent=("-javaagent:$AGENT=log=$log,commit=pessimistic") ;;
    unscheduled) agent=("-javaagent:$AGENT=log=$log,commit=pessimistic,schedule=none") ;;
    no-preempt) agent=("-javaagent:$AGENT=log=$log,commit=pessimistic,preempt=0") ;;
  esac
  local fifo="$WORK/server.fifo"
  rm -f "$fifo" "$out"
  mkfifo "$fifo"
  local load_avg
  load_avg=$(cut -d' ' -f1 /proc/loadavg)
  local t0 t1
  t0=$(date +%s%N)
  "$JAVA" "${HEAP[@]}" ${EXTRA[@]+"${EXTRA[@]}"} ${appopts[@]+"${appopts[@]}"} ${agent[@]+"${agent[@]}"} -cp "$DEMO" \
    "$main" 0 >"$fifo" 2>"$err" &
  SERVER_PID=$!
  local fd line port=
  exec {fd}<"$fifo"
  while IFS= read -r -t "$STARTUP_TIMEOUT" -u "$fd" line; do
    printf '%s\n' "$line" >>"$out"
    if [[ $line == "$ready "* && ${line##* } =~ ^([0-9]+)$ ]]; then
      port=${BASH_REMATCH[1]}
      break
    fi
  done
  t1=$(date +%s%N)
  cat <&"$fd" >>"$out" &   # keeps draining, so the server never blocks on a full stdout pipe
  DRAIN_PID=$!
  exec {fd}<&-
  rm -f "$fifo"
  if [[ -z $port ]]; then
    stop_server
    echo "e2e: the server ($app, $config) printed no '$ready' line within ${STARTUP_TIMEOUT} s; its stderr:" >&2
    tail -20 "$err" >&2
    exit 1
  fi
  local startup_ms=$(( (t1 - t0) / 1000000 ))
  local log_start cpu_start
  log_start=$(dir_bytes "$log")
  cpu_start=$(cpu_seconds "$SERVER_PID")

  local load load_rc=0
  load=$("$JAVA" -cp "$CLASSES" dev.revenant.bench.e2e.KvLoad --protocol "$(app_protocol "$app")" --port "$port" --clients "$clients" \
    --warmup "$WARMUP" --duration "$DURATION" --keys "$KEYS" --value-size "$VALUE_SIZE" \
    --ttl-share "$TTL_SHARE" --ttl-ms "$TTL_MS" --seed "$rep") || load_rc=$?
  if [[ $load != \{* ]]; then
    stop_server
    die "KvLoad failed (exit $load_rc) against the server ($app, $config): $load"
  fi

  local alive=true cpu_end log_end
  kill -0 "$SERVER_PID" 2>/dev/null || alive=false
  cpu_end=$(cpu_seconds "$SERVER_PID")
  log_end=$(dir_bytes "$log")
  stop_server
  local stderr_lines stderr_first
  stderr_lines=$(wc -l <"$err")
  stderr_first=$(head -1 "$err")
  rm -rf "$log"

  printf '{"rep":%d,"slot":%d,"app":"%s","config":"%s","startup_ms":%d,"load_avg":%s,"server_alive":%s,"server_cpu_s":%s,"log_bytes_start":%d,"log_bytes_end":%d,"server_stderr_lines":%d,"server_stderr_first":%s,"load":%s}\n' \
    "$rep" "$slot" "$app" "$config" "$startup_ms" "$load_avg" "$alive" \
    "$(awk -v a="$cpu_start" -v b="$cpu_end" 'BEGIN { printf "%.3f", b - a }')" \
    "$log_start" "$log_end" "$stderr_lines" "$(json_str "$stderr_first")" "$load" >>"$RUNS"
  local thr p50 p99 errs
  thr=$(sed -n 's/.*"throughput":\([0-9.]*\).*/\1/p' <<<"$load")
  p50=$(sed -n 's/.*"p50_us":\([0-9.]*\).*/\1/p' <<<"$load")
  p99=$(sed -n 's/.*"p99_us":\([0-9.]*\).*/\1/p' <<<"$load")
  errs=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$load")
  printf '  rep %d  %-5s %-19s %10s req/s  p50 %8s us  p99 %8s us  errors %s  log %s B  start-up %d ms%s\n' \
    "$rep" "$app" "$config" "$thr" "$p50" "$p99" "$errs" "$log_end" "$startup_ms" \
    "$([[ $alive == true ]] || echo '  SERVER DIED')"
}

JAVA_VERSION=$("$JAVA" -version 2>&1 | head -1)
echo "e2e: $JAVA_VERSION; $(nproc) CPUs; $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "e2e: logs in $LOGS on $FS_DEVICE ($FS_KIND, mounted at $FS_MOUNT)"
echo "e2e: $REPS repetitions of apps [$APPS] x [$CONFIGS]; $CLIENTS clients (line: 1), ${WARMUP} s warm-up + ${DURATION} s measured, $KEYS keys"

read -r -a ORDER <<<"$CONFIGS"
for (( rep = 1; rep <= REPS; rep++ )); do
  probe=$("$JAVA" -cp "$CLASSES" dev.revenant.bench.e2e.FsyncProbe --dir "$LOGS" --iterations "$FSYNC_ITERATIONS")
  printf '{"rep":%d,"fsync":%s}\n' "$rep" "$probe" >>"$PROBES"
  echo "rep $rep: raw write+fdatasync $(sed -n 's/.*"median_us":\([0-9.]*\).*/\1/p' <<<"$probe") us median"
  if (( rep % 2 == 1 )); then
    seq=("${ORDER[@]}")
  else
    seq=()
    for (( i = ${#ORDER[@]} - 1; i >= 0; i-- )); do seq+=("${ORDER[i]}"); done
  fi
  for app in $APPS; do
    slot=0
    for config in "${seq[@]}"; do
      run_one "$rep" "$config" "$slot" "$app"
      slot=$((slot + 1))
    done
  done
done

JSON="$OUT/e2e-$STAMP.json"
MD="$OUT/e2e-$STAMP.md"
{
  printf '{"stamp":"%s","git":%s,"java":%s,"cpus":%d,"kernel":%s,' "$STAMP" \
    "$(json_str "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)")" \
    "$(json_str "$JAVA_VERSION")" "$(nproc)" "$(json_str "$(uname -sr)")"
  printf '"fs":{"dir":%s,"device":%s,"type":%s,"mount":%s},' "$(json_str "$LOGS")" "$(json_str "$FS_DEVICE")" \
    "$(json_str "$FS_KIND")" "$(json_str "$FS_MOUNT")"
  printf '"settings":{"reps":%d,"apps":%s,"configs":%s,"warmup_s":%s,"duration_s":%s,"clients":%d,"keys":%d,"value_size":%d,"ttl_share":%d,"ttl_ms":%d,"server_heap":%s,"server_opts":%s,"fsync_iterations":%d,"agent_jar":%s,"agent_jar_bytes":%d},' \
    "$REPS" "$(json_str "$APPS")" "$(json_str "$CONFIGS")" "$WARMUP" "$DURATION" "$CLIENTS" "$KEYS" "$VALUE_SIZE" "$TTL_SHARE" "$TTL_MS" \
    "$(json_str "$SERVER_HEAP")" "$(json_str "$SERVER_OPTS")" "$FSYNC_ITERATIONS" "$(json_str "$AGENT_JAR")" \
    "$(stat -c %s "$AGENT")"
  printf '"fsync":['
  paste -sd, "$PROBES" | tr -d '\n'
  printf '],"runs":['
  paste -sd, "$RUNS" | tr -d '\n'
  printf ']}\n'
} >"$JSON"
echo
echo "raw runs: $JSON"

if command -v python3 >/dev/null; then
  python3 "$HERE/report.py" "$JSON" --md "$MD" --chart-data "$WORK/chart-$STAMP.tsv"
  echo "report:   $MD"
  "$JAVA" -Djava.awt.headless=true -cp "$CLASSES" dev.revenant.bench.e2e.Chart "$WORK/chart-$STAMP.tsv" "${MD%.md}.png" \
    "End to end, $(nproc) CPUs, logs on $FS_DEVICE ($FS_KIND), $STAMP"
  echo "chart:    ${MD%.md}.png"
else
  echo "e2e: no python3, so no Markdown report; the raw runs are in $JSON" >&2
fi
