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
