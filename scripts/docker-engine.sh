#!/usr/bin/env bash
# Makes sure a Docker engine answers, installing and starting one when needed (CI runs this as
# root before `make test`, so the container test always runs there). Idempotent: with an engine
# already answering it does nothing.
#
# Installs Debian's docker.io (dockerd, containerd, runc and a client with BuildKit) and
# debootstrap (for scripts/base-image.sh), starts dockerd in the background with its log in
# $TOLLGATE_DOCKERD_LOG, and waits until it answers.
#
# Environment:
#   TOLLGATE_DOCKERD_LOG    dockerd's log file (default /var/log/tollgate-dockerd.log)
#   TOLLGATE_DOCKERD_FLAGS  extra dockerd flags, space separated (e.g. --iptables=false)
set -euo pipefail

log=${TOLLGATE_DOCKERD_LOG:-/var/log/tollgate-dockerd.log}

answers() { docker info >/dev/null 2>&1; }

if answers; then
  echo "docker engine: answering"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "docker engine: not answering, and starting one needs root" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "docker engine: installing docker.io and debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io debootstrap >/dev/null
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "docker engine: starting dockerd (log: $log)"
  read -ra flags <<<"${TOLLGATE_DOCKERD_FLAGS:-}"
  nohup dockerd "${flags[@]}" >>"$log" 2>&1 &
fi
for _ in $(seq 60); do
  if answers; then
    echo "docker engine: answering"
    exit 0
  fi
  sleep 1
done
echo "docker engine: dockerd did not answer within 60 s; its log ($log) ends with:" >&2
tail -n 20 "$log" >&2
exit 1
