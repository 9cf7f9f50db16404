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
read -r sink_user_before sink_system_before < <(awk '{ print $14, $15 }' "/proc/$sink_pid/stat")
if [[ -n "${BENCH_DIRECT:-}" ]]; then
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$work/source.time" smtp-source -d -s 20 -m "$count" -l "$size" -f bench@example.test \
        -t sink@example.test -M bench.example.test -S benchmark "127.0.0.1:$sink_port"
    while (($(find "$dumps" -maxdepth 1 -type f | wc -l) < count)); do sleep 0.02; done
    finished=$(date +%s.%N)
    read -r sink_user_after sink_system_after < <(awk '{ print $14, $15 }' "/proc/$sink_pid/stat")
    python3 - "$count" "$(getconf CLK_TCK)" "$sink_user_before" "$sink_system_before" "$sink_user_after" \
        "$sink_system_after" "$(cat "$work/source.time")" "$start" "$finished" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import sys
count, tick = int(sys.argv[1]), int(sys.argv[2])
sink = (int(sys.argv[5]) - int(sys.argv[3]) + int(sys.argv[6]) - int(sys.argv[4])) / tick
source = sum(map(float, sys.argv[7].split()))
start, finished = map(float, sys.argv[8:10])
print(f"direct, messages {count}: smtp-source {source / count * 1000:.3f} ms, smtp-sink {sink / count * 1000:.3f} ms"
      f" CPU per message; {count / (finished - start):.0f}/s; load {sys.argv[10]}")
PY
    exit 0
fi
printf 'log_level: warning\n%s' "${BENCH_EXTRA_CONFIG:-}" >"$work/filterd.yaml"
"$filterd" server --listen "127.0.0.1:$filter_port" --next-hop "127.0.0.1:$sink_port" --spool "$work/spool" \
    --hostname bench.example.test --config "$work/filterd.yaml" 2>>"$work/filterd.log" &
filterd_pid=$!
pids+=("$filterd_pid")
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $filter_port), 1).close()" 2>/dev/null; do
    sleep 0.05
done
read -r user_before system_before < <(awk '{ print $14, $15 }' "/proc/$filterd_pid/stat")
start=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$work/source.time" smtp-source -d -s 20 -m "$count" -l "$size" -f bench@example.test \
    -t sink@example.test -M bench.example.test -S benchmark "127.0.0.1:$filter_port"
accepted=$(date +%s.%N)
while (($(find "$dumps" -maxdepth 1 -type f | wc -l) < count)) || [[ -n "$(ls -A "$work/spool/queue")" ]]; do
    sleep 0.02
done
finished=$(date +%s.%N)
read -r user_after system_after < <(awk '{ print $14, $15 }' "/proc/$filterd_pid/stat")
read -r sink_user_after sink_system_after < <(awk '{ print $14, $15 }' "/proc/$sink_pid/stat")
python3 - "$count" "$(getconf CLK_TCK)" "$user_before" "$system_before" "$user_after" "$system_after" \
    "$start" "$accepted" "$finished" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$sink_user_before" "$sink_system_before" "$sink_user_after" "$sink_system_after" "$(cat "$work/source.time")" <<'PY'
import sys
count, tick = int(sys.argv[1]), int(sys.argv[2])
user = (int(sys.argv[5]) - int(sys.argv[3])) / tick
system = (int(sys.argv[6]) - int(sys.argv[4])) / tick
start, accepted, finished = map(float, sys.argv[7:10])
sink = (int(sys.argv[13]) - int(sys.argv[11]) + int(sys.argv[14]) - int(sys.argv[12])) / tick
source = sum(map(float, sys.argv[15].split()))
print(f"messages {count}: user {user:.2f} s, system {system:.2f} s, CPU per message {(user + system) / count * 1000:.3f} ms"
      f" (user {user / count * 1000:.3f}, system {system / count * 1000:.3f}); end to end {count / (finished - start):.0f}/s,"
      f" accept {count / (accepted - start):.0f}/s; smtp-source {source / count * 1000:.3f} ms, smtp-sink"
      f" {sink / count * 1000:.3f} ms per message; load {sys.argv[10]}")
PY
