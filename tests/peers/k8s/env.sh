# Shared settings for install.sh / start.sh / stop.sh / smoke.py and the pytest fixtures (source it).
# Binaries are cached by version: a new KVER/KWOK_VER builds into a new bin dir.
export KVER=${KVER:-v1.36.3} KWOK_VER=${KWOK_VER:-v0.8.0} ETCD_VER=${ETCD_VER:-v3.6.8}
export K8SPEER=${K8SPEER:-$HOME/.cache/opsconsole-peers/k8s}
export K8SPEER_BIN=${K8SPEER_BIN:-$K8SPEER/bin-$KVER-kwok-$KWOK_VER-etcd-$ETCD_VER}   # kube-apiserver, kwok (+ kwok-stages.yaml), etcd
export K8SPEER_RUN=${K8SPEER_RUN:-$K8SPEER/run}          # etcd data, logs, pids
export K8SPEER_PKI=${K8SPEER_PKI:-$K8SPEER/pki}
export ETCD_PORT=${ETCD_PORT:-12379} ETCD_PEER_PORT=${ETCD_PEER_PORT:-12380}
export APISERVER_PORT=${APISERVER_PORT:-16443}
export KUBELET_PORT=${KUBELET_PORT:-20250}
export K8SPEER_TOKEN=${K8SPEER_TOKEN:-k8speer-admin-token}
export KUBECONFIG_PEER=$K8SPEER_RUN/kubeconfig
