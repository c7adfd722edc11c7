#!/bin/sh
# Usage: accept_limit.sh PAASTIS_BINARY [EXTRA_EDGE_TOML]
# The gateway under a 128 open files limit, 300 client connections opened
# at once and held for 5 s: prints the accept warnings logged meanwhile, and
# how many of the connections were served (a request on each, answered 404:
# no app is configured); the others wait in the listen backlog (or in SYN
# retransmits once the backlog is full). EXTRA_EDGE_TOML is appended under [edge] (for example
# "max_connections = 1000", to push a build that has the key into EMFILE).
set -eu
BIN=$1
EXTRA=${2:-}
DIR=$(mktemp -d)
cat > "$DIR/paastis.toml" <<TOML
[server]
listen = "127.0.0.1:0"
domain = "localhost"
[store]
path = "$DIR/store"
[admin]
enabled = false
[edge]
$EXTRA
TOML
PAASTIS_TEST_EXEC_AS_PAASTIS=1 RUST_LOG=info prlimit --nofile=128:128 "$BIN" --log-format json serve --config "$DIR/paastis.toml" 2> "$DIR/log" &
PID=$!
until grep -q '"message":"listening"' "$DIR/log"; do sleep 0.1; done
ADDR=$(grep '"message":"listening"' "$DIR/log" | head -1 | sed 's/.*"addr":"\([^"]*\)".*/\1/')
python3 - "$ADDR" <<'PY'
import asyncio, sys
host, port = sys.argv[1].rsplit(":", 1)
async def one(answered):
    try:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET / HTTP/1.1\r\nHost: nothing.localhost\r\n\r\n")
        await writer.drain()
        if (await reader.readline()).startswith(b"HTTP/1.1"):
            answered.append(1)
        await asyncio.sleep(3600)  # held open, idle
    except (OSError, asyncio.CancelledError):
        pass
async def main():
    answered = []
    tasks = [asyncio.create_task(one(answered)) for _ in range(300)]
    await asyncio.sleep(5)
    print(f"served within 5 s: {len(answered)} of {len(tasks)}")
    for task in tasks:
        task.cancel()
asyncio.run(main())
PY
kill $PID; wait $PID 2>/dev/null || true
echo "accept warnings in the log: $(grep -c '"level":"WARN".*accept failed\|"level":"WARN".*connection limit reached' "$DIR/log" || true)"
grep -o '"max_connections":[0-9]*' "$DIR/log" | head -1 || true
rm -rf "$DIR"
