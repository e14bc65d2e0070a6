#!/bin/bash
# The DistributedShell payload (-shell_script; a -shell_command with $(...) or $i would be expanded
# by the container's launch script first): `tick N` on stdout every second, a warning on stderr
# every 5 ticks, for $1 seconds (default 600).
n=${1:-600}
echo "started"
i=1
while [ "$i" -le "$n" ]; do
  echo "tick $i"
  [ $((i % 5)) -eq 0 ] && echo "warn tick $i" >&2
  i=$((i + 1))
  sleep 1
done
echo "finished"
