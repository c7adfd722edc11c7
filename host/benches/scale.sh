#!/usr/bin/env bash
# The gateway at scale, on this machine: APPS process apps configured (the
# built-in demo app), the default policy on its default tick.
# - RSS of the gateway once started and idle, after a few ticks;
# - the wall time of a whole tick over every app (paastis_tick_duration_seconds
#   from /metrics: mean and the bucket of the slowest), and whether any tick
#   failed (/healthz alerts);
# - RSS once WAKE apps have been woken (one request each, 64 at a time), and
#   the tick again: apart, the ticks while they boot, and the ticks once
#   settled (from TICKS seconds after the last one answered).
#
#   host/benches/scale.sh                # APPS=10000 WAKE=1000
#   APPS=10000 WAKE=1000 PAASTIS=path/to/paastis host/benches/scale.sh
#
# RUST_BACKTRACE is unset for the gateway. Bounded by TIMEOUT seconds.
set -euo pipefail

APPS=${APPS:-10000}
WAKE=${WAKE:-1000}
TICKS=${TICKS:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PAASTIS:-$root/target/release/paastis}
if [ -z "${PAASTIS:-}" ]; then
    (cd "$root" && cargo build --quiet --release --locked -p paastis)
fi
TIMEOUT=${TIMEOUT:-900}
# shellcheck source=common/bounded.sh
. "$(dirname "$0")/common/bounded.sh"
bounded "$TIMEOUT" "$0" "$@"

work=$(mktemp -d "${TMPDIR:-/tmp}/paastis-scale.XXXXXX")
gateway=""
cleanup() {
    if [ -n "$gateway" ]; then
        kill "$gateway" 2>/dev/null || true
        # A graceful stop puts every app to sleep first.
        for _ in $(seq 1 600); do kill -0 "$gateway" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$gateway" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
admin=$(free_port)
{
    printf '[server]\nlisten = "127.0.0.1:%s"\ndomain = "localhost"\n' "$port"
    printf '[store]\npath = "%s/store"\n[admin]\nlisten = "127.0.0.1:%s"\n' "$work" "$admin"
    printf '[policy]\ntick = "1s"\n[policy.params]\nidle_timeout = "1h"\n'
    for i in $(seq 0 $((APPS - 1))); do
        printf '[[apps]]\nname = "app%s"\nbackend = "process"\n' "$i"
        printf 'command = ["%s", "demo-app", "--name", "app%s", "--port", "{port}"]\nwake_timeout = "300s"\n' "$bin" "$i"
    done
} > "$work/paastis.toml"

env -u RUST_BACKTRACE -u RUST_LOG "$bin" serve --config "$work/paastis.toml" 2> "$work/log" &
gateway=$!
for _ in $(seq 1 600); do
    curl -fs -o /dev/null "http://127.0.0.1:$admin/healthz" && break
    sleep 0.1
done

# total (anonymous + file-backed): the file part is mostly the binary's own
# code, paged in from the page cache, which the kernel can drop; the
# anonymous part is the gateway's memory proper.
rss() {
    awk '/^VmRSS/ { t = $2 } /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 }
         END { printf "%.1f (anon %.1f + file %.1f)", t / 1024, a / 1024, f / 1024 }' "/proc/$gateway/status"
}
# mean ms of the ticks since the `from` sum and count, and the upper bound
# of the bucket holding the slowest tick since the start
ticks() {
    curl -fs "http://127.0.0.1:$admin/metrics" | awk -v from_sum="$1" -v from_count="$2" '
        /^paastis_tick_duration_seconds_sum/ { sum = $2 }
        /^paastis_tick_duration_seconds_count/ { count = $2 }
        /^paastis_tick_duration_seconds_bucket/ {
            match($0, /le="[^"]*"/); le[++k] = substr($0, RSTART + 4, RLENGTH - 5); n[k] = $2
        }
        END {
            slowest = "?"
            for (i = 1; i <= k; i++) if (n[i] == count) { slowest = le[i]; break }
            mean = count > from_count ? sprintf("%.2f", (sum - from_sum) / (count - from_count) * 1000) : "nan"
            print mean, slowest, sum, count
        }'
}
# /healthz on one line (it answers pretty-printed JSON), for the table
health() { curl -fs "http://127.0.0.1:$admin/healthz" | tr -d '\n' | tr -s ' '; }

sleep "$TICKS"
rss_idle=$(rss)
read -r tick_idle slowest_idle sum count < <(ticks 0 0)
health_idle=$(health)

started=$(date +%s.%N)
seq 0 $((WAKE - 1)) | xargs -P 64 -I{} curl -s -o /dev/null -m 300 -H "Host: app{}.localhost" "http://127.0.0.1:$port/"
woke=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
# Ticks while the apps boot share two cores with a thousand starting
# processes (load in the hundreds): reported apart from the settled ones.
read -r tick_waking _ sum count < <(ticks "$sum" "$count")
sleep "$TICKS"
read -r _ _ sum count < <(ticks 0 0)
sleep "$TICKS"
rss_awake=$(rss)
read -r tick_awake slowest_awake _ _ < <(ticks "$sum" "$count")
health_awake=$(health)

echo "Paastis at scale, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), RUST_BACKTRACE unset"
echo
echo "| apps | awake | gateway RSS MiB | tick mean ms | slowest tick ≤ s (since start) | /healthz |"
echo "|------|-------|-----------------|--------------|--------------------------------|----------|"
echo "| $APPS | 0 | $rss_idle | $tick_idle | $slowest_idle | $health_idle |"
echo "| $APPS | $WAKE (woken in ${woke}s; ticks meanwhile: mean $tick_waking ms) | $rss_awake | $tick_awake | $slowest_awake | $health_awake |"
