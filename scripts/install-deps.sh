#!/usr/bin/env bash
# Install the system packages filterd's build and tests need, on Debian 12.
#
# Idempotent and non-interactive: when every package is already installed it
# changes nothing and runs no apt-get at all. Swift itself is not installed
# here; it must already be on PATH or in /opt/swift/usr/bin.
#
# The Debian postfix package is only wanted for its programs: the tests run
# private instances (scripts/postfix-instance.sh). The system instance is left
# stopped and disabled so it never holds port 25 or competes for the tests.
set -euo pipefail

readonly PACKAGES=(
    postfix        # postfix, postconf, smtp-sink, smtp-source; private test instances
    swaks          # SMTP test client
    python3        # scripts/smtp-xforward.py, scripts/postfix/maildir-deliver.py
    librabbitmq-dev      # CRabbitMQ system library target
    rabbitmq-server      # the broker; tests run a private node (scripts/rabbitmq-instance.sh)
    libsqlite3-dev       # SQLite that GRDB (FilterQuarantine's store) links against
    python3-pika         # Examples/python: the second implementation of wire protocol v1
    python3-jsonschema   # Examples/python/test_protocol.py validates against docs/schema (draft 2020-12)
    libcurl4-openssl-dev # HTTP for processors and webhooks
    libssl-dev           # CCrypto system library target: HMAC-SHA256 webhook signatures
    openssl        # test CA and certificates for the RabbitMQ TLS tests
    procps         # pgrep/ps in tests
    iproute2       # ss for diagnosing port use
    util-linux     # flock in scripts/postfix-instance.sh
    spamassassin   # rules for spamd; the spamassassin processor's tests (scripts/scanner-instance.sh)
    spamd          # SpamAssassin's daemon (a package of its own on Debian 12)
    spamc          # spamd's reference client, to compare by hand
    clamav-daemon  # clamd; the clamav processor's tests, with a local signature (no freshclam)
    rspamd         # the rspamd processor's tests
    curl           # the client monitor's integration test reads /metrics as an operator would
)

log() {
    echo "install-deps: $*" >&2
}

if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { log "must run as root (or with sudo installed)"; exit 1; }
    exec sudo --preserve-env=PATH "$0" "$@"
fi

missing=()
for package in "${PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # No configuration: the package must not set up (or start) a mail system.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    log "all packages already installed"
fi

# "No configuration" leaves /etc/postfix/main.cf absent, but postfix(1) and
# postconf(1) read it even for "-c DIR" (alternate_config_directories lives
# there). A loopback-only, deliver-nowhere file is enough.
if [[ ! -f /etc/postfix/main.cf ]]; then
    log "writing a minimal /etc/postfix/main.cf (system instance stays disabled)"
    cat >/etc/postfix/main.cf <<'EOF'
# Written by filterd's scripts/install-deps.sh: the system Postfix is unused on
# this machine; tests run private instances (scripts/postfix-instance.sh).
compatibility_level = 3.6
inet_interfaces = loopback-only
mydestination = localhost
default_transport = error:system Postfix is not configured
relay_transport = error:system Postfix is not configured
EOF
fi

# Keep the system instance down: the tests bring their own.
if postfix status >/dev/null 2>&1; then
    log "stopping the system Postfix"
    postfix stop
fi
if [[ $(ps -p 1 -o comm= 2>/dev/null) == systemd ]]; then
    systemctl disable --now postfix >/dev/null 2>&1 || true
elif command -v update-rc.d >/dev/null; then
    update-rc.d postfix disable >/dev/null 2>&1 || true
fi

swift_binary=$(command -v swift || true)
if [[ -z $swift_binary && -x /opt/swift/usr/bin/swift ]]; then
    swift_binary=/opt/swift/usr/bin/swift
fi
if [[ -z $swift_binary ]]; then
    log "swift not found on PATH or in /opt/swift/usr/bin"
    exit 1
fi
log "swift: $swift_binary ($("$swift_binary" --version 2>&1 | head -n 1))"
log "postfix: $(postconf -h mail_version)"
