#!/usr/bin/env bash
# Recovery speed: how long `revenant recover` takes to replay what a demo app recorded, against the
# time the recording took. Per app and repetition: start it under the agent (commit=pessimistic),
# load it closed-loop with no think time for DURATION seconds (KvLoad, no warm-up), kill -9, then
# run `revenant recover --json` and wait for the service to be live again. Target: replay >= 5x
# faster than recording. Before the kill (the service idle, nothing in flight) and once the
# recovered service is live, StateProbe reads back its whole state through its own protocol: the
# two digests must be equal, or the run counts as a failed recovery and the script exits 1.
# Writes benchmarks/results/recovery-<time>.{json,md} and prints the table.
#
#   benchmarks/e2e/recovery.sh                # 5 apps x 3 repetitions x 10 s: about 5 minutes
#   REPS=1 DURATION=3 benchmarks/e2e/recovery.sh
#
# Environment (defaults in brackets): REPS [3], APPS [kv tkv bank http line], DURATION [10] seconds of load,
# CLIENTS [16] (line: 1), JAVA [java], AGENT_JAR, DEMO_JAR, WORK [benchmarks/target/recovery],
# OUT [benchmarks/results], STARTUP_TIMEOUT [60], RECOVER_TIMEOUT [600] seconds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC="$ROOT/benchmarks/src/main/java/dev/revenant/bench/e2e"
REPS=${REPS:-3}
APPS=${APPS:-"kv tkv bank http line"}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
JAVA=${JAVA:-java}
AGENT_JAR=${AGENT_JAR:-$ROOT/agent/target/revenant-agent.jar}
DEMO_JAR=${DEMO_JAR:-$ROOT/demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar}
WORK=${WORK:-$ROOT/benchmarks/target/recovery}
OUT=${OUT:-$ROOT/benchmarks/results}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-60}
RECOVER_TIMEOUT=${RECOVER_TIMEOUT:-600}

die() { echo "recovery: $*" >&2; exit 2; }
for jar in "$AGENT_JAR" "$DEMO_JAR"; do
  [[ -f $jar ]] || die "missing $jar: build it first from $ROOT with: mvn -B -q package -DskipTests"
done
for a in $APPS; do
  case $a in kv|tkv|bank|http|line) ;; *) die "unknown app '$a' in APPS (kv, tkv, bank, http, line)" ;; esac
done

mkdir -p "$WORK" "$OUT"
WORK=$(cd "$WORK" && pwd)
rm -rf "$WORK/logs" "$WORK/classes"
mkdir -p "$WORK/logs" "$WORK/classes" "$WORK/jar"
read -r FS_DEVICE FS_KIND FS_MOUNT < <(df --output=source,fstype,target "$WORK/logs" | tail -1)
[[ $FS_KIND != tmpfs ]] || die "$WORK is on tmpfs: the log must be on a disk"
javac --release 17 -d "$WORK/classes" "$SRC/KvLoad.java" "$SRC/StateProbe.java"
cp "$AGENT_JAR" "$WORK/jar/revenant-agent.jar"
cp "$DEMO_JAR" "$WORK/jar/demo-apps.jar"
AGENT="$WORK/jar/revenant-agent.jar"
DEMO="$WORK/jar/demo-apps.jar"

source "$HERE/apps.sh"
# The whole state of the service on PORT, as one digest line (StateProbe).
probe() { "$JAVA" -cp "$WORK/classes" dev.revenant.bench.e2e.StateProbe --protocol "$(app_protocol "$1")" --port "$2"; }
FAILED=0
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

PIDS=()
cleanup() { for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

STAMP=$(date +%Y-%m-%d-%H%M%S)
RUNS="$WORK/runs-$STAMP.jsonl"
: >"$RUNS"
echo "recovery: $("$JAVA" -version 2>&1 | head -1); $(nproc) CPUs; logs on $FS_DEVICE ($FS_KIND); load average $(cut -d' ' -f1-3 /proc/loadavg)"

for (( rep = 1; rep <= REPS; rep++ )); do
  for app in $APPS; do
    log="$WORK/logs/$rep-$app"
    out="$WORK/record-$rep-$app.out"
    read -r -a opts <<<"$(app_opts "$app")"
    # Record.
    "$JAVA" ${opts[@]+"${opts[@]}"} "-javaagent:$AGENT=log=$log" -cp "$DEMO" "$(app_main "$app")" 0 \
      >"$out" 2>"$WORK/record-$rep-$app.err" &
    pid=$!
    PIDS+=("$pid")
    port=
    for (( i = 0; i < STARTUP_TIMEOUT * 20; i++ )); do
      line=$(grep -m1 "^$(app_ready "$app") " "$out" || true)
      if [[ -n $line ]]; then port=${line##* }; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    [[ -n $port ]] || die "$app printed no ready line; stderr: $(tail -5 "$WORK/record-$rep-$app.err")"
    load=$("$JAVA" -cp "$WORK/classes" dev.revenant.bench.e2e.KvLoad --protocol "$(app_protocol "$app")" --port "$port" \
      --clients "$(app_clients "$app")" --warmup 0 --duration "$DURATION" --seed "$rep")
    requests=$(sed -n 's/.*"total_requests":\([0-9]*\).*/\1/p' <<<"$load")
    state_before=$(probe "$app" "$port") || die "$app: StateProbe could not read the recorded service"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    log_bytes=$(du -sB1 "$log" | cut -f1)
    # Recover, timed from the command's start to the service being live.
    rout="$WORK/recover-$rep-$app.out"
    : >"$rout"
    t0=$(now_ms)
    "$JAVA" -jar "$AGENT" recover --log "$log" --json -- "$JAVA" ${opts[@]+"${opts[@]}"} -cp "$DEMO" \
      "$(app_main "$app")" 0 >"$rout" 2>"$WORK/recover-$rep-$app.err" &
    rpid=$!
    PIDS+=("$rpid")
    live=
    for (( i = 0; i < RECOVER_TIMEOUT * 100; i++ )); do
      live=$(grep -m1 '"replayMillis"' "$rout" || true)
      [[ -z $live ]] || break
      kill -0 "$rpid" 2>/dev/null || break
      sleep 0.01
    done
    t1=$(now_ms)
    [[ -n $live ]] || die "$app: recover did not go live; stderr: $(tail -5 "$WORK/recover-$rep-$app.err")"
    child=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' <<<"$live")
    state_after=$(probe "$app" "$port" || echo "unreadable")
    if [[ $state_after == "$state_before" ]]; then state_ok=true; else state_ok=false; FAILED=$((FAILED + 1)); fi
    kill -9 "$child" 2>/dev/null || true
    kill "$rpid" 2>/dev/null || true
    wait "$rpid" 2>/dev/null || true
    replay_ms=$(sed -n 's/.*"replayMillis":\([0-9]*\).*/\1/p' <<<"$live")
    replayed=$(sed -n 's/.*"replayed":\([0-9]*\).*/\1/p' <<<"$live")
    printf '{"rep":%d,"app":"%s","record_ms":%d,"requests":%d,"log_bytes":%d,"determinants":%d,"replay_ms":%d,"recover_ms":%d,"state_ok":%s,"state_before":"%s","state_after":"%s","load":%s}\n' \
      "$rep" "$app" "$((DURATION * 1000))" "$requests" "$log_bytes" "$replayed" "$replay_ms" "$((t1 - t0))" "$state_ok" \
      "$state_before" "$state_after" "$load" >>"$RUNS"
    printf '  rep %d %-5s recorded %7d requests in %6d ms; replayed %8d determinants in %6d ms (recover command until live: %6d ms); state %s\n' \
      "$rep" "$app" "$requests" "$((DURATION * 1000))" "$replayed" "$replay_ms" "$((t1 - t0))" \
      "$([[ $state_ok == true ]] && echo "equal (${state_before#state })" || echo "DIFFERS: before '$state_before', after '$state_after'")"
    rm -rf "$log"
  done
done

JSON="$OUT/recovery-$STAMP.json"
MD="$OUT/recovery-$STAMP.md"
{
  printf '{"stamp":"%s","git":"%s","java":"%s","cpus":%d,"fs":{"device":"%s","type":"%s","mount":"%s"},"duration_s":%s,"clients":%d,"runs":[' \
    "$STAMP" "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" "$("$JAVA" -version 2>&1 | head -1 | tr -d '"')" \
    "$(nproc)" "$FS_DEVICE" "$FS_KIND" "$FS_MOUNT" "$DURATION" "$CLIENTS"
  paste -sd, "$RUNS" | tr -d '\n'
  printf ']}\n'
} >"$JSON"
python3 - "$JSON" "$MD" <<'EOF'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
apps = []
for r in d["runs"]:
    if r["app"] not in apps:
        apps.append(r["app"])
names = {"kv": "KvServer", "tkv": "ThreadedKvServer", "bank": "BankServer", "http": "HttpCounter", "line": "LineCounter"}
out = [f"# Recovery speed ({d['stamp']})", "",
       f"{d['java']}; {d['cpus']} CPUs; logs on `{d['fs']['device']}` ({d['fs']['type']}); source `{d['git']}`. "
       f"Each run records {d['duration_s']} s of closed-loop load without think time ({d['clients']} clients; LineCounter 1) "
       "under `commit=pessimistic`, is killed with SIGKILL and recovered with `revenant recover --json`. "
       "*replay*: the agent's replay phase (`replayMillis`: from reading the log to live). *recover*: the whole command "
       "until live, JVM and agent start-up included. *state*: runs whose whole state read back after recovery (StateProbe) "
       "equals what it was before the kill. Medians over the repetitions; target: replay ≥ 5× faster than recording.", "",
       "| app | requests recorded | determinants | log MiB | record (ms) | replay (ms) | recover (ms) | record ÷ replay | record ÷ recover | target (≥ 5×) | state |",
       "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
for a in apps:
    rs = [r for r in d["runs"] if r["app"] == a]
    m = lambda k: statistics.median(r[k] for r in rs)
    ratio = statistics.median(r["record_ms"] / max(1, r["replay_ms"]) for r in rs)
    ratio_all = statistics.median(r["record_ms"] / max(1, r["recover_ms"]) for r in rs)
    out.append(f"| {names.get(a, a)} | {m('requests'):,.0f} | {m('determinants'):,.0f} | {m('log_bytes') / 2**20:.1f} "
               f"| {m('record_ms'):,.0f} | {m('replay_ms'):,.0f} | {m('recover_ms'):,.0f} | {ratio:.1f}× | {ratio_all:.1f}× "
               f"| {'**met**' if ratio >= 5 else '**missed**'} "
               f"| {sum(1 for r in rs if r['state_ok'])} of {len(rs)} equal |")
text = "\n".join(out) + "\n"
print(text)
open(sys.argv[2], "w").write(text)
EOF
echo "raw runs: $JSON"
echo "report:   $MD"
[[ $FAILED -eq 0 ]] || { echo "recovery: $FAILED run(s) recovered into another state than the crashed one" >&2; exit 1; }
