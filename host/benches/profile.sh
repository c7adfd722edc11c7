#!/usr/bin/env bash
# Where a gateway's CPU goes per request, by part (the kernel, hyper, tokio,
# http, our proxy, wasmtime, the sandbox, the guest...), for one or more
# binaries in interleaved rounds. Each round records each binary's gateway
# with `perf record` under the same wrk load and prints, per part, the
# samples per 1,000 requests (at 2,999 Hz a unit is 0.33 µs of CPU per
# request). A part's figure moves far less from round to round than the
# gateway's total CPU, which on a 2-core machine shared with wrk and the
# upstream swings by ±10 % (ab.sh): a change to one part (the policy call,
# the guest) shows there first.
#
#   host/benches/profile.sh BIN [BIN ...]
#   ROUNDS=3 SECS=6 POLICY=false host/benches/profile.sh old new
#   PARAMS='passive_asleep_status = 200' host/benches/profile.sh old new
#
# PARAMS are lines added to the gateway's `[policy.params]` (after
# `idle_timeout = "24h"`). With PAASTIS_PERFMAP=1 in a binary's environment
# (a wrapper script), the sandbox writes /tmp/perf-PID.map and perf names
# the guest's functions: `KEEP=dir` keeps each recording, and
# `perf report -i dir/NAME.data --sort sym` lists them. Every wrk run is
# bounded by SECS, the whole script by TIMEOUT. Needs nginx, wrk and perf:
#   apt-get install -y nginx wrk linux-perf
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BIN [BIN ...]" >&2; exit 2; }
ROUNDS=${ROUNDS:-2}
SECS=${SECS:-6}
CONNS=${CONNS:-32}
POLICY=${POLICY:-true}
for tool in nginx wrk perf; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y nginx wrk linux-perf" >&2; exit 1; }
done
TIMEOUT=${TIMEOUT:-$(( ROUNDS * $# * (SECS + 30) + 60 ))}
# shellcheck source=common/bounded.sh
. "$(dirname "$0")/common/bounded.sh"
bounded "$TIMEOUT" "$0" "$@"

BENCH_NAME=profile
# shellcheck source=common/harness.sh
. "$(dirname "$0")/common/harness.sh"

# The part a "dso symbol" line of perf's report belongs to.
categories='{
    n = $0; c = "other"
    if (n ~ /\[kernel/) c = "kernel"
    else if (n ~ /\[JIT\]/) c = "guest"
    else if (n ~ /wasmtime|cranelift/) c = "wasmtime"
    else if (n ~ /paastis_sandbox/) c = "sandbox"
    else if (n ~ /paastis::telemetry/) c = "telemetry"
    else if (n ~ /paastis::/) c = "proxy"
    else if (n ~ /hyper_util/) c = "hyper_util"
    else if (n ~ /hyper::/) c = "hyper"
    else if (n ~ /tokio::/) c = "tokio"
    else if (n ~ /http::|httparse/) c = "http"
    else if (n ~ /rjem|jemalloc/) c = "jemalloc"
    else if (n ~ /memmove|memcpy|memset/) c = "mem*"
    else if (n ~ /libc/) c = "libc"
    else if (n ~ /vdso/) c = "vdso"
    part[c] += $2; total += $2
}'
parts="kernel hyper hyper_util tokio http proxy telemetry sandbox wasmtime guest jemalloc mem* libc vdso other"

# Runs BIN under load, recording it into $work/NAME.data, and writes the
# requests it answered meanwhile into $work/NAME.requests.
profile_one() { # name bin
    local gateway gw requests recorder
    start_gateway "$work/$1" "$2" "$(policy_tables "${PARAMS:-}")" || exit 1
    gateway=$started_pid
    gw=$started_port
    wrk -t1 -c"$CONNS" -d2s -H 'Host: bench.localhost' "http://127.0.0.1:$gw/" >/dev/null
    perf record -q -F 2999 -p "$gateway" -o "$work/$1.data" -- sleep "$SECS" 2>/dev/null &
    recorder=$!
    requests=$(wrk -t1 -c"$CONNS" -d"${SECS}s" -H 'Host: bench.localhost' "http://127.0.0.1:$gw/" | awk '/requests in/ { print $1 }')
    wait "$recorder" || true
    kill "$gateway" 2>/dev/null || true
    wait "$gateway" 2>/dev/null || true
    echo "$requests" > "$work/$1.requests"
}

# Samples per 1,000 requests by part, as "part=value ..." in $parts' order.
by_part() { # data requests
    perf report -i "$1" -n --no-children --sort dso,sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' |
        awk -v r="$2" -v parts="$parts" "$categories"' END {
            n = split(parts, order, " ")
            for (i = 1; i <= n; i++) if (order[i] in part) printf "%s=%.1f ", order[i], part[order[i]] * 1000 / r
            printf "TOTAL=%.1f\n", total * 1000 / r
        }'
}

bins=("$@")
names=()
for i in "${!bins[@]}"; do
    names+=("$((i + 1))-$(basename "${bins[$i]}")")
done
echo "perf record -F 2999, wrk -t1 -c$CONNS -d${SECS}s, call_on_request = $POLICY, samples per 1,000 requests (1 = 0.33 µs of CPU)"
for round in $(seq 1 "$ROUNDS"); do
    # A rotating order, so that no binary always runs first.
    for k in $(seq 0 $(( $# - 1 ))); do
        j=$(( (k + round - 1) % $# ))
        name=${names[$j]}
        profile_one "$name-r$round" "${bins[$j]}"
        requests=$(cat "$work/$name-r$round.requests")
        printf 'round %d  %-14s %7d requests  %s\n' "$round" "$name" "$requests" "$(by_part "$work/$name-r$round.data" "$requests")"
        if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work/$name-r$round.data" "$KEEP/"; fi
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
