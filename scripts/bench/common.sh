# Shell helpers shared by the benchmark scripts (scripts/bench*.sh) and
# Examples/CustomProcessor/run-example.sh; sourced, not run.
# Expects the caller to keep started process ids in the array "pids" (its cleanup kills them)
# and to name itself in "bench_name" for messages.

# Swift from /opt/swift when it is not on PATH (a fresh machine).
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

now() { date +%s.%N; }
free_port() { python3 scripts/bench/freeport.py; }
calc() { python3 -c "print($1)"; }
verdict() { if python3 -c "import sys; sys.exit(0 if $1 else 1)"; then echo met; else echo MISSED; fi; }

# wait_listening PORT: until something accepts on 127.0.0.1:PORT (at most 15 s).
wait_listening() {
    local port=$1 tries=0
    until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" 2>/dev/null; do
        tries=$((tries + 1))
        ((tries < 300)) || { echo "$bench_name: nothing listens on port $port" >&2; return 1; }
        sleep 0.05
    done
}

# start_sink PORT DIR: smtp-sink dumping each message to DIR; sets sink_pid.
start_sink() {
    mkdir -p "$2" && chmod 0777 "$2"
    smtp-sink -u nobody -d "$2/m." "127.0.0.1:$1" 256 &
    sink_pid=$!
    pids+=("$sink_pid")
    wait_listening "$1"
}

stop_process() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

count_files() { find "$1" -maxdepth 1 -type f | wc -l; }

# wait_delivered DUMP_DIR COUNT SPOOL: until COUNT messages are at the sink and the spool's
# queue is empty (at most 600 s).
wait_delivered() {
    local deadline=$(($(date +%s) + 600))
    while (($(count_files "$1") < $2)) || [[ -n "$(ls -A "$3/queue")" ]]; do
        (($(date +%s) < deadline)) || { echo "$bench_name: delivery incomplete: $(count_files "$1") of $2" >&2; return 1; }
        sleep 0.05
    done
}
