#!/usr/bin/env bash
# Client pipeline throughput (issue 5; a benchmark, not a test: it exits 0 once it has run).
# See docs/performance.md, "Client pipeline throughput".
#
#   scripts/bench-pipeline.sh                    # release build of pipeline-bench, then the run
#   BENCH_SKIP_BUILD=1 scripts/bench-pipeline.sh
#   BENCH_SKIP_BUILD=1 BENCH_PIPELINE_BENCH=/tmp/pipeline-bench-old scripts/bench-pipeline.sh   # A/B of another build
#
# One run, one process (Sources/pipeline-bench), on the MIME benchmark's corpus
# (scripts/bench/mime_corpus.py: realistic text, HTML alternative and attachment messages,
# ~50 kB on average) with the envelope senders and the pipeline of scripts/bench/pipeline_config.py
# (sender-list with 1040 entries, rules with 20 rules, webhook posting the JSON summary to a
# local receiver, scripts/bench/http_receiver.py, answering 200 {}). It runs the same requests
# through an empty pipeline (the baseline), the pipeline without its webhook, the whole
# pipeline, and then posts summary-sized bodies straight to the receiver with URLSession (the
# webhook's baseline), and prints messages/s, CPU per message, end-to-end and per-processor
# p50/p99 and the ratios.
#
# Environment: BENCH_PIPELINE_MESSAGES (200, corpus size), BENCH_PIPELINE_SEED (5),
# BENCH_PIPELINE_REQUESTS (3000 per phase), BENCH_PIPELINE_CONCURRENCY (8, the client's default
# prefetch), BENCH_PIPELINE_WARMUP (300), BENCH_PIPELINE_BENCH (the pipeline-bench binary; default
# the release build's), BENCH_SKIP_BUILD.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repository=$(pwd)
bench_name=bench-pipeline.sh
pids=()
source scripts/bench/common.sh

messages=${BENCH_PIPELINE_MESSAGES:-200}
seed=${BENCH_PIPELINE_SEED:-5}
requests=${BENCH_PIPELINE_REQUESTS:-3000}
concurrency=${BENCH_PIPELINE_CONCURRENCY:-8}
warmup=${BENCH_PIPELINE_WARMUP:-300}

cleanup() {
    for pid in "${pids[@]}"; do stop_process "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    echo "== swift build -c release --product pipeline-bench"
    swift build -c release --product pipeline-bench
fi
bench=${BENCH_PIPELINE_BENCH:-$(swift build -c release --show-bin-path)/pipeline-bench}
[[ -x "$bench" ]] || { echo "$bench_name: $bench is missing; build it first" >&2; exit 1; }

corpus=$repository/.build/bench/mime-corpus-$messages-$seed
if [[ ! -f "$corpus/.complete" ]]; then
    rm -rf "$corpus"
    python3 scripts/bench/mime_corpus.py "$corpus" "$messages" "$seed"
    touch "$corpus/.complete"
fi
echo "== corpus: $corpus ($(find "$corpus" -name '*.eml' | wc -l) messages, $(cat "$corpus"/*.eml | wc -c) bytes)"

port=$(free_port)
python3 scripts/bench/http_receiver.py "$port" &
receiver_pid=$!
pids+=("$receiver_pid")
wait_listening "$port"
receiver=http://127.0.0.1:$port/mail

setup=$repository/.build/bench/pipeline
echo "== pipeline: $(python3 scripts/bench/pipeline_config.py "$setup" "$receiver")"

echo "== pipeline-bench, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" "$corpus" --config "$setup/pipeline.json" --senders "$setup/senders.txt" --receiver "$receiver" \
    --requests "$requests" --concurrency "$concurrency" --warmup "$warmup"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_process "$receiver_pid"
