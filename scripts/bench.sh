#!/usr/bin/env bash
# Throughput, latency and memory benchmark of `filterd server` (not a test; always exits 0
# once it has run). See docs/performance.md for the figures and how to read them.
#
#   scripts/bench.sh                 # build release, run everything, print a summary table
#   BENCH_SKIP_BUILD=1 scripts/bench.sh
#
# For 4 KiB and 1 MiB messages it sends the same smtp-source load (20 sessions, each reusing
# its connection) (a) directly to smtp-sink and (b) through filterd (durable spool in a fresh
# directory under .build/bench, on the same disk as the repository) to smtp-sink, and prints
# messages/s for both. The filter path is measured end to end: until every message has
# reached the sink and the spool is empty. scripts/bench/latency.py then sends messages one
# by one through each path to its own sink and reports the p50/p99 latency the filter adds.
# Finally one 50 MiB message goes through a fresh filterd, whose peak RSS (VmHWM) is compared
# with 3 x the message size.
#
# Environment: BENCH_MESSAGES_4K (5000), BENCH_MESSAGES_1M (300), BENCH_SESSIONS (20),
# BENCH_LATENCY_COUNT (200 for 4 KiB; a quarter of it for 1 MiB), BENCH_SKIP_BUILD.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh
repository=$(pwd)
export PATH="$PATH:/usr/sbin:/sbin"

messages_4k=${BENCH_MESSAGES_4K:-5000}
messages_1m=${BENCH_MESSAGES_1M:-300}
sessions=${BENCH_SESSIONS:-20}
latency_count=${BENCH_LATENCY_COUNT:-200}
big_size=$((50 * 1024 * 1024))

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    echo "== swift build -c release --product filterd"
    swift build -c release --product filterd
fi
filterd="$(swift build -c release --show-bin-path)/filterd"
[[ -x "$filterd" ]] || { echo "bench.sh: $filterd is missing; build it first" >&2; exit 1; }

# Spools on the repository's disk; sink dumps in memory (/dev/shm) so that writing them
# costs both paths the same and does not compete with the spool's fsyncs.
mkdir -p "$repository/.build/bench"
work=$(mktemp -d "$repository/.build/bench/run.XXXXXX")
dumps=$(mktemp -d /dev/shm/filterd-bench.XXXXXX)
chmod 0777 "$dumps"
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work" "$dumps"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_name=bench.sh

# start_filterd PORT NEXT_HOP_PORT SPOOL: sets filterd_pid.
start_filterd() {
    mkdir -p "$3"
    printf 'log_level: warning\n' >"$work/filterd.yaml"
    "$filterd" server --listen "127.0.0.1:$1" --next-hop "127.0.0.1:$2" --spool "$3" \
        --hostname bench.example.test --config "$work/filterd.yaml" 2>>"$work/filterd.log" &
    filterd_pid=$!
    pids+=("$filterd_pid")
    wait_listening "$1"
}

peak_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# smtp_load PORT COUNT SIZE
smtp_load() {
    smtp-source -d -s "$sessions" -m "$2" -l "$3" -f bench@example.test -t sink@example.test \
        -M bench.example.test -S benchmark "127.0.0.1:$1"
}

declare -A result

# throughput LABEL COUNT SIZE
throughput() {
    local label=$1 count=$2 size=$3 sink_port filter_port start accepted finished
    echo "== $label: $count messages, $sessions sessions, direct to smtp-sink"
    sink_port=$(free_port)
    start_sink "$sink_port" "$dumps/$label-direct"
    start=$(now)
    smtp_load "$sink_port" "$count" "$size"
    finished=$(now)
    [[ $(count_files "$dumps/$label-direct") -eq $count ]] || echo "bench.sh: smtp-sink has $(count_files "$dumps/$label-direct") of $count" >&2
    result[$label.direct]=$(calc "round($count / ($finished - $start), 1)")
    stop_process "$sink_pid"
    rm -rf "${dumps:?}/$label-direct"

    echo "== $label: $count messages, $sessions sessions, through filterd to smtp-sink"
    sink_port=$(free_port)
    filter_port=$(free_port)
    start_sink "$sink_port" "$dumps/$label-filter"
    start_filterd "$filter_port" "$sink_port" "$work/spool-$label"
    start=$(now)
    smtp_load "$filter_port" "$count" "$size"
    accepted=$(now)
    wait_delivered "$dumps/$label-filter" "$count" "$work/spool-$label"
    finished=$(now)
    result[$label.filter]=$(calc "round($count / ($finished - $start), 1)")
    result[$label.accept]=$(calc "round($count / ($accepted - $start), 1)")
    result[$label.ratio]=$(calc "round(${result[$label.filter]} / ${result[$label.direct]}, 2)")
    result[$label.rss]=$(peak_rss_kib "$filterd_pid")
    stop_process "$filterd_pid"
    stop_process "$sink_pid"
    rm -rf "${dumps:?}/$label-filter" "$work/spool-$label"
}

# latency LABEL COUNT SIZE: p50/p99 of each path, one message at a time.
latency() {
    local label=$1 count=$2 size=$3 sink_port filter_port direct filter
    echo "== $label: latency of $count messages sent one by one, direct and through filterd"
    sink_port=$(free_port)
    direct=$(python3 scripts/bench/latency.py --sink-port "$sink_port" --send-port "$sink_port" --count "$count" --size "$size")
    sink_port=$(free_port)
    filter_port=$(free_port)
    start_filterd "$filter_port" "$sink_port" "$work/spool-$label-latency"
    filter=$(python3 scripts/bench/latency.py --sink-port "$sink_port" --send-port "$filter_port" --count "$count" --size "$size")
    stop_process "$filterd_pid"
    rm -rf "$work/spool-$label-latency"
    echo "   direct: $direct"
    echo "   filter: $filter"
    local field
    for field in p50_ms p99_ms; do
        result[$label.direct.$field]=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['$field'])" "$direct")
        result[$label.filter.$field]=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['$field'])" "$filter")
        result[$label.added.$field]=$(calc "round(${result[$label.filter.$field]} - ${result[$label.direct.$field]}, 2)")
    done
}

big_message() {
    local sink_port filter_port start finished
    echo "== 50 MiB: one message through a fresh filterd"
    sink_port=$(free_port)
    filter_port=$(free_port)
    start_sink "$sink_port" "$dumps/big"
    start_filterd "$filter_port" "$sink_port" "$work/spool-big"
    result[big.idle]=$(peak_rss_kib "$filterd_pid")
    start=$(now)
    smtp-source -s 1 -m 1 -l "$big_size" -f bench@example.test -t sink@example.test \
        -M bench.example.test -S big "127.0.0.1:$filter_port"
    wait_delivered "$dumps/big" 1 "$work/spool-big"
    finished=$(now)
    result[big.seconds]=$(calc "round($finished - $start, 2)")
    result[big.rss]=$(peak_rss_kib "$filterd_pid")
    stop_process "$filterd_pid"
    stop_process "$sink_pid"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
throughput 4k "$messages_4k" 4096
throughput 1m "$messages_1m" 1048576
latency 4k "$latency_count" 4096
latency 1m $((latency_count / 4)) 1048576
big_message
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

rss_mib=$(calc "round(${result[big.rss]} / 1024, 1)")
limit_mib=$(calc "round(3 * $big_size / 1048576, 1)")

echo
echo "filterd benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $load_before before, $load_after after"
printf '%-8s %12s %12s %8s %14s %12s %12s %12s\n' size "direct msg/s" "filter msg/s" ratio "filter accept" "added p50" "added p99" "filter RSS"
for label in 4k 1m; do
    printf '%-8s %12s %12s %8s %14s %11sms %11sms %9s MiB\n' "$label" "${result[$label.direct]}" "${result[$label.filter]}" \
        "${result[$label.ratio]}" "${result[$label.accept]}" "${result[$label.added.p50_ms]}" "${result[$label.added.p99_ms]}" \
        "$(calc "round(${result[$label.rss]} / 1024, 1)")"
done
echo "latency one by one (ms): 4k direct p50/p99 ${result[4k.direct.p50_ms]}/${result[4k.direct.p99_ms]}, filter ${result[4k.filter.p50_ms]}/${result[4k.filter.p99_ms]}; 1m direct ${result[1m.direct.p50_ms]}/${result[1m.direct.p99_ms]}, filter ${result[1m.filter.p50_ms]}/${result[1m.filter.p99_ms]}"
echo "50 MiB message: filterd peak RSS $rss_mib MiB (idle $(calc "round(${result[big.idle]} / 1024, 1)") MiB), limit 3 x size = $limit_mib MiB, end to end ${result[big.seconds]} s"
echo "target 4 KiB filter >= 0.5 x direct: $(verdict "${result[4k.ratio]} >= 0.5") (${result[4k.ratio]})"
echo "target 50 MiB peak RSS < 3 x size:   $(verdict "${result[big.rss]} * 1024 < 3 * $big_size") ($rss_mib MiB < $limit_mib MiB)"
exit 0
