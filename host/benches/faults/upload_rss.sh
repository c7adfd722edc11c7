#!/bin/sh
# Usage: upload_rss.sh PAASTIS_BINARY [chunked]
# 12 parallel 63 MB PUT /policies uploads; prints the gateway's VmRSS before,
# its peak (VmHWM) and VmRSS after, and the statuses.
set -eu
BIN=$1
MODE=${2:-length}
DIR=$(mktemp -d)
mkdir "$DIR/policies"
head -c 66060288 /dev/zero > "$DIR/big.wasm"   # 63 MiB
cat > "$DIR/paastis.toml" <<TOML
[server]
listen = "127.0.0.1:0"
domain = "localhost"
[store]
path = "$DIR/store"
[policy]
dir = "$DIR/policies"
[admin]
listen = "127.0.0.1:0"
TOML
PAASTIS_TEST_EXEC_AS_PAASTIS=1 RUST_LOG=info "$BIN" --log-format json serve --config "$DIR/paastis.toml" 2> "$DIR/log" &
PID=$!
until grep -q '"message":"admin listening"' "$DIR/log"; do sleep 0.1; done
ADDR=$(grep '"message":"admin listening"' "$DIR/log" | head -1 | sed 's/.*"addr":"\([^"]*\)".*/\1/')
curl -s -o /dev/null "http://$ADDR/healthz"
rss() { grep "^$1:" /proc/$PID/status | awk '{print int($2/1024) " MiB"}'; }
echo "before: $(rss VmRSS)"
EXTRA=""
[ "$MODE" = chunked ] && EXTRA="-H Transfer-Encoding:chunked"
i=0
while [ $i -lt 12 ]; do
  curl -s -o /dev/null -w '%{http_code}\n' $EXTRA -X PUT --data-binary @"$DIR/big.wasm" "http://$ADDR/policies/p$i" >> "$DIR/statuses" &
  i=$((i + 1))
done
wait_all() { while [ "$(wc -l < "$DIR/statuses" 2>/dev/null || echo 0)" -lt 12 ]; do sleep 0.2; done; }
wait_all
sleep 2
echo "peak:   $(rss VmHWM)"
echo "after:  $(rss VmRSS)"
echo "statuses:"; sort "$DIR/statuses" | uniq -c
kill $PID; wait $PID 2>/dev/null || true
rm -rf "$DIR"
