#!/usr/bin/env bash
# Quick start: mail through Postfix and filterd, filtered per user, into a Maildir you can read.
#
#   scripts/quickstart.sh          install, build, start everything, send two test mails, show
#   scripts/quickstart.sh stop     stop the quick-start Postfix and filterd
#
# filterd runs as "filterd all-in-one", the embedded default: the server and alice's own
# client pipeline (a sender block list) in one process, over the in-memory transport, with no
# broker. Of the two mails sent to alice, the one from a blocked sender is denied by her
# pipeline and the other lands in her Maildir.
#
# Everything lives below ./quickstart (override with QUICKSTART_DIR): a private Postfix
# instance (public smtpd on 127.0.0.1:2525, filter transport to 127.0.0.1:10024, reinjection
# smtpd on 127.0.0.1:10025), filterd's configuration, spool and log, the web console on
# http://127.0.0.1:9025 (user admin, password in console-password), and the Maildirs of
# *@example.test. The system's own Postfix configuration is not touched. Must run as root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
dir=${QUICKSTART_DIR:-$root/quickstart}
smtp_port=2525 filter_port=10024 reinject_port=10025 web_port=9025

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

# The console's admin: a random password, kept across runs, stored hashed in console-admins.
if [[ ! -s "$dir/console-password" ]]; then
    (umask 077 && head -c 18 /dev/urandom | base64 >"$dir/console-password")
fi
"$bin/filterctl" web hash-password <"$dir/console-password" | sed 's/^/admin:/' >"$dir/console-admins"

cat >"$dir/filterd.yaml" <<YAML
# filterd all-in-one: the server's keys (docs/configuration.md) plus one client pipeline per owner.
listen: 127.0.0.1:$filter_port
next_hop: 127.0.0.1:$reinject_port
spool: $dir/spool
hostname: filterd.quickstart.test
web:
  listen: 127.0.0.1:$web_port
  admins_file: $dir/console-admins
clients:
  - address: alice@example.test
    pipeline:
      - type: sender-list
        block: ["@spam.example"]
YAML
echo "== starting filterd all-in-one with $dir/filterd.yaml (log: $dir/filterd.log)"
"$bin/filterd" all-in-one --config "$dir/filterd.yaml" >"$dir/filterd.log" 2>&1 &
echo $! >"$dir/filterd.pid"
scripts/postfix-instance.sh wait-port "127.0.0.1:$filter_port" 30
scripts/postfix-instance.sh wait-port "127.0.0.1:$web_port" 30

maildir="$dir/mail/alice/Maildir/new"
# alice's Maildir appears with her first mail; until then she has none.
mail_count() { if [[ -d $maildir ]]; then find "$maildir" -maxdepth 1 -type f | wc -l; else echo 0; fi; }
before=$(mail_count)
echo "== sending two mails to alice@example.test through Postfix on port $smtp_port"
swaks --silent 1 --server "127.0.0.1:$smtp_port" --from offers@spam.example --to alice@example.test \
    --header "Subject: You have won" --body "alice's pipeline blocks @spam.example: this one is denied."
swaks --silent 1 --server "127.0.0.1:$smtp_port" --from bob@example.test --to alice@example.test \
    --header "Subject: Hello through filterd" --body "This mail went Postfix -> filterd -> Postfix -> Maildir."

# Wait for the new file (the Maildir keeps the mail of earlier runs) and for the denial.
for _ in $(seq 1 150); do
    if (($(mail_count) > before)) && grep -q "Denied; discarded" "$dir/filterd.log"; then
        break
    fi
    sleep 0.2
done
file=$(ls -t "$maildir"/* 2>/dev/null | head -n 1 || true)
if (($(mail_count) <= before)); then
    echo "the mail did not arrive; see $dir/filterd.log and: scripts/postfix-instance.sh log $dir/postfix" >&2
    exit 1
fi
if ! grep -q "Denied; discarded" "$dir/filterd.log" \
    || grep -l "Subject: You have won" $(ls -t "$maildir"/* | head -n $(($(mail_count) - before))) >/dev/null 2>&1; then
    echo "the blocked sender's mail was not denied; see $dir/filterd.log" >&2
    exit 1
fi
echo "== delivered to $file:"
cat "$file"
echo
echo "== the console's message log (logged in as admin with curl):"
jar="$dir/console-cookies"
rm -f "$jar"
token=$(curl -fsS -c "$jar" "http://127.0.0.1:$web_port/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p')
curl -fsS -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf_token=$token" --data-urlencode "username=admin" \
    --data-urlencode "password=$(cat "$dir/console-password")" "http://127.0.0.1:$web_port/login"
if ! curl -fsS -b "$jar" "http://127.0.0.1:$web_port/messages" | grep -o "Hello through filterd" | head -n 1; then
    echo "the console does not show the delivered mail; see $dir/filterd.log" >&2
    exit 1
fi
rm -f "$jar"
echo
echo "== what filterd decided (from $dir/filterd.log):"
grep -E "Answered|Denied|Delivered" "$dir/filterd.log" | tail -n 4
cat <<MSG

The web console is at http://127.0.0.1:$web_port (user admin, password in
$dir/console-password); from another machine: ssh -L $web_port:127.0.0.1:$web_port THIS-HOST.

Postfix and filterd keep running. Edit alice's pipeline in $dir/filterd.yaml (restart with
scripts/quickstart.sh). Send more mail with
  swaks --server 127.0.0.1:$smtp_port --to alice@example.test
read it in $dir/mail/alice/Maildir/new, look at the spool with
  $bin/filterctl spool list --spool $dir/spool
and stop everything with
  scripts/quickstart.sh stop
MSG
