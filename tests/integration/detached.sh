#!/usr/bin/env bash
# tests/integration/detached.sh - detached runs (README "Detached runs"): `run --detach`,
# then `status`, `logs [--follow]` and `cancel`, on loopback fleet hosts.
#
#   ONEOFF=/abs/path/build/oneoff bash tests/integration/detached.sh [TEST_NAME...]
#
# `make integration` runs it, with a fleet of its own (2 hosts, root logins).
#
# Tests:
#   client_sigkilled  a locked task started with --detach whose client is SIGKILLed as soon
#                  as the job runs on both hosts: the job goes on (its lock held, status
#                  "running"), then ends; status says "finished: failed 4 -", logs give its
#                  stdout and stderr complete (a last line without newline included) with host
#                  prefixes, the out file holds the exact bytes, history.jsonl holds a start
#                  (kind detached) and an end line (failed, exit 4) per host, the lock is free
#   follow_cancel  logs --follow streams a running job; Ctrl-C on it exits 130 and the job
#                  still runs; cancel (the task ignores TERM: KILL after the grace) stops it on
#                  both hosts, status and history say "cancelled"
#
# Environment: ONEOFF, FL_KEEP=1. About 40 s.
set -u
FL_SCRIPT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/$(basename -- "${BASH_SOURCE[0]}")
# shellcheck source=tests/integration/fault_lib.sh
. "$(dirname -- "$FL_SCRIPT")/fault_lib.sh"
# shellcheck disable=SC2034 # FL_* are read by fault_lib.sh

FL_NAME=detached
FL_HOSTS=2
FL_TIMEOUT=120
FL_USER= # root logins
FL_TESTS=(test_client_sigkilled test_follow_cancel)

# oo NAME SUBCOMMAND ARGS...: runs oneoff in the foreground; sets RC, OUT, ERR
oo() {
    local name=$1 sub=$2
    shift 2
    OUT=$W/$name.out ERR=$W/$name.err
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" "$sub" -C "$DIR/app" \
        --known-hosts "$DIR/known_hosts" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
}

runs_dir() { echo "$DIR/hosts/h$1/app/shared/.oneoff/runs"; }
# run_of I: the detached runs of hI whose job has started (wrote its pid)
run_of() {
    local f
    for f in "$(runs_dir "$1")"/20*; do
        [ -s "$f/pid" ] && echo "${f##*/}"
    done
}
history_of() { cat "$DIR/hosts/h$1/app/shared/.oneoff/history.jsonl" 2>/dev/null; }

# wait_status ID WANT SECONDS: until every host's status file reads WANT
wait_status() {
    local i t0 n
    t0=$(now_ms)
    while :; do
        n=0
        for ((i = 1; i <= FL_HOSTS; i++)); do
            [ "$(cat "$(runs_dir "$i")/$1/status" 2>/dev/null)" = "$2" ] && n=$((n + 1))
        done
        [ "$n" = "$FL_HOSTS" ] && return 0
        [ $(($(now_ms) - t0)) -le $(($3 * 1000)) ] ||
            fail_run "status not '$2' on every host after ${3}s: $(cat "$(runs_dir 1)/$1/status" "$(runs_dir 2)/$1/status" 2>&1)"
        sleep 0.2
    done
}

test_client_sigkilled() {
    new_marker
    local task=dt-$MARK id i f
    fl_task "$task" <<EOF
lock: true
command: |
  echo "out-1 \$HOSTNAME_X"
  echo err-1 >&2
  sleep 4
  echo out-2
  printf 'last-no-newline'
  exit 4
EOF
    oo_bg start run "$task" -s test --detach
    # the client is SIGKILLed as soon as the job runs on both hosts
    for ((i = 0; i < 300; i++)); do
        [ -n "$(run_of 1)" ] && [ -n "$(run_of 2)" ] && break
        sleep 0.05
    done
    kill -KILL "$OOPID" 2>/dev/null
    id=$(run_of 1)
    [ -n "$id" ] || fail_run "no detached run on h1"
    [ "$(run_of 2)" = "$id" ] || fail_run "h2 has another run: $(run_of 2)"

    oo status status "$id" -s test
    [ "$RC" = 0 ] || fail_run "status exited $RC"
    if ! grep -q 'h1 | running: pid' "$OUT" || ! grep -q 'h2 | running: pid' "$OUT"; then
        # a loaded machine may have let the 4 s go by: then it must have finished
        grep -q 'h1 | finished: failed 4 -' "$OUT" || fail_run "status: $(cat "$OUT")"
    fi
    for ((i = 1; i <= FL_HOSTS; i++)); do
        f=$DIR/hosts/h$i/app/shared/.oneoff/locks/$task.lock
        if [ ! -f "$(runs_dir "$i")/$id/status" ] && flock -n "$f" true; then
            fail_run "h$i: the lock is free while the job runs"
        fi
    done

    wait_status "$id" "failed 4 -" 30
    oo status2 status "$id" -s test
    grep -qx 'h1 | finished: failed 4 -' "$OUT" && grep -qx 'h2 | finished: failed 4 -' "$OUT" ||
        fail_run "status after the end: $(cat "$OUT")"
    oo logs logs "$id" -s test
    [ "$RC" = 0 ] || fail_run "logs exited $RC"
    for i in 1 2; do
        grep -qx "h$i | out-1 " "$OUT" && grep -qx "h$i | out-2" "$OUT" &&
            grep -qx "h$i | last-no-newline" "$OUT" || fail_run "logs: stdout of h$i incomplete"
        grep -qx "h$i | err-1" "$ERR" || fail_run "logs: stderr of h$i missing"
        [ "$(printf 'out-1 \nout-2\nlast-no-newline' | sha256sum)" = "$(sha256sum <"$(runs_dir "$i")/$id/out")" ] ||
            fail_run "h$i: the out file is not the task's exact stdout"
        history_of "$i" | grep -q "\"event\":\"start\",\"run\":\"$id\",\"kind\":\"detached\",\"host\":\"h$i\"" ||
            fail_run "h$i: no start line in history: $(history_of "$i")"
        history_of "$i" | grep -q "\"event\":\"end\",\"run\":\"$id\",\"host\":\"h$i\",.*\"outcome\":\"failed\",\"exit\":4,\"signal\":null" ||
            fail_run "h$i: no end line in history: $(history_of "$i")"
        flock -n "$DIR/hosts/h$i/app/shared/.oneoff/locks/$task.lock" true ||
            fail_run "h$i: the lock is still held after the job ended"
    done
}

test_follow_cancel() {
    new_marker
    local task=dc-$MARK id i
    fl_task "$task" <<EOF
command: trap '' TERM; echo begin; sleep $MARK; echo never
EOF
    oo start run "$task" -s test --detach
    [ "$RC" = 0 ] || fail_run "run --detach exited $RC"
    id=$(sed -n 's/^oneoff: detached run \([^ ]*\) started.*/\1/p' "$ERR")
    [ -n "$id" ] || fail_run "no run id printed"
    on_exit "kill_fleet_procs 'sleep $MARK'"

    oo_bg follow logs "$id" -s test --follow
    for ((i = 0; i < 200; i++)); do
        [ "$(count_lines "$OUT" '^h[12] \| begin$')" = 2 ] && break
        sleep 0.1
    done
    [ "$(count_lines "$OUT" '^h[12] \| begin$')" = 2 ] || fail_run "logs --follow shows no output"
    kill -INT "$OOPID"
    WAIT_T0=$(now_ms) wait_bg 20
    expect_rc 130 "Ctrl-C on logs --follow"
    sleep 1
    [ "$(pgrep -fc -- "^sleep $MARK\$")" = 2 ] || fail_run "Ctrl-C on logs stopped the job"

    oo cancel cancel "$id" -s test
    [ "$RC" = 0 ] || fail_run "cancel exited $RC"
    [ "$(pgrep -fc -- "^sleep $MARK\$")" = 0 ] || fail_run "the job still runs after cancel"
    grep -qx 'h1 | cancelled: cancelled - KILL' "$OUT" || fail_run "cancel: $(cat "$OUT")"
    oo status status "$id" -s test
    grep -qx 'h2 | finished: cancelled - KILL' "$OUT" || fail_run "status: $(cat "$OUT")"
    for i in 1 2; do
        history_of "$i" | grep -q "\"event\":\"end\",\"run\":\"$id\",\"host\":\"h$i\",.*\"outcome\":\"cancelled\"" ||
            fail_run "h$i: no cancelled end line: $(history_of "$i")"
    done
}

fl_main "$@"
