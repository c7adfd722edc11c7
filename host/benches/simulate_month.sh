#!/bin/sh
# Times `paastis simulate` on a generated month of traffic: LINES requests
# (default 1,000,000) in vhost-combined format over 30 days for 5 apps, busy
# in the daytime and quiet at night, so that apps do sleep and wake.
#
#   cargo build --release && host/benches/simulate_month.sh [LINES] [-- simulate flags]
#
# The log is written once to $TMPDIR/paastis-simulate-month-LINES.log.
set -eu
lines=${1:-1000000}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PAASTIS:-$root/target/release/paastis}
log=${TMPDIR:-/tmp}/paastis-simulate-month-$lines.log
if [ ! -s "$log" ]; then
    # Random times, sorted, then written as log lines.
    awk -v lines="$lines" 'BEGIN {
        srand(42);
        start = 1793491200;              # 2026-11-01T00:00:00Z
        # Daytime (8h-20h UTC) gets 9 lines in 10; the night the rest.
        for (i = 0; i < lines; i++) {
            day = int(i * 30 / lines);
            if (rand() < 0.9) { sec = 8 * 3600 + int(rand() * 12 * 3600) } else { sec = (20 * 3600 + int(rand() * 12 * 3600)) % 86400 }
            print start + day * 86400 + sec;
        }
    }' | sort -n | awk 'BEGIN { srand(7); split("www api shop docs admin", app, " "); start = 1793491200 }
    {
        s = $1 - start; d = int(s / 86400) + 1; r = s % 86400; i = NR;
        a = app[1 + int(rand() * rand() * 5)];
        printf "%s.example.com:443 203.0.113.%d - - [%02d/Nov/2026:%02d:%02d:%02d +0000] \"GET /page/%d?q=%d HTTP/1.1\" 200 %d \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n",
            a, i % 250, d, int(r / 3600), int(r % 3600 / 60), r % 60, i % 997, i, 500 + i % 5000;
    }' > "$log"
fi
echo "log: $log ($(wc -l < "$log") lines)"
/usr/bin/time -f "wall %es, max RSS %MkB" "$bin" simulate --access-log "$log" "$@"
