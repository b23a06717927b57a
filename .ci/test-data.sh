#!/usr/bin/env bash
# Where the real-data tests of .ci/run find the problems' real data. Prints `export ADRS_TEST_DATA=DIR`
# when it fetched the data, nothing otherwise; never fails the caller.
#   - ADRS_TEST_DATA already set, or ../shared/data beside the checkout (CI machines): nothing is
#     downloaded, nothing is printed (tests/conftest.py reads ../shared/data itself);
#   - else `adrs data fetch --all` (pinned sha256; from GitHub, or from ADRS_DATA_MIRROR, a folder or
#     URL laid out as <repo>/<commit>/<path>) into a cache folder, bounded by a timeout: a machine
#     without internet says so in one line (on stderr) and the real-data tests skip with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"

if [ -n "${ADRS_TEST_DATA:-}" ] || [ -d ../shared/data ]; then
  exit 0
fi
data="${XDG_CACHE_HOME:-$HOME/.cache}/adrs/test-data"
mirror=()
if [ -n "${ADRS_DATA_MIRROR:-}" ]; then mirror=(--mirror "$ADRS_DATA_MIRROR"); fi
# COLUMNS: adrs prints its error on one line, to be quoted whole below.
said="$(COLUMNS=10000 timeout "${ADRS_DATA_FETCH_TIMEOUT_S:-600}" "$PY" -m adrs.cli data fetch --all --data "$data" "${mirror[@]}" 2>&1)"
if [ $? -eq 0 ]; then
  echo "export ADRS_TEST_DATA=$data"
else
  why="$(printf '%s\n' "$said" | grep -v '^[[:space:]]*$' | tail -n 1)"
  echo "the real data could not be fetched (${why:-timed out}): the real-data tests will skip" >&2
fi
exit 0
