#!/bin/bash
# Install the peers for a real Kubernetes API server on 127.0.0.1:
#   etcd + kube-apiserver + kwok : built with Go from the Go module proxy (go.etcd.io/etcd/server/v3,
#                                  k8s.io/kubernetes, sigs.k8s.io/kwok), cached by version in $K8SPEER_BIN
#   (etcd is built rather than Debian's etcd-server 3.4.23: kube-apiserver 1.36 serves client-go's
#    streaming lists only when etcd supports RequestWatchProgress (>= 3.4.31 / 3.5.13); without it
#    kwok's informers fail every watch and see changes only at their backed-off relists)
# Env: KVER (default v1.36.3), KWOK_VER (default v0.8.0), ETCD_VER (default v3.6.8),
#      K8SPEER (default $HOME/.cache/opsconsole-peers/k8s),
#      K8SPEER_PREBUILT_DIR=dir with ready kube-apiserver (+kwok) binaries -> copied instead of building.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
mkdir -p "$K8SPEER_BIN"
t0=$(date +%s)
need=(); for c in curl:curl openssl:openssl bc:bc; do command -v "${c%%:*}" >/dev/null || need+=("${c#*:}"); done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null; nice -n 19 apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -n "${K8SPEER_PREBUILT_DIR:-}" ]; then
  for f in "$K8SPEER_PREBUILT_DIR"/*; do
    case "$f" in *.xz) xz -dc "$f" > "$K8SPEER_BIN/$(basename "$f" .xz)";; *) cp "$f" "$K8SPEER_BIN/";; esac
  done
  chmod +x "$K8SPEER_BIN"/*; ls -la "$K8SPEER_BIN"; exit 0
fi
[ -x "$K8SPEER_BIN/kube-apiserver" ] && [ -x "$K8SPEER_BIN/kwok" ] && [ -s "$K8SPEER_BIN/kwok-stages.yaml" ] \
  && [ -x "$K8SPEER_BIN/etcd" ] && { echo "already built: $K8SPEER_BIN"; exit 0; }

command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "no Go toolchain on PATH"; exit 2; }
if ! curl -sf -o /dev/null --max-time 15 "$(go env GOPROXY | cut -d, -f1)/k8s.io/kubernetes/@v/$KVER.info"; then
  echo "The Go module proxy is not reachable; kube-apiserver/kwok cannot be built."
  echo "Or set K8SPEER_PREBUILT_DIR=... to a folder with binaries built elsewhere."
  exit 2
fi
export GOFLAGS=-mod=mod CGO_ENABLED=0
JOBS=${K8SPEER_JOBS:-$(nproc)}
if [ ! -x "$K8SPEER_BIN/etcd" ]; then
B="$K8SPEER/build/etcd-$ETCD_VER"; mkdir -p "$B"; cd "$B"
printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > main.go
[ -f go.mod ] || go mod init k8speer/etcd >/dev/null 2>&1
go mod edit -require "go.etcd.io/etcd/server/v3@$ETCD_VER"
t1=$(date +%s)
nice -n 19 go mod tidy
nice -n 19 go build -p "$JOBS" -trimpath -ldflags "-s -w" -o "$K8SPEER_BIN/etcd.tmp" .
mv "$K8SPEER_BIN/etcd.tmp" "$K8SPEER_BIN/etcd"
echo "etcd build: $(( $(date +%s) - t1 )) s"
fi
if [ ! -x "$K8SPEER_BIN/kube-apiserver" ]; then
B="$K8SPEER/build/kas-$KVER"; mkdir -p "$B"; cd "$B"
cat > main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
[ -f go.mod ] || go mod init k8speer/kas >/dev/null 2>&1
# k8s.io/kubernetes points its staging modules at ./staging/... (absent from the module zip):
# replace each with the published k8s.io/<name> v0.<minor>.<patch> of the same release.
KDIR=$(go mod download -json "k8s.io/kubernetes@$KVER" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
SV="v0.${KVER#v1.}"
go mod edit -require "k8s.io/kubernetes@$KVER"
for m in $(grep -oE 'k8s.io/[a-z0-9-]+ => ./staging/src/k8s.io/[a-z0-9-]+' "$KDIR/go.mod" | awk '{print $1}'); do
  go mod edit -replace "$m=$m@$SV"
done
t1=$(date +%s)
nice -n 19 go mod tidy
echo "go mod tidy: $(( $(date +%s) - t1 )) s"
t1=$(date +%s)
LD="-s -w -X k8s.io/component-base/version.gitVersion=$KVER -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$KVER" | cut -d. -f2)"
nice -n 19 go build -p "$JOBS" -trimpath -ldflags "$LD" -o "$K8SPEER_BIN/kube-apiserver.tmp" .
mv "$K8SPEER_BIN/kube-apiserver.tmp" "$K8SPEER_BIN/kube-apiserver"
echo "kube-apiserver build: $(( $(date +%s) - t1 )) s"
fi
if [ ! -x "$K8SPEER_BIN/kwok" ]; then
t1=$(date +%s)
mkdir -p "$K8SPEER/build/kwok-$KWOK_VER"
GOBIN="$K8SPEER/build/kwok-$KWOK_VER" nice -n 19 go install -p "$JOBS" -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VER"
mv "$K8SPEER/build/kwok-$KWOK_VER/kwok" "$K8SPEER_BIN/kwok"
echo "kwok build: $(( $(date +%s) - t1 )) s"
fi
# kwok's default "fast" stages (kwokctl injects them; plain kwok needs them in its config)
WDIR=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VER" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  echo "---"; cat "$WDIR/kustomize/stage/$f"
done > "$K8SPEER_BIN/kwok-stages.yaml"
ls -la "$K8SPEER_BIN"; echo "total install: $(( $(date +%s) - t0 )) s"
