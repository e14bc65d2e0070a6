#!/usr/bin/env bash
# The SSH hosts backend's peers: a real OpenSSH sshd (openssh-server) and supervisord (supervisor)
# as the service manager the tests drive over SSH. Idempotent: installs only what is missing.
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v supervisord >/dev/null 2>&1 || need+=(supervisor)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true
  # (without an init system the packages' own sshd/supervisord services are not started)
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# sshd refuses to start without its privilege-separation directory
if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; else sudo mkdir -p /run/sshd; fi
echo "ssh peers: $(/usr/sbin/sshd -V 2>&1 | head -1 || true); $(supervisord --version 2>/dev/null || true)"
