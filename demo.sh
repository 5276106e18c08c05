#!/usr/bin/env bash
# Builds Revenant, runs the demo key-value server (demo-apps' KvServer, which knows nothing of
# Revenant) under the agent, writes some data, kills the server with kill -9, brings it back with
# `revenant recover`, and shows that every answer the server gave still holds.
set -euo pipefail
cd "$(dirname "$0")"
JAR=agent/target/revenant-agent.jar
DEMO=demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar
LOG=demo-log
if [ ! -f "$JAR" ] || [ ! -f "$DEMO" ] || [ -n "$(find agent logger-store demo-apps -name '*.java' -newer "$JAR" -print -quit)" ]; then
  echo "== building (mvn -B -q package -DskipTests)"
  mvn -B -q package -DskipTests
fi
rm -rf "$LOG" demo-server.out demo-recover.out demo-recover.err
server=""
cleanup() { [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true; }
trap cleanup EXIT

wait_for() { # file pattern seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: timed out waiting for '$2' in $1:"; cat "$1"; exit 1
}
ask() { # one request, one reply, on a fresh connection
  exec 3<>"/dev/tcp/127.0.0.1/$PORT"; printf '%s\n' "$1" >&3; IFS= read -r reply <&3; exec 3<&-
  printf '   %-22s -> %s\n' "$1" "$reply"
}

echo "== recording: java -javaagent:$JAR=log=$LOG -cp $DEMO dev.revenant.demo.KvServer 0"
java -javaagent:"$JAR"=log="$LOG" -cp "$DEMO" dev.revenant.demo.KvServer 0 > demo-server.out &
server=$!
wait_for demo-server.out "kv listening on" 60
PORT=$(sed -n 's/^kv listening on //p' demo-server.out)
ask "SET greeting hello"; set_reply=$reply
ask "INCR visits"; ask "INCR visits"; ask "INCR visits"
ask "GET greeting"
echo "== kill -9 $server"
kill -9 "$server"; wait "$server" 2>/dev/null || true; server=""

echo "== revenant recover --log $LOG -- java -cp $DEMO dev.revenant.demo.KvServer 0"
java -jar "$JAR" recover --log "$LOG" -- java -cp "$DEMO" dev.revenant.demo.KvServer 0 > demo-recover.out 2> demo-recover.err &
wait_for demo-recover.err "live again" 60
grep "live again" demo-recover.err | sed 's/^/   /'
server=$(sed -n 's/.*live again (pid \([0-9]*\)).*/\1/p' demo-recover.err)
ask "GET greeting"
[ "$reply" = "VALUE hello ${set_reply#OK }" ] || { echo "demo: the recovered server forgot the greeting"; exit 1; }
ask "INCR visits"
[ "$reply" = "INT 4" ] || { echo "demo: the counter did not continue at 4"; exit 1; }
echo "   the recovered server has exactly the state the killed one had"
kill -9 "$server"; server=""
sleep 0.5

echo "== the sessions in the log (revenant inspect --log $LOG --no-records)"
java -jar "$JAR" inspect --log "$LOG" --no-records | sed -n '/^sessions:/,/^records by type/p' | sed '$d'
echo "== revenant verify --log $LOG"
java -jar "$JAR" verify --log "$LOG"
