#!/usr/bin/env bash
# Private instances of the scanning daemons for the integration tests, on loopback, each
# with its own configuration in a directory of its own and no network access needed.
#
#   scripts/scanner-instance.sh start spamd  DIR PORT   # spamd on 127.0.0.1:PORT and DIR/spamd.sock
#   scripts/scanner-instance.sh start clamd  DIR PORT   # clamd on 127.0.0.1:PORT and DIR/clamd.sock
#   scripts/scanner-instance.sh start rspamd DIR PORT   # rspamd's normal worker on 127.0.0.1:PORT
#   scripts/scanner-instance.sh stop DIR
#
# "start" writes the configuration, starts the daemon, waits until it answers and
# returns; a daemon already running from DIR is stopped first. The daemon's log is in
# DIR. FILTER_SCANNER_STOP_WITH=PID leaves a watcher that stops the daemon once process
# PID has exited and removes DIR (a test process starting daemons nobody else uses).
# Runs as root: spamd and rspamd drop to their Debian users, which must own their files.
#
# - spamd runs --local (no network tests: scores stay the same offline) with Debian's rules.
# - clamd has no downloaded signatures (no network for freshclam): DIR/db/filterd-test.ndb
#   holds one signature, Filterd-Test-EICAR, the EICAR test string as a hex pattern; clamd
#   reports it as Filterd-Test-EICAR.UNOFFICIAL. Its StreamMaxLength is 1 MB, so the tests
#   can reach it cheaply.
# - rspamd runs with the network modules (rbl, asn, spf, dmarc, dkim, hfilter,
#   fuzzy_check, url_redirector, surbl, mx_check, phishing, emails) off, so no check waits
#   for DNS. Its DBDIR is FILTER_RSPAMD_DBDIR (default test-artifacts/rspamd-db): the first
#   start compiles the TLD list and regexps there (a minute or more on two busy cores);
#   later starts reuse it and take about a second.
set -euo pipefail

readonly ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

log() {
    echo "scanner-instance: $*" >&2
}

die() {
    log "$*"
    exit 1
}

# Waits until the command "$@" succeeds, for at most $1 seconds.
wait_for() {
    local seconds=$1
    shift
    local deadline=$((SECONDS + seconds))
    until "$@" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# Whether something accepts connections on 127.0.0.1:$1.
listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Whether spamd on 127.0.0.1:$1 answers PING.
spamd_pongs() (
    local answer
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'PING SPAMC/1.5\r\n\r\n' >&3
    read -r -t 5 answer <&3
    [[ $answer == "SPAMD/"*" 0 PONG"* ]]
)

stop() {
    local dir=$1 pid
    [[ -f $dir/pid ]] || return 0
    pid=$(<"$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid"
}

start_spamd() {
    local dir=$1 port=$2
    spamd -d --listen="127.0.0.1:$port" --listen="$dir/spamd.sock" --socketmode=0666 \
        --allowed-ips=127.0.0.1 --local --nouser-config \
        --username=debian-spamd --groupname=debian-spamd \
        --syslog="$dir/spamd.log" --pidfile="$dir/pid" --max-children=2
    wait_for 60 spamd_pongs "$port" || die "spamd did not answer PING on 127.0.0.1:$port; see $dir/spamd.log"
}

start_clamd() {
    local dir=$1 port=$2
    mkdir -p "$dir/db"
    printf 'Filterd-Test-EICAR:0:*:%s\n' "$(printf '%s' "$EICAR" | od -An -tx1 -v | tr -d ' \n')" >"$dir/db/filterd-test.ndb"
    cat >"$dir/clamd.conf" <<EOF
Foreground yes
DatabaseDirectory $dir/db
TCPSocket $port
TCPAddr 127.0.0.1
LocalSocket $dir/clamd.sock
PidFile $dir/clamd.pid
LogFile $dir/clamd.log
StreamMaxLength 1M
MaxThreads 2
EOF
    setsid clamd -c "$dir/clamd.conf" </dev/null >>"$dir/clamd.out" 2>&1 &
    echo $! >"$dir/pid"
    wait_for 60 listening "$port" || die "clamd does not listen on 127.0.0.1:$port; see $dir/clamd.log and $dir/clamd.out"
}

start_rspamd() {
    local dir=$1 port=$2
    local dbdir=${FILTER_RSPAMD_DBDIR:-$ROOT/test-artifacts/rspamd-db}
    local conf=$dir/conf
    mkdir -p "$conf/local.d" "$conf/override.d" "$dbdir" "$dir/run" "$dir/log"
    chown _rspamd:_rspamd "$dbdir" "$dir/run" "$dir/log"
    printf 'bind_socket = "127.0.0.1:%s";\ncount = 1;\n' "$port" >"$conf/override.d/worker-normal.inc"
    for worker in controller proxy fuzzy; do
        echo 'enabled = false;' >"$conf/override.d/worker-$worker.inc"
    done
    printf 'type = "file";\nfilename = "%s/rspamd.log";\nlevel = "warning";\n' "$dir/log" >"$conf/override.d/logging.inc"
    for module in rbl asn spf dmarc dkim hfilter fuzzy_check url_redirector surbl mx_check phishing emails; do
        echo 'enabled = false;' >"$conf/local.d/$module.conf"
    done
    chmod -R a+rX "$dir"
    setsid rspamd -f -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf \
        --var="LOCAL_CONFDIR=$conf" --var="DBDIR=$dbdir" --var="RUNDIR=$dir/run" --var="LOGDIR=$dir/log" \
        </dev/null >>"$dir/rspamd.out" 2>&1 &
    echo $! >"$dir/pid"
    wait_for 300 listening "$port" || die "rspamd does not listen on 127.0.0.1:$port; see $dir/log/rspamd.log and $dir/rspamd.out"
}

# Leaves a watcher that stops the daemon of $1 once process $2 has exited, then removes $1
# (kept with FILTER_KEEP_ARTIFACTS=1). It closes the descriptors it inherits, so a caller
# waiting for this script's output is not held.
stop_with() {
    local dir=$1 pid=$2
    # shellcheck disable=SC2016 # expanded by the watcher
    setsid bash -c '
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done
        while kill -0 "$1" 2>/dev/null; do sleep 1; done
        "$2" stop "$3"
        [[ ${FILTER_KEEP_ARTIFACTS:-} == 1 ]] || rm -rf -- "$3"' \
        watcher "$pid" "${BASH_SOURCE[0]}" "$dir" </dev/null >/dev/null 2>&1 &
}

main() {
    local command=${1:-}
    case $command in
    start)
        (($# == 4)) || die "usage: $0 start spamd|clamd|rspamd DIR PORT"
        local daemon=$2 dir=$3 port=$4
        [[ $daemon =~ ^(spamd|clamd|rspamd)$ ]] || die "unknown daemon \"$daemon\": spamd, clamd or rspamd"
        mkdir -p "$dir"
        dir=$(cd "$dir" && pwd)
        stop "$dir"
        "start_$daemon" "$dir" "$port"
        if [[ -n ${FILTER_SCANNER_STOP_WITH:-} ]]; then
            stop_with "$dir" "$FILTER_SCANNER_STOP_WITH"
        fi
        ;;
    stop)
        (($# == 2)) || die "usage: $0 stop DIR"
        stop "$2"
        ;;
    *)
        die "usage: $0 start spamd|clamd|rspamd DIR PORT | stop DIR"
        ;;
    esac
}

main "$@"
