#!/usr/bin/env bash
# Runs the log benchmarks (AppendBenchmark, GroupCommitBenchmark) and prints a Markdown summary.
#
#   benchmarks/run-log-benchmarks.sh [extra JMH options...]
#
# Environment:
#   REVENANT_BENCH_DIR  where the benchmark logs go (default benchmarks/target/bench-logs); must be
#                       on the disk you want to measure, not tmpfs
#   APPEND_OPTS         JMH settings of AppendBenchmark (default: -f 1 -wi 2 -w 3s -i 5 -r 3s;
#                       12 trials, about 5.5 minutes on 2 cores)
#   GC_OPTS             JMH settings of each GroupCommitBenchmark trial (default: -f 1 -wi 1 -w 2s -i 3 -r 2s)
#   GC_ROUNDS           rounds of the 5 group-commit trials (default 2, about 1.3 minutes each). A round
#                       runs each trial in its own JVM, interleaving ring and baseline, the second round
#                       in reverse order: fdatasync latency on a shared virtual disk drifts a lot, and
#                       interleaving keeps the ring/baseline ratio from measuring that drift.
#   SETTLE_MILLIS       pause (after sync) before each trial, letting the previous trial's writeback
#                       drain (default 3000)
#   SKIP_BUILD=1        use benchmarks/target/benchmarks.jar as it is
#   JAVA                java binary (default: java on PATH)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
JAR="$HERE/target/benchmarks.jar"
JAVA=${JAVA:-java}
BENCH_DIR=${REVENANT_BENCH_DIR:-$HERE/target/bench-logs}
APPEND_OPTS=${APPEND_OPTS:--f 1 -wi 2 -w 3s -i 5 -r 3s}
GC_OPTS=${GC_OPTS:--f 1 -wi 1 -w 2s -i 3 -r 2s}
GC_ROUNDS=${GC_ROUNDS:-2}
SETTLE_MILLIS=${SETTLE_MILLIS:-3000}
GC_ORDER=(forcePerRecord01 groupCommit16 forcePerRecord16Sync groupCommit04 groupCommit01)
STAMP=$(date +%Y-%m-%d-%H%M%S)
RESULTS="$HERE/results"
JSON="$RESULTS/log-$STAMP.json"
LOG="$RESULTS/log-$STAMP.txt"
SUMMARY="$RESULTS/log-$STAMP.md"

# --- build if needed (sources of this module or of logger-store newer than the jar) ---
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  if [[ ! -f "$JAR" ]] || [[ -n "$(find "$HERE/pom.xml" "$HERE/src" "$ROOT/pom.xml" "$ROOT/logger-store/pom.xml" \
        "$ROOT/logger-store/src/main" -newer "$JAR" -type f -print -quit 2>/dev/null)" ]]; then
    echo "== building benchmarks.jar (mvn -pl benchmarks -am package -DskipTests)"
    (cd "$ROOT" && mvn -B -q -pl benchmarks -am package -DskipTests)
  fi
fi
[[ -f "$JAR" ]] || { echo "no $JAR; build failed?" >&2; exit 1; }

mkdir -p "$BENCH_DIR" "$RESULTS"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)

# --- machine ---
FS_TYPE=$(df -PT "$BENCH_DIR" | awk 'NR==2 {print $2}')
FS_DEV=$(df -PT "$BENCH_DIR" | awk 'NR==2 {print $1}')
FS_MNT=$(df -PT "$BENCH_DIR" | awk 'NR==2 {print $7}')
MOUNT_OPTS=$(awk -v m="$FS_MNT" '$2==m {o=$4} END {print o}' /proc/mounts)
DISK=$(basename "$(readlink -f "$FS_DEV" 2>/dev/null || echo "$FS_DEV")")
DISK_INFO=""
if [[ -d /sys/block/$DISK ]]; then
  DISK_INFO="rotational=$(cat /sys/block/$DISK/queue/rotational 2>/dev/null || echo ?)"
  DISK_INFO+=", write_cache=$(cat /sys/block/$DISK/queue/write_cache 2>/dev/null || echo ?)"
  DISK_INFO+=", scheduler=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/block/$DISK/queue/scheduler 2>/dev/null || echo ?)"
  DISK_INFO+=", size=$(lsblk -dno SIZE "/dev/$DISK" 2>/dev/null | tr -d ' ' || echo ?)"
  MODEL=$(lsblk -dno MODEL "/dev/$DISK" 2>/dev/null | sed 's/ *$//' || true)
  [[ -n "$MODEL" ]] && DISK_INFO+=", model=$MODEL"
fi

echo "== machine"
echo "JDK:         $("$JAVA" -version 2>&1 | head -2 | tr '\n' ' ')"
echo "CPUs:        $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "Kernel:      $(uname -sr)"
echo "Bench dir:   $BENCH_DIR"
echo "File system: $FS_TYPE on $FS_DEV mounted at $FS_MNT ($MOUNT_OPTS)"
echo "Disk:        $DISK ${DISK_INFO}"
case "$FS_TYPE" in
  tmpfs|ramfs|overlay|squashfs)
    echo "WARNING: $BENCH_DIR is on $FS_TYPE, not a real disk: force/fdatasync figures mean nothing here" >&2 ;;
esac
echo "JMH:         group commit: $GC_ROUNDS rounds of $GC_OPTS; append: $APPEND_OPTS; settle ${SETTLE_MILLIS} ms $*"
echo

# --- run ---
# -D on the launching JVM is inherited by JMH's forked JVMs; the Chronicle --add-opens flags come
# from each benchmark's @Fork(jvmArgsAppend).
PARTS=$(mktemp -d "$RESULTS/.parts-XXXXXX")
trap 'rm -rf "$PARTS"' EXIT
jmh() {  # jmh <json-out> <jmh args...>
  local out=$1
  shift
  "$JAVA" -Drevenant.bench.dir="$BENCH_DIR" -Drevenant.bench.settleMillis="$SETTLE_MILLIS" -jar "$JAR" \
    "$@" -rf json -rff "$out" 2>&1 | tee -a "$LOG"
}
: > "$LOG"
# Group commit first, while the disk has not yet absorbed the gigabytes the append runs write.
for ((round = 1; round <= GC_ROUNDS; round++)); do
  order=("${GC_ORDER[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((k = ${#GC_ORDER[@]} - 1; k >= 0; k--)); do order+=("${GC_ORDER[k]}"); done
  fi
  for b in "${order[@]}"; do
    echo "== group commit round $round: $b" | tee -a "$LOG"
    jmh "$PARTS/gc-$round-$b.json" "dev\.revenant\.bench\.GroupCommitBenchmark\.$b\$" $GC_OPTS "$@"
  done
done
echo "== append benchmarks" | tee -a "$LOG"
jmh "$PARTS/append.json" 'dev\.revenant\.bench\.AppendBenchmark\.' $APPEND_OPTS "$@"

# One JMH-format JSON array; each group-commit result carries its round as an extra "round" param.
python3 - "$JSON" "$PARTS" <<'PY'
import glob, json, os, re, sys
out, parts = sys.argv[1], sys.argv[2]
merged = []
for f in sorted(glob.glob(os.path.join(parts, "*.json"))):
    with open(f) as fh:
        runs = json.load(fh)
    m = re.match(r"gc-(\d+)-", os.path.basename(f))
    for r in runs:
        if m:
            r.setdefault("params", {})["round"] = m.group(1)
        merged.append(r)
with open(out, "w") as fh:
    json.dump(merged, fh, indent=2)
PY

{
  echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $("$JAVA" -version 2>&1 | head -1),"
  echo "$FS_TYPE on $FS_DEV ($DISK_INFO)."
  echo "JMH: group commit $GC_ROUNDS rounds of \`$GC_OPTS\`, append \`$APPEND_OPTS\`, settle ${SETTLE_MILLIS} ms $*"
  echo
  python3 "$HERE/log-report.py" "$JSON"
} > "$SUMMARY"
echo
echo "== summary (also in $SUMMARY; JMH JSON: $JSON, log: $LOG)"
echo
cat "$SUMMARY"
