#!/usr/bin/env bash
# Build and run every test, integration tests included (the README's test command).
#
# Installs the system dependencies first (scripts/install-deps.sh), then sets
# FILTER_INTEGRATION=1, which enables the tests in Tests/IntegrationTests that
# start private Postfix instances. Extra arguments go to "swift test", e.g.
#   scripts/test.sh --filter PostfixInstance
# Without arguments it then builds and runs Examples/CustomProcessor and the README's quick
# start (scripts/quickstart.sh, then stopped). Exits non-zero when anything fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

scripts/install-deps.sh

export FILTER_INTEGRATION=1
# The broker tests start one RabbitMQ node for all test processes and leave it running;
# stop it when the run ends, unless the caller shares a node of its own (FILTER_RABBITMQ_DIR).
if [[ -z ${FILTER_RABBITMQ_DIR:-} ]]; then
    trap 'scripts/rabbitmq-instance.sh stop test-artifacts/rabbitmq >/dev/null 2>&1 || true' EXIT
fi
# Serial on purpose (--no-parallel): integration suites start Postfix instances,
# smtp-sink and filterd processes, and several tests assert that a port closed a
# moment ago refuses connections; tests running side by side could take over such a
# port, and two cores under parallel load also stretch timeouts. One test at a time
# keeps every assertion deterministic.
swift build --build-tests
swift test --skip-build --no-parallel "$@"
# The whole suite also builds and runs the third-party example (a package of its own that
# adds a processor to filterd); a filtered run (arguments given) skips it.
if (($# == 0)); then
    Examples/CustomProcessor/run-example.sh
    # The README's quick start, end to end on its own Postfix and filterd, then stopped.
    mkdir -p test-artifacts
    export QUICKSTART_DIR="$PWD/test-artifacts/quickstart"
    status=0
    scripts/quickstart.sh >"$QUICKSTART_DIR.log" 2>&1 || status=$?
    scripts/quickstart.sh stop >/dev/null 2>&1 || true
    if ((status != 0)); then
        cat "$QUICKSTART_DIR.log" >&2
        exit "$status"
    fi
    echo "quick start: ok"
fi
