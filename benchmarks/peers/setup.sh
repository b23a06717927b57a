#!/usr/bin/env bash
# Create one virtual environment per peer engine, outside the repository:
#   $PEERS_HOME/openevolve  (openevolve==0.4.0)
#   $PEERS_HOME/shinka      (shinka-evolve==0.0.7)
# PEERS_HOME defaults to /tmp/adrs-peers. Idempotent: an environment that already has the pinned
# version is kept. Needs uv (python3 -m pip install uv) and the package registry.
set -euo pipefail

PEERS_HOME="${PEERS_HOME:-/tmp/adrs-peers}"
mkdir -p "$PEERS_HOME"

install() {  # install NAME PACKAGE==VERSION
  local name="$1" spec="$2" dist="${2%%==*}" version="${2##*==}"
  local py="$PEERS_HOME/$name/bin/python"
  if [ -x "$py" ] && [ "$("$py" -c "import importlib.metadata as m; print(m.version('$dist'))" 2>/dev/null)" = "$version" ]; then
    echo "$name: $spec already in $PEERS_HOME/$name"
    return
  fi
  rm -rf "${PEERS_HOME:?}/$name"
  uv venv -q --python 3.11 "$PEERS_HOME/$name"
  uv pip install -q --python "$py" "$spec"
  echo "$name: installed $spec in $PEERS_HOME/$name"
}

install openevolve "openevolve==0.4.0"
install shinka "shinka-evolve==0.0.7"
