#!/usr/bin/env bash
# Quick start: one mail through Postfix and filterd into a Maildir you can read.
#
#   scripts/quickstart.sh          install, build, start everything, send a test mail, show it
#   scripts/quickstart.sh stop     stop the quick-start Postfix and filterd
#
# Everything lives below ./quickstart (override with QUICKSTART_DIR): a private Postfix
# instance (public smtpd on 127.0.0.1:2525, filter transport to 127.0.0.1:10024, reinjection
# smtpd on 127.0.0.1:10025), filterd's spool, its log, and the Maildirs of *@example.test.
# The system's own Postfix configuration is not touched. Must run as root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
dir=${QUICKSTART_DIR:-$root/quickstart}
smtp_port=2525 filter_port=10024 reinject_port=10025

if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

stop() {
    if [[ -f "$dir/filterd.pid" ]]; then
        kill "$(cat "$dir/filterd.pid")" 2>/dev/null || true
        rm -f "$dir/filterd.pid"
    fi
    if [[ -d "$dir/postfix" ]]; then
        scripts/postfix-instance.sh stop "$dir/postfix" || true
    fi
}

if [[ "${1:-}" == "stop" ]]; then
    stop
    echo "quick start stopped; its files stay in $dir"
    exit 0
fi

scripts/install-deps.sh
echo "== building filterd and filterctl (debug build; the first one takes a few minutes)"
swift build --product filterd
swift build --product filterctl
bin=$(swift build --show-bin-path)

stop
rm -rf "$dir/postfix"
mkdir -p "$dir/mail"
echo "== starting a private Postfix instance in $dir/postfix"
scripts/postfix-instance.sh create "$dir/postfix" --smtp-port "$smtp_port" --filter-port "$filter_port" \
    --reinject-port "$reinject_port" --maildir-root "$dir/mail"
scripts/postfix-instance.sh start "$dir/postfix"

echo "== starting filterd server (log: $dir/filterd.log)"
"$bin/filterd" server --listen "127.0.0.1:$filter_port" --next-hop "127.0.0.1:$reinject_port" \
    --spool "$dir/spool" --hostname filterd.quickstart.test >"$dir/filterd.log" 2>&1 &
echo $! >"$dir/filterd.pid"
scripts/postfix-instance.sh wait-port "127.0.0.1:$filter_port" 30

maildir="$dir/mail/alice/Maildir/new"
before=$(ls "$maildir" 2>/dev/null | wc -l)
echo "== sending a test mail to alice@example.test through Postfix on port $smtp_port"
swaks --silent 1 --server "127.0.0.1:$smtp_port" --from bob@example.test --to alice@example.test \
    --header "Subject: Hello through filterd" --body "This mail went Postfix -> filterd -> Postfix -> Maildir."

# Wait for a new file: the Maildir keeps the mail of earlier runs.
for _ in $(seq 1 100); do
    if (($(ls "$maildir" 2>/dev/null | wc -l) > before)); then break; fi
    sleep 0.2
done
file=$(ls -t "$maildir"/* 2>/dev/null | head -n 1 || true)
if (($(ls "$maildir" 2>/dev/null | wc -l) <= before)); then
    echo "the mail did not arrive; see $dir/filterd.log and: scripts/postfix-instance.sh log $dir/postfix" >&2
    exit 1
fi
echo "== delivered to $file:"
cat "$file"
echo
echo "== the filterd lines of its journey:"
grep -E "Message accepted|Delivered" "$dir/filterd.log" | tail -n 2
cat <<MSG

Postfix and filterd keep running. Send more mail with
  swaks --server 127.0.0.1:$smtp_port --to alice@example.test
read it in $dir/mail/alice/Maildir/new, look at the spool with
  $bin/filterctl spool list --spool $dir/spool
and stop everything with
  scripts/quickstart.sh stop
MSG
