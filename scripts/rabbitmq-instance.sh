#!/usr/bin/env bash
# A private RabbitMQ node for tests, benchmarks and trying things out, started
# without systemd and without touching the system's default node.
#
#   scripts/rabbitmq-instance.sh start DIR   start (or reuse) the node kept under DIR
#   scripts/rabbitmq-instance.sh stop DIR    stop it
#   scripts/rabbitmq-instance.sh ctl DIR ... run rabbitmqctl against it
#   scripts/rabbitmq-instance.sh env DIR     print its settings as KEY=VALUE lines
#   scripts/rabbitmq-instance.sh tls DIR     make a test CA, a certificate for localhost
#                                            and DIR/tls.conf (once; run before start)
#
# Everything the node writes (database, logs, Erlang cookie, config) lives
# under DIR. It listens on loopback only:
#   AMQP        127.0.0.1:$FILTER_RABBITMQ_PORT            (default 15682)
#   management  127.0.0.1:$FILTER_RABBITMQ_MANAGEMENT_PORT (default 15683)
#   Erlang distribution $FILTER_RABBITMQ_DIST_PORT         (default 15684)
# A second node beside the first needs other ports and FILTER_RABBITMQ_NODENAME
# (default filterd-test), for example for a test that restarts its broker.
# The ports are not RabbitMQ's defaults, so a system broker can run beside it,
# and lie below Linux's ephemeral range (32768-60999), where an outgoing
# connection could already hold them.
# TLS: when DIR/tls.conf exists, "start" appends it to the node's rabbitmq.conf.
# "tls" writes one (kept if present) with an AMQPS listener on
#   127.0.0.1:$FILTER_RABBITMQ_TLS_PORT (default 15711), verify_none for client
# certificates, and a server certificate for DNS:localhost only (no IP address,
# so connecting by 127.0.0.1 is a host-name mismatch) signed by DIR/tls/ca.pem,
# a CA made for this node alone (valid 30 days; made anew when one is left).
# FILTER_RABBITMQ_STOP_WITH=PID makes "start" leave a watcher (log in
# DIR/log/watcher.log) that stops the node once process PID has exited, e.g.
# a test process that starts a node nobody else uses.
# "start" enables rabbitmq_management and creates the administrator
# "filteradmin", whose password it writes to DIR/admin-password (mode 0600).
# It is idempotent: a node already answering is reused as it is; starts of one
# DIR at the same moment take turns (flock on DIR/start.lock).
set -euo pipefail

readonly RABBITMQ_BIN=/usr/lib/rabbitmq/bin
readonly AMQP_PORT=${FILTER_RABBITMQ_PORT:-15682}
readonly MANAGEMENT_PORT=${FILTER_RABBITMQ_MANAGEMENT_PORT:-15683}
readonly DIST_PORT=${FILTER_RABBITMQ_DIST_PORT:-15684}
readonly TLS_PORT=${FILTER_RABBITMQ_TLS_PORT:-15711}
readonly ADMIN_USER=filteradmin
readonly TLS_MARKER="# Written by scripts/rabbitmq-instance.sh tls."

log() {
    echo "rabbitmq-instance: $*" >&2
}

usage() {
    sed -n '2,34p' "$0" >&2
    exit 64
}

# Points rabbitmq-server, rabbitmqctl and rabbitmq-plugins at the node in $1.
node_environment() {
    local dir=$1
    export HOME=$dir # the Erlang cookie lives in $HOME
    export RABBITMQ_NODENAME=${FILTER_RABBITMQ_NODENAME:-filterd-test}@localhost
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$AMQP_PORT
    export RABBITMQ_DIST_PORT=$DIST_PORT
    export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$dir/mnesia
    export RABBITMQ_LOG_BASE=$dir/log
    export RABBITMQ_PID_FILE=$dir/rabbitmq.pid
    export ERL_EPMD_ADDRESS=127.0.0.1
    export ERL_CRASH_DUMP=$dir/erl_crash.dump # not in the caller's directory
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

write_configuration() {
    local dir=$1
    mkdir -p "$dir/mnesia" "$dir/log"
    cat >"$dir/rabbitmq.conf" <<EOF
# Written by scripts/rabbitmq-instance.sh.
management.tcp.ip = 127.0.0.1
management.tcp.port = $MANAGEMENT_PORT
EOF
    if [[ -f $dir/tls.conf ]]; then
        cat "$dir/tls.conf" >>"$dir/rabbitmq.conf"
    fi
    echo "[rabbitmq_management]." >"$dir/enabled_plugins"
}

ctl() {
    "$RABBITMQ_BIN/rabbitmqctl" "$@"
}

is_running() {
    ctl --quiet ping >/dev/null 2>&1
}

create_administrator() {
    local dir=$1 password
    if [[ ! -s $dir/admin-password ]]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/admin-password")
    fi
    password=$(<"$dir/admin-password")
    # Read the whole list first: with pipefail, `list_users | grep -q` fails when grep
    # stops at its match and the writer gets SIGPIPE (likely once the node has many users).
    local users
    users=$(ctl --quiet list_users | awk '{print $1}')
    if ! grep -qx "$ADMIN_USER" <<<"$users"; then
        # The password goes through stdin, never the command line.
        # Another start running at the same moment may have added it first.
        printf '%s\n' "$password" | ctl --quiet add_user "$ADMIN_USER" >/dev/null 2>&1 \
            || grep -qx "$ADMIN_USER" <<<"$(ctl --quiet list_users | awk '{print $1}')"
    fi
    ctl --quiet set_user_tags "$ADMIN_USER" administrator >/dev/null
    ctl --quiet set_permissions -p / "$ADMIN_USER" '.*' '.*' '.*' >/dev/null
    # The well-known guest/guest account has no place on a filter's broker.
    if grep -qx guest <<<"$users"; then
        ctl --quiet delete_user guest >/dev/null
    fi
}

start() {
    local dir
    dir=$(realpath -m "$1")
    mkdir -p "$dir"
    node_environment "$dir"
    if is_running; then
        log "node already running ($dir)"
    else
        write_configuration "$dir"
        log "starting node under $dir (AMQP $AMQP_PORT, management $MANAGEMENT_PORT)"
        # Detached, the node keeps every descriptor it inherits: without these redirections
        # a caller reading our output through a pipe would wait for the node to exit. It also
        # keeps the working directory, so it starts in its own: a node started from a checkout
        # that is later deleted loses its management statistics (they read the cwd).
        (cd "$dir" && "$RABBITMQ_BIN/rabbitmq-server" -detached </dev/null >>"$dir/log/startup.log" 2>&1)
        # await_startup fails at once while the node has not registered with
        # epmd yet, so wait (at most 90 s) for it to answer first.
        local deadline=$((SECONDS + 90))
        until is_running || ((SECONDS > deadline)); do
            sleep 0.5
        done
    fi
    if ! ctl --quiet await_startup --timeout 120 >/dev/null; then
        log "node did not start; see $dir/log"
        exit 1
    fi
    create_administrator "$dir"
    wait_for_management
    if [[ -n ${FILTER_RABBITMQ_STOP_WITH:-} ]]; then
        stop_with "$dir" "$FILTER_RABBITMQ_STOP_WITH"
    fi
}

# Leaves a watcher (one per PID) that stops the node in $1 once process $2 has exited.
# It closes every descriptor it inherits: a caller waits for its child's output to end,
# and Foundation's Process even for the end of a socket it gives the child.
stop_with() {
    local dir=$1 pid=$2
    local marker=$dir/watcher-$pid
    [[ -e $marker ]] && return 0
    : >"$marker"
    # shellcheck disable=SC2016 # expanded by the watcher
    setsid bash -c '
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done
        while kill -0 "$1" 2>/dev/null; do sleep 1; done
        rm -f "$3"
        "$2" stop "$4"' \
        watcher "$pid" "$(realpath "$0")" "$marker" "$dir" </dev/null >>"$dir/log/watcher.log" 2>&1 &
}

# Makes a CA, a key and a certificate for localhost under $1/tls, and $1/tls.conf,
# unless $1/tls.conf is someone else's or ours with a certificate valid for another day.
# Two callers at once (tests in parallel) take turns.
make_tls() {
    local dir=$1
    (
        flock 9
        make_tls_locked "$dir"
    ) 9>"$dir/tls.lock"
}

make_tls_locked() {
    local dir=$1 tls
    tls=$dir/tls
    if [[ -f $dir/tls.conf ]]; then
        if [[ $(head -n 1 "$dir/tls.conf") != "$TLS_MARKER" ]] \
            || openssl x509 -checkend 86400 -noout -in "$tls/server.pem" >/dev/null 2>&1; then
            return 0
        fi
    fi
    mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=filterd test CA" \
        -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
        -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
        -days 30 -extfile <(echo subjectAltName=DNS:localhost) -out "$tls/server.pem" 2>/dev/null
    # The broker runs as the caller and reads the key as that user; nobody else may.
    chmod 600 "$tls/ca.key" "$tls/server.key"
    cat >"$dir/tls.conf.new" <<EOF
$TLS_MARKER
listeners.ssl.default = 127.0.0.1:$TLS_PORT
ssl_options.cacertfile = $tls/ca.pem
ssl_options.certfile = $tls/server.pem
ssl_options.keyfile = $tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
EOF
    mv "$dir/tls.conf.new" "$dir/tls.conf"
    log "TLS on 127.0.0.1:$TLS_PORT for localhost, CA $tls/ca.pem"
}

wait_for_management() {
    local attempt
    for attempt in $(seq 1 120); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$MANAGEMENT_PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    log "the management plugin does not listen on $MANAGEMENT_PORT"
    exit 1
}

stop() {
    local dir
    dir=$(realpath -m "$1")
    node_environment "$dir"
    if is_running; then
        ctl --quiet stop >/dev/null
        log "stopped"
    fi
}

print_environment() {
    local dir
    dir=$(realpath -m "$1")
    echo "AMQP_PORT=$AMQP_PORT"
    echo "MANAGEMENT_PORT=$MANAGEMENT_PORT"
    echo "ADMIN_USER=$ADMIN_USER"
    echo "ADMIN_PASSWORD_FILE=$dir/admin-password"
    if [[ -f $dir/tls.conf ]]; then
        echo "TLS_PORT=$TLS_PORT"
        echo "TLS_CA_FILE=$dir/tls/ca.pem"
    fi
}

(($# >= 2)) || usage
command=$1
directory=$2
shift 2
case $command in
    start)
        # Starts of one DIR take turns (tests in parallel in one process start one node);
        # flock -o keeps the lock out of the node and every other child.
        if [[ -z ${RABBITMQ_INSTANCE_LOCKED:-} ]]; then
            mkdir -p "$directory"
            RABBITMQ_INSTANCE_LOCKED=1 exec flock -o "$directory/start.lock" "$0" start "$directory"
        fi
        start "$directory"
        ;;
    stop) stop "$directory" ;;
    ctl)
        node_environment "$(realpath -m "$directory")"
        ctl "$@"
        ;;
    env) print_environment "$directory" ;;
    tls)
        mkdir -p "$directory"
        make_tls "$(realpath -m "$directory")"
        ;;
    *) usage ;;
esac
