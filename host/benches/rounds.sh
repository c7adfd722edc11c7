#!/usr/bin/env bash
# One gateway, round after round of the same load: how its CPU per request
# moves between rounds, and how each of its threads shares the CPU in each
# round. ab.sh gives an A/B its medians; this shows the spread behind them
# (at -c256 a gateway's rounds swing between about 26 and 43 µs per request,
# where nginx's stay within 17–23), so that a cause can be looked for one
# round at a time.
#
#   host/benches/rounds.sh BIN
#   CONNS=256 ROUNDS=10 SECS=5 MAX_UPSTREAM=64 host/benches/rounds.sh BIN
#
# Per round: the gateway's CPU µs per request (from /proc), its requests,
# the upstream connections open halfway through the round, its threads'
# context switches per request (voluntary: a thread waited; involuntary: the
# kernel preempted it), and the CPU clock ticks of each thread that ran (workers as `w`, the log writer and the
# policy epoch thread by name), with the load average. The policy is called
# on every request; POLICY=false turns it off. BIN may be a wrapper script
# that sets the environment (for example TOKIO_WORKER_THREADS=1). Needs
# nginx, wrk and ss (iproute2).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BIN" >&2; exit 2; }
CONNS=${CONNS:-256}
ROUNDS=${ROUNDS:-10}
SECS=${SECS:-5}
POLICY=${POLICY:-true}
MAX_UPSTREAM=${MAX_UPSTREAM:-64}
for tool in nginx wrk ss; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y nginx wrk iproute2" >&2; exit 1; }
done
TIMEOUT=${TIMEOUT:-$(( ROUNDS * (SECS + 2) + 60 ))}
# shellcheck source=common/bounded.sh
. "$(dirname "$0")/common/bounded.sh"
bounded "$TIMEOUT" "$0" "$@"

BENCH_NAME=rounds
# shellcheck source=common/harness.sh
. "$(dirname "$0")/common/harness.sh"

start_gateway "$work" "$1" "$(policy_tables)
[edge]
max_upstream_connections = $MAX_UPSTREAM" || exit 1
gateway=$started_pid
gw=$started_port
up=$started_upstream_port

# "voluntary involuntary" context switches of all the gateway's threads.
switches() { cat /proc/"$gateway"/task/*/status | awk '/^voluntary_ctxt/ { v += $2 } /^nonvoluntary_ctxt/ { n += $2 } END { print v, n }'; }
# "tid:name ticks" per thread (the kernel keeps 15 characters of a name).
thread_ticks() {
    for task in /proc/"$gateway"/task/*; do
        printf '%s:%s %s\n' "${task##*/}" "$(tr ' ' _ < "$task/comm" | cut -c1-15)" "$(awk '{ print $14 + $15 }' "$task/stat")"
    done | sort
}

echo "one gateway, $ROUNDS rounds of wrk -t1 -c$CONNS -d${SECS}s, call_on_request = $POLICY, max_upstream_connections = $MAX_UPSTREAM"
for round in $(seq 1 "$ROUNDS"); do
    threads_before=$(thread_ticks)
    read -r before _ < <(process_ticks "$gateway")
    switches_before=$(switches)
    (sleep "$(awk -v s="$SECS" 'BEGIN { print s / 2 }')"
     ss -tn state established "( dport = :$up )" | tail -n +2 | wc -l > "$work/upstream_conns") &
    halfway=$!
    requests=$(wrk -t1 -c"$CONNS" -d"${SECS}s" -H 'Host: bench.localhost' "http://127.0.0.1:$gw/" | awk '/requests in/ { print $1 }')
    wait "$halfway"
    read -r after _ < <(process_ticks "$gateway")
    read -r voluntary involuntary <<< "$(echo "$switches_before $(switches)" | awk '{ print $3 - $1, $4 - $2 }')"
    threads=$(join <(echo "$threads_before") <(thread_ticks) |
        awk '{ d = $3 - $2; if (d > 0) { name = $1; sub(/^[0-9]+:/, "", name); sub(/^tokio-rt-worker$/, "w", name); printf "%s=%d ", name, d } }')
    awk -v r="$round" -v a="$before" -v b="$after" -v n="$requests" -v up="$(cat "$work/upstream_conns")" \
        -v t="$threads" -v vol="$voluntary" -v invol="$involuntary" \
        -v loadavg="$(cut -d' ' -f1 /proc/loadavg)" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        printf "round %2d  %5.1f µs/req  requests %7d  upstream connections %3d  switches/req voluntary %.3f involuntary %.3f  thread ticks: %s load %s\n",
            r, (b - a) * 1e6 / hz / n, n, up, vol / n, invol / n, t, loadavg }'
done
