#!/usr/bin/env bash
# tests/integration/stops.sh - every stop reaches the task (README "What a host runs",
# "Output, logs and the record": Ctrl-C, timeouts, lost connections), for root AND non-root
# logins, also when the task ignores TERM.
#
#   ONEOFF=/abs/path/build/oneoff bash tests/integration/stops.sh [TEST_NAME...]
#
# `make integration` runs it after run.sh. It starts a fleet of its own (STOPS_HOSTS hosts,
# default 20; tests/fleet.sh with FLEET_USER, see fault_lib.sh) in a mktemp -d directory and
# stops it at the end. For each way to stop a run:
#   ctrl_c         one SIGINT to oneoff
#   ctrl_c_twice   a second SIGINT 0.5 s after the first
#   sigterm        SIGTERM to oneoff (a cancelled CI job)
#   sighup         SIGHUP to oneoff (the operator's terminal went away)
#   timeout        --timeout 2s
#   lost_connection  every host's sshd processes of that connection are SIGKILLed
#                  (tests/fleet.sh drop, all hosts at once), as when the network goes away
# and for each login (root, and the fleet's non-root user), one test runs a task on every
# host that ignores TERM, INT and HUP: on odd hosts `sleep MARK` in the foreground, on even
# hosts `sleep MARK` as a background child of the task's shell (which waits for it). MARK is a
# number unique to the test. The test then asserts:
#   - oneoff's exit code (130 for the signals, 1 for the timeout and the lost connections),
#     within a bound (the stop's grace period: TERM, then KILL 5 s later, plus margin);
#   - every host's status in the summary (interrupted, timeout, failed "connection");
#   - within 10 s of oneoff's exit, ZERO processes on the fleet whose command line holds
#     `sleep MARK` (the sleeps, the task's shells, the host script and its watchdog), counting
#     only processes whose environment holds the fleet's HOME (see fault_lib.sh).
# What a failed test leaves behind is SIGKILLed by pid (marker and HOME checked).
#
# Environment: ONEOFF, STOPS_HOSTS (default 20), FL_USER (default oneoff-fleet; empty: no
# non-root tests), FL_KEEP=1.
set -u
FL_SCRIPT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/$(basename -- "${BASH_SOURCE[0]}")
# shellcheck source=tests/integration/fault_lib.sh
. "$(dirname -- "$FL_SCRIPT")/fault_lib.sh"
# shellcheck disable=SC2034 # FL_* are read by fault_lib.sh

FL_NAME=stops
FL_HOSTS=${STOPS_HOSTS:-20}
FL_TIMEOUT=90
STOPS=(ctrl_c ctrl_c_twice sigterm sighup timeout lost_connection)
FL_TESTS=()
for who in root user; do
    for how in "${STOPS[@]}"; do
        eval "test_${how}_${who}() { stop_case $how $who; }"
        FL_TESTS+=("test_${how}_${who}")
    done
done

# wait_started N SECONDS: the task runs on N hosts (N "started" lines, N `sleep MARK`)
wait_started() {
    local n=$1 limit=$(($2 * 1000)) t0 lines procs
    t0=$(now_ms)
    while :; do
        lines=$(count_lines "$OUT" '^h[0-9]+ +\| started$')
        procs=$(pgrep -fc -- "^sleep $MARK\$" 2>/dev/null || true)
        [ "$lines" = "$n" ] && [ "$procs" = "$n" ] && return 0
        if ! kill -0 "$BGPID" 2>/dev/null; then
            # a --timeout may end the run before a loaded machine let this
            # loop see every sleep: the output says whether all started
            lines=$(count_lines "$OUT" '^h[0-9]+ +\| started$')
            [ "$lines" = "$n" ] && [ "$STOPPED_BY_ITSELF" = 1 ] && return 0
            wait "$BGPID"
            RC=$?
            fail_run "oneoff ended before the task ran everywhere"
        fi
        if [ $(($(now_ms) - t0)) -gt "$limit" ]; then
            fail_run "after ${2}s the task runs on $procs host(s) and printed $lines 'started' of $n"
        fi
        sleep 0.1
    done
}

# stop_case HOW WHO
stop_case() {
    local how=$1 who=$2 user n=$FL_HOSTS i h
    local -a extra=()
    if [ "$who" = user ]; then
        [ -n "$FL_USER" ] || skip "no non-root login user (not root, or FL_USER is empty)"
        user=$FL_USER
    else
        user=root
    fi
    new_marker
    local task=stop-$MARK stage=stops-$who
    fl_stage "$stage" "$user" 1 "$n"
    fl_task "$task" <<EOF
description: ignores TERM, INT and HUP; on even hosts its sleep is a background child
command: |
  trap '' TERM INT HUP
  case "\$APP_HOST" in
  *[02468]) sleep $MARK & echo started; wait ;;
  *) echo started; sleep $MARK ;;
  esac
EOF
    on_exit "kill_fleet_procs 'sleep $MARK'"
    STOPPED_BY_ITSELF=0
    if [ "$how" = timeout ]; then
        extra=(--timeout 2s)
        STOPPED_BY_ITSELF=1
    fi
    oo_bg "$how" run "$task" -s "$stage" "${extra[@]}"
    wait_started "$n" 40
    note "$n hosts run the task as $user; stopping it: $how"

    WAIT_T0=$(now_ms)
    case $how in
        ctrl_c) kill -INT "$OOPID"; wait_bg 15 ;;
        ctrl_c_twice)
            kill -INT "$OOPID"
            sleep 0.5
            kill -INT "$OOPID" 2>/dev/null
            WAIT_T0=$(now_ms)
            wait_bg 8
            ;;
        sigterm) kill -TERM "$OOPID"; wait_bg 15 ;;
        sighup) kill -HUP "$OOPID"; wait_bg 15 ;;
        timeout) wait_bg 15 ;;
        lost_connection)
            bash "$FLEET" drop "$DIR" $(seq 1 "$n") >"$W/drop.log" 2>&1 || fail "fleet.sh drop failed: $(tail -n 2 "$W/drop.log")"
            grep -q "killed [1-9][0-9]* sshd process(es) of $n connection(s)" "$W/drop.log" ||
                fail "fleet.sh drop did not cut $n connections: $(cat "$W/drop.log")"
            note "every connection dropped $(($(now_ms) - WAIT_T0))ms after the first drop began"
            wait_bg 15
            ;;
    esac
    local exit_ms=$MS
    note "oneoff exited $RC ${exit_ms}ms after the stop"

    # the task's processes: none left within 10 s of oneoff's exit
    if ! wait_fleet_procs "sleep $MARK" 0 10; then
        fail_run "$WAIT_LEFT process(es) of the task still on the fleet 10s after oneoff exited ($how, $user):
$(fleet_procs "sleep $MARK" | head -n 12)"
    fi

    case $how in
        ctrl_c | ctrl_c_twice | sigterm | sighup)
            expect_rc 130 "interrupted"
            for ((i = 1; i <= n; i++)); do expect_row "h$i" interrupted; done
            grep -qxF "0 ok, 0 failed, 0 unreachable, $n interrupted" "$OUT" ||
                fail_run "no line '0 ok, 0 failed, 0 unreachable, $n interrupted'"
            ;;
        timeout)
            expect_rc 1 "timeout"
            for ((i = 1; i <= n; i++)); do expect_row "h$i" timeout; done
            ;;
        lost_connection)
            expect_rc 1 "connections lost"
            for ((i = 1; i <= n; i++)); do
                h=h$i
                expect_row "$h" failed
                [[ "$(summary_line "$h")" == *onnection* ]] || fail_run "the summary row of $h does not say the connection was lost: $(summary_line "$h")"
            done
            ;;
    esac
}

# The script runs in the login shell itself where that shell is /bin/sh (as the fleet's non-root
# user's is), one process fewer on the host; any other login shell (root's bash) execs /bin/sh
# for it. Either way the task's $0 is "oneoff".
login_case() {
    local who=$1 user shell want
    if [ "$who" = user ]; then
        [ -n "$FL_USER" ] || skip "no non-root login user (not root, or FL_USER is empty)"
        user=$FL_USER
    else
        user=root
    fi
    shell=$(getent passwd "$user" | cut -d: -f7)
    if [ "${shell##*/}" = sh ] && [ "$shell" -ef /bin/sh ]; then
        want="sh -c oneoff_b="
    else
        want="/bin/sh -c case "
    fi
    fl_stage "login-$who" "$user" 1 1
    # shellcheck disable=SC2016 # expanded on the host
    oo_bg shell exec -s "login-$who" -- 'tr "\0" " " </proc/$PPID/cmdline; echo'
    wait_bg 20
    expect_rc 0 "exec"
    grep -qE "^h1 +\| $want" "$OUT" ||
        fail_run "the script's shell ($user, login shell $shell) is not '$want...'"
    # (a command without PPID or $$: where the script runs in the login shell, only the $0
    # rule makes its $0 "oneoff")
    # shellcheck disable=SC2016 # expanded on the host
    oo_bg zero exec -s "login-$who" -- 'echo "$0" "${0##*/}" "${#0}"'
    wait_bg 20
    expect_rc 0 "exec of \$0"
    grep -qE '^h1 +\| oneoff oneoff 6$' "$OUT" || fail_run "the task's \$0 is not oneoff"
    note "login shell $shell: the script's shell is '$want...'"
}
test_login_shell_root() { login_case root; }
test_login_shell_user() { login_case user; }
FL_TESTS+=(test_login_shell_root test_login_shell_user)

fl_main "$@"
