#!/bin/bash
# Hadoop YARN jars from Maven Central (mvn dependency:copy-dependencies of pom.xml) into
# ~/.cache/opsconsole-peers/yarn/<version>/lib, and conf/ rendered for the hand-started peer
# (start.sh). Idempotent: a complete lib/ (the .complete marker) is kept; ~2 s when warm.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
. "$HERE/env.sh"
mkdir -p "$YARNPEER_LIB" "$YARNPEER_CONF" "$YARNPEER_RUN"
stamp="$YARNPEER_LIB/.complete"
if [ ! -f "$stamp" ] || ! cmp -s "$HERE/pom.xml" "$stamp"; then
  t0=$(date +%s)
  rm -rf "$YARNPEER_LIB"; mkdir -p "$YARNPEER_LIB"
  if ! nice -n 19 mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies \
       -DoutputDirectory="$YARNPEER_LIB" -DincludeScope=runtime -DexcludeTransitive=false; then
    echo "yarn peer: mvn could not fetch the Hadoop jars from Maven Central" >&2; exit 2
  fi
  cp "$HERE/pom.xml" "$stamp"
  echo "yarn peer: jars: $(ls "$YARNPEER_LIB" | wc -l) files, $(du -sh "$YARNPEER_LIB" | cut -f1); took $(( $(date +%s) - t0 )) s"
fi
for f in "$HERE"/conf/*; do
  sed "s#@RUN@#$YARNPEER_RUN#g; s#@CONF@#$YARNPEER_CONF#g; s#@LIB@#$YARNPEER_LIB#g;
       s#@RM_RPC@#$RM_RPC#g; s#@RM_SCHED@#$RM_SCHED#g; s#@RM_TRACKER@#$RM_TRACKER#g; s#@RM_ADMIN@#$RM_ADMIN#g;
       s#@RM_WEB@#$RM_WEB#g; s#@NM_RPC@#$NM_RPC#g; s#@NM_LOCALIZER@#$NM_LOCALIZER#g; s#@NM_WEB@#$NM_WEB#g" \
      "$f" > "$YARNPEER_CONF/$(basename "$f")"
done
echo "yarn peer: Hadoop $YARNPEER_VERSION in $YARNPEER"
