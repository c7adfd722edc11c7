#!/usr/bin/env bash
# Paastis next to nginx, side by side in one run, on this machine:
# - an nginx upstream answering a 20-byte body;
# - nginx as a reverse proxy in front of it (`worker_processes auto`,
#   upstream `keepalive 1024`: the fair peer for a gateway that uses every
#   core), plain HTTP, HTTPS (TLS 1.3, h2 and http/1.1 by ALPN) and h2c;
# - Paastis in front of the same upstream configuration: with the inactivity
#   policy on every request, without the policy call, with office-hours, and
#   with the policy and RUST_BACKTRACE=1 (which must make no difference);
# - the hyper floor (host/examples/hyper_floor.rs): the least a reverse proxy
#   on Paastis's stack (hyper 1, hyper-util, tokio, jemalloc) costs, in front
#   of the nginx proxy's upstream, plain HTTP and h2c: `floor` with
#   hyper-util's pooled legacy Client, `floor-conn` with hyper's connection
#   API and a small pool as Paastis's upstream client; `floor-conn` also
#   terminates TLS as Paastis does (rustls on ring), for HTTPS and h2. What
#   separates `floor-conn` from `no-policy` is Paastis's own proxy;
#   `floor-conn` from nginx, the stack. The floors write no log at all.
# Rounds are interleaved (every server, then the next round, in a rotating
# order) so that the machine's load hits them alike: wrk -c32 and -c256
# (h1), wrk over HTTPS, h2load -c32 -m10 over h2 (TLS) and h2c. CPU per
# request is each server's own CPU time (from /proc, its upstream excluded)
# over the requests it answered, and its user-space part apart (the kernel's
# share is much the same for every server). Medians of the rounds are
# printed as a table with the ratios to nginx.
#
#   host/benches/vs_nginx.sh            # builds target/release/paastis and the floor
#   ROUNDS=3 SECS=10 PAASTIS=path/to/paastis host/benches/vs_nginx.sh
#   FLOOR=path/to/hyper_floor PAASTIS=... host/benches/vs_nginx.sh
#
# FLOOR names a built floor; without it the script builds it
# (`cargo build --release --locked -p paastis --example hyper_floor`, into
# target/release/examples/; set CARGO_PROFILE_RELEASE_SPLIT_DEBUGINFO as the
# release build of the gateway was, or every dependency builds again).
#
# Each Paastis gateway runs the upstream as its app's process (a process app
# owns its port), with the same nginx configuration as the upstream of the
# nginx proxy; only one server is under load at a time. Log settings are the
# defaults of both: nginx writes its access log to a file, Paastis its access
# line (RUST_LOG unset: info) to stderr, redirected to a file.
# RUST_BACKTRACE is unset for every Paastis except the one that tests it.
# The whole run is bounded by TIMEOUT seconds (default: enough for the rounds
# plus a margin). Needs nginx, wrk, h2load (nghttp2-client) and openssl:
# installed with apt-get when missing.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
WARMUP=${WARMUP:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)

missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing ${missing[*]}" >&2
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bin=${PAASTIS:-$root/target/release/paastis}
if [ -z "${PAASTIS:-}" ]; then
    (cd "$root" && cargo build --quiet --release --locked -p paastis)
fi
floor=${FLOOR:-$root/target/release/examples/hyper_floor}
if [ -z "${FLOOR:-}" ]; then
    (cd "$root" && cargo build --quiet --release --locked -p paastis --example hyper_floor)
fi
office_hours=$root/target/policies/wasm32-wasip2/release/paastis_policy_office_hours.wasm
(cd "$root" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS cargo build --quiet --locked --release \
    --target wasm32-wasip2 -p paastis-policy-office-hours --target-dir target/policies \
    --config profile.release.debug=false --config profile.release.lto=true \
    --config 'profile.release.opt-level="s"' --config profile.release.codegen-units=1)

# Rounds, warm-ups and starts, with a margin; the whole run never exceeds it.
# h1: 7 servers x 2; https and h2: nginx, floor-conn and paastis; h2c: nginx,
# paastis and 2 floors.
scenarios_per_round=24
TIMEOUT=${TIMEOUT:-$(( ROUNDS * scenarios_per_round * (SECS + WARMUP + 5) + 120 ))}
# shellcheck source=common/bounded.sh
. "$(dirname "$0")/common/bounded.sh"
bounded "$TIMEOUT" "$0" "$@"

BENCH_NAME=vs-nginx
# shellcheck source=common/harness.sh
. "$(dirname "$0")/common/harness.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,DNS:*.localhost,IP:127.0.0.1" \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

up_port=$(free_port)
upstream_conf "$up_port" "$work/upstream"
nginx -c "$work/upstream/nginx.conf" -g "daemon off;" &
pids+=($!)

np_plain=$(free_port); np_tls=$(free_port); np_h2c=$(free_port)
mkdir -p "$work/proxy"
cat > "$work/proxy/nginx.conf" <<EOF
$user
worker_processes auto;
pid $work/proxy/nginx.pid;
error_log $work/proxy/error.log;
events { worker_connections 8192; }
http {
    access_log $work/proxy/access.log;
    client_body_temp_path $work/proxy; proxy_temp_path $work/proxy; fastcgi_temp_path $work/proxy;
    uwsgi_temp_path $work/proxy; scgi_temp_path $work/proxy;
    keepalive_requests 10000000;
    upstream app { server 127.0.0.1:$up_port; keepalive 1024; keepalive_requests 10000000; }
    server {
        listen 127.0.0.1:$np_plain backlog=4096;
        listen 127.0.0.1:$np_tls ssl http2 backlog=4096;
        listen 127.0.0.1:$np_h2c http2 backlog=4096;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.3;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
nginx -c "$work/proxy/nginx.conf" -g "daemon off;" &
nginx_pid=$!
pids+=("$nginx_pid")

# name call_on_request policy-line params backtrace
declare -A plain_port tls_port gateway_pid
start_paastis() {
    local name=$1 on_request=$2 policy=$3 params=$4 backtrace=$5
    local dir=$work/$name port
    port=$(free_port)
    plain_port[$name]=$(free_port)
    tls_port[$name]=$(free_port)
    upstream_conf "$port" "$dir/upstream"
    gateway_conf "${plain_port[$name]}" "$dir" "$port" "$dir/upstream" "[policy]
call_on_request = $on_request
$policy
[policy.params]
idle_timeout = \"24h\"
$params
[[edge.https]]
listen = \"127.0.0.1:${tls_port[$name]}\"
certs = [{ cert = \"$work/cert.pem\", key = \"$work/key.pem\" }]" > "$dir/paastis.toml"
    if [ "$backtrace" = 1 ]; then
        env -u RUST_LOG RUST_BACKTRACE=1 "$bin" serve --config "$dir/paastis.toml" 2> "$dir/log" &
    else
        env -u RUST_LOG -u RUST_BACKTRACE "$bin" serve --config "$dir/paastis.toml" 2> "$dir/log" &
    fi
    gateway_pid[$name]=$!
    pids+=($!)
}

start_paastis paastis true "" "" 0
start_paastis no-policy false "" "" 0
start_paastis office-hours true "default = \"$office_hours\"" \
    'timezone = "UTC"
open = "00:00"
close = "00:00"
days = "Mon-Sun"' 0
start_paastis backtrace true "" "" 1

# name client [tls]: a hyper floor in front of the nginx proxy's upstream,
# with a TLS listener on the bench's certificate if asked.
start_floor() {
    local tls=()
    plain_port[$1]=$(free_port)
    if [ "${3:-}" = tls ]; then
        tls_port[$1]=$(free_port)
        tls=("127.0.0.1:${tls_port[$1]}" "$work/cert.pem" "$work/key.pem")
    fi
    "$floor" "127.0.0.1:${plain_port[$1]}" "127.0.0.1:$up_port" "$2" "${tls[@]}" 2> "$work/$1.log" &
    gateway_pid[$1]=$!
    pids+=($!)
}
start_floor floor legacy
start_floor floor-conn conn tls

wait_for "http://127.0.0.1:$np_plain/"
for name in "${!plain_port[@]}"; do
    # The first request wakes the app (its nginx); a floor has none.
    wait_for "http://127.0.0.1:${plain_port[$name]}/" -H "Host: bench.localhost"
done

cpu_ticks() { # pid: "user system" clock ticks of the process and, for nginx, its workers
    local user=0 system=0 pid u s
    for pid in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
        if [ "$1" = "$nginx_pid" ] || [ "$pid" = "$1" ]; then
            # Only nginx's workers are counted with it; a gateway's child is
            # its app (a floor has no child).
            read -r u s < <(awk '{print $14, $15}' "/proc/$pid/stat" 2>/dev/null || echo 0 0)
            user=$(( user + u )); system=$(( system + s ))
        fi
    done
    echo "$user $system"
}
hz=$(getconf CLK_TCK)

to_ms() { # 1.23ms | 456.00us | 1.2s -> ms
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

results=$work/results.tsv
: > "$results"
# scenario server: one measured run, appended to $results as
# scenario server reqs/s p50_ms p99_ms cpu_us_per_request
measure() {
    local scenario=$1 server=$2 pid port tls host=() out reqs p50 p99 before after requests
    if [ "$server" = nginx ]; then
        pid=$nginx_pid
        case $scenario in h1-*) port=$np_plain ;; https-* | h2-*) port=$np_tls ;; h2c-*) port=$np_h2c ;; esac
    else
        pid=${gateway_pid[$server]}
        host=(-H "Host: bench.localhost")
        case $scenario in h1-* | h2c-*) port=${plain_port[$server]} ;; *) port=${tls_port[$server]} ;; esac
    fi
    case $scenario in
        h1-c32 | h1-c256)
            local c=${scenario#h1-c} url="http://127.0.0.1:$port/"
            timeout $((WARMUP + 10)) wrk -t1 -c"$c" -d"${WARMUP}s" "${host[@]}" "$url" >/dev/null
            before=$(cpu_ticks "$pid")
            out=$(timeout $((SECS + 10)) wrk -t1 -c"$c" -d"${SECS}s" --latency "${host[@]}" "$url")
            after=$(cpu_ticks "$pid")
            ;;
        https-c32)
            local url="https://127.0.0.1:$port/"
            timeout $((WARMUP + 10)) wrk -t1 -c32 -d"${WARMUP}s" "${host[@]}" "$url" >/dev/null
            before=$(cpu_ticks "$pid")
            out=$(timeout $((SECS + 10)) wrk -t1 -c32 -d"${SECS}s" --latency "${host[@]}" "$url")
            after=$(cpu_ticks "$pid")
            ;;
        h2-c32m10 | h2c-c32m10)
            local scheme=https url
            [ "${scenario%%-*}" = h2c ] && scheme=http
            url="$scheme://127.0.0.1:$port/"
            local authority=()
            [ "$server" != nginx ] && authority=(-H ":authority: bench.localhost")
            timeout $((WARMUP + 10)) h2load -c32 -m10 -t1 -D "$WARMUP" "${authority[@]}" "$url" >/dev/null
            before=$(cpu_ticks "$pid")
            out=$(timeout $((SECS + 10)) h2load -c32 -m10 -t1 -D "$SECS" --log-file="$work/h2.log" "${authority[@]}" "$url")
            after=$(cpu_ticks "$pid")
            ;;
    esac
    case $scenario in
        h2*)
            reqs=$(echo "$out" | awk '/^finished in/ { gsub(",", "", $4); print $4 }')
            local done_ok; done_ok=$(echo "$out" | awk '/^requests:/ { print $8 }')
            read -r p50 p99 < <(awk '{ print $3 }' "$work/h2.log" | sort -n | awk '{ v[NR] = $1 } END {
                if (NR == 0) { print "nan nan"; exit }
                printf "%.3f %.3f\n", v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000 }')
            requests=$done_ok
            ;;
        *)
            reqs=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
            p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
            p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
            requests=$(echo "$out" | awk '/requests in/ { print $1 }')
            if echo "$out" | grep -q "Non-2xx"; then
                echo "warning: $server $scenario: $(echo "$out" | grep Non-2xx)" >&2
            fi
            ;;
    esac
    local cpu_us user_us
    # The user part apart: the kernel's share (sockets, wakeups) is much the
    # same for every server; what a proxy adds of its own shows in user time.
    read -r cpu_us user_us < <(echo "$before $after" | awk -v hz="$hz" -v n="${requests:-0}" \
        '{ if (n > 0) printf "%.1f %.1f\n", ($3 + $4 - $1 - $2) / hz * 1e6 / n, ($3 - $1) / hz * 1e6 / n; else print "nan nan" }')
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$scenario" "$server" "${reqs:-0}" "$p50" "$p99" "$cpu_us" "$user_us" >> "$results"
    printf "  %-12s %-13s %10s req/s  p50 %7s ms  p99 %7s ms  %7s µs CPU/req (user %s)\n" \
        "$scenario" "$server" "${reqs:-0}" "$p50" "$p99" "$cpu_us" "$user_us" >&2
}

h1_servers=(nginx floor floor-conn no-policy paastis office-hours backtrace)
tls_servers=(nginx floor-conn paastis)
h2c_servers=(nginx floor floor-conn paastis)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round/$ROUNDS (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    for scenario in h1-c32 h1-c256 https-c32 h2-c32m10 h2c-c32m10; do
        case $scenario in
            h1-*) servers=("${h1_servers[@]}") ;;
            h2c-*) servers=("${h2c_servers[@]}") ;;
            *) servers=("${tls_servers[@]}") ;;
        esac
        # Rotate the order every round: none always runs first or last.
        n=${#servers[@]}
        for i in $(seq 0 $((n - 1))); do
            measure "$scenario" "${servers[$(( (i + round - 1) % n ))]}"
        done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "Paastis vs nginx, $(nproc) cores, medians of $ROUNDS rounds of ${SECS}s, load average at the end: $load_end"
echo "(RUST_BACKTRACE unset except for 'backtrace'; default log settings for both)"
echo "(floor, floor-conn: host/examples/hyper_floor.rs, hyper + tokio (+ rustls for floor-conn's TLS) forwarding alone, legacy Client / conn API, no log)"
echo
awk -F'\t' '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        key = $1 SUBSEP $2
        if (!(key in seen)) { seen[key] = 1; order[++count] = key }
        rps[key] = rps[key] " " $3; p50[key] = p50[key] " " $4; p99[key] = p99[key] " " $5; cpu[key] = cpu[key] " " $6
        usr[key] = usr[key] " " $7
    }
    END {
        printf "| %-11s | %-12s | %9s | %8s | %8s | %11s | %12s | %12s | %12s |\n", "scenario", "server", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "user µs/req", "req/s vs nginx", "CPU vs nginx"
        printf "|-------------|--------------|-----------|----------|----------|-------------|--------------|----------------|--------------|\n"
        for (i = 1; i <= count; i++) {
            split(order[i], k, SUBSEP)
            base = k[1] SUBSEP "nginx"
            r = median(rps[order[i]]); c = median(cpu[order[i]])
            rb = median(rps[base]); cb = median(cpu[base])
            printf "| %-11s | %-12s | %9.0f | %8.3f | %8.3f | %11.1f | %12.1f | %13.2fx | %11.2fx |\n", k[1], k[2], r, median(p50[order[i]]), median(p99[order[i]]), c, median(usr[order[i]]), (rb > 0 ? r / rb : 0), (cb > 0 ? c / cb : 0)
        }
    }' "$results"
