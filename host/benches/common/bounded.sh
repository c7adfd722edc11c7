# Sourced by the bench scripts once their settings are read: `bounded`
# runs the script again under `timeout SECONDS`, once (a variable named
# after the script says that it already runs so), so that no bench outlives
# its bound.
bounded() { # seconds script [args...]
    local var
    var=BENCH_BOUNDED_$(basename "$2" .sh)
    if [ -z "${!var:-}" ]; then
        export "$var=1"
        exec timeout --kill-after=10 "$1" "${@:2}"
    fi
}
