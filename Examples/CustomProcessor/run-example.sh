#!/usr/bin/env bash
# Builds the example and runs it end to end: my-filterd all-in-one with the custom
# "shouting-subject" processor in alice's pipeline, an smtp-sink as next hop, two mails sent
# with swaks. Exits non-zero unless the shouted one is delivered as spam and the other as pass,
# and a bad option of the custom processor is refused at start-up. Called by scripts/test.sh.
set -euo pipefail

example=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$example/../.."
bench_name=custom-processor-example
pids=()
# shellcheck source=../../scripts/bench/common.sh
source scripts/bench/common.sh

fail() {
    echo "$bench_name: FAILED: $*" >&2
    exit 1
}

swift build --package-path "$example" 2>&1 | tail -n 1
binary="$example/.build/debug/my-filterd"

work=$(mktemp -d)
chmod 0755 "$work"  # smtp-sink runs as nobody
cleanup() {
    for pid in "${pids[@]}"; do stop_process "$pid"; done
    rm -rf "$work"
}
trap cleanup EXIT

sink_port=$(free_port)
filter_port=$(free_port)
start_sink "$sink_port" "$work/sink"
cat >"$work/filterd.yaml" <<YAML
listen: 127.0.0.1:$filter_port
next_hop: 127.0.0.1:$sink_port
spool: $work/spool
hostname: example.test
clients:
  - address: alice@example.test
    pipeline:
      - type: shouting-subject
        min_letters: 6
      - type: sender-list
        block: ["@spam.example"]
YAML
"$binary" all-in-one --config "$work/filterd.yaml" >"$work/filterd.log" 2>&1 &
pids+=($!)
wait_listening "$filter_port"

swaks --server "127.0.0.1:$filter_port" --from bob@example.org --to alice@example.test \
    --header "Subject: QUARTERLY RESULTS ARE IN" --body "numbers" >/dev/null
swaks --server "127.0.0.1:$filter_port" --from bob@example.org --to alice@example.test \
    --header "Subject: Quarterly results" --body "numbers" >/dev/null
wait_delivered "$work/sink" 2 "$work/spool"

shouted=$(grep -l "QUARTERLY RESULTS ARE IN" "$work"/sink/m.* || true)
quiet=$(grep -l "Subject: Quarterly results" "$work"/sink/m.* || true)
[[ -n $shouted && -n $quiet ]] || fail "both mails should reach the sink"
grep -q 'X-Filter-Verdict: action=spam; owner=alice@example.test; source=client; reason="the subject is shouted"' "$shouted" \
    || fail "the shouted subject should be delivered as spam by the custom processor"
grep -q "X-Spam-Flag: YES" "$shouted" || fail "the spam copy should carry X-Spam-Flag: YES"
grep -q "X-Filter-Verdict: action=pass; owner=alice@example.test; source=client" "$quiet" || fail "the other mail should pass"

sed -i 's/min_letters: 6/min_letters: 0/' "$work/filterd.yaml"
if refusal=$("$binary" all-in-one --config "$work/filterd.yaml" 2>&1); then
    fail "min_letters: 0 should be refused"
fi
[[ $refusal == *"shouting-subject.min_letters: must be at least 1"* ]] || fail "unexpected refusal: $refusal"

echo "$bench_name: ok (custom processor decided spam; its bad option was refused: ${refusal##*: pipeline: })"
