#!/bin/bash
# Start-up of `adrs check`: milliseconds from the command's exec to the exec of its first worker (the
# warm server), from strace's execve timestamps, one figure per run.
#   bash benchmarks/first_worker.sh CHECKOUT RUNS [PROBLEM]    # e.g. . 9 /tmp/toy (an `adrs init` folder)
set -u
checkout="$1" runs="$2" problem="${3:-$(mktemp -d)/toy}"
[ -d "$problem" ] || (cd "$checkout" && .venv/bin/python -m adrs.cli init "$problem" >/dev/null)
trace="$(mktemp)"
cd "$checkout"
for _ in $(seq 1 "$runs"); do
  strace -f --seccomp-bpf -e trace=execve -ttt -o "$trace" .venv/bin/python -m adrs.cli check "$problem" >/dev/null 2>&1
  awk '/execve\(/ && !/ENOENT/ { if (!start) start = $2; if (/warm_server/ && !done) { printf "%d ", ($2 - start) * 1000; done = 1 } }' "$trace"
done
echo
rm -f "$trace"
