#!/usr/bin/env bash
# Side by side of two or more gateway binaries, for a change's A/B on a busy
# machine: each binary runs its own gateway in front of its own nginx upstream
# (a process app answering 20 bytes), and rounds of wrk are interleaved, in a
# rotating order, so that the machine's load hits every arm alike. Prints each
# round (req/s, p99, the gateway's CPU per request from /proc, the load
# average) and then the medians per arm. CPU per request is the steadier
# figure on a shared machine: req/s there mostly measures the neighbours.
#
#   host/benches/ab.sh BIN_A BIN_B [BIN_C ...]
#   ROUNDS=5 SECS=5 POLICY=false CONNS=256 host/benches/ab.sh old new
#   PROTO=h2 ROUNDS=7 host/benches/ab.sh old new   # h2load -c32 -m10 over TLS
#
# PROTO picks the client: h1 (the default: wrk -t1 -cCONNS), h2c (h2load
# -t1 -cCONNS -mSTREAMS, HTTP/2 with prior knowledge) or h2 (the same over
# TLS, h2 by ALPN, on an HTTPS listener with a throwaway certificate);
# STREAMS defaults to 10, as in vs_nginx.sh. The user-space part of the CPU
# time is printed apart.
#
# POLICY=false sets `call_on_request = false` (the proxy alone). A binary may
# be a wrapper script that sets the environment and execs the gateway
# (for example `RUST_LOG=warn exec path/to/paastis "$@"`). RUST_BACKTRACE and
# RUST_LOG are unset for every gateway. Needs nginx, wrk, and for h2 and h2c
# h2load (nghttp2-client) and openssl.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 BIN_A BIN_B [BIN ...]" >&2; exit 2; }
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-32}
POLICY=${POLICY:-true}
PROTO=${PROTO:-h1}
STREAMS=${STREAMS:-10}
case $PROTO in h1 | h2c | h2) ;; *) echo "PROTO is h1, h2c or h2, not $PROTO" >&2; exit 2 ;; esac
TIMEOUT=${TIMEOUT:-$(( ROUNDS * $# * (SECS + 4) + 60 ))}
# shellcheck source=common/bounded.sh
. "$(dirname "$0")/common/bounded.sh"
bounded "$TIMEOUT" "$0" "$@"

BENCH_NAME=ab
# shellcheck source=common/harness.sh
. "$(dirname "$0")/common/harness.sh"

if [ "$PROTO" = h2 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,DNS:*.localhost,IP:127.0.0.1" \
        -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
fi

declare -A gateway_pid gateway_port gateway_tls_port
names=()
start() { # name binary
    local https=""
    if [ "$PROTO" = h2 ]; then
        gateway_tls_port[$1]=$(free_port)
        https="[[edge.https]]
listen = \"127.0.0.1:${gateway_tls_port[$1]}\"
certs = [{ cert = \"$work/cert.pem\", key = \"$work/key.pem\" }]"
    fi
    start_gateway "$work/$1" "$2" "$(policy_tables)
$https"
    gateway_pid[$1]=$started_pid
    gateway_port[$1]=$started_port
}

n=0
for bin in "$@"; do
    n=$((n + 1))
    name="$n-$(basename "$bin")"
    start "$name" "$bin"
    names+=("$name")
done

hz=$(getconf CLK_TCK)
# name url seconds: one run of the load, its output on stdout
load() {
    case $PROTO in
        h1) wrk -t1 -c"$CONNS" -d"$3s" --latency -H 'Host: bench.localhost' "$2" ;;
        *) h2load -t1 -c"$CONNS" -m"$STREAMS" -D "$3" --log-file="$work/h2.log" -H ':authority: bench.localhost' "$2" ;;
    esac
}
results=$work/results
: > "$results"
for round in $(seq 1 "$ROUNDS"); do
    for i in $(seq 0 $((n - 1))); do
        name=${names[$(( (i + round - 1) % n ))]}
        pid=${gateway_pid[$name]}
        case $PROTO in
            h1 | h2c) url="http://127.0.0.1:${gateway_port[$name]}/" ;;
            h2) url="https://127.0.0.1:${gateway_tls_port[$name]}/" ;;
        esac
        load "$name" "$url" 1 >/dev/null
        read -r before before_user < <(process_ticks "$pid")
        out=$(load "$name" "$url" "$SECS")
        read -r after after_user < <(process_ticks "$pid")
        case $PROTO in
            h1)
                rps=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
                requests=$(echo "$out" | awk '/requests in/ { print $1 }')
                p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
                ;;
            *)
                rps=$(echo "$out" | awk '/^finished in/ { gsub(",", "", $4); print $4 }')
                # Only the answered requests count (h2load: "N succeeded").
                requests=$(echo "$out" | awk '/^requests:/ { print $8 }')
                p99=$(awk '{ print $3 }' "$work/h2.log" | sort -n | awk '{ v[NR] = $1 } END {
                    if (NR == 0) print "nan"; else printf "%.2fms\n", v[int(NR * 0.99) + 1] / 1000 }')
                ;;
        esac
        cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v r="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')
        user=$(awk -v t=$((after_user - before_user)) -v hz="$hz" -v r="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')
        load=$(cut -d' ' -f1 /proc/loadavg)
        printf "%s\t%s\t%s\t%s\n" "$name" "$rps" "$cpu" "$user" >> "$results"
        echo "round $round $name req/s=$rps p99=$p99 cpu_us_per_req=$cpu user_us_per_req=$user load=$load"
    done
done

echo
case $PROTO in
    h1) client="wrk -t1 -c$CONNS" ;;
    h2c) client="h2load -t1 -c$CONNS -m$STREAMS (h2c)" ;;
    h2) client="h2load -t1 -c$CONNS -m$STREAMS (h2 over TLS)" ;;
esac
echo "medians of $ROUNDS rounds of ${SECS}s, $client, call_on_request = $POLICY, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F'\t' '
    function median(list,   a, m, i, j, t) {
        m = split(list, a, " ")
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    { if (!($1 in rps)) order[++k] = $1; rps[$1] = rps[$1] " " $2; cpu[$1] = cpu[$1] " " $3; usr[$1] = usr[$1] " " $4 }
    END { for (i = 1; i <= k; i++) printf "%-24s req/s %9.0f   CPU %6.1f µs/req   user %6.1f µs/req   (CPU per round:%s)\n", order[i], median(rps[order[i]]), median(cpu[order[i]]), median(usr[order[i]]), cpu[order[i]] }
' "$results"
