#!/usr/bin/env bash
# YARN test peer: Hadoop 3.5.0 ResourceManager + NodeManager jars from Maven Central, cached under
# ~/.cache/opsconsole-peers/yarn/3.5.0 (tests/peers/yarn/install.sh; the fixtures start the daemons).
set -euo pipefail
exec bash "$(dirname "$0")/../../tests/peers/yarn/install.sh"
