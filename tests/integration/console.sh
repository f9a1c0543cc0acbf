#!/usr/bin/env bash
# tests/integration/console.sh - consoles on a real pseudo-terminal, and a task's standard
# input (README "Consoles", "Standard input"), against a fleet of real sshd hosts.
#
#   ONEOFF=/abs/path/build/oneoff bash tests/integration/console.sh [TEST_NAME...]
#
# `make integration` runs it after the other suites. It starts a fleet of its own (3 hosts,
# tests/fleet.sh, root logins; see fault_lib.sh) in a mktemp -d directory and stops it at the
# end. The console tests drive `oneoff console` on a pseudo-terminal with ptydrive.c (a small
# expect: type, wait for output, resize, signal, check the terminal's modes at the end):
#   console_shell       sh on the primary: pwd is the release, the env file's values are
#                       there, stty size follows the terminal and its resizes, Ctrl-C stops a
#                       remote sleep and the prompt comes back, `exit 7` makes oneoff exit 7,
#                       the terminal's modes are restored; the transcript is valid asciinema
#                       v2 and its copy on the host is the same file; run.json has the exit
#   console_host        --host h2, and the console's history hook: the run is a console
#   console_lost        the sshd session under the console is killed: "connection lost", exit
#                       3, modes restored, the remote sleep gone
#   console_sigterm     SIGTERM to oneoff: exit 130, modes restored, the remote sleep gone
#   console_escape      "~." after a newline disconnects: exit 130, modes restored
#   console_signal      the remote program killed by SIGKILL: oneoff exits 137 (128+9)
#   console_needs_terminal  without a terminal on stdin: refused, exit 2
#   stdin_broadcast     10 MB piped through `exec -- sha256sum` on 3 hosts: same digests
#   stdin_sqlite        SQL piped into sqlite3 in the release, on the primary (run_on)
#   stdin_end_keeps_task    the end of the input is not a stop; --no-stdin sends nothing
#   stdin_lost_connection   a task reading an input that stays open is still stopped when
#                       its connection is lost (the watchdog)
# Remote processes are found by a marker unique to the test and the fleet's HOME (fault_lib.sh).
#
# Environment: ONEOFF, FL_KEEP=1.
set -u
FL_SCRIPT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/$(basename -- "${BASH_SOURCE[0]}")
# shellcheck source=tests/integration/fault_lib.sh
. "$(dirname -- "$FL_SCRIPT")/fault_lib.sh"
# shellcheck disable=SC2034 # FL_* are read by fault_lib.sh

FL_NAME=console
FL_HOSTS=3
FL_TIMEOUT=120
FL_USER=${FL_USER-}
FL_TESTS=(test_console_shell test_console_host test_console_lost test_console_sigterm
    test_console_escape test_console_signal test_console_needs_terminal test_stdin_broadcast test_stdin_sqlite
    test_stdin_end_keeps_task test_stdin_lost_connection)
RELEASE_ID=20261101120000

fl_setup() {
    local jansson
    "${CC:-cc}" -O2 -Wall -o "$FL_TOOLS/ptydrive" "$FL_HERE/ptydrive.c" -lutil ||
        { echo "console: cannot compile ptydrive.c" >&2; exit 2; }
    jansson=$(pkg-config --cflags --libs jansson 2>/dev/null) || jansson=-ljansson
    # shellcheck disable=SC2086
    "${CC:-cc}" -O2 -Wall -o "$FL_TOOLS/jsonq" "$FL_HERE/jsonq.c" $jansson ||
        { echo "console: cannot compile jsonq.c" >&2; exit 2; }
}

# oc SUBCOMMAND ARGS...: oneoff against the fleet, in the foreground
oc() {
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" "$1" -C "$DIR/app" \
        --known-hosts "$DIR/known_hosts" "${@:2}"
}

# drive SCRIPT ARGS...: `oneoff console -s test ARGS...` on a pseudo-terminal, run by the
# ptydrive SCRIPT (text on stdin); the screen goes to $W/screen
drive() {
    cat >"$W/drive"
    "$FL_TOOLS/ptydrive" -o "$W/screen" "$W/drive" -- env -u SSH_AUTH_SOCK \
        HOME="$CLIENT_HOME" "$ONEOFF" console -C "$DIR/app" --known-hosts "$DIR/known_hosts" \
        -s test "$@" 2>"$W/drive.err" || {
        cat "$W/drive.err" >&2
        fail "the console session did not go as scripted"
    }
}

# the newest run's log folder
last_run() { find "$DIR/app/log" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1; }

# remote_up MARK: a shell line for ptydrive's `run`: waits until `sleep MARK` runs
remote_up() { printf "for i in \$(seq 100); do pgrep -xf 'sleep %s' >/dev/null && exit 0; sleep 0.1; done; exit 1" "$1"; }

# check_cast FILE: a valid asciinema v2 file (header, then [time, "o"|"r", text] events with
# times that never go back)
check_cast() {
    local f=$1 n=0 line t prev=0 kind
    local j=$W/cast-line.json
    head -n 1 "$f" >"$j"
    [ "$("$FL_TOOLS/jsonq" "$j" version)" = 2 ] || fail "$f: header: not version 2"
    [ "$("$FL_TOOLS/jsonq" "$j" width)" = 80 ] || fail "$f: header: width"
    [ "$("$FL_TOOLS/jsonq" "$j" height)" = 24 ] || fail "$f: header: height"
    [ "$("$FL_TOOLS/jsonq" "$j" env.TERM)" = xterm-256color ] || fail "$f: header: env.TERM"
    "$FL_TOOLS/jsonq" "$j" timestamp >/dev/null || fail "$f: header: no timestamp"
    while IFS= read -r line; do
        n=$((n + 1))
        [ "$n" -gt 1 ] || continue
        printf '%s\n' "$line" >"$j"
        [ "$("$FL_TOOLS/jsonq" "$j" '#')" = 3 ] || fail "$f:$n: not a 3-element event: $line"
        t=$("$FL_TOOLS/jsonq" "$j" 0)
        kind=$("$FL_TOOLS/jsonq" "$j" 1)
        case $kind in o | r) ;; *) fail "$f:$n: event type '$kind'" ;; esac
        awk -v a="$prev" -v b="$t" 'BEGIN { exit !(b + 0 >= a + 0) }' || fail "$f:$n: time goes back"
        prev=$t
    done <"$f"
    [ "$n" -gt 3 ] || fail "$f: only $n lines"
}

test_console_shell() {
    new_marker
    TERM=xterm-256color drive -- env 'PS1=oo> ' sh <<EOF
expect 40 oo> \$
send pwd\r
expect 10 /hosts/h1/app/releases/$RELEASE_ID
expect 10 oo> \$
send echo "[\$APP_HOST] [\$SECRET_KEY_BASE]"\r
expect 10 \[h1\] \[s3cr3t-from-env-file\]
expect 10 oo> \$
send stty size\r
expect 10 24 80
expect 10 oo> \$
resize 100 30
sleep 500
send stty size\r
expect 10 30 100
expect 10 oo> \$
send sleep $MARK\r
run $(remote_up "$MARK")
send \x03
expect 10 oo> \$
run ! pgrep -xf 'sleep $MARK'
send exit 7\r
exit 30 7
modes
EOF
    local run cast copy
    run=$(last_run)
    cast=$run/h1.cast
    [ -s "$cast" ] || fail "no transcript $cast"
    check_cast "$cast"
    grep -q '"r", "100x30"' "$cast" || fail "the resize is not in the transcript"
    grep -qF '[h1] [s3cr3t-from-env-file]' "$cast" || fail "the session's output is not in the transcript"
    ! grep -q '"i",' "$cast" || fail "the transcript records input events"
    copy=$DIR/hosts/h1/app/shared/.oneoff/consoles/${run##*/}.cast
    cmp -s "$cast" "$copy" || fail "the host's copy $copy differs from $cast"
    [ "$(stat -c %a "$copy")" = 600 ] || fail "the host's copy is not mode 600"
    [ "$("$FL_TOOLS/jsonq" "$run/run.json" hosts.h1.exit_code)" = 7 ] || fail "run.json: exit code"
    grep -q 'console transcript: ' "$run/h1.log" || fail "the host log does not name the transcript"
}

test_console_host() {
    drive --host h2 -- env 'PS1=oo> ' sh <<'EOF'
expect 40 oo> $
send echo "[$APP_HOST]"\r
expect 10 \[h2\]
expect 10 oo> $
send exit\r
exit 30 0
modes
EOF
    [ -s "$DIR/hosts/h2/app/shared/.oneoff/consoles/$(basename "$(last_run)").cast" ] ||
        fail "no transcript on h2"
    # the history lines (kind "console") are the history writer's: when it is there, the
    # host's history names this run as a console
    local hist=$DIR/hosts/h2/app/shared/.oneoff/history.jsonl
    if [ -s "$hist" ]; then
        grep -q "\"run\":\"$(basename "$(last_run)")\".*\"kind\":\"console\"" "$hist" ||
            fail "history.jsonl has no console start line for this run"
    fi
}

test_console_lost() {
    new_marker
    drive -- env 'PS1=oo> ' sh <<EOF
expect 40 oo> \$
send sleep $MARK\r
run $(remote_up "$MARK")
run bash '$FLEET' drop '$DIR' 1 >/dev/null 2>&1
expect 30 connection lost
exit 30 3
modes
EOF
    wait_fleet_procs "sleep $MARK" 0 10 || fail "the remote sleep outlived the lost connection"
}

test_console_sigterm() {
    new_marker
    drive -- env 'PS1=oo> ' sh <<EOF
expect 40 oo> \$
send sleep $MARK\r
run $(remote_up "$MARK")
signal 15
exit 30 130
modes
EOF
    wait_fleet_procs "sleep $MARK" 0 10 || fail "the remote sleep outlived oneoff"
}

test_console_escape() {
    drive -- env 'PS1=oo> ' sh <<'EOF'
expect 40 oo> $
send echo a~b\r
expect 10 a~b
expect 10 oo> $
send ~.
exit 30 130
modes
EOF
}

test_console_signal() {
    drive -- env 'PS1=oo> ' sh <<'EOF'
expect 40 oo> $
send kill -KILL $$\r
exit 30 137
modes
EOF
}

test_console_needs_terminal() {
    local rc=0
    oc console -s test -- sh </dev/null >"$W/out" 2>"$W/err" || rc=$?
    [ "$rc" = 2 ] || fail "exit $rc without a terminal, expected 2"
    grep -q 'needs a terminal' "$W/err" || fail "no 'needs a terminal' message: $(cat "$W/err")"
}

test_stdin_broadcast() {
    local want got h
    head -c 10000000 /dev/urandom >"$W/in"
    want=$(sha256sum <"$W/in" | cut -d' ' -f1)
    oc exec -s test -- sha256sum <"$W/in" >"$W/out" 2>"$W/err" || fail "exit $?: $(tail -n 5 "$W/err")"
    for h in h1 h2 h3; do
        got=$(sed -n "s/^$h *| \([0-9a-f]\{64\}\) .*/\1/p" "$W/out")
        [ "$got" = "$want" ] || fail "$h digest '$got', expected $want"
    done
}

test_stdin_sqlite() {
    new_marker
    fl_task "sql-$MARK" <<EOF
command: sqlite3 db-$MARK.sqlite3
run_on: primary
EOF
    on_exit "rm -f '$DIR'/hosts/h*/app/releases/$RELEASE_ID/db-$MARK.sqlite3"
    printf 'CREATE TABLE t(x);\nINSERT INTO t VALUES (41);\nSELECT x + 1 FROM t;\n' |
        oc run "sql-$MARK" -s test >"$W/out" 2>"$W/err" || fail "exit $?: $(tail -n 5 "$W/err")"
    grep -qE '^h1 +\| 42$' "$W/out" || fail "no '42' from h1: $(cat "$W/out")"
    [ -s "$DIR/hosts/h1/app/releases/$RELEASE_ID/db-$MARK.sqlite3" ] || fail "no database in h1's release"
    [ ! -e "$DIR/hosts/h2/app/releases/$RELEASE_ID/db-$MARK.sqlite3" ] || fail "the task ran on h2"
}

test_stdin_end_keeps_task() {
    printf 'line\n' | oc exec -s test -l h1 -- 'cat; sleep 1; echo after-the-end' >"$W/out" 2>"$W/err" ||
        fail "exit $?: $(tail -n 5 "$W/err")"
    grep -qE '^h1 +\| line$' "$W/out" || fail "the input did not reach the task"
    grep -qE '^h1 +\| after-the-end$' "$W/out" || fail "the end of the input stopped the task"
    printf 'secret\n' | oc exec -s test -l h1 --no-stdin -- 'cat; echo end' >"$W/out2" 2>"$W/err" ||
        fail "exit $?: $(tail -n 5 "$W/err")"
    grep -qE '^h1 +\| end$' "$W/out2" || fail "--no-stdin: no 'end'"
    ! grep -q secret "$W/out2" || fail "--no-stdin: the input reached the task"
}

test_stdin_lost_connection() {
    local i
    new_marker
    mkfifo "$W/in" || fail "mkfifo"
    exec 8<>"$W/in" # the input stays open: the task waits for more
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" exec -C "$DIR/app" \
        --known-hosts "$DIR/known_hosts" -s test -l h1 -- "cat; sleep $MARK" \
        <"$W/in" >"$W/out" 2>"$W/err" &
    BGPID=$!
    on_exit "kill_ours $(ours $BGPID)"
    OUT=$W/out ERR=$W/err
    printf 'first\n' >&8
    for ((i = 0; i < 200; i++)); do
        grep -q 'first' "$W/out" && break
        sleep 0.1
    done
    grep -q 'first' "$W/out" || fail_run "the task did not get its input"
    bash "$FLEET" drop "$DIR" 1 >/dev/null 2>&1 || fail "fleet.sh drop failed"
    wait_bg 20
    exec 8>&-
    expect_rc 1 "connection lost"
    wait_fleet_procs "$MARK" 0 10 || fail_run "the task outlived its lost connection: $(fleet_procs "$MARK")"
}

fl_main "$@"
