#!/usr/bin/env bash
# MIME view parse rate next to Python's email package (issue 5; a benchmark, not a test: it
# exits 0 once it has run). See docs/performance.md, "MIME view parse rate".
#
#   scripts/bench-mime.sh                    # release build of mime-bench, then both parsers
#   BENCH_SKIP_BUILD=1 scripts/bench-mime.sh
#
# In one run, on one generated corpus (scripts/bench/mime_corpus.py: realistic text, HTML
# alternative and attachment messages, ~50 kB on average, a few MB in all, the same bytes every
# run for a given count and seed):
#   - mime-bench (Sources/mime-bench): MIMEMessage per message, the part tree with every
#     decoded body and text, subject, From/To, text and HTML bodies, attachments;
#   - scripts/bench/mime_python.py: email.message_from_bytes(policy=email.policy.default), every
#     part walked and its payload decoded (get_content), get_body, iter_attachments;
# and prints both rates in MB/s (10^6 bytes of raw message per second) and their ratio.
#
# Environment: BENCH_MIME_MESSAGES (100), BENCH_MIME_SEED (5), BENCH_MIME_ITERATIONS (20, the
# Swift passes), BENCH_MIME_PYTHON_ITERATIONS (3; Python is slower, and a rate needs no more),
# BENCH_SKIP_BUILD.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repository=$(pwd)
bench_name=bench-mime.sh
pids=()
source scripts/bench/common.sh

messages=${BENCH_MIME_MESSAGES:-100}
seed=${BENCH_MIME_SEED:-5}
iterations=${BENCH_MIME_ITERATIONS:-20}
python_iterations=${BENCH_MIME_PYTHON_ITERATIONS:-3}

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    echo "== swift build -c release --product mime-bench"
    swift build -c release --product mime-bench
fi
bin=$(swift build -c release --show-bin-path)
[[ -x "$bin/mime-bench" ]] || { echo "$bench_name: $bin/mime-bench is missing; build it first" >&2; exit 1; }

corpus=$repository/.build/bench/mime-corpus-$messages-$seed
if [[ ! -f "$corpus/.complete" ]]; then
    rm -rf "$corpus"
    python3 scripts/bench/mime_corpus.py "$corpus" "$messages" "$seed"
    touch "$corpus/.complete"
fi
echo "== corpus: $corpus ($(find "$corpus" -name '*.eml' | wc -l) messages, $(cat "$corpus"/*.eml | wc -c) bytes)"

json_field() { python3 -c "import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

echo "== mime-bench ($iterations passes)"
swift_line=$("$bin/mime-bench" "$corpus" --iterations "$iterations")
echo "$swift_line"
echo "== python3 $(python3 -c 'import platform; print(platform.python_version())') email, policy.default ($python_iterations passes)"
python_line=$(python3 scripts/bench/mime_python.py "$corpus" "$python_iterations")
echo "$python_line"

swift_rate=$(json_field "$swift_line" mb_per_s)
python_rate=$(json_field "$python_line" mb_per_s)
echo "== MIME view $swift_rate MB/s, Python email $python_rate MB/s, ratio $(calc "round($swift_rate / $python_rate, 1)")x"
