#!/usr/bin/env bash
# Start or stop the private Docker daemon the `docker` sandbox tests use.
#   .ci/docker-sandbox.sh start   # prints `export DOCKER_HOST=...` on success
#   .ci/docker-sandbox.sh stop
# The daemon gets its own socket, data root and exec root under $ADRS_DOCKER_DIR (default
# /tmp/adrs-docker), no bridge and no iptables rules (candidates run with --network none), so
# stopping it leaves nothing behind. The image is built offline (no registry is reachable here):
# python -m adrs.sandbox.docker_image imports a root skeleton; /usr and the Python
# runtime are mounted read-only from the host at run time. Never fails the caller: without a
# daemon the docker tests skip with the reason.
set -uo pipefail
DIR="${ADRS_DOCKER_DIR:-/tmp/adrs-docker}"
SOCK="unix://$DIR/docker.sock"
PY="${PYTHON:-.venv/bin/python}"

start() {
  command -v dockerd >/dev/null || { echo "docker-sandbox: dockerd not installed" >&2; return 0; }
  mkdir -p "$DIR"
  if ! DOCKER_HOST="$SOCK" "$PY" -c "import docker, sys; docker.DockerClient(base_url='$SOCK', timeout=3).ping()" 2>/dev/null; then
    dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" -H "$SOCK" --pidfile "$DIR/dockerd.pid" \
      --bridge none --iptables=false --ip-masq=false >"$DIR/dockerd.log" 2>&1 &
    for _ in $(seq 1 100); do
      DOCKER_HOST="$SOCK" "$PY" -c "import docker; docker.DockerClient(base_url='$SOCK', timeout=3).ping()" 2>/dev/null && break
      sleep 0.2
    done
  fi
  if DOCKER_HOST="$SOCK" "$PY" -m adrs.sandbox.docker_image >&2; then
    echo "export DOCKER_HOST=$SOCK"
  else
    echo "docker-sandbox: daemon did not come up; see $DIR/dockerd.log" >&2
    tail -5 "$DIR/dockerd.log" >&2 2>/dev/null || true
  fi
}

stop() {
  if [ -f "$DIR/dockerd.pid" ]; then
    pid="$(cat "$DIR/dockerd.pid")"
    DOCKER_HOST="$SOCK" "$PY" -c "
import docker
from adrs.sandbox.docker_image import containers_where, remove_containers
c = docker.DockerClient(base_url='$SOCK', timeout=10)
remove_containers(c, containers_where(c, label='adrs.sandbox'))
" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # A daemon started elsewhere with a bridge leaves docker0 and NAT rules: remove them too.
  ip link show docker0 >/dev/null 2>&1 && ip link delete docker0 2>/dev/null
  iptables -t nat -F DOCKER 2>/dev/null && iptables -t nat -X DOCKER 2>/dev/null
  umount -R "$DIR/exec" 2>/dev/null || true
  rm -rf "$DIR/exec" "$DIR/dockerd.pid" "$DIR/docker.sock"
  return 0
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 64 ;;
esac
