#!/usr/bin/env bash
# CPU time filterd spends per message (utime + stime from /proc/PID/stat, divided by the
# message count), which other processes on a shared machine disturb far less than rates.
#
#   scripts/bench/cpu-per-message.sh [FILTERD [COUNT [SIZE]]]
#
# Defaults: .build/release/filterd, 3000 messages, 4096 octets; 20 smtp-source sessions
# through filterd (fresh spool under .build/bench) to smtp-sink (dumps in /dev/shm). Prints
# one line: messages, user and system seconds, CPU per message, end-to-end and accept rates,
# and the CPU per message of smtp-source and smtp-sink (together: what the direct path costs).
# BENCH_DIRECT=1: no filterd; smtp-source sends straight to smtp-sink and only the tools'
# CPU is printed (the load generator and the sink share the machine's cores with filterd).
# BENCH_EXTRA_CONFIG: more lines for filterd's configuration file, e.g. to compare a run with
# the web console on: BENCH_EXTRA_CONFIG=$'web:\n  listen: 127.0.0.1:0\n'.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="$PATH:/usr/sbin:/sbin"
filterd=${1:-.build/release/filterd}
count=${2:-3000}
size=${3:-4096}
mkdir -p .build/bench
work=$(mktemp -d "$(pwd)/.build/bench/cpu.XXXXXX")
dumps=$(mktemp -d /dev/shm/filterd-cpu.XXXXXX)
chmod 0777 "$dumps"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work" "$dumps"
}
trap cleanup EXIT
sink_port=$(python3 scripts/bench/freeport.py)
filter_port=$(python3 scripts/bench/freeport.py)
smtp-sink -u nobody -d "$dumps/m." "127.0.0.1:$sink_port" 256 &
pids+=($!)
sink_pid=${pids[-1]}
# ticks PID: utime and stime of PID, in clock ticks.
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
read -r sink_user_before sink_system_before < <(ticks "$sink_pid")
target_port=$sink_port
if [[ -z "${BENCH_DIRECT:-}" ]]; then
    printf 'log_level: warning\n%s' "${BENCH_EXTRA_CONFIG:-}" >"$work/filterd.yaml"
    "$filterd" server --listen "127.0.0.1:$filter_port" --next-hop "127.0.0.1:$sink_port" --spool "$work/spool" \
        --hostname bench.example.test --config "$work/filterd.yaml" 2>>"$work/filterd.log" &
    filterd_pid=$!
    pids+=("$filterd_pid")
    until python3 -c "import socket; socket.create_connection(('127.0.0.1', $filter_port), 1).close()" 2>/dev/null; do
        sleep 0.05
    done
    target_port=$filter_port
    read -r user_before system_before < <(ticks "$filterd_pid")
fi
start=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$work/source.time" smtp-source -d -s 20 -m "$count" -l "$size" -f bench@example.test \
    -t sink@example.test -M bench.example.test -S benchmark "127.0.0.1:$target_port"
accepted=$(date +%s.%N)
while (($(find "$dumps" -maxdepth 1 -type f | wc -l) < count)) || [[ -d "$work/spool/queue" && -n "$(ls -A "$work/spool/queue")" ]]; do
    sleep 0.02
done
finished=$(date +%s.%N)
read -r sink_user_after sink_system_after < <(ticks "$sink_pid")
filterd_ticks=()
if [[ -z "${BENCH_DIRECT:-}" ]]; then
    read -r user_after system_after < <(ticks "$filterd_pid")
    filterd_ticks=("$user_before" "$system_before" "$user_after" "$system_after")
fi
python3 - "$count" "$(getconf CLK_TCK)" "$start" "$accepted" "$finished" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(cat "$work/source.time")" "$sink_user_before" "$sink_system_before" "$sink_user_after" "$sink_system_after" \
    "${filterd_ticks[@]}" <<'PY'
import sys
count, tick = int(sys.argv[1]), int(sys.argv[2])
start, accepted, finished = map(float, sys.argv[3:6])
source = sum(map(float, sys.argv[7].split()))
sink_before_user, sink_before_system, sink_after_user, sink_after_system = map(int, sys.argv[8:12])
sink = (sink_after_user - sink_before_user + sink_after_system - sink_before_system) / tick
tools = (f"smtp-source {source / count * 1000:.3f} ms, smtp-sink {sink / count * 1000:.3f} ms per message;"
         f" load {sys.argv[6]}")
if len(sys.argv) == 12:
    print(f"direct, messages {count}: {count / (finished - start):.0f}/s; {tools}")
else:
    user_before, system_before, user_after, system_after = map(int, sys.argv[12:16])
    user, system = (user_after - user_before) / tick, (system_after - system_before) / tick
    print(f"messages {count}: user {user:.2f} s, system {system:.2f} s, CPU per message {(user + system) / count * 1000:.3f} ms"
          f" (user {user / count * 1000:.3f}, system {system / count * 1000:.3f}); end to end {count / (finished - start):.0f}/s,"
          f" accept {count / (accepted - start):.0f}/s; {tools}")
PY
