#!/usr/bin/env bash
# Start-up overhead of the agent: N interleaved runs of a trivial app with and without
# -javaagent:agent/target/revenant-agent.jar, on JDK 17 and (if present) JDK 25. See
# benchmarks/src/main/java/dev/revenant/bench/startup/StartupBenchmark.java for what is measured.
#
#   benchmarks/startup/run.sh [StartupBenchmark options...]     e.g. --runs 20 --verify
#
# Environment:
#   AGENT_JAR   the agent jar (default agent/target/revenant-agent.jar; build it first:
#               mvn -B -q package -DskipTests)
#   JAVAS       space-separated java binaries to measure (default: java on PATH, then
#               /usr/lib/jvm/temurin-25-jdk-amd64/bin/java if it exists)
#   RUNS        runs per side (default 10)
#   OUT         folder for the JSON results (default benchmarks/target/startup)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC="$ROOT/benchmarks/src/main/java/dev/revenant/bench/startup"
AGENT_JAR=${AGENT_JAR:-$ROOT/agent/target/revenant-agent.jar}
RUNS=${RUNS:-10}
OUT=${OUT:-$ROOT/benchmarks/target/startup}
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
javac --release 17 -d "$CLASSES" "$SRC/StartupBenchmark.java" "$SRC/HelloApp.java"

# The benchmark copies the jar so that a rebuild during the run cannot change what is measured;
# the copy keeps the name revenant-agent.jar, which the jar's Boot-Class-Path names.
COPY="$OUT/jar"
mkdir -p "$COPY"
cp "$AGENT_JAR" "$COPY/revenant-agent.jar"

for JAVA in $JAVAS; do
  FEATURE=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  echo
  java -cp "$CLASSES" dev.revenant.bench.startup.StartupBenchmark --agent "$COPY/revenant-agent.jar" \
    --java "$JAVA" --runs "$RUNS" --work "$OUT/work-$FEATURE" --json "$OUT/startup-jdk$FEATURE.json" "$@"
done
