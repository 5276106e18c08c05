#!/usr/bin/env bash
# Builds Revenant, runs the demo app under the agent (it records into ./demo-log), then shows
# what the log holds and checks it. Record, kill and recover come with the socket issue.
set -euo pipefail
cd "$(dirname "$0")"
JAR=agent/target/revenant-agent.jar
DEMO=demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar
if [ ! -f "$JAR" ] || [ ! -f "$DEMO" ] || [ -n "$(find agent logger-store demo-apps -name '*.java' -newer "$JAR" -print -quit)" ]; then
  echo "== building (mvn -B -q package -DskipTests)"
  mvn -B -q package -DskipTests
fi
rm -rf demo-log
echo "== running the demo under the agent: java -javaagent:$JAR=log=demo-log -cp $DEMO dev.revenant.demo.Greeter"
java -javaagent:"$JAR"=log=demo-log -cp "$DEMO" dev.revenant.demo.Greeter Ada
echo "== revenant inspect --log demo-log"
java -jar "$JAR" inspect --log demo-log | cut -c1-160
echo "== revenant verify --log demo-log"
java -jar "$JAR" verify --log demo-log
