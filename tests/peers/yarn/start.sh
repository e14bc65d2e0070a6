#!/bin/bash
# By hand: start ResourceManager + NodeManager (plain `java -cp`, no Hadoop tarball), wait for an
# active NM, then submit one long-running DistributedShell app (something to list and kill).
# The tests do not use this script: tests/yarn/yarn_peer.py starts its own on free ports.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
[ -f "$YARNPEER_LIB/.complete" ] || bash "$HERE/install.sh"
mkdir -p "$YARNPEER_RUN"/{logs,tmp,nm-local,nm-logs}
CP="$YARNPEER_CONF:$YARNPEER_LIB/*"
t0=$(date +%s.%N)
setsid java -Xmx512m -cp "$CP" org.apache.hadoop.yarn.server.resourcemanager.ResourceManager >"$YARNPEER_RUN/logs/rm.log" 2>&1 &
echo $! >"$YARNPEER_RUN/rm.pid"
setsid java -Xmx512m -cp "$CP" org.apache.hadoop.yarn.server.nodemanager.NodeManager >"$YARNPEER_RUN/logs/nm.log" 2>&1 &
echo $! >"$YARNPEER_RUN/nm.pid"
n=0
for i in $(seq 240); do
  for p in rm nm; do
    kill -0 "$(cat "$YARNPEER_RUN/$p.pid")" 2>/dev/null || { echo "$p died:"; tail -20 "$YARNPEER_RUN/logs/$p.log"; exit 1; }
  done
  n=$(curl -sf "$RM_URL/ws/v1/cluster/metrics" | python3 -c 'import json,sys; print(json.load(sys.stdin)["clusterMetrics"]["activeNodes"])' 2>/dev/null || echo 0)
  [ "$n" -ge 1 ] && break; sleep 0.5
done
[ "$n" -ge 1 ] || { echo "no active NodeManager after 120 s"; exit 1; }
echo "RM up with $n active NM after $(python3 -c "import time; print(round(time.time()-$t0, 1))") s"
if [ "${1:-}" != --no-app ]; then
  DSJAR=$(ls "$YARNPEER_LIB"/hadoop-yarn-applications-distributedshell-*.jar)
  setsid java -cp "$CP" org.apache.hadoop.yarn.applications.distributedshell.Client -jar "$DSJAR" \
     -appname peer-sleeper -shell_script "$HERE/ticker.sh" -shell_args 600 \
     -num_containers 1 -container_memory 128 -master_memory 256 -timeout 3600000 \
     >"$YARNPEER_RUN/logs/ds-client.log" 2>&1 &
  echo $! >"$YARNPEER_RUN/ds.pid"
fi
