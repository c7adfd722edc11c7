#!/bin/sh
# Request throughput through one gateway with the sled store and with the
# Redis store, side by side (the same binary, app and load). Nothing on the
# request path touches the store, so the two should match. Then the cost of
# a Redis outage: the same load while redis-server is stopped.
#
#   cargo build --release -p paastis && host/benches/store_throughput.sh [SECONDS] [CONNECTIONS]
#
# Needs wrk and redis-server. PAASTIS=path/to/paastis to bench another build.
set -eu
seconds=${1:-10}
connections=${2:-32}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PAASTIS:-$root/target/release/paastis}
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning &
redis_pid=$!; pids="$pids $redis_pid"
wait_port "$redis_port"

# One config per store, the same app: the demo app built into the binary.
run() { # $1 = label, $2 = [store] table
    port=$(free_port)
    cat > "$work/$1.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
domain = "localhost"
$2
[admin]
enabled = false
[policy]
call_on_request = false
[policy.params]
idle_timeout = "1h"
[[apps]]
name = "hello"
backend = "process"
command = ["$bin", "demo-app", "--name", "hello", "--port", "{port}"]
ready_path = "/"
TOML
    REDIS_URL="redis://127.0.0.1:$redis_port/" "$bin" serve --config "$work/$1.toml" 2>"$work/$1.log" &
    gw=$!; pids="$pids $gw"
    wait_port "$port"
    curl -s -o /dev/null -H "Host: hello.localhost" "http://127.0.0.1:$port/"   # wake it
    echo "== $1 (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    wrk -t2 -c"$connections" -d"${seconds}s" -H "Host: hello.localhost" "http://127.0.0.1:$port/" | grep -E "Requests/sec|Latency|requests in|Non-2xx"
    if [ "${3:-}" = outage ]; then
        kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
        echo "== $1, Redis stopped (load: $(cut -d' ' -f1-3 /proc/loadavg))"
        wrk -t2 -c"$connections" -d"${seconds}s" -H "Host: hello.localhost" "http://127.0.0.1:$port/" | grep -E "Requests/sec|Latency|requests in|Non-2xx"
    fi
    kill "$gw"; wait "$gw" 2>/dev/null || true
}

run sled "[store]
path = \"$work/store\""
run redis "[store]
backend = \"redis\"
single_replica = true" outage
