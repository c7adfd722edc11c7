# Shared by the side-by-side bench scripts (vs_nginx.sh, ab.sh); sourced,
# not run. After sourcing: $work is a fresh directory, removed at exit with
# every process whose pid the script adds to `pids`.

work=$(mktemp -d "${TMPDIR:-/tmp}/${BENCH_NAME:-bench}.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # url [curl args...]
    local url=$1; shift
    for _ in $(seq 1 200); do
        if curl -fsk -o /dev/null "$@" "$url"; then return 0; fi
        sleep 0.05
    done
    echo "nothing answers at $url" >&2
    return 1
}

user=""
[ "$(id -u)" -eq 0 ] && user="user root;"

# The upstream every gateway proxies to: one nginx worker, a 20-byte body, no
# access log (it is nobody's cost here).
upstream_conf() { # port dir
    mkdir -p "$2"
    cat > "$2/nginx.conf" <<EOF
$user
worker_processes 1;
pid $2/nginx.pid;
error_log $2/error.log;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $2; proxy_temp_path $2; fastcgi_temp_path $2; uwsgi_temp_path $2; scgi_temp_path $2;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location / { default_type text/plain; return 200 "hello from upstream\n"; }
    }
}
EOF
}

# "user+system user" CPU clock ticks of a process so far (its threads
# included, its children not).
process_ticks() { # pid
    awk '{ print $14 + $15, $14 }' "/proc/$1/stat"
}

# A gateway's config for the benches: its listener and store, no admin API,
# TABLES as given (the [policy] tables, an HTTPS listener...), and the one
# app, "bench": the nginx of upstream_conf, run as a process app.
gateway_conf() { # listen-port dir upstream-port upstream-dir [TABLES]
    cat <<EOF
[server]
listen = "127.0.0.1:$1"
domain = "localhost"
[store]
path = "$2/store"
[admin]
enabled = false
${5:-}
[[apps]]
name = "bench"
backend = "process"
command = ["nginx", "-c", "$4/nginx.conf", "-g", "daemon off;"]
port = $3
ready_path = "/"
EOF
}

# The [policy] tables of a bench gateway: the policy called on every
# request unless POLICY=false, an idle timeout no run reaches, and PARAMS
# (more lines of params) when given.
policy_tables() { # [PARAMS]
    printf '[policy]\ncall_on_request = %s\n[policy.params]\nidle_timeout = "24h"\n%s' "${POLICY:-true}" "${1:-}"
}

# Starts BIN as a gateway serving the bench app (its own nginx upstream),
# config, store and log in DIR, TABLES in its config (see gateway_conf),
# RUST_LOG and RUST_BACKTRACE unset; returns once it answers. Sets
# started_pid, started_port and started_upstream_port; the pid goes to
# `pids`.
start_gateway() { # dir bin [TABLES]
    mkdir -p "$1/up"
    started_upstream_port=$(free_port)
    started_port=$(free_port)
    upstream_conf "$started_upstream_port" "$1/up"
    gateway_conf "$started_port" "$1" "$started_upstream_port" "$1/up" "${3:-}" > "$1/paastis.toml"
    env -u RUST_LOG -u RUST_BACKTRACE "$2" serve --config "$1/paastis.toml" 2> "$1/log" &
    started_pid=$!
    pids+=("$started_pid")
    wait_for "http://127.0.0.1:$started_port/" -H 'Host: bench.localhost' \
        || { echo "the gateway $2 does not answer; its log: $1/log" >&2; return 1; }
}
