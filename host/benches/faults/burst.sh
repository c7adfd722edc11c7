#!/bin/sh
# Usage: burst.sh PAASTIS_BINARY
# 200 requests paced over 4 s to an app whose command exits at once; prints
# the spawns, the wake_failed log lines and the statuses seen.
set -eu
BIN=$1
DIR=$(mktemp -d)
cat > "$DIR/paastis.toml" <<TOML
[server]
listen = "127.0.0.1:0"
domain = "localhost"
[store]
path = "$DIR/store"
[admin]
enabled = false
[[apps]]
name = "crashy"
backend = "process"
command = ["/bin/sh", "-c", "exit 3"]
TOML
PAASTIS_TEST_EXEC_AS_PAASTIS=1 RUST_LOG=info "$BIN" --log-format json serve --config "$DIR/paastis.toml" 2> "$DIR/log" &
PID=$!
until grep -q '"message":"listening"' "$DIR/log"; do sleep 0.1; done
ADDR=$(grep '"message":"listening"' "$DIR/log" | head -1 | sed 's/.*"addr":"\([^"]*\)".*/\1/')
i=0
while [ $i -lt 200 ]; do
  curl -s -o /dev/null -w '%{http_code} %header{retry-after}\n' -H 'Host: crashy.localhost' "http://$ADDR/" >> "$DIR/statuses" &
  sleep 0.02
  i=$((i + 1))
done
wait_curls() { while [ "$(wc -l < "$DIR/statuses")" -lt 200 ]; do sleep 0.1; done; }
wait_curls
sleep 1
kill $PID; wait $PID 2>/dev/null || true
echo "spawns: $(grep -c '"message":"app process started"' "$DIR/log" || true)"
echo "wake failed lines: $(grep -c '"message":"wake failed"' "$DIR/log" || true)"
echo "answers (status retry-after):"; sort "$DIR/statuses" | uniq -c | sort -rn | head -5
rm -rf "$DIR"
