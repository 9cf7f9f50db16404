#!/usr/bin/env bash
# Manage a private Postfix instance for filterd's integration tests.
#
# The instance never touches the system Postfix: it has its own configuration
# directory, queue, data directory, ports and log file, all below DIR:
#   DIR/conf/main.cf, DIR/conf/master.cf   configuration ("postfix -c DIR/conf")
#   DIR/queue, DIR/data                    queue_directory, data_directory
#   DIR/maillog                            maillog_file
# (The queue is not below the configuration directory because "postfix check"
# expects everything there to be owned by root.) Its filter wiring is
# built from the same snippets that docs/postfix.md shows to operators
# (scripts/postfix/main.cf.filter and master.cf.filter), with the ports
# 10024/10025 replaced by the ones given here.
#
# Usage:
#   postfix-instance.sh create DIR --smtp-port P --filter-port F --reinject-port R
#                              --maildir-root M [--no-filter] [--mail-user USER]
#   postfix-instance.sh start DIR     start and wait until every port listens
#   postfix-instance.sh stop DIR      stop (no error if not running)
#   postfix-instance.sh log DIR       print DIR/maillog
#   postfix-instance.sh wait-port HOST:PORT [SECONDS]
#
# Must run as root (Postfix's master daemon needs it).
set -euo pipefail

readonly SNIPPETS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/postfix"
readonly DEFAULT_CONFIG=/etc/postfix/main.cf
# Serializes edits of the default main.cf by instances created in parallel.
readonly LOCK_FILE=/run/lock/filterd-postfix-instance.lock

die() {
    echo "postfix-instance: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

# wait_port HOST PORT SECONDS: succeed once something accepts TCP connections.
wait_port() {
    local host=$1 port=$2 seconds=$3 deadline
    deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "nothing listens on $host:$port after ${seconds}s"
}

# Lists DIR in alternate_config_directories of the default main.cf, which
# Postfix requires before it accepts "-c DIR". Idempotent; serialized with flock
# because tests create instances in parallel.
authorize_config_dir() {
    local dir=$1 current
    exec 9>"$LOCK_FILE"
    flock 9
    current=$(postconf -h -c /etc/postfix alternate_config_directories)
    case " ${current//,/ } " in
        *" $dir "*) ;;
        *) postconf -c /etc/postfix -e "alternate_config_directories = ${current:+$current, }$dir" ;;
    esac
    exec 9>&-
}

# Removes DIR from alternate_config_directories again, so test runs do not
# grow the default main.cf forever.
unauthorize_config_dir() {
    local dir=$1 current kept=() entry
    exec 9>"$LOCK_FILE"
    flock 9
    current=$(postconf -h -c /etc/postfix alternate_config_directories)
    for entry in ${current//,/ }; do
        [[ $entry == "$dir" ]] || kept+=("$entry")
    done
    local joined
    joined=$(IFS=,; echo "${kept[*]:-}")
    postconf -c /etc/postfix -e "alternate_config_directories = ${joined//,/, }"
    exec 9>&-
}

cmd_create() {
    local dir="" smtp_port="" filter_port="" reinject_port="" maildir_root="" filter=yes
    local mail_user=nobody
    dir=${1:-}
    [[ -n $dir ]] || usage
    shift
    while (($#)); do
        case $1 in
            --smtp-port) smtp_port=$2; shift 2 ;;
            --filter-port) filter_port=$2; shift 2 ;;
            --reinject-port) reinject_port=$2; shift 2 ;;
            --maildir-root) maildir_root=$2; shift 2 ;;
            --mail-user) mail_user=$2; shift 2 ;;
            --no-filter) filter=no; shift ;;
            *) die "unknown option: $1" ;;
        esac
    done
    [[ -n $smtp_port && -n $filter_port && -n $reinject_port && -n $maildir_root ]] ||
        die "create needs --smtp-port, --filter-port, --reinject-port and --maildir-root"
    [[ -f $DEFAULT_CONFIG ]] || die "$DEFAULT_CONFIG is missing; run scripts/install-deps.sh"

    mkdir -p "$dir" "$maildir_root"
    dir=$(cd "$dir" && pwd)
    maildir_root=$(cd "$maildir_root" && pwd)
    local conf=$dir/conf

    local uid gid
    uid=$(id -u "$mail_user") || die "no such user: $mail_user"
    gid=$(id -g "$mail_user")
    ((uid != 0)) || die "--mail-user must not be root"

    # Postfix runs its daemons as "postfix" and delivers as $mail_user: both must
    # be able to reach the instance below its parent directories.
    chmod 755 "$dir"
    mkdir -p "$conf" "$dir/queue" "$dir/data"
    chown postfix: "$dir/data"
    chown "$uid:$gid" "$maildir_root"
    chmod 755 "$maildir_root"
    : >"$dir/maillog"

    local substitute=(
        -e "s|@DIR@|$dir|g"
        -e "s|@MAILDIR_ROOT@|$maildir_root|g"
        -e "s|@MAIL_USER@|$mail_user|g"
        -e "s|@SMTP_PORT@|$smtp_port|g"
    )
    # The operator snippets name the documented ports; only the ports change.
    local ports=(
        -e "s|\[127\.0\.0\.1\]:10024|[127.0.0.1]:$filter_port|g"
        -e "s|^127\.0\.0\.1:10025 |127.0.0.1:$reinject_port |"
    )
    sed "${substitute[@]}" "$SNIPPETS/main.cf.instance" >"$conf/main.cf"
    sed "${ports[@]}" "$SNIPPETS/main.cf.filter" >>"$conf/main.cf"
    sed "${substitute[@]}" "$SNIPPETS/master.cf.instance" >"$conf/master.cf"
    sed "${ports[@]}" "$SNIPPETS/master.cf.filter" >>"$conf/master.cf"
    install -m 755 "$SNIPPETS/maildir-deliver.py" "$conf/maildir-deliver.py"

    grep -q "^content_filter = scan:\[127.0.0.1\]:$filter_port\$" "$conf/main.cf" ||
        die "main.cf.filter no longer names [127.0.0.1]:10024; update the port substitution"
    grep -q "^127.0.0.1:$reinject_port " "$conf/master.cf" ||
        die "master.cf.filter no longer names 127.0.0.1:10025; update the port substitution"

    if [[ $filter == no ]]; then
        postconf -c "$conf" -e "content_filter ="
    fi

    authorize_config_dir "$conf"
    postfix -c "$conf" check
    echo "$dir"
}

instance_dir() {
    local dir=${1:-}
    [[ -n $dir ]] || usage
    [[ -f $dir/conf/main.cf ]] || die "$dir/conf/main.cf not found; run 'create' first"
    (cd "$dir" && pwd)
}

# Every inet service of the instance as HOST:PORT, one per line.
listen_addresses() {
    local addresses
    addresses=$(postconf -c "$1" -F '*/inet/service' | awk '{ print $NF }')
    [[ -n $addresses ]] || die "no inet service in $1/master.cf"
    echo "$addresses"
}

cmd_start() {
    local dir
    dir=$(instance_dir "${1:-}")
    authorize_config_dir "$dir/conf"
    if ! postfix -c "$dir/conf" status >/dev/null 2>&1; then
        postfix -c "$dir/conf" start
    fi
    local address addresses
    addresses=$(listen_addresses "$dir/conf")
    for address in $addresses; do
        wait_port "${address%:*}" "${address##*:}" 30
    done
}

cmd_stop() {
    local dir
    dir=$(instance_dir "${1:-}")
    if postfix -c "$dir/conf" status >/dev/null 2>&1; then
        postfix -c "$dir/conf" stop
    fi
    # "postfix stop" returns before the master has exited; wait for it so the
    # ports are free and the queue is no longer written when we return.
    local pidfile="$dir/queue/pid/master.pid" pid deadline
    if [[ -f $pidfile ]]; then
        pid=$(tr -d ' ' <"$pidfile")
        deadline=$((SECONDS + 30))
        while [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.1
        done
    fi
    unauthorize_config_dir "$dir/conf"
}

cmd_log() {
    local dir
    dir=$(instance_dir "${1:-}")
    cat "$dir/maillog"
}

main() {
    (($# >= 1)) || usage
    local command=$1
    shift
    [[ $(id -u) -eq 0 ]] || [[ $command == wait-port ]] || die "must run as root"
    case $command in
        create) cmd_create "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        log) cmd_log "$@" ;;
        wait-port)
            [[ $# -ge 1 ]] || usage
            wait_port "${1%:*}" "${1##*:}" "${2:-30}"
            ;;
        *) usage ;;
    esac
}

main "$@"
