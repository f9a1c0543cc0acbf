#!/usr/bin/env bash
# tests/integration/run.sh - oneoff's integration tests: the real binary against real OpenSSH
# sshd "hosts" on 127.0.0.x loopback addresses (tests/fleet.sh).
#
#   ONEOFF=/abs/path/build/oneoff bash tests/integration/run.sh [TEST_NAME...]
#
# `make integration` runs it. One fleet of 6 hosts (h1..h6, stage "test") is started in a
# mktemp -d directory for the whole suite and stopped (EXIT trap) at the end. Each test is a
# function test_NAME, run in a fresh bash under `timeout` (its own process group) with a
# per-test work directory; it fails with `fail MESSAGE`. The runner prints "ok - NAME" or
# "not ok - NAME" with the reason, then "integration: N passed, N failed", and exits non-zero
# on any failure. Without arguments every test runs, in the order of this file.
#
# Environment: ONEOFF (default build/oneoff), IT_TIMEOUT (seconds per test, default 60),
# IT_KEEP=1 keeps the temporary directory (the fleet is still stopped).
#
# Needs bash, coreutils, procps, iproute2, util-linux (setsid), openssh-server/-client, grep,
# sed, a C compiler and jansson's headers (a build dependency of oneoff: tests/integration/
# jsonq.c reads run.json with it, schemacheck.c checks every run.json a test leaves against
# docs/run.schema.json; jq is not assumed). Never contacts any non-loopback address,
# never uses ~/.ssh (HOME points at an empty directory for oneoff), and only ever signals
# processes it started, by pid.
set -u
export LC_ALL=C

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$HERE/../.." && pwd -P)
FLEET=$ROOT/tests/fleet.sh
NHOSTS=6

# =============================================================================================
# helpers used inside tests (a test runs in its own bash: `fail` ends it)

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
note() { printf '# %s\n' "$*" >&2; }
now_ms() { date +%s%3N; }

CLEANUP=()
on_exit() { CLEANUP+=("$1"); }
run_cleanup() {
    local i
    for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[$i]}" || true; done
    CLEANUP=()
}

# proc_start PID: the start time of a live process (field 22 of /proc/PID/stat)
proc_start() {
    local line
    { IFS= read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    line=${line##*) }
    set -- $line
    echo "${20}"
}

# ours PID: remembers PID with its start time; kill_ours PID:START SIGKILLs it only if it is
# still that very process (pids are reused)
ours() { echo "$1:$(proc_start "$1")"; }
kill_ours() {
    local pid=${1%%:*} st=${1#*:}
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] && [ -n "$st" ] || return 0
    [ "$(proc_start "$pid")" = "$st" ] || return 0
    kill -KILL "$pid" 2>/dev/null || true
}

# The common options of every oneoff call; KH selects another known_hosts file.
# oo NAME SUBCOMMAND ARGS... : runs oneoff in the foreground. Sets RC, OUT, ERR, MS (elapsed),
# RUNDIR (from "oneoff: logs: DIR") and JSON (RUNDIR/run.json).
oo() {
    local name=$1 sub=$2 t0
    shift 2
    OUT=$W/$name.out ERR=$W/$name.err
    t0=$(now_ms)
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" \
        "$ONEOFF" "$sub" -C "$DIR/app" --known-hosts "${KH:-$DIR/known_hosts}" "$@" \
        >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    MS=$(($(now_ms) - t0))
    find_rundir
}

find_rundir() {
    RUNDIR=$(sed -n 's/^oneoff: logs: //p' "$ERR" | tail -n 1)
    JSON=${RUNDIR:+$RUNDIR/run.json}
}

# oo_bg NAME SUBCOMMAND ARGS... : starts oneoff in a session of its own (setsid), so that a
# signal can be sent to oneoff alone. Sets BGPID (to wait for) and OOPID (oneoff's pid).
oo_bg() {
    local name=$1 sub=$2 pidf i
    shift 2
    OUT=$W/$name.out ERR=$W/$name.err
    pidf=$W/$name.pid
    rm -f "$pidf"
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" setsid -w bash -c \
        'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"' "$pidf" \
        "$ONEOFF" "$sub" -C "$DIR/app" --known-hosts "${KH:-$DIR/known_hosts}" "$@" \
        >"$OUT" 2>"$ERR" </dev/null &
    BGPID=$!
    on_exit "kill_ours $(ours $BGPID)"
    for ((i = 0; i < 100; i++)); do
        [ -s "$pidf" ] && break
        sleep 0.05
    done
    OOPID=$(cat "$pidf" 2>/dev/null) || fail "oneoff did not start (no pid file)"
    on_exit "kill_ours $(ours "$OOPID")"
}

# wait_bg SECONDS: waits for the background oneoff of oo_bg (or any BGPID) to end; sets RC
# and MS (since WAIT_T0, or since the call). Fails when it is still running after SECONDS.
wait_bg() {
    local limit=$(($1 * 1000)) t0=${WAIT_T0:-$(now_ms)}
    while kill -0 "$BGPID" 2>/dev/null; do
        if [ $(($(now_ms) - t0)) -gt "$limit" ]; then
            fail "oneoff still running ${1}s later"
        fi
        sleep 0.05
    done
    wait "$BGPID"
    RC=$?
    MS=$(($(now_ms) - t0))
    find_rundir
}

# count_procs ERE: processes whose full command line matches ERE
count_procs() { pgrep -fc -- "$1" 2>/dev/null || true; }

# wait_procs ERE N SECONDS: until exactly N processes match; fails otherwise
wait_procs() {
    local ere=$1 want=$2 limit=$(($3 * 1000)) t0 n
    t0=$(now_ms)
    while :; do
        n=$(count_procs "$ere")
        [ "$n" = "$want" ] && return 0
        if [ $(($(now_ms) - t0)) -gt "$limit" ]; then
            fail "expected $want process(es) matching '$ere' within ${3}s, found $n: $(pgrep -fa -- "$ere" | cut -c1-160 | head -5)"
        fi
        sleep 0.1
    done
}

# --- assertions on the last oneoff run

show_run() { # context for a failure message: the last oneoff call
    printf -- '--- oneoff exited %s after %sms; stdout (head):\n' "${RC:-?}" "${MS:-?}"
    head -n 20 "$OUT" 2>/dev/null | cut -c1-160
    printf -- '--- stderr (head):\n'
    head -n 12 "$ERR" 2>/dev/null | cut -c1-300
}
fail_run() {
    printf 'FAIL: %s\n' "$*" >&2
    show_run >&2
    exit 1
}

expect_rc() { [ "$RC" = "$1" ] || fail_run "exit code $RC, expected $1${2:+ ($2)}"; }
expect_eq() { [ "$1" = "$2" ] || fail_run "$3: got '$1', expected '$2'"; }
expect_match() { [[ "$1" =~ $2 ]] || fail_run "$3: '$1' does not match /$2/"; }
expect_nomatch() { ! [[ "$1" =~ $2 ]] || fail_run "$3: '$1' matches /$2/"; }
# has_line FILE LINE [N]: the exact line occurs N times (default once)
has_line() {
    local n
    n=$(grep -cxF -- "$2" "$1")
    [ "$n" = "${3:-1}" ] || fail_run "expected ${3:-1} line(s) '$2' in ${1##*/}, found $n"
}
expect_grep() { grep -qE -- "$2" "$1" || fail_run "${3:-${1##*/}}: no line matches /$2/"; }
expect_nogrep() {
    ! grep -qE -- "$2" "$1" || fail_run "${3:-${1##*/}}: unexpected line matching /$2/: $(grep -m1 -E -- "$2" "$1" | cut -c1-200)"
}
expect_file() { [ -f "$1" ] || fail_run "missing file $1"; }

# check_records DIR MARKER: every run.json under DIR newer than MARKER matches
# docs/run.schema.json (schemacheck.c)
check_records() {
    local f msg
    while IFS= read -r f; do
        msg=$("$TOOLS/schemacheck" "$ROOT/docs/run.schema.json" "$f" 2>&1) ||
            fail "$f does not match docs/run.schema.json: $msg"
    done < <(find "$1" -name run.json -type f -newer "$2" 2>/dev/null)
}

# jget PATH...: values from the last run.json (see jsonq.c)
jget() { "$TOOLS/jsonq" "$JSON" "$@"; }
# expect_json PATH VALUE
expect_json() {
    local v
    v=$(jget "$1") || fail_run "run.json: cannot read $1 ($v)"
    [ "$v" = "$2" ] || fail_run "run.json $1: got '$v', expected '$2'"
}
expect_valid_json() {
    local f=${1:-$JSON} msg
    [ -n "$f" ] || fail_run "no run directory: no 'oneoff: logs:' line on stderr"
    expect_file "$f"
    msg=$("$TOOLS/jsonq" "$f" 2>&1) || fail_run "not valid JSON: $msg"
}

# live FILE: the live lines (everything before the summary's blank line)
live() { sed '/^$/,$d' "$1"; }
# summary_row HOST: "STATUS EXIT" from the summary table on stdout
summary_row() { sed -n '/^HOST  *STATUS /,$p' "$OUT" | awk -v h="$1" '$1 == h { print $2, $3; exit }'; }
expect_row() { # expect_row HOST STATUS [EXIT]
    local r
    r=$(summary_row "$1")
    [ -n "$r" ] || fail_run "summary: no row for host $1"
    set -- "$1" "$2" "${3:-}" "$r"
    [ "${4%% *}" = "$2" ] || fail_run "summary: $1 is '${4%% *}', expected '$2'"
    [ -z "$3" ] || [ "${4#* }" = "$3" ] || fail_run "summary: $1 exit is '${4#* }', expected '$3'"
}
# the full summary row text of HOST (for error messages)
summary_line() { sed -n '/^HOST  *STATUS /,$p' "$OUT" | awk -v h="$1" '$1 == h { print; exit }'; }
expect_counts() { has_line "$OUT" "$1"; }

# log_content HOST [out|err]: the bytes of a host's log lines of one stream, one per line
log_content() { sed -n "s/^[^ ]* ${2:-out} [|~] //p" "$RUNDIR/$1.log"; }
# log_marks HOST [out|err]: the '|' or '~' of each of those lines
log_marks() { sed -n "s/^[^ ]* ${2:-out} \\([|~]\\) .*/\\1/p" "$RUNDIR/$1.log"; }

sha() { sha256sum | cut -d' ' -f1; }

host_fp() { ssh-keygen -l -E sha256 -f "$DIR/hosts/h$1/ssh_host_ed25519_key.pub" | cut -d' ' -f2; }
host_ip() { echo "127.0.0.$((10 + $1))"; }

# =============================================================================================
# the tests

# 1. success everywhere: prefixed lines on the right streams, summary, logs, run.json
test_success_on_all_hosts() {
    oo run run hello -s test
    expect_rc 0
    local i l
    for i in $(seq 1 $NHOSTS); do
        has_line "$OUT" "h$i | hello from h$i"
        has_line "$ERR" "h$i | to err h$i"
        expect_row "h$i" ok 0
    done
    expect_nogrep "$OUT" 'to err' "stdout"
    expect_nogrep "$ERR" 'hello from' "stderr"
    [ "$(live "$OUT" | wc -l)" = $NHOSTS ] || fail_run "expected $NHOSTS live lines on stdout"
    expect_counts "$NHOSTS ok, 0 failed, 0 unreachable"
    # logs
    [ -n "$RUNDIR" ] || fail_run "no 'oneoff: logs: DIR' line on stderr"
    [ "$(cd "$RUNDIR/.." && pwd -P)" = "$(cd "$DIR/app/log" && pwd -P)" ] ||
        fail_run "run directory $RUNDIR is not under $DIR/app/log"
    local id=${RUNDIR##*/} ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
    for i in $(seq 1 $NHOSTS); do
        l=$RUNDIR/h$i.log
        expect_file "$l"
        [ "$(grep -cE "^$ts out \\| hello from h$i\$" "$l")" = 1 ] || fail_run "h$i.log: no timestamped 'out | hello from h$i' line: $(cat "$l")"
        [ "$(grep -cE "^$ts err \\| to err h$i\$" "$l")" = 1 ] || fail_run "h$i.log: no timestamped 'err | to err h$i' line: $(cat "$l")"
    done
    # run.json
    expect_valid_json
    expect_json run_id "$id"
    expect_json stage test
    expect_json task hello
    expect_json task_sha256 "$(sha <"$DIR/app/tasks/hello.yml")"
    expect_json exit_code 0
    expect_json hosts.# $NHOSTS
    for i in $(seq 1 $NHOSTS); do
        expect_json "hosts.h$i.status" ok
        expect_json "hosts.h$i.exit_code" 0
        l=$(jget "hosts.h$i.log")
        [ "$l" -ef "$RUNDIR/h$i.log" ] || fail_run "run.json hosts.h$i.log is '$l', not $RUNDIR/h$i.log"
    done
}

# 1b. host names of different lengths: the prefix column is aligned
test_prefix_aligned() {
    cat >"$DIR/app/hosts/names.yml" <<EOF
stage: names
defaults:
  user: root
  port: $PORT
  identity: $DIR/client_key
  env_file: shared/.env
hosts:
  a: { address: $(host_ip 1), app_dir: $DIR/hosts/h1/app }
  long-host-name: { address: $(host_ip 2), app_dir: $DIR/hosts/h2/app }
EOF
    oo run run hello -s names
    expect_rc 0
    has_line "$OUT" "a              | hello from h1"
    has_line "$OUT" "long-host-name | hello from h2"
    has_line "$ERR" "a              | to err h1"
    expect_counts "2 ok, 0 failed, 0 unreachable"
}

# 2. one host exits 7: failed with 7, the others ok, exit 1
test_nonzero_exit_on_one_host() {
    oo run run fail7 -s test -l h1,h2,h3
    expect_rc 1
    expect_row h1 ok 0
    expect_row h2 failed 7
    expect_row h3 ok 0
    expect_counts "2 ok, 1 failed, 0 unreachable"
    expect_valid_json
    expect_json exit_code 1
    expect_json hosts.h2.status failed
    expect_json hosts.h2.exit_code 7
    expect_json hosts.h1.status ok
    expect_json hosts.h3.status ok
    expect_json hosts.h3.exit_code 0
}

# 3. the task dies from a signal: failed, SIGTERM/SIGKILL in the summary, signal in run.json
test_signal_death() {
    oo run run sig -s test -l h1,h2,h3
    expect_rc 1
    expect_row h1 ok 0
    expect_row h2 failed SIGTERM
    expect_row h3 failed SIGKILL
    expect_counts "1 ok, 2 failed, 0 unreachable"
    has_line "$OUT" "h1 | after"
    has_line "$OUT" "h2 | before"
    has_line "$OUT" "h3 | before"
    expect_nogrep "$OUT" '^h[23] \| after$' "stdout"
    expect_valid_json
    expect_json exit_code 1
    expect_json hosts.h2.status failed
    expect_json hosts.h3.status failed
    expect_match "$(jget hosts.h2.signal)" '^(SIG)?TERM$' "run.json hosts.h2.signal"
    expect_match "$(jget hosts.h3.signal)" '^(SIG)?KILL$' "run.json hosts.h3.signal"
    expect_json hosts.h1.signal null
}

# 4. a host without sshd: unreachable, "Connection refused", the others unaffected, exit 3
test_unreachable_connection_refused() {
    on_exit "bash '$FLEET' start-host '$DIR' 2 >/dev/null 2>&1"
    bash "$FLEET" stop-host "$DIR" 2 >/dev/null 2>&1 || fail "fleet.sh stop-host failed"
    oo run run hello -s test -l h1,h2,h3
    expect_rc 3
    expect_row h2 unreachable
    [[ "$(summary_line h2)" == *"Connection refused"* ]] || fail_run "summary row of h2 does not say 'Connection refused'"
    expect_row h1 ok 0
    expect_row h3 ok 0
    has_line "$OUT" "h1 | hello from h1"
    has_line "$OUT" "h3 | hello from h3"
    expect_nogrep "$OUT" '^h2 \|' "stdout"
    expect_counts "2 ok, 0 failed, 1 unreachable"
    expect_valid_json
    expect_json exit_code 3
    expect_json hosts.h2.status unreachable
    expect_match "$(jget hosts.h2.error)" 'Connection refused' "run.json hosts.h2.error"
    [ "$MS" -lt 8000 ] || fail_run "a refused connection took ${MS}ms"
}

# 5. a host that accepts TCP and never speaks SSH: unreachable after --connect-timeout
test_silent_host_connect_timeout() {
    local addr spid="" a i
    for a in 30 31 32 33 34 35 36 37 38 39; do
        addr=127.0.0.$a
        : >"$W/silent.log"
        "$TOOLS/silent_listener" "$addr" "$PORT" >"$W/silent.log" 2>&1 &
        spid=$!
        on_exit "kill_ours $(ours $spid)"
        for ((i = 0; i < 50; i++)); do
            grep -q listening "$W/silent.log" && break
            kill -0 "$spid" 2>/dev/null || break
            sleep 0.05
        done
        grep -q listening "$W/silent.log" && break
        spid=""
    done
    [ -n "$spid" ] || fail "silent listener could not listen: $(cat "$W/silent.log")"
    cat >"$DIR/app/hosts/silent.yml" <<EOF
stage: silent
defaults:
  user: root
  port: $PORT
  identity: $DIR/client_key
  env_file: shared/.env
hosts:
  h1: { address: $(host_ip 1), app_dir: $DIR/hosts/h1/app }
  quiet: { address: $addr, app_dir: /nonexistent/app }
EOF
    oo run run hello -s silent --connect-timeout 2s
    expect_rc 3
    grep -q accepted "$W/silent.log" || fail_run "oneoff never connected to the silent listener"
    expect_row quiet unreachable
    expect_row h1 ok 0
    has_line "$OUT" "h1    | hello from h1"
    expect_counts "1 ok, 0 failed, 1 unreachable"
    [ "$MS" -ge 1500 ] && [ "$MS" -le 7000 ] || fail_run "with --connect-timeout 2s the run took ${MS}ms"
    expect_valid_json
    expect_json hosts.quiet.status unreachable
    expect_json hosts.h1.status ok
    expect_match "$(jget hosts.quiet.error)" '[Tt]ime' "run.json hosts.quiet.error (should say it timed out)"
}

# 6. unknown host key: refused (fingerprint, known_hosts named); accept-new records it;
#    a user ssh config with "StrictHostKeyChecking no" does not weaken the check
test_unknown_host_key() {
    local kh=$W/known_hosts.missing-h2 fp line
    grep -vF "[$(host_ip 2)]:$PORT " "$DIR/known_hosts" >"$kh"
    [ "$(wc -l <"$kh")" = $((NHOSTS - 1)) ] || fail "could not drop h2 from known_hosts"
    fp=$(host_fp 2)
    [[ "$fp" == SHA256:* ]] || fail "cannot compute h2's fingerprint"
    cp "$kh" "$W/kh.orig"

    KH=$kh oo strict run hello -s test -l h1,h2,h3
    expect_rc 3
    expect_row h2 host-key
    expect_row h1 ok 0
    expect_row h3 ok 0
    line=$(summary_line h2)
    [[ "$line" == *"$fp"* ]] || fail_run "h2's message does not name its fingerprint $fp"
    [[ "$line" == *"$kh"* ]] || fail_run "h2's message does not name the known_hosts file $kh"
    expect_nogrep "$OUT" '^h2 \|' "stdout"
    expect_valid_json
    expect_json hosts.h2.status host-key
    [[ "$(jget hosts.h2.error)" == *"$fp"* ]] || fail_run "run.json hosts.h2.error lacks $fp"
    cmp -s "$kh" "$W/kh.orig" || fail_run "strict mode modified $kh"

    # a weak user ssh config changes nothing
    printf 'Host *\n    StrictHostKeyChecking no\n' >"$W/weak_ssh_config"
    KH=$kh oo weak run hello -s test -l h1,h2 --ssh-config "$W/weak_ssh_config"
    expect_rc 3
    expect_row h2 host-key
    expect_row h1 ok 0
    expect_nogrep "$OUT" '^h2 \|' "stdout (weak ssh config)"
    cmp -s "$kh" "$W/kh.orig" || fail_run "a ssh config with StrictHostKeyChecking no made oneoff write $kh"

    # accept-new: runs, and records exactly h2's key in that file
    local acc=$W/known_hosts.accept
    cp "$kh" "$acc"
    KH=$acc oo accept run hello -s test -l h1,h2,h3 --host-key-policy accept-new
    expect_rc 0
    expect_row h2 ok 0
    has_line "$OUT" "h2 | hello from h2"
    [ "$(wc -l <"$acc")" = $NHOSTS ] || fail_run "accept-new: expected 1 line added to $acc, now $(wc -l <"$acc") lines"
    line=$(ssh-keygen -F "[$(host_ip 2)]:$PORT" -f "$acc" | grep -v '^#' | head -n 1)
    local want
    want=$(cut -d' ' -f1-2 "$DIR/hosts/h2/ssh_host_ed25519_key.pub")
    [ "$(echo "$line" | cut -d' ' -f2-3)" = "$want" ] ||
        fail_run "accept-new recorded '$line' for h2, expected key '$want'"
    # and the recorded key is then trusted in strict mode
    KH=$acc oo accepted run hello -s test -l h2
    expect_rc 0
    expect_row h2 ok 0
    # accept-new for every host at once (parallel updates of one file): each key once, right
    : >"$W/known_hosts.empty"
    KH=$W/known_hosts.empty oo acceptall run hello -s test --host-key-policy accept-new
    expect_rc 0
    expect_counts "$NHOSTS ok, 0 failed, 0 unreachable"
    [ "$(grep -vc '^#' "$W/known_hosts.empty")" = $NHOSTS ] ||
        fail_run "accept-new on $NHOSTS unknown hosts wrote $(grep -vc '^#' "$W/known_hosts.empty") lines"
    local i
    for i in $(seq 1 $NHOSTS); do
        line=$(ssh-keygen -F "[$(host_ip "$i")]:$PORT" -f "$W/known_hosts.empty" | grep -v '^#' | head -n 1)
        want=$(cut -d' ' -f1-2 "$DIR/hosts/h$i/ssh_host_ed25519_key.pub")
        [ "$(echo "$line" | cut -d' ' -f2-3)" = "$want" ] ||
            fail_run "accept-new recorded '$line' for h$i, expected key '$want'"
    done
}

# 7. a changed host key is refused with HOST KEY CHANGED and FILE:LINE, even with accept-new
test_changed_host_key() {
    on_exit "bash '$FLEET' up '$DIR' $NHOSTS test >/dev/null 2>&1"
    cp "$DIR/known_hosts" "$W/kh.before"
    bash "$FLEET" rekey "$DIR" 6 >/dev/null 2>&1 || fail "fleet.sh rekey failed"
    local n fp
    n=$(grep -nF "[$(host_ip 6)]:$PORT " "$DIR/known_hosts" | cut -d: -f1)
    fp=$(host_fp 6)
    oo changed run hello -s test -l h5,h6
    expect_rc 3
    expect_row h6 host-key
    expect_row h5 ok 0
    local line
    line=$(summary_line h6)
    [[ "$line" == *"HOST KEY CHANGED"* ]] || fail_run "h6's message lacks 'HOST KEY CHANGED'"
    [[ "$line" == *"$DIR/known_hosts:$n"* ]] || fail_run "h6's message lacks the known_hosts line '$DIR/known_hosts:$n'"
    [[ "$line" == *"$fp"* ]] || fail_run "h6's message lacks the new fingerprint $fp"
    expect_nogrep "$OUT" '^h6 \|' "stdout"
    expect_valid_json
    expect_json hosts.h6.status host-key
    # accept-new never accepts a changed key, nor rewrites the file
    oo changed2 run hello -s test -l h6 --host-key-policy accept-new
    expect_rc 3
    expect_row h6 host-key
    [[ "$(summary_line h6)" == *"HOST KEY CHANGED"* ]] || fail_run "accept-new: h6's message lacks 'HOST KEY CHANGED'"
    cmp -s "$DIR/known_hosts" "$W/kh.before" || fail_run "known_hosts was modified"
    # restore: `up` rewrites known_hosts from the current keys
    bash "$FLEET" up "$DIR" $NHOSTS test >/dev/null 2>&1 || fail "fleet.sh up (restore) failed"
    oo restored run hello -s test -l h6
    expect_rc 0
}

# 8. a host dies while the task runs: that host failed (connection lost), the other completes
test_host_killed_mid_run() {
    on_exit "bash '$FLEET' start-host '$DIR' 4 >/dev/null 2>&1"
    oo_bg lost run slow -s test -l h3,h4
    wait_procs "^$SLEEP 30\$" 1 15
    local i
    for ((i = 0; i < 100; i++)); do
        grep -qxF 'h4 | started' "$OUT" && break
        sleep 0.05
    done
    bash "$FLEET" stop-host "$DIR" 4 >/dev/null 2>&1 || fail "fleet.sh stop-host failed"
    WAIT_T0=$(now_ms) wait_bg 20
    expect_rc 1
    expect_row h4 failed
    expect_row h3 ok 0
    expect_match "$(summary_line h4)" '[Cc]onnection' "summary row of h4"
    has_line "$OUT" "h3 | finished"
    has_line "$OUT" "h4 | started"
    expect_nogrep "$OUT" '^h4 \| finished' "stdout"
    expect_counts "1 ok, 1 failed, 0 unreachable"
    [ "$MS" -lt 12000 ] || fail_run "oneoff took ${MS}ms after h4 died (h3 only sleeps 3s)"
    expect_valid_json
    expect_json hosts.h4.status failed
    expect_json hosts.h3.status ok
    expect_match "$(jget hosts.h4.error)" '[Cc]onnection' "run.json hosts.h4.error"
    [ "$(log_content h4 | head -n 1)" = started ] || fail_run "h4.log lost what arrived before the host died"
    # the remote watchdog stops the task when its connection is gone
    wait_procs "^$SLEEP 30\$" 0 8
}

# 9a. a 200 000-byte line arrives whole: fragments of exactly 64 KiB in the log, same bytes
test_long_line_whole() {
    oo long run long -s test -l h1
    expect_rc 0
    local h
    h=$(sed -n 's/^h1 | \([0-9a-f]\{64\}\)$/\1/p' "$ERR")
    [ -n "$h" ] || fail_run "no checksum line on stderr"
    # the log: out lines up to "after"
    log_content h1 out >"$W/log.lines"
    log_marks h1 out >"$W/log.marks"
    [ "$(tail -n 1 "$W/log.lines")" = after ] || fail_run "h1.log: last out line is not 'after'"
    head -n -1 "$W/log.lines" >"$W/log.data"
    head -n -1 "$W/log.marks" >"$W/log.datamarks"
    local total=0 n=0 len m
    while IFS= read -r len <&3 && IFS= read -r m <&4; do
        n=$((n + 1))
        total=$((total + len))
        if [ "$m" = '~' ] && [ "$len" != 65536 ]; then
            fail_run "h1.log: fragment $n holds $len bytes (fragments must be exactly 64 KiB)"
        fi
    done 3< <(awk '{ print length($0) }' "$W/log.data") 4<"$W/log.datamarks"
    [ "$total" = 200000 ] || fail_run "h1.log: the long line's out lines add up to $total bytes, expected 200000"
    [ "$(grep -c . "$W/log.datamarks")" = "$n" ] || fail_run "h1.log: marks and lines differ"
    [ "$(tail -n 1 "$W/log.datamarks")" = '|' ] || fail_run "h1.log: the last piece of the line is not marked '|'"
    [ "$(grep -c '^~$' "$W/log.datamarks")" = $((n - 1)) ] || fail_run "h1.log: pieces before the last must be marked '~'"
    [ "$(tr -d '\n' <"$W/log.data" | sha)" = "$h" ] || fail_run "h1.log: the long line's bytes differ from what the host printed"
    # live output: the same bytes, prefixed
    live "$OUT" | sed '/^h1 | after$/,$d' | sed 's/^h1 | //' | tr -d '\n' >"$W/live.data"
    [ "$(wc -c <"$W/live.data")" = 200000 ] || fail_run "stdout: the long line shows $(wc -c <"$W/live.data") bytes"
    [ "$(sha <"$W/live.data")" = "$h" ] || fail_run "stdout: the long line's bytes differ"
}

# 9b. 3 hosts printing many lines at once: every stdout line is one host's whole line
test_lines_never_mix() {
    oo lines run lines -s test -l h1,h2,h3
    expect_rc 0
    live "$OUT" >"$W/live"
    [ "$(wc -l <"$W/live")" = 12000 ] || fail_run "expected 12000 live lines, got $(wc -l <"$W/live")"
    local bad
    bad=$(grep -cvE '^(h[1-3]) \| \1 line [0-9]+ 0{300}$' "$W/live")
    [ "$bad" = 0 ] || fail_run "$bad stdout lines are not one host's whole line, e.g. '$(grep -m1 -vE '^(h[1-3]) \| \1 line [0-9]+ 0{300}$' "$W/live" | cut -c1-120)'"
    local i
    seq 1 4000 >"$W/seq"
    for i in 1 2 3; do
        sed -n "s/^h$i | h$i line \\([0-9]*\\) .*/\\1/p" "$W/live" | cmp -s - "$W/seq" ||
            fail_run "h$i's lines are missing or out of order on stdout"
        [ "$(log_content "h$i" | grep -c "^h$i line [0-9]* 0*\$")" = 4000 ] || fail_run "h$i.log does not hold 4000 lines"
    done
    expect_nogrep "$ERR" '^h[0-9]' "stderr"
}

# 10. output without a trailing newline: shown once, marked "~" in the log
test_no_trailing_newline() {
    oo noeol run noeol -s test -l h1,h2
    expect_rc 0
    local i
    for i in 1 2; do
        has_line "$OUT" "h$i | abc"
        has_line "$ERR" "h$i | xyz"
        expect_grep "$RUNDIR/h$i.log" '^[^ ]+ out ~ abc$' "h$i.log"
        expect_grep "$RUNDIR/h$i.log" '^[^ ]+ err ~ xyz$' "h$i.log"
        expect_nogrep "$RUNDIR/h$i.log" ' out \| abc$' "h$i.log"
    done
    [ "$(grep -c abc "$OUT")" = 2 ] || fail_run "'abc' shown $(grep -c abc "$OUT") times for 2 hosts"
}

# 11. control bytes are shown escaped, never raw; the log keeps the raw bytes
test_binary_output_escaped() {
    oo bin run binary -s test -l h1
    expect_rc 0
    local f
    for f in "$OUT" "$ERR"; do
        [ "$(grep -c $'\x1b' "$f")" = 0 ] || fail_run "raw ESC byte in ${f##*/}"
        [ "$(tr -d '\n\t\040-\176\200-\377' <"$f" | wc -c)" = 0 ] || fail_run "raw control bytes in ${f##*/}: $(tr -d '\n\t\040-\176\200-\377' <"$f" | od -An -c | head -n 2)"
        [ "$(grep -c $'\xff' "$f")" = 0 ] || fail_run "raw invalid UTF-8 byte 0xff in ${f##*/}"
        [ "$(grep -c $'\xc2\x9b' "$f")" = 0 ] || fail_run "raw C1 control (U+009B) in ${f##*/}"
    done
    has_line "$OUT" 'h1 | \e[31mred\x01'
    expect_grep "$OUT" '^h1 \| bad\\xffbyte .*csi caf'$'\xc3\xa9''$' "stdout (invalid UTF-8 escaped, valid UTF-8 kept)"
    has_line "$ERR" 'h1 | \e]0;title\x07'
    # the log holds the bytes as received
    printf '\033[31mred\001\nbad\377byte \302\233csi caf\303\251\n' >"$W/want.out"
    log_content h1 out >"$W/got.out"
    cmp -s "$W/got.out" "$W/want.out" || fail_run "h1.log does not hold the raw stdout bytes: $(od -An -c "$W/got.out" | head -n 3)"
    printf '\033]0;title\007\n' >"$W/want.err"
    log_content h1 err >"$W/got.err"
    cmp -s "$W/got.err" "$W/want.err" || fail_run "h1.log does not hold the raw stderr bytes"
    expect_valid_json
    expect_json hosts.h1.status ok
}

# 11b. run.json stays valid JSON when the command and the arguments hold control bytes
test_run_json_valid_with_control_bytes() {
    local cmd=$'printf "%s\\n" "\e[1mX\x01\xff\xc3\xa9\x7f"'
    oo execbin exec -s test -l h1 -- "$cmd"
    expect_rc 0
    expect_valid_json
    [ "$(tr -d '\n\040-\177\200-\377' <"$JSON" | wc -c)" = 0 ] || fail_run "run.json holds raw control bytes"
    expect_json command $'printf "%s\\n" "\e[1mX\x01\xef\xbf\xbd\xc3\xa9\x7f"'
    has_line "$OUT" 'h1 | \e[1mX\x01\xffé\x7f'
    oo argsbin run echoargs -s test -l h1 -- $'\e[2J' $'a\x01\x02b' $'\xff' $'tab\there'
    expect_rc 0
    expect_valid_json
    [ "$(tr -d '\n\040-\177\200-\377' <"$JSON" | wc -c)" = 0 ] || fail_run "run.json holds raw control bytes"
    expect_json args.# 4
    expect_json args.0 $'\e[2J'
    expect_json args.1 $'a\x01\x02b'
    expect_json args.2 $'\xef\xbf\xbd'
    expect_json args.3 $'tab\there'
}

# 12. 10 MB from one host: every line arrives, live and in the log
test_ten_megabytes() {
    oo big run big -s test -l h1
    expect_rc 0
    local n h
    n=$(sed -n 's/^h1 | lines=\([0-9]*\) sha=.*/\1/p' "$ERR")
    h=$(sed -n 's/^h1 | lines=[0-9]* sha=\([0-9a-f]*\)$/\1/p' "$ERR")
    [ -n "$n" ] && [ -n "$h" ] || fail_run "no 'lines= sha=' line on stderr"
    [ "$n" = 133334 ] || fail_run "the host counted $n lines, expected 133334"
    [ "$(live "$OUT" | wc -l)" = "$n" ] || fail_run "stdout shows $(live "$OUT" | wc -l) lines, expected $n"
    [ "$(live "$OUT" | sed 's/^h1 | //' | sha)" = "$h" ] || fail_run "stdout: the 10 MB differ from what the host printed"
    [ "$(log_content h1 out | wc -l)" = "$n" ] || fail_run "h1.log holds $(log_content h1 out | wc -l) out lines, expected $n"
    [ "$(log_content h1 out | sha)" = "$h" ] || fail_run "h1.log: the 10 MB differ from what the host printed"
    expect_counts "1 ok, 0 failed, 0 unreachable"
}

# wait until the task of oo_bg runs on N hosts (N sleep 1000 processes, N "started" lines)
wait_running() {
    wait_procs "^$SLEEP 1000\$" "$1" 15
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(grep -c '^h[0-9] | started$' "$OUT")" = "$1" ] && return 0
        sleep 0.05
    done
    fail_run "the hosts did not all print 'started'"
}

expect_interrupted() { # expect_interrupted HOST...
    local h
    expect_rc 130
    for h in "$@"; do
        expect_row "$h" interrupted
        expect_json "hosts.$h.status" interrupted
        [ "$(log_content "$h" | head -n 1)" = started ] || fail_run "$h.log lost what arrived before Ctrl-C"
    done
    expect_counts "0 ok, 0 failed, 0 unreachable, $# interrupted"
    expect_valid_json
    expect_json exit_code 130
}

# 13. Ctrl-C: exit 130, every host interrupted, logs kept, no remote process left
test_ctrl_c_stops_remote_work() {
    oo_bg intr run forever -s test -l h1,h2,h3
    wait_running 3
    WAIT_T0=$(now_ms)
    kill -INT "$OOPID"
    wait_bg 10
    expect_interrupted h1 h2 h3
    # the sleeps, their shells and the wrappers are all gone
    wait_procs "^$SLEEP 1000\$" 0 8
    wait_procs "$SLEEP 1000" 0 8
}

# 13b. a second Ctrl-C 0.3 s after the first: still 130, promptly, nothing left behind
test_double_ctrl_c() {
    oo_bg intr2 run forever -s test -l h1,h2,h3
    wait_running 3
    WAIT_T0=$(now_ms)
    kill -INT "$OOPID"
    sleep 0.3
    kill -INT "$OOPID" 2>/dev/null
    wait_bg 10
    expect_interrupted h1 h2 h3
    wait_procs "^$SLEEP 1000\$" 0 8
    wait_procs "$SLEEP 1000" 0 8
}

# 13c. a task that ignores TERM: the first Ctrl-C cannot stop it at once, the second closes
#      every connection; oneoff exits 130 promptly and the watchdog still kills the task
test_double_ctrl_c_stubborn_task() {
    oo_bg intr3 run stubborn -s test -l h1,h2,h3
    wait_running 3
    WAIT_T0=$(now_ms)
    kill -INT "$OOPID"
    sleep 0.3
    kill -0 "$OOPID" 2>/dev/null || fail_run "oneoff ended on the first Ctrl-C although the task ignores TERM"
    local t2
    t2=$(now_ms)
    kill -INT "$OOPID"
    wait_bg 10
    [ $(($(now_ms) - t2)) -le 5000 ] || fail_run "oneoff took $(($(now_ms) - t2))ms to exit after the second Ctrl-C"
    expect_interrupted h1 h2 h3
    wait_procs "^$SLEEP 1000\$" 0 10
    wait_procs "$SLEEP 1000" 0 10
}

# 13f. Ctrl-C with --parallel 1: the hosts still waiting their turn are never started, and
#      the record says so (an operator must know where a migration never began)
test_ctrl_c_pending_hosts_never_start() {
    local i
    # with --parallel 1 the task runs on one host at a time (after every
    # host's preflight): Ctrl-C while h1 runs, and h2 and h3 never start
    oo_bg pending run forever -s test -l h1,h2,h3 --parallel 1
    wait_running 1
    WAIT_T0=$(now_ms)
    kill -INT "$OOPID"
    wait_bg 10
    expect_rc 130
    expect_nogrep "$OUT" '^h[23] \|' "stdout"
    expect_nogrep "$RUNDIR/h2.log" ' (out|err) [|~] ' "h2.log (output of a task that should never have started)"
    for i in 1 2 3; do expect_row "h$i" interrupted; done
    expect_valid_json
    [[ "$(jget hosts.h2.error)" == *"not started"* ]] ||
        fail_run "run.json hosts.h2.error is '$(jget hosts.h2.error)': it should say the task was not started there"
    [[ "$(summary_line h3)" == *"not started"* ]] ||
        fail_run "the summary row of h3 should say the task was not started there: '$(summary_line h3)'"
    wait_procs "$SLEEP 1000" 0 8
}

# 13e. SIGTERM (a CI job cancelled) is handled like Ctrl-C
test_sigterm_like_ctrl_c() {
    oo_bg term run forever -s test -l h1,h2
    wait_running 2
    WAIT_T0=$(now_ms)
    kill -TERM "$OOPID"
    wait_bg 10
    expect_interrupted h1 h2
    wait_procs "$SLEEP 1000" 0 8
}

# 13d. Ctrl-C while a host is still connecting (a slow network: a relay that waits 4 s before
#      it lets the SSH connection through): oneoff exits 130, and the task is never started
#      on that host (sshd logs "Starting session" for every command it starts)
test_ctrl_c_while_connecting() {
    local addr="" ppid a i before after
    for a in 40 41 42 43 44 45 46 47 48 49; do
        : >"$W/proxy.log"
        "$TOOLS/slow_proxy" "127.0.0.$a" "$PORT" "$(host_ip 1)" "$PORT" 4000 >"$W/proxy.log" 2>&1 &
        ppid=$!
        on_exit "kill_ours $(ours $ppid)"
        for ((i = 0; i < 50; i++)); do
            grep -q listening "$W/proxy.log" && break
            kill -0 "$ppid" 2>/dev/null || break
            sleep 0.05
        done
        if grep -q listening "$W/proxy.log"; then addr=127.0.0.$a; break; fi
    done
    [ -n "$addr" ] || fail "slow_proxy could not listen: $(cat "$W/proxy.log")"
    cat >"$DIR/app/hosts/slow.yml" <<EOF
stage: slow
defaults:
  user: root
  port: $PORT
  identity: $DIR/client_key
  env_file: shared/.env
hosts:
  h2: { address: $(host_ip 2), app_dir: $DIR/hosts/h2/app }
  far: { address: $addr, app_dir: $DIR/hosts/h1/app }
EOF
    cp "$DIR/known_hosts" "$W/known_hosts.slow"
    echo "[$addr]:$PORT $(cut -d' ' -f1-2 "$DIR/hosts/h1/ssh_host_ed25519_key.pub")" >>"$W/known_hosts.slow"
    before=$(grep -c 'Starting session' "$DIR/hosts/h1/sshd.log")
    KH=$W/known_hosts.slow oo_bg slow run forever -s slow
    for ((i = 0; i < 100; i++)); do
        grep -q accepted "$W/proxy.log" && break
        sleep 0.05
    done
    grep -q accepted "$W/proxy.log" || fail "oneoff never connected to the slow relay"
    sleep 0.5
    # the task starts nowhere before every host has passed its preflight
    [ -z "$(pgrep -f "^$SLEEP 1000\$")" ] ||
        fail_run "the task started on h2 while host 'far' was still connecting"
    [ "$(grep -c 'Starting session' "$DIR/hosts/h1/sshd.log")" = "$before" ] ||
        fail "precondition: host 'far' already connected before Ctrl-C (machine too slow for a 4 s relay delay?)"
    WAIT_T0=$(now_ms)
    kill -INT "$OOPID"
    wait_bg 10
    expect_rc 130
    expect_row h2 interrupted
    expect_row far interrupted
    expect_counts "0 ok, 0 failed, 0 unreachable, 2 interrupted"
    sleep 0.2
    after=$(grep -c 'Starting session' "$DIR/hosts/h1/sshd.log")
    [ "$after" = "$before" ] ||
        fail_run "the task was started on host 'far' after Ctrl-C (its sshd logged $((after - before)) new 'Starting session')"
    expect_nogrep "$RUNDIR/far.log" ' (out|err) [|~] ' "far.log (output from a task that should never have started)"
    wait_procs "$SLEEP 1000" 0 8
}

# 14. --output grouped: one contiguous block per host, on each stream
test_output_grouped() {
    oo grouped run group -s test -l h1,h2,h3 --output grouped
    expect_rc 0
    local f s want
    for s in out err; do
        if [ $s = out ]; then live "$OUT" >"$W/g.$s"; else grep '^h[0-9] | ' "$ERR" >"$W/g.$s"; fi
        [ "$(wc -l <"$W/g.$s")" = 15 ] || fail_run "grouped std$s: expected 15 lines, got $(wc -l <"$W/g.$s")"
        [ "$(cut -d' ' -f1 "$W/g.$s" | uniq | wc -l)" = 3 ] ||
            fail_run "grouped std$s: hosts are not in contiguous blocks: $(cut -d' ' -f1 "$W/g.$s" | uniq | tr '\n' ' ')"
        for f in 1 2 3; do
            want=$(for i in 1 2 3 4 5; do
                if [ $s = out ]; then echo "h$f | h$f $i"; else echo "h$f | h$f err $i"; fi
            done)
            [ "$(grep "^h$f " "$W/g.$s")" = "$want" ] || fail_run "grouped std$s: h$f's block is wrong"
        done
    done
    expect_counts "3 ok, 0 failed, 0 unreachable"
}

# 14b. --output grouped with more output than fits in memory at once (10 MB): the block may
#      be printed in several parts, but every line arrives whole and in order
test_output_grouped_large() {
    oo biggrouped run big -s test -l h1 --output grouped
    expect_rc 0
    local n h bad
    n=$(sed -n 's/^h1 | lines=\([0-9]*\) sha=.*/\1/p' "$ERR")
    h=$(sed -n 's/^h1 | lines=[0-9]* sha=\([0-9a-f]*\)$/\1/p' "$ERR")
    [ -n "$n" ] && [ -n "$h" ] || fail_run "no 'lines= sha=' line on stderr"
    # everything before the summary table, without the blank line that opens it
    sed -n '/^HOST  *STATUS /q;p' "$OUT" | sed '$d' >"$W/grouped.live"
    bad=$(grep -cvE '^h1 \| [A-Za-z0-9+/=]{1,100}$' "$W/grouped.live")
    [ "$bad" = 0 ] || fail_run "grouped: $bad damaged lines (e.g. line $(grep -nvE '^h1 \| [A-Za-z0-9+/=]{1,100}$' "$W/grouped.live" | head -n 3 | tr '\n' ' '))"
    [ "$(wc -l <"$W/grouped.live")" = "$n" ] || fail_run "grouped: $(wc -l <"$W/grouped.live") lines shown, the host printed $n"
    [ "$(sed 's/^h1 | //' "$W/grouped.live" | sha)" = "$h" ] || fail_run "grouped: the 10 MB differ from what the host printed"
}

# 15. exec: a command line, or a command and its arguments passed verbatim
test_exec() {
    oo exec1 exec -s test -l h1,h2 -- 'echo "$APP_HOST:$PWD"'
    expect_rc 0
    local i
    for i in 1 2; do
        has_line "$OUT" "h$i | h$i:$(cd -P "$DIR/hosts/h$i/app/current" && pwd)"
    done
    expect_counts "2 ok, 0 failed, 0 unreachable"
    oo exec2 exec -s test -l h1 -- printf '%s|' 'a b' "it's"
    expect_rc 0
    has_line "$OUT" "h1 | a b|it's|"
    expect_valid_json
    expect_json hosts.h1.status ok
    oo exec3 exec -s test -l h1 -- sh -c 'exit 3'
    expect_rc 1
    expect_row h1 failed 3
}

# 15b. an Ansible YAML inventory read as is: groups are roles (--limit @GROUP), ansible_host,
# ansible_port and ansible_user reach the hosts, a group's vars win over all's
test_ansible_inventory() {
    cat >"$DIR/app/hosts/ansible.yml" <<EOF
all:
  vars:
    stage: ansible
    ansible_user: nobody-at-all
    ansible_port: 1
    ansible_ssh_private_key_file: $DIR/client_key
    env_file: shared/.env
  children:
    webservers:
      hosts:
        web1: { ansible_host: $(host_ip 1), app_dir: $DIR/hosts/h1/app }
        web2: { ansible_host: $(host_ip 2), app_dir: $DIR/hosts/h2/app }
    dbservers:
      hosts:
        db1: { ansible_host: $(host_ip 3), app_dir: $DIR/hosts/h3/app, primary: true }
    prod:
      children:
        webservers:
        dbservers:
      vars:
        ansible_user: root
        ansible_port: $PORT
EOF
    oo ansible1 exec -s ansible --limit @webservers -- 'echo "$APP_HOST as $(id -un)"'
    expect_rc 0
    has_line "$OUT" "web1 | h1 as root"
    has_line "$OUT" "web2 | h2 as root"
    expect_counts "2 ok, 0 failed, 0 unreachable"
    expect_json hosts.web1.port "$PORT"
    expect_json hosts.web2.user root
    oo ansible2 exec -s ansible --limit '@dbservers,web[2]' -- 'echo "$APP_HOST"'
    expect_rc 0
    has_line "$OUT" "web2 | h2"
    has_line "$OUT" "db1  | h3"
    expect_counts "2 ok, 0 failed, 0 unreachable"
    local folded
    folded=$("$ONEOFF" hosts -C "$DIR/app" -s ansible --limit '@prod,!web1' --fold) ||
        fail "oneoff hosts --fold failed"
    [ "$folded" = "db1,web2" ] || fail "hosts --fold printed '$folded'"
    oo ansible4 exec -s ansible --limit @web -- true
    expect_rc 2
    has_line "$ERR" "oneoff: --limit '@web': no host of stage 'ansible' has role 'web'"
}

# 16. hostile task arguments arrive byte for byte
test_task_args_verbatim() {
    local -a args=(-n "it's" '"dq"' "\$(touch $W/pwned)" "\`touch $W/pwned2\`" 'a;b' $'x\ny'
        '--flag' '' '  sp  ' '\' '*' '--' $'tab\there' 'é' '$HOME' '>redir' "'" '|| true')
    oo args run echoargs -s test -l h1 -- "${args[@]}"
    expect_rc 0
    local want
    want=$(printf '<%s>' "${args[@]}")
    # on the terminal a backslash is shown doubled; the log keeps it raw
    [ "$(live "$OUT")" = "$(printf '%s\n' "$want" | sed 's/\\/\\\\/g; s/^/h1 | /')" ] ||
        fail_run "the arguments did not arrive verbatim: $(live "$OUT" | head -c 400)"
    [ "$(log_content h1 out)" = "$want" ] || fail_run "h1.log: the arguments did not arrive verbatim"
    [ ! -e "$W/pwned" ] && [ ! -e "$W/pwned2" ] && [ ! -e "$DIR/hosts/h1/app/current/redir" ] ||
        fail_run "an argument was executed by a shell"
    expect_valid_json
    expect_json args.# ${#args[@]}
    local i
    for i in "${!args[@]}"; do
        [ "$(jget "args.$i")" = "${args[$i]}" ] || fail_run "run.json args.$i is not '${args[$i]}'"
    done
}

# 17. the task's timeout stops it: status timeout, exit 1, the process is gone
test_timeout() {
    oo tmo run tmo -s test -l h1
    expect_rc 1
    expect_row h1 timeout
    has_line "$OUT" "h1 | started"
    [ "$MS" -ge 1800 ] && [ "$MS" -le 10000 ] || fail_run "a 2s timeout ended the run after ${MS}ms"
    expect_valid_json
    expect_json hosts.h1.status timeout
    expect_match "$(jget hosts.h1.error)" 'timeout' "run.json hosts.h1.error"
    expect_json exit_code 1
    wait_procs "^$SLEEP 100\$" 0 8
    # --timeout overrides the task's (none here)
    oo tmo2 run forever -s test -l h2 --timeout 1s
    expect_rc 1
    expect_row h2 timeout
    [ "$MS" -le 9000 ] || fail_run "--timeout 1s ended the run after ${MS}ms"
    wait_procs "^$SLEEP 1000\$" 0 8
}

# 18. --report FILE: the same record as run.json
test_report_file() {
    oo report run fail7 -s test -l h1,h2 --report "$W/report.json"
    expect_rc 1
    expect_file "$W/report.json"
    expect_valid_json "$W/report.json"
    cmp -s "$W/report.json" "$JSON" || fail_run "--report file differs from run.json: $(diff "$W/report.json" "$JSON" | head -n 10)"
    [ "$("$TOOLS/jsonq" "$W/report.json" run_id)" = "${RUNDIR##*/}" ] || fail_run "report run_id"
    [ "$("$TOOLS/jsonq" "$W/report.json" hosts.h2.exit_code)" = 7 ] || fail_run "report hosts.h2.exit_code"
    [ -z "$(find "$W" -maxdepth 1 -name 'report.json?*')" ] || fail_run "temporary report files left: $(ls "$W")"
}

# 18b. a --report FILE that cannot be written is a usage error found before anything runs
#      (CI would otherwise get exit 0 and no report, or read a stale one)
test_report_unwritable() {
    local before after rep=$W/no/such/dir/report.json
    before=$(grep -c 'Starting session' "$DIR/hosts/h1/sshd.log")
    oo badreport run hello -s test -l h1 --report "$rep"
    after=$(grep -c 'Starting session' "$DIR/hosts/h1/sshd.log")
    [ "$after" = "$before" ] && ! grep -q '^h1 | ' "$OUT" ||
        fail_run "the task ran although its --report file cannot be written"
    expect_rc 2 "usage error"
    grep -qF "$rep" "$ERR" || fail_run "the message does not name the report file $rep"
}

. "$HERE/twelve_factor.sh" # more test_* functions: one release per run, env, locks, check, ...
. "$HERE/auth.sh" # more test_* functions: passphrases, denied keys, ssh-agent
. "$HERE/records.sh" # more test_* functions: lost writes, --report, escaped messages
. "$HERE/interfaces.sh" # more test_* functions: run.json's format, --json, JUnit, help
. "$HERE/view.sh" # more test_* functions: gathered output, big summaries, -q, -v, progress
. "$HERE/promote.sh" # more test_* functions: one release per stage, dry runs, promotion
. "$HERE/history.sh" # more test_* functions: history on the hosts, reasons, once, secret_args
. "$HERE/sshcfg.sh" # more test_* functions: ssh config, agent, certificates, keepalives, pacing
. "$HERE/hostkeys.sh" # more test_* functions: host certificates, @revoked, hashed, HostKeyAlias
. "$HERE/client_cpu.sh" # more test_* functions: known_hosts read once, run.json host by host

# =============================================================================================
# tasks shared by the tests

write_tasks() {
    local t=$DIR/app/tasks
    mkdir -p "$t"
    cat >"$t/hello.yml" <<'EOF'
description: say hello on both streams
command: echo "hello from $APP_HOST"; echo "to err $APP_HOST" >&2
EOF
    cat >"$t/fail7.yml" <<'EOF'
description: exit 7 on h2 only
command: test "$APP_HOST" != h2 || exit 7
EOF
    cat >"$t/sig.yml" <<'EOF'
description: die from TERM on h2, from KILL on h3
command: |
  echo before
  if [ "$APP_HOST" = h2 ]; then kill -TERM $$; fi
  if [ "$APP_HOST" = h3 ]; then kill -9 $$; fi
  echo after
EOF
    cat >"$t/long.yml" <<'EOF'
description: one 200000-byte line, its checksum on stderr
command: |
  d=$(head -c 150000 /dev/urandom | base64 -w 0)
  printf '%s\n' "$d"
  printf '%s' "$d" | sha256sum | cut -d' ' -f1 >&2
  echo after
EOF
    cat >"$t/lines.yml" <<'EOF'
description: 4000 lines of 330 bytes
command: |
  pad=$(printf '%0300d' 0)
  seq 1 4000 | sed "s/.*/$APP_HOST line & $pad/"
EOF
    cat >"$t/noeol.yml" <<'EOF'
description: no trailing newline
command: printf abc; printf xyz >&2
EOF
    cat >"$t/binary.yml" <<'EOF'
description: control bytes and invalid UTF-8
command: |
  printf '\033[31mred\001\n'
  printf 'bad\377byte \302\233csi caf\303\251\n'
  printf '\033]0;title\007\n' >&2
EOF
    cat >"$t/big.yml" <<'EOF'
description: 10 MB of base64
command: |
  f=$(mktemp)
  head -c 10000000 /dev/urandom | base64 -w 100 >"$f"
  n=$(wc -l <"$f")
  h=$(sha256sum <"$f" | cut -d' ' -f1)
  cat "$f"
  rm -f "$f"
  echo "lines=$n sha=$h" >&2
EOF
    cat >"$t/group.yml" <<'EOF'
description: slow lines on both streams
command: for i in 1 2 3 4 5; do echo "$APP_HOST $i"; echo "$APP_HOST err $i" >&2; sleep 0.1; done
EOF
    cat >"$t/echoargs.yml" <<'EOF'
description: shows its arguments
args: any
command: printf '<%s>' "$@"
EOF
}

# The tasks that sleep use a sleep of their own test: $DIR/bin/TEST/sleep (a symlink to
# sleep), so that counting the remote processes of one test never sees those of another
# (or of anything else on the machine), even when an earlier test left some behind.
write_sleep_tasks() {
    local t=$DIR/app/tasks
    mkdir -p "${SLEEP%/*}"
    ln -sfn "$(command -v sleep)" "$SLEEP"
    cat >"$t/slow.yml" <<EOF
description: long on h4, short elsewhere
command: |
  echo started
  if [ "\$APP_HOST" = h4 ]; then $SLEEP 30; else sleep 3; fi
  echo finished
EOF
    cat >"$t/forever.yml" <<EOF
description: runs until stopped
command: echo started; $SLEEP 1000
EOF
    cat >"$t/stubborn.yml" <<EOF
description: ignores TERM, INT and HUP
command: trap '' TERM INT HUP; echo started; $SLEEP 1000
EOF
    cat >"$t/tmo.yml" <<EOF
description: sleeps past its timeout
timeout: 2s
command: echo started; $SLEEP 100
EOF
}

# =============================================================================================
# running one test (in a fresh bash started by the runner under `timeout`)

if [ "${1:-}" = --one ]; then
    name=$2
    DIR=$IT_DIR TOOLS=$IT_TOOLS W=$IT_WORK/$name CLIENT_HOME=$IT_DIR/client-home
    SLEEP=$IT_DIR/bin/$name/sleep
    PORT=$(cat "$DIR/port")
    mkdir -p "$W"
    cd "$W" || exit 1
    write_sleep_tasks
    trap 'run_cleanup' EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    touch "$W/.records-t0"
    "$name"
    # every run.json the test left must match the documented schema
    check_records "$DIR" "$W/.records-t0"
    exit 0
fi

# =============================================================================================
# the runner

ONEOFF=${ONEOFF:-$ROOT/build/oneoff}
case $ONEOFF in /*) ;; *) ONEOFF=$PWD/$ONEOFF ;; esac
[ -x "$ONEOFF" ] || { echo "integration: ONEOFF=$ONEOFF is not an executable (run make)" >&2; exit 2; }
IT_TIMEOUT=${IT_TIMEOUT:-60}

# every test_* function of this file and of the suites it sources, in that order
mapfile -t ALL < <(cd "$HERE" && sed -n 's/^\(test_[A-Za-z0-9_]*\)() *{.*/\1/p' run.sh \
    $(sed -n 's/^\. "\$HERE\/\([a-z_]*\.sh\)".*/\1/p' run.sh))
if [ $# -gt 0 ]; then
    SELECTED=()
    for a in "$@"; do
        a=${a#test_}
        printf '%s\n' "${ALL[@]}" | grep -qx "test_$a" || { echo "integration: no test '$a'" >&2; exit 2; }
        SELECTED+=("test_$a")
    done
else
    SELECTED=("${ALL[@]}")
fi

TMP=$(mktemp -d) || exit 2
TMP=$(cd "$TMP" && pwd -P)
DIR=$TMP
CUR_TIMEOUT_PID=
cleanup() {
    local rc=$? p
    trap - EXIT
    trap '' INT TERM   # a second signal must not cut the cleanup short
    # the running test (its `timeout` passes TERM on to the test's process group)
    for p in $CUR_TIMEOUT_PID $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    bash "$FLEET" down "$DIR" >/dev/null 2>&1 || echo "integration: fleet.sh down $DIR failed" >&2
    if [ "${IT_KEEP:-}" = 1 ]; then
        echo "integration: kept $TMP" >&2
    else
        rm -rf -- "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T0=$(now_ms)
export IT_DIR=$DIR IT_TOOLS=$TMP/tools IT_WORK=$TMP/work ONEOFF
mkdir -p "$IT_TOOLS" "$IT_WORK" "$DIR/bin" "$DIR/client-home"

CC=${CC:-cc}
"$CC" -O2 -Wall -o "$IT_TOOLS/silent_listener" "$HERE/silent_listener.c" ||
    { echo "integration: cannot compile silent_listener.c" >&2; exit 2; }
"$CC" -O2 -Wall -o "$IT_TOOLS/slow_proxy" "$HERE/slow_proxy.c" ||
    { echo "integration: cannot compile slow_proxy.c" >&2; exit 2; }
JANSSON=$(pkg-config --cflags --libs jansson 2>/dev/null) || JANSSON=-ljansson
# shellcheck disable=SC2086
"$CC" -O2 -Wall -o "$IT_TOOLS/jsonq" "$HERE/jsonq.c" $JANSSON ||
    { echo "integration: cannot compile jsonq.c (needs jansson's headers)" >&2; exit 2; }
# shellcheck disable=SC2086
"$CC" -O2 -Wall -o "$IT_TOOLS/schemacheck" "$HERE/schemacheck.c" $JANSSON ||
    { echo "integration: cannot compile schemacheck.c" >&2; exit 2; }

if ! bash "$FLEET" up "$DIR" $NHOSTS test >"$TMP/fleet-up.log" 2>&1; then
    cat "$TMP/fleet-up.log" >&2
    echo "integration: the fleet did not come up" >&2
    exit 2
fi
write_tasks

passed=0 failed=0
for t in "${SELECTED[@]}"; do
    t1=$(now_ms)
    timeout -k 5 "$IT_TIMEOUT" bash "$HERE/run.sh" --one "$t" >"$IT_WORK/$t.log" 2>&1 </dev/null &
    CUR_TIMEOUT_PID=$!
    wait "$CUR_TIMEOUT_PID"
    rc=$?
    CUR_TIMEOUT_PID=
    secs=$(awk -v ms=$(($(now_ms) - t1)) 'BEGIN { printf "%.1f", ms / 1000 }')
    name=${t#test_}
    if [ "$rc" = 0 ]; then
        echo "ok - $name (${secs}s)"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            echo "not ok - $name (${secs}s): timed out after ${IT_TIMEOUT}s"
        else
            reason=$(grep -m1 '^FAIL: ' "$IT_WORK/$t.log" | cut -c7-)
            echo "not ok - $name (${secs}s): ${reason:-exit status $rc}"
        fi
        grep -v '^FAIL: ' "$IT_WORK/$t.log" | head -n 40 | sed 's/^/#   /'
    fi
    # a test that failed half-way may leave a host stopped or known_hosts stale: heal the fleet
    if [ "$(bash "$FLEET" status "$DIR" 2>/dev/null | sed -n 's/^running: //p')" != "$NHOSTS" ] ||
        [ "$rc" != 0 ]; then
        bash "$FLEET" up "$DIR" $NHOSTS test >>"$TMP/fleet-up.log" 2>&1 ||
            echo "# integration: restoring the fleet failed" >&2
    fi
done
echo "# total time: $(awk -v ms=$(($(now_ms) - T0)) 'BEGIN { printf "%.1f", ms / 1000 }')s"
echo "integration: $passed passed, $failed failed"
[ "$failed" = 0 ]
