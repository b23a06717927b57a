#!/bin/sh
# SkyDiscover's entry point: evaluate.sh <solution_path> <train|test>; one JSON object on stdout.
set -eu
exec python3 /benchmark/score.py "$1" "$2"
