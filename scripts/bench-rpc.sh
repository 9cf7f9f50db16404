#!/usr/bin/env bash
# Benchmark of per-user filtering over RabbitMQ (issue 3; not a test: it exits 0 once it has
# run). See docs/performance.md, "Filtering over RabbitMQ", for figures and how to read them.
#
#   scripts/bench-rpc.sh                  # release builds, a broker node of its own, every measurement
#   BENCH_SKIP_BUILD=1 scripts/bench-rpc.sh
#   BENCH_SHARED_BROKER=1 scripts/bench-rpc.sh   # the shared node in $FILTER_RABBITMQ_DIR instead
#
# In one run, with 4 KiB messages:
#   - pass-through: smtp-source (20 sessions) -> filterd server (no --amqp) -> smtp-sink;
#   - bare RPC: rpc-bench (Sources/rpc-bench) publishes requests as filterd server does
#     (persistent, mandatory, confirmed; 20 in flight), one client per owner replies as filterd
#     client does (confirmed, then acknowledged); for 1 and 10 owners;
#   - filtering, for 1 and 10 subscribed owners (one `filterd client` each, empty pipeline):
#     smtp-source (20 sessions split over the owners) -> filterd server --amqp -> RabbitMQ ->
#     clients -> replies -> smtp-sink. Messages/s end to end (every message at the sink, the
#     spool empty), and p50/p99 decision latency from the server's "Owner decided" log lines
#     (filter.decision.ms: from acceptance to the valid reply); then a paced load at half that
#     rate (scripts/bench/paced.py) for the latency below saturation.
# For every loaded phase it also prints CPU time per message (utime + stime from /proc) of
# filterd server, the clients, rpc-bench and the broker, and how busy the whole VM was
# (/proc/stat), since other work on a shared machine moves the rates.
#
# The broker: by default a node of its own (scripts/rabbitmq-instance.sh, node filterd-bench,
# AMQP 15702, management 15703, distribution 15704, data under .build/bench/rabbitmq), started
# if it is not running and stopped at the end if this script started it. With
# BENCH_SHARED_BROKER=1 it uses the node in $FILTER_RABBITMQ_DIR (default
# /work/rabbitmq-shared) on its usual ports, and never stops it. Either way the users, queues
# and the server id carry a random suffix and are removed at the end.
#
# Environment: BENCH_MESSAGES (5000), BENCH_RPC_COUNT (5000), BENCH_SESSIONS (20),
# BENCH_PREFETCH (20, each client's), BENCH_PACED_SECONDS (10), BENCH_SKIP_BUILD,
# BENCH_FILTERD (the filterd binary, for A/B runs of two builds; default the release build),
# BENCH_PIKA (set: also run the bare RPC with pika, scripts/bench/rpc_pika.py, for comparison),
# BENCH_SHARED_BROKER, BENCH_RABBITMQ_PORT (15702), BENCH_RABBITMQ_MANAGEMENT_PORT (15703),
# BENCH_RABBITMQ_DIST_PORT (15704).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh
repository=$(pwd)
export PATH="$PATH:/usr/sbin:/sbin"

messages=${BENCH_MESSAGES:-5000}
rpc_count=${BENCH_RPC_COUNT:-5000}
sessions=${BENCH_SESSIONS:-20}
prefetch=${BENCH_PREFETCH:-20}
paced_seconds=${BENCH_PACED_SECONDS:-10}
size=4096

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    for product in filterd filterctl rpc-bench; do
        echo "== swift build -c release --product $product"
        swift build -c release --product "$product"
    done
fi
bin=$(swift build -c release --show-bin-path)
for product in filterd filterctl rpc-bench; do
    [[ -x "$bin/$product" ]] || { echo "bench-rpc.sh: $bin/$product is missing; build it first" >&2; exit 1; }
done
filterd=${BENCH_FILTERD:-$bin/filterd}

mkdir -p "$repository/.build/bench"
work=$(mktemp -d "$repository/.build/bench/rpc.XXXXXX")
dumps=$(mktemp -d /dev/shm/filterd-bench-rpc.XXXXXX)
chmod 0777 "$dumps"
pids=()
suffix=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
server_id=bench-$suffix
owners=()
for index in $(seq 0 9); do
    owners+=("bench$index-$suffix@bench.example.test")
done

if [[ -n "${BENCH_SHARED_BROKER:-}" ]]; then
    broker_dir=${FILTER_RABBITMQ_DIR:-/work/rabbitmq-shared}
    broker_kind="shared node ($broker_dir)"
else
    broker_dir=$repository/.build/bench/rabbitmq
    export FILTER_RABBITMQ_NODENAME=filterd-bench
    export FILTER_RABBITMQ_PORT=${BENCH_RABBITMQ_PORT:-15702}
    export FILTER_RABBITMQ_MANAGEMENT_PORT=${BENCH_RABBITMQ_MANAGEMENT_PORT:-15703}
    export FILTER_RABBITMQ_DIST_PORT=${BENCH_RABBITMQ_DIST_PORT:-15704}
    broker_kind="own node filterd-bench"
fi
amqp_port=${FILTER_RABBITMQ_PORT:-15682}
management_port=${FILTER_RABBITMQ_MANAGEMENT_PORT:-15683}
rabbitmq() { scripts/rabbitmq-instance.sh "$@"; }
broker_started=""

cleanup() {
    local pid owner
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -s "$work/users-created" ]]; then
        while read -r owner; do
            filterctl user remove "$owner" >/dev/null 2>&1 || true
        done <"$work/users-created"
        rabbitmq ctl "$broker_dir" --quiet delete_queue "mailfilter.server.$server_id" >/dev/null 2>&1 || true
        rabbitmq ctl "$broker_dir" --quiet delete_user "filterd-$server_id" >/dev/null 2>&1 || true
    fi
    if [[ -n "$broker_started" ]]; then
        rabbitmq stop "$broker_dir" || true
    fi
    rm -rf "$work" "$dumps"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_name=bench-rpc.sh

json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

clock_ticks=$(getconf CLK_TCK)
# cpu_ms PID...: user + system CPU time of the processes so far, in milliseconds.
cpu_ms() {
    local pid total=0
    for pid in "$@"; do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo $((total * 1000 / clock_ticks))
}
# machine_ticks: "busy total" jiffies of all CPUs (/proc/stat), for how busy the VM was.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
# busy_percent "BUSY TOTAL" "BUSY TOTAL": the machine's CPU use between two machine_ticks.
busy_percent() { python3 -c "import sys; a, b = map(int, sys.argv[1].split()); c, d = map(int, sys.argv[2].split()); print(round(100 * (c - a) / max(1, d - b)))" "$1" "$2"; }

# start_server PORT NEXT_HOP_PORT SPOOL LOG [--amqp ...]: filterd server; sets server_pid.
start_server() {
    local port=$1 next_hop=$2 spool=$3 log=$4 level=warning
    shift 4
    (($# == 0)) || level=info # info: the "Owner decided" lines carry the decision latency
    mkdir -p "$spool"
    printf 'log_level: %s\n' "$level" >"$work/server-$level.yaml"
    "$filterd" server --listen "127.0.0.1:$port" --next-hop "127.0.0.1:$next_hop" --spool "$spool" \
        --hostname bench.example.test --config "$work/server-$level.yaml" "$@" 2>>"$log" &
    server_pid=$!
    pids+=("$server_pid")
    wait_listening "$port"
}

# smtp_load PORT COUNT OWNER_COUNT: COUNT messages from $sessions sessions, split evenly over
# the first OWNER_COUNT owners (one smtp-source per owner).
smtp_load() {
    local port=$1 count=$2 owner_count=$3 index loaders=()
    for ((index = 0; index < owner_count; index++)); do
        smtp-source -d -s $((sessions / owner_count)) -m $((count / owner_count)) -l "$size" \
            -f bench@example.test -t "${owners[$index]}" -M bench.example.test -S benchmark "127.0.0.1:$port" &
        loaders+=($!)
    done
    for index in "${loaders[@]}"; do
        wait "$index"
    done
}

# decision_latency LOG FROM_LINE: p50/p99 of filter.decision.ms after line FROM_LINE, as JSON.
decision_latency() {
    tail -n +"$(($2 + 1))" "$1" | python3 -c '
import json, re, sys
values = sorted(float(m.group(1)) for m in (re.search(r"filter\.decision\.ms=([0-9.]+)", l) for l in sys.stdin if "Owner decided" in l) if m)
def percentile(p):
    return values[min(len(values) - 1, max(0, -int(-len(values) * p // 1) - 1))] if values else 0
print(json.dumps({"decisions": len(values), "p50_ms": round(percentile(0.50), 1), "p99_ms": round(percentile(0.99), 1)}))'
}

declare -A result

echo "== broker: $broker_kind"
if [[ -z "${BENCH_SHARED_BROKER:-}" ]] && ! FILTER_RABBITMQ_DIR="$broker_dir" rabbitmq ctl "$broker_dir" --quiet ping >/dev/null 2>&1; then
    broker_started=yes
fi
rabbitmq start "$broker_dir"
export FILTERCTL_MANAGEMENT_PASSWORD
FILTERCTL_MANAGEMENT_PASSWORD=$(<"$broker_dir/admin-password")
filterctl() {
    "$bin/filterctl" "$1" "${@:2}" --amqp "amqp://filteradmin@127.0.0.1:$amqp_port/%2F" \
        --management "http://filteradmin@127.0.0.1:$management_port"
}
(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$work/password")
filterctl setup --server-id "$server_id" --server-password-file "$work/password" >/dev/null
for owner in "${owners[@]}"; do
    echo "$owner" >>"$work/users-created"
    filterctl user add "$owner" --password-file "$work/password" >/dev/null
done
rabbitmq_version=$(rabbitmq ctl "$broker_dir" --quiet version 2>/dev/null || echo unknown)
broker_pid=$(<"$broker_dir/rabbitmq.pid")

amqp_url() { python3 -c "import sys, urllib.parse; print('amqp://%s@127.0.0.1:%s/%%2F' % (urllib.parse.quote(sys.argv[1], safe=''), sys.argv[2]))" "$1" "$amqp_port"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Baseline 1: pass-through.
echo "== pass-through: $messages messages, $sessions sessions, filterd server without --amqp"
sink_port=$(free_port)
filter_port=$(free_port)
start_sink "$sink_port" "$dumps/pass"
start_server "$filter_port" "$sink_port" "$work/spool-pass" "$work/server-pass.log"
cpu_before=$(cpu_ms "$server_pid")
ticks_before=$(machine_ticks)
start=$(now)
smtp_load "$filter_port" "$messages" 1
wait_delivered "$dumps/pass" "$messages" "$work/spool-pass"
finished=$(now)
result[pass]=$(calc "round($messages / ($finished - $start), 1)")
result[pass.cpu]=$(calc "round(($(cpu_ms "$server_pid") - $cpu_before) / $messages, 3)")
result[pass.busy]=$(busy_percent "$ticks_before" "$(machine_ticks)")
stop_process "$server_pid"
stop_process "$sink_pid"
rm -rf "${dumps:?}/pass" "$work/spool-pass"

# Baseline 2: bare RPC.
for users in 1 10; do
    echo "== bare RPC: $rpc_count round trips, 20 in flight, $users owner(s), prefetch $prefetch"
    list=$(IFS=,; echo "${owners[*]:0:$users}")
    broker_before=$(cpu_ms "$broker_pid")
    ticks_before=$(machine_ticks)
    /usr/bin/time -f '%U %S' -o "$work/rpc-bench.time" "$bin/rpc-bench" --broker "127.0.0.1:$amqp_port" \
        --password-file "$work/password" --server-user "filterd-$server_id" --server-id "$server_id" \
        --owners "$list" --count "$rpc_count" --concurrency 20 --prefetch "$prefetch" --size "$size" >"$work/rpc-bench.out"
    output=$(<"$work/rpc-bench.out")
    echo "   $output"
    total=$((rpc_count + 200))
    result[rpc.$users.busy]=$(busy_percent "$ticks_before" "$(machine_ticks)")
    result[rpc.$users.cpu.broker]=$(calc "round(($(cpu_ms "$broker_pid") - $broker_before) / $total, 3)")
    result[rpc.$users.cpu.rpc]=$(calc "round(1000 * sum(map(float, '$(<"$work/rpc-bench.time")'.split())) / $total, 3)")
    if [[ -n "${BENCH_PIKA:-}" ]]; then
        pika=$(/usr/bin/python3 scripts/bench/rpc_pika.py --port "$amqp_port" --password-file "$work/password" \
            --server-user "filterd-$server_id" --server-id "$server_id" --owners "$list" \
            --count "$rpc_count" --concurrency 20 --prefetch "$prefetch" --size "$size")
        echo "   pika: $pika"
        result[pika.$users]=$(json_field "$pika" rate)
    fi
    result[rpc.$users]=$(json_field "$output" rate)
    result[rpc.$users.p50]=$(json_field "$output" p50_ms)
    result[rpc.$users.p99]=$(json_field "$output" p99_ms)
done

# Filtering over RabbitMQ.
server_url=$(amqp_url "filterd-$server_id")
for users in 1 10; do
    echo "== filtering: $messages messages, $sessions sessions, $users subscribed owner(s), one filterd client each"
    clients=()
    for ((index = 0; index < users; index++)); do
        "$filterd" client --amqp "$(amqp_url "${owners[$index]}")" --amqp-password-file "$work/password" \
            --address "${owners[$index]}" --prefetch "$prefetch" --log-level warning 2>>"$work/clients.log" &
        clients+=($!)
        pids+=($!)
    done
    for ((index = 0; index < users; index++)); do
        tries=0
        # The listing is read whole before grep looks at it: `grep -q` stops at the first
        # match, and under pipefail the SIGPIPE that gives rabbitmqctl would fail the check.
        until grep -q "^mailfilter\.user\.${owners[$index]//./\\.}[[:space:]]\+1$" <<<"$(
            rabbitmq ctl "$broker_dir" --quiet list_queues name consumers 2>/dev/null)"; do
            tries=$((tries + 1))
            ((tries < 100)) || {
                echo "bench-rpc.sh: no client consumes ${owners[$index]}'s queue; the clients' log ends:" >&2
                tail -n 20 "$work/clients.log" >&2
                kill -0 "${clients[$index]}" 2>/dev/null || echo "bench-rpc.sh: that client has exited" >&2
                exit 1
            }
            sleep 0.2
        done
    done
    sink_port=$(free_port)
    filter_port=$(free_port)
    log=$work/server-rpc-$users.log
    start_sink "$sink_port" "$dumps/rpc-$users"
    start_server "$filter_port" "$sink_port" "$work/spool-rpc-$users" "$log" \
        --amqp "$server_url" --amqp-password-file "$work/password" --server-id "$server_id"
    server_before=$(cpu_ms "$server_pid")
    clients_before=$(cpu_ms "${clients[@]}")
    broker_before=$(cpu_ms "$broker_pid")
    ticks_before=$(machine_ticks)
    start=$(now)
    smtp_load "$filter_port" "$messages" "$users"
    accepted=$(now)
    wait_delivered "$dumps/rpc-$users" "$messages" "$work/spool-rpc-$users"
    finished=$(now)
    result[filter.$users.busy]=$(busy_percent "$ticks_before" "$(machine_ticks)")
    result[filter.$users.cpu.server]=$(calc "round(($(cpu_ms "$server_pid") - $server_before) / $messages, 3)")
    result[filter.$users.cpu.clients]=$(calc "round(($(cpu_ms "${clients[@]}") - $clients_before) / $messages, 3)")
    result[filter.$users.cpu.broker]=$(calc "round(($(cpu_ms "$broker_pid") - $broker_before) / $messages, 3)")
    result[filter.$users]=$(calc "round($messages / ($finished - $start), 1)")
    result[filter.$users.accept]=$(calc "round($messages / ($accepted - $start), 1)")
    latency=$(decision_latency "$log" 0)
    echo "   $messages messages in $(calc "round($finished - $start, 2)") s; decision latency $latency"
    result[filter.$users.p50]=$(json_field "$latency" p50_ms)
    result[filter.$users.p99]=$(json_field "$latency" p99_ms)
    result[filter.$users.decisions]=$(json_field "$latency" decisions)

    rate=$(calc "round(${result[filter.$users]} / 2, 1)")
    count=$(calc "int($rate * $paced_seconds)")
    echo "== filtering at half that rate: $count messages at $rate msg/s, $users owner(s)"
    lines=$(wc -l <"$log")
    paced_owners=$(IFS=,; echo "${owners[*]:0:$users}")
    paced=$(python3 scripts/bench/paced.py --port "$filter_port" --count "$count" --rate "$rate" \
        --connections "$sessions" --size "$size" --recipients "$paced_owners")
    wait_delivered "$dumps/rpc-$users" $((messages + count)) "$work/spool-rpc-$users"
    latency=$(decision_latency "$log" "$lines")
    echo "   load $paced; decision latency $latency"
    result[half.$users.rate]=$(json_field "$paced" rate)
    result[half.$users.p50]=$(json_field "$latency" p50_ms)
    result[half.$users.p99]=$(json_field "$latency" p99_ms)
    result[half.$users.decisions]=$(json_field "$latency" decisions)
    result[half.$users.sent]=$(json_field "$paced" sent)

    stop_process "$server_pid"
    for index in "${clients[@]}"; do
        stop_process "$index"
    done
    stop_process "$sink_pid"
    rm -rf "${dumps:?}/rpc-$users" "$work/spool-rpc-$users"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "filterd RPC benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $load_before before, $load_after after"
echo "broker: $broker_kind, RabbitMQ $rabbitmq_version; 4 KiB messages, $sessions SMTP sessions, prefetch $prefetch"
echo "pass-through (no --amqp): ${result[pass]} msg/s"
printf '%-6s %10s %14s %14s %7s %12s %12s %12s %12s %12s\n' owners "RPC msg/s" "RPC p50/p99" "filter msg/s" ratio "accept msg/s" "dec p50/p99" "half msg/s" "half p50" "half p99"
for users in 1 10; do
    result[ratio.$users]=$(calc "round(${result[filter.$users]} / ${result[rpc.$users]}, 2)")
    printf '%-6s %10s %14s %14s %7s %12s %12s %12s %11sms %11sms\n' "$users" "${result[rpc.$users]}" \
        "${result[rpc.$users.p50]}/${result[rpc.$users.p99]}" "${result[filter.$users]}" "${result[ratio.$users]}" \
        "${result[filter.$users.accept]}" "${result[filter.$users.p50]}/${result[filter.$users.p99]}" \
        "${result[half.$users.rate]}" "${result[half.$users.p50]}" "${result[half.$users.p99]}"
done
for users in 1 10; do
    echo "decisions logged ($users owner(s)): ${result[filter.$users.decisions]} of $messages at full rate, ${result[half.$users.decisions]} of ${result[half.$users.sent]} at half rate"
done
echo "CPU ms per message (machine busy): pass-through filterd ${result[pass.cpu]} (${result[pass.busy]} %)"
for users in 1 10; do
    echo "  $users owner(s): bare RPC: rpc-bench ${result[rpc.$users.cpu.rpc]}, broker ${result[rpc.$users.cpu.broker]} (${result[rpc.$users.busy]} %);" \
        "filtering: filterd server ${result[filter.$users.cpu.server]}, clients ${result[filter.$users.cpu.clients]}, broker ${result[filter.$users.cpu.broker]} (${result[filter.$users.busy]} %)"
done
[[ -z "${BENCH_PIKA:-}" ]] || echo "bare RPC with pika (rpc_pika.py): 1 owner ${result[pika.1]} msg/s, 10 owners ${result[pika.10]} msg/s"
echo "filter / pass-through: 1 owner $(calc "round(${result[filter.1]} / ${result[pass]}, 2)"), 10 owners $(calc "round(${result[filter.10]} / ${result[pass]}, 2)")"
for users in 1 10; do
    echo "target ($users owner(s)) filter >= 0.5 x bare RPC: $(verdict "${result[ratio.$users]} >= 0.5") (${result[ratio.$users]})"
    echo "target ($users owner(s)) p99 decision latency < 50 ms at half rate: $(verdict "${result[half.$users.p99]} < 50") (${result[half.$users.p99]} ms)"
done
exit 0
