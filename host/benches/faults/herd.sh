#!/bin/sh
# Usage: herd.sh PAASTIS_BINARY [N] [EDGE_TOML]
# N (200) concurrent requests to a sleeping `python3 -m http.server` (listen
# backlog 5); prints the statuses, the first and last answer times and the
# slowest connect to the gateway.
set -eu
BIN=$1
N=${2:-200}
EDGE=${3:-}
DIR=$(mktemp -d)
mkdir "$DIR/www"; echo hello > "$DIR/www/index.html"
cat > "$DIR/paastis.toml" <<TOML
[server]
listen = "127.0.0.1:0"
domain = "localhost"
[store]
path = "$DIR/store"
[admin]
enabled = false
[edge]
$EDGE
[[apps]]
name = "py"
backend = "process"
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", "$DIR/www"]
wake_timeout = "60s"
TOML
PAASTIS_TEST_EXEC_AS_PAASTIS=1 RUST_LOG=info "$BIN" --log-format json serve --config "$DIR/paastis.toml" 2> "$DIR/log" &
PID=$!
until grep -q '"message":"listening"' "$DIR/log"; do sleep 0.1; done
ADDR=$(grep '"message":"listening"' "$DIR/log" | head -1 | sed 's/.*"addr":"\([^"]*\)".*/\1/')
seq "$N" | xargs -P "$N" -I{} curl -s -o /dev/null -m 60 -w '%{http_code} %{time_total} %{time_connect}\n' -H 'Host: py.localhost' "http://$ADDR/?i={}" > "$DIR/out" || true
kill $PID; wait $PID 2>/dev/null || true
echo "statuses:"; awk '{print $1}' "$DIR/out" | sort | uniq -c
sort -n -k2 "$DIR/out" | awk 'NR==1{first=$2} {last=$2} END{printf "first answer %.2f s, last %.2f s, spread %.2f s\n", first, last, last-first}'
# A slow answer with a quick connect waited inside: in the gateway, or on an
# app whose accept queue overflowed (TCP then backs off resending to it).
sort -n -k3 "$DIR/out" | awk '{last=$3} END{printf "slowest connect to the gateway %.3f s\n", last}'
grep -o '"wake_ms":"[^"]*"' "$DIR/log" | head -1
rm -rf "$DIR"
