#!/usr/bin/env bash
# Builds Revenant, records a program that reads clocks and randomness and prints identity hashes
# (demo-apps' Nondeterminism) under the agent, replays it from the log and shows that the replay
# printed exactly the same, then inspects and verifies the log. Kill and recover of a server come
# with the socket issue.
set -euo pipefail
cd "$(dirname "$0")"
JAR=agent/target/revenant-agent.jar
DEMO=demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar
if [ ! -f "$JAR" ] || [ ! -f "$DEMO" ] || [ -n "$(find agent logger-store demo-apps -name '*.java' -newer "$JAR" -print -quit)" ]; then
  echo "== building (mvn -B -q package -DskipTests)"
  mvn -B -q package -DskipTests
fi
rm -rf demo-log demo-record.txt demo-replay.txt
echo "== recording: java -javaagent:$JAR=log=demo-log -cp $DEMO dev.revenant.demo.Nondeterminism"
java -javaagent:"$JAR"=log=demo-log -cp "$DEMO" dev.revenant.demo.Nondeterminism 2 | tee demo-record.txt | head -8
echo "   ..."
echo "== replaying: java -jar $JAR replay --log demo-log -- java -cp $DEMO dev.revenant.demo.Nondeterminism"
java -jar "$JAR" replay --log demo-log -- java -cp "$DEMO" dev.revenant.demo.Nondeterminism 2 > demo-replay.txt
if cmp -s demo-record.txt demo-replay.txt; then
  echo "   the replay printed exactly what the recording printed ($(wc -l < demo-record.txt) lines)"
else
  echo "   the replay differs:"; diff demo-record.txt demo-replay.txt || true; exit 1
fi
echo "== revenant inspect --log demo-log --type CLOCK --to 12"
java -jar "$JAR" inspect --log demo-log --type CLOCK --to 12 | tail -6
echo "== revenant verify --log demo-log"
java -jar "$JAR" verify --log demo-log
