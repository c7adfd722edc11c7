#!/bin/bash
# Request throughput through a gateway on the sled store and one on the Redis
# store, side by side: the same binary, app and load, in interleaved rounds.
# Nothing on the request path touches the store, so the two should match.
# Then the cost of a Redis outage: the same load while redis-server is stopped,
# with the sled gateway run again as the control.
#
#   cargo build --release -p paastis && host/benches/store_throughput.sh [SECONDS] [CONNECTIONS] [ROUNDS]
#
# Needs wrk, curl and redis-server. PAASTIS=path/to/paastis benches another
# build. Unset RUST_BACKTRACE first if you compare with other figures.
set -eu
seconds=${1:-5}
connections=${2:-32}
rounds=${3:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PAASTIS:-$root/target/release/paastis}
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }
# utime + stime of a process and its children, in clock ticks.
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning &
redis_pid=$!; pids="$pids $redis_pid"
wait_port "$redis_port"

declare -A port gw
start() { # $1 = label, $2 = [store] table
    port[$1]=$(free_port)
    cat > "$work/$1.toml" <<TOML
[server]
listen = "127.0.0.1:${port[$1]}"
domain = "localhost"
$2
[admin]
enabled = false
[policy.params]
idle_timeout = "1h"
[[apps]]
name = "hello"
backend = "process"
command = ["$bin", "demo-app", "--name", "hello", "--port", "{port}"]
ready_path = "/"
TOML
    REDIS_URL="redis://127.0.0.1:$redis_port/" "$bin" serve --config "$work/$1.toml" 2>"$work/$1.log" &
    gw[$1]=$!; pids="$pids ${gw[$1]}"
    wait_port "${port[$1]}"
    curl -s -o /dev/null -H "Host: hello.localhost" "http://127.0.0.1:${port[$1]}/"   # wake it
}

round() { # $1 = label, $2 = what to call it
    local before after out requests
    before=$(cpu_ticks "${gw[$1]}")
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "Host: hello.localhost" "http://127.0.0.1:${port[$1]}/")
    after=$(cpu_ticks "${gw[$1]}")
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    printf '%-22s %10s req/s  p50 %8s  p99 %8s  gateway CPU/request %6s µs  non-2xx %s  (load %s)\n' \
        "$2" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
        "$(echo "$out" | awk '$1 == "50%" {print $2}')" "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
        "$(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')" \
        "$(echo "$out" | awk '/Non-2xx/ {print $5}' | grep . || echo 0)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

start sled "[store]
path = \"$work/store\""
start redis "[store]
backend = \"redis\"
single_replica = true"

for r in $(seq 1 "$rounds"); do
    round sled "sled #$r"
    round redis "redis #$r"
done
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
for r in $(seq 1 "$rounds"); do
    round sled "sled #$r (control)"
    round redis "redis down #$r"
done
grep -m1 -E 'degraded|does not answer' "$work/redis.log" || echo "(no degraded line in the Redis gateway's log)"
