#!/usr/bin/env bash
# The Kubernetes tests' peer: etcd (Debian etcd-server) + kube-apiserver and kwok built with Go
# from the module proxy, cached by version under ~/.cache/opsconsole-peers/k8s (a warm cache
# passes through in a second; a cold one takes ~7 min of building on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash tests/peers/k8s/install.sh
