#!/usr/bin/env bash
# Start-up overhead of the agent, with and without -javaagent:agent/target/revenant-agent.jar side
# by side in one run (interleaved, medians), on JDK 17 and (if present) JDK 25: a whole hello-world
# process (wall, CPU, time to main), spawn to the first answered request of KvServer and
# HttpCounter, and both again with a ~200 MB class path; a table of the differences against the
# targets of issue 13. See benchmarks/src/main/java/dev/revenant/bench/startup/StartupBenchmark.java
# for what is measured.
#
#   benchmarks/startup/run.sh [StartupBenchmark options...]     e.g. --runs 20 --verify
#   RUNS=3 BIG_CP_MB=0 benchmarks/startup/run.sh --scenarios hello,kv     # quick look
#
# Environment:
#   AGENT_JAR   the agent jar (default agent/target/revenant-agent.jar; build it first:
#               mvn -B -q package -DskipTests)
#   JAVAS       space-separated java binaries to measure (default: java on PATH, then
#               /usr/lib/jvm/temurin-25-jdk-amd64/bin/java if it exists)
#   RUNS        runs per side (default 10)
#   DEMO_JAR    the demo apps (default demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar; without it
#               the KvServer and HttpCounter scenarios are left out)
#   BIG_CP_MB   size of the big class path (default 200; 0 leaves those scenarios out), written
#               once into $OUT/bigcp (random-bytes jars, stored uncompressed)
#   OUT         folder for the JSON results (default benchmarks/target/startup)
#   BASELINE_JAR  another build of the agent jar: its runs take the place of the no-agent ones,
#               interleaved the same way (two builds compared in one run; no verdicts then)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC="$ROOT/benchmarks/src/main/java/dev/revenant/bench/startup"
AGENT_JAR=${AGENT_JAR:-$ROOT/agent/target/revenant-agent.jar}
RUNS=${RUNS:-10}
OUT=${OUT:-$ROOT/benchmarks/target/startup}
DEMO_JAR=${DEMO_JAR:-$ROOT/demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar}
BIG_CP_MB=${BIG_CP_MB:-200}
if [[ -z "${JAVAS:-}" ]]; then
  JAVAS=$(command -v java)
  if [[ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]]; then
    JAVAS="$JAVAS /usr/lib/jvm/temurin-25-jdk-amd64/bin/java"
  fi
fi
if [[ ! -f "$AGENT_JAR" ]]; then
  echo "no agent jar at $AGENT_JAR: build it first (mvn -B -q package -DskipTests)" >&2
  exit 2
fi

# Compiled on its own (JDK types only), so the benchmarks module's uber-jar is not needed.
CLASSES="$OUT/classes"
mkdir -p "$CLASSES"
javac --release 17 -d "$CLASSES" "$SRC"/*.java

# The benchmark copies the jar so that a rebuild during the run cannot change what is measured;
# the copy keeps the name revenant-agent.jar, which the jar's Boot-Class-Path names.
COPY="$OUT/jar"
mkdir -p "$COPY"
cp "$AGENT_JAR" "$COPY/revenant-agent.jar"
EXTRA=()
if [[ -n "${BASELINE_JAR:-}" ]]; then
  # its own folder: the copy must keep the name revenant-agent.jar too
  mkdir -p "$OUT/jar-baseline"
  cp "$BASELINE_JAR" "$OUT/jar-baseline/revenant-agent.jar"
  EXTRA+=(--baseline-agent "$OUT/jar-baseline/revenant-agent.jar")
fi
if [[ -f "$DEMO_JAR" ]]; then
  cp "$DEMO_JAR" "$COPY/demo-apps.jar"
  EXTRA+=(--demo-jar "$COPY/demo-apps.jar")
else
  echo "no demo apps at $DEMO_JAR: the KvServer and HttpCounter scenarios are left out" >&2
fi
if [[ "$BIG_CP_MB" != 0 ]]; then
  EXTRA+=(--big-cp "$OUT/bigcp" --big-cp-mb "$BIG_CP_MB")
fi

for JAVA in $JAVAS; do
  FEATURE=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  echo
  java -cp "$CLASSES" dev.revenant.bench.startup.StartupBenchmark --agent "$COPY/revenant-agent.jar" \
    --java "$JAVA" --runs "$RUNS" --work "$OUT/work-$FEATURE" --json "$OUT/startup-jdk$FEATURE.json" ${EXTRA[@]+"${EXTRA[@]}"} "$@"
done
