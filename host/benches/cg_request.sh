#!/usr/bin/env bash
# Instructions per request through the gateway, counted by callgrind: a
# figure that the machine's load barely moves, for changes of a few percent
# that wall-clock rounds on a shared 2-core machine cannot resolve (ab.sh's
# rounds spread by ±2–3 µs per request; two runs of one binary here agree
# within 0.4 %). What runs on the wall clock rather than per request (the
# policy epoch thread ticks every millisecond while calls run; valgrind
# slows the requests, not the clock) adds a few percent that grows with the
# run's length: compare binaries measured in the same run, not across runs.
#
#   host/benches/cg_request.sh BIN [BIN ...]
#   N=5000 host/benches/cg_request.sh old new
#
# Each binary serves one app with the inactivity policy on every request,
# under `valgrind --tool=callgrind`. Every measured request is a passive one
# (`/health`, in `passive_paths`) to the app while it is asleep: the whole
# request path up to and including the policy call, then the gateway's own
# 503. (Valgrind cannot run a process app: it lacks `pidfd_open`, so no app
# is woken and nothing is forwarded; the forwarding path is ab.sh's.) The
# counters are zeroed after a warm-up of 200 requests, then N requests go
# over one keep-alive connection (h2load --h1), and the counts are dumped.
#
# Prints, per binary: instructions per request for the whole process (every
# thread: the workers, the log writer, the epoch ticker), and allocations
# (`__rust_alloc` calls) per request. With KEEP=dir, each binary's dump is
# kept there (`callgrind_annotate --inclusive=yes dir/NAME.out` says where
# the instructions go). Each binary runs `check` natively first, so
# that the valgrind run reads the policy's machine code from the compile
# cache instead of compiling it under valgrind. Needs valgrind and h2load:
#   apt-get install -y valgrind nghttp2-client
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BIN [BIN ...]" >&2; exit 2; }
N=${N:-2000}
for tool in valgrind callgrind_control callgrind_annotate h2load nginx curl; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y valgrind nghttp2-client nginx curl" >&2; exit 1; }
done
TIMEOUT=${TIMEOUT:-$(( $# * (240 + N / 10) ))}
# shellcheck source=common/bounded.sh
. "$(dirname "$0")/common/bounded.sh"
bounded "$TIMEOUT" "$0" "$@"

BENCH_NAME=cg
# shellcheck source=common/harness.sh
. "$(dirname "$0")/common/harness.sh"

# How many times the gateway allocated (`__rust_alloc`, its global
# allocator's entry), summed over its callers.
allocations() { # out-file
    callgrind_annotate --tree=caller --inclusive=yes --threshold=100 "$1" 2>/dev/null | python3 -c '
import re, sys
total = 0
for block in sys.stdin.read().split("\n\n"):
    lines = block.strip("\n").split("\n")
    if any("*  " in l and "__rust_alloc [" in l for l in lines):
        total += sum(int(m.group(1).replace(",", "")) for l in lines if "<" in l for m in [re.search(r"\(([\d,]+)x\)", l)] if m)
print(total)'
}

measure() { # name binary
    local dir=$work/$1 up gw out
    mkdir -p "$dir"
    up=$(free_port)
    gw=$(free_port)
    upstream_conf "$up" "$dir/up"
    gateway_conf "$gw" "$dir" "$up" "$dir/up" '[policy]
call_on_request = true
[policy.params]
idle_timeout = "24h"
passive_paths = ["/health"]' > "$dir/paastis.toml"
    # The compile cache of this run only, filled natively.
    export XDG_CACHE_HOME=$dir/cache
    env -u RUST_LOG -u RUST_BACKTRACE "$2" check --config "$dir/paastis.toml" >/dev/null 2>&1
    out=$dir/callgrind.out
    env -u RUST_LOG -u RUST_BACKTRACE valgrind --tool=callgrind --smc-check=all-non-file \
        --callgrind-out-file="$out" "$2" serve --config "$dir/paastis.toml" 2> "$dir/log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 1 600); do
        curl -s -o /dev/null -H 'Host: bench.localhost' "http://127.0.0.1:$gw/health" && break
        sleep 0.2
    done
    h2load --h1 -n 200 -c 1 -H ':authority: bench.localhost' "http://127.0.0.1:$gw/health" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    h2load --h1 -n "$N" -c 1 -H ':authority: bench.localhost' "http://127.0.0.1:$gw/health" > "$dir/h2load"
    if ! grep -q "status codes: 0 2xx, 0 3xx, 0 4xx, $N 5xx" "$dir/h2load"; then
        echo "$1: expected $N answers of 503 from the asleep app:" >&2
        grep -E "requests:|status codes" "$dir/h2load" >&2
        exit 1
    fi
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" || true
    local dump total allocs
    dump=$out.1
    total=$(awk '/^totals:/ { print $2 }' "$dump")
    allocs=$(allocations "$dump")
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP"
        cp "$dump" "$KEEP/$1.out"
    fi
    awk -v name="$1" -v n="$N" -v total="$total" -v allocs="$allocs" 'BEGIN {
        printf "%-24s %8.0f instructions per request   %6.2f allocations per request\n", name, total / n, allocs / n }'
}

echo "callgrind, $N passive requests to an asleep app per binary (the policy call, then a 503), load average $(cut -d' ' -f1-3 /proc/loadavg)"
i=0
for bin in "$@"; do
    i=$((i + 1))
    measure "$i-$(basename "$bin")" "$bin"
done
