#!/usr/bin/env bash
# tests/integration/locks.sh - locks decide, they don't deadlock (README "Locks"): of two runs
# of one `lock: true` task started at the same moment on the same hosts, exactly one runs
# everywhere and the other is refused everywhere, having run nothing; runs that wait for the
# lock all run, one after the other; a held lock names its holder; a killed client frees it.
#
#   ONEOFF=/abs/path/build/oneoff bash tests/integration/locks.sh [TEST_NAME...]
#
# `make integration` runs it after run.sh. It starts a fleet of its own (LOCKS_HOSTS hosts,
# default 5; root logins) in a mktemp -d directory and stops it at the end. The task of each
# test is `lock: true`, holds the lock about 2 s and appends "ran TAG START" and "end TAG END"
# (milliseconds) to a file in each host's release (the host's own evidence of what ran), and
# prints "ran TAG". Two runs started "at the same moment" are exec'd behind one FIFO gate
# (fault_lib.sh gate_open).
#
#   race           20 trials in a row: two runs started together; every time exactly one exits
#                  0 with every host ok and the other exits 4 with every host refused, and the
#                  hosts saw exactly one "ran" per host, all of the winner
#   wait_lock_after_holder   a run with --wait-lock 30s started while another holds the lock
#                  on every host: both exit 0, and on every host the second started after the
#                  first ended
#   wait_lock_race 5 trials: two runs with --wait-lock 30s started together: both exit 0 (no
#                  deadlock: well before the 30 s), one after the other on every host
#                  (of two runs started together where only one waits, the waiting one may
#                  rightly win and the other be refused: that race is not asserted)
#   held_lock_named_then_sigkill   a run while a long-running run holds the lock is refused
#                  (exit 4, every host refused, the holder's run id named); after SIGKILL of the
#                  holder's client (its task ignores TERM) every host's lock is free within the
#                  grace period (TERM, KILL 5 s later; asserted within 8 s), nothing of the task
#                  is left, and a new run succeeds
#
# Environment: ONEOFF, LOCKS_HOSTS (default 5), FL_KEEP=1. Total time about 2 minutes.
set -u
FL_SCRIPT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/$(basename -- "${BASH_SOURCE[0]}")
# shellcheck source=tests/integration/fault_lib.sh
. "$(dirname -- "$FL_SCRIPT")/fault_lib.sh"
# shellcheck disable=SC2034 # FL_* are read by fault_lib.sh

FL_NAME=locks
FL_HOSTS=${LOCKS_HOSTS:-5}
FL_TIMEOUT=360 # 20 race trials of two runs each, on a loaded machine
FL_USER= # root logins only
FL_TESTS=(test_race test_wait_lock_after_holder test_wait_lock_race test_held_lock_named_then_sigkill)
TRIALS=${LOCKS_TRIALS:-20}
RELEASE_DIR=releases/20261101120000 # tests/fleet.sh's release

# lk_task NAME [SECONDS]: a locked task that holds the lock SECONDS (default 2) and leaves
# its evidence in the host's release (trials.log)
lk_task() {
    fl_task "$1" <<EOF
description: holds its lock about ${2:-2} s, leaving its evidence on the host
lock: true
args: any
command: |
  echo "ran \$1 \$(date +%s%3N)" >>trials.log
  echo "ran \$1"
  sleep ${2:-2}
  echo "end \$1 \$(date +%s%3N)" >>trials.log
EOF
}

trials_log() { echo "$DIR/hosts/h$1/app/$RELEASE_DIR/trials.log"; }
clear_trials() {
    local i
    for ((i = 1; i <= FL_HOSTS; i++)); do : >"$(trials_log "$i")"; done
}
on_exit_clear() { on_exit "for f in $DIR/hosts/h*/app/$RELEASE_DIR/trials.log; do rm -f \"\$f\"; done"; }

# evidence TAG: how many "ran TAG" lines the hosts recorded, all hosts together
evidence() { cat "$DIR"/hosts/h*/app/$RELEASE_DIR/trials.log 2>/dev/null | grep -c "^ran $1 " || true; }

# start_pair NAME_A NAME_B ARGS_A :: ARGS_B: both runs behind one gate, released together.
# Sets A_BG A_PID A_OUT A_ERR and B_*.
start_pair() {
    local gate=$W/gate
    gate_new "$gate"
    local -a aa=() bb=()
    local na=$1 nb=$2
    shift 2
    while [ $# -gt 0 ] && [ "$1" != :: ]; do aa+=("$1"); shift; done
    shift
    bb=("$@")
    OO_GATE=$gate oo_bg "$na" run "${aa[@]}"
    A_BG=$BGPID A_PID=$OOPID A_OUT=$OUT A_ERR=$ERR
    OO_GATE=$gate oo_bg "$nb" run "${bb[@]}"
    B_BG=$BGPID B_PID=$OOPID B_OUT=$OUT B_ERR=$ERR
    gate_open "$gate" "$A_PID" "$B_PID"
}
wait_a() { BGPID=$A_BG OUT=$A_OUT ERR=$A_ERR wait_bg "$1"; A_RC=$RC; }
wait_b() { BGPID=$B_BG OUT=$B_OUT ERR=$B_ERR wait_bg "$1"; B_RC=$RC; }

# all_rows OUTFILE STATUS: every host has STATUS in the summary of OUTFILE
all_rows() {
    local i
    OUT=$1
    for ((i = 1; i <= FL_HOSTS; i++)); do expect_row "h$i" "$2"; done
}

# serial_on_hosts TAG1 TAG2: on every host both ran once, and one started after the other ended
serial_on_hosts() {
    local i f s1 e1 s2 e2
    for ((i = 1; i <= FL_HOSTS; i++)); do
        f=$(trials_log "$i")
        s1=$(sed -n "s/^ran $1 //p" "$f") e1=$(sed -n "s/^end $1 //p" "$f")
        s2=$(sed -n "s/^ran $2 //p" "$f") e2=$(sed -n "s/^end $2 //p" "$f")
        [[ "$s1" =~ ^[0-9]+$ && "$e1" =~ ^[0-9]+$ && "$s2" =~ ^[0-9]+$ && "$e2" =~ ^[0-9]+$ ]] ||
            fail "h$i did not run both $1 and $2 exactly once: $(tr '\n' ';' <"$f")"
        [ "$s2" -ge "$e1" ] || [ "$s1" -ge "$e2" ] ||
            fail "on h$i the runs overlapped: $1 ran $s1..$e1 and $2 ran $s2..$e2 (ms)"
    done
}

test_race() {
    new_marker
    local task=lk-race-$MARK t t1 a b w l i
    lk_task "$task"
    on_exit_clear
    local wins_a=0 wins_b=0 t0
    t0=$(now_ms)
    for ((t = 1; t <= TRIALS; t++)); do
        clear_trials
        a=a$t b=b$t
        t1=$(now_ms)
        start_pair "race$t-a" "race$t-b" "$task" -s test -- "$a" :: "$task" -s test -- "$b"
        WAIT_T0=$t1 wait_a 30
        WAIT_T0=$t1 wait_b 30
        if [ "$A_RC" = 0 ] && [ "$B_RC" = 4 ]; then
            w=$a l=$b OUT_W=$A_OUT OUT_L=$B_OUT ERR_L=$B_ERR wins_a=$((wins_a + 1))
        elif [ "$A_RC" = 4 ] && [ "$B_RC" = 0 ]; then
            w=$b l=$a OUT_W=$B_OUT OUT_L=$A_OUT ERR_L=$A_ERR wins_b=$((wins_b + 1))
        else
            OUT=$B_OUT ERR=$B_ERR RC=$B_RC
            fail_run "trial $t: run A exited $A_RC and run B exited $B_RC; expected one 0 and one 4 (A's summary: $(grep -E '^[0-9]+ ok' "$A_OUT"))"
        fi
        RC=0 all_rows "$OUT_W" ok
        grep -qxF "$FL_HOSTS ok, 0 failed, 0 unreachable" "$OUT_W" || fail_run "trial $t: the winner's summary is not '$FL_HOSTS ok, 0 failed, 0 unreachable'"
        ERR=$ERR_L RC=4 all_rows "$OUT_L" refused
        [ "$(count_lines "$OUT_L" '\| ran ')" = 0 ] || { OUT=$OUT_L; fail_run "trial $t: the refused run printed task output"; }
        [ "$(count_lines "$OUT_W" '\| ran ')" = "$FL_HOSTS" ] || { OUT=$OUT_W; fail_run "trial $t: the winner printed $(count_lines "$OUT_W" '\| ran ') 'ran' lines, expected $FL_HOSTS"; }
        # the hosts' own evidence: exactly one run per host, all of the winner
        [ "$(evidence "$w")" = "$FL_HOSTS" ] || fail "trial $t: the hosts recorded $(evidence "$w") runs of the winner $w, expected $FL_HOSTS"
        [ "$(evidence "$l")" = 0 ] || fail "trial $t: the hosts recorded $(evidence "$l") runs of the refused run $l"
        for ((i = 1; i <= FL_HOSTS; i++)); do
            [ "$(grep -c '^ran ' "$(trials_log "$i")")" = 1 ] || fail "trial $t: h$i ran the task $(grep -c '^ran ' "$(trials_log "$i")") times"
        done
    done
    note "$TRIALS trials in $(($(now_ms) - t0))ms: the first-started run won $wins_a, the second $wins_b"
}

test_wait_lock_after_holder() {
    new_marker
    local task=lk-wait-$MARK i n
    lk_task "$task" 3
    on_exit_clear
    clear_trials
    oo_bg first run "$task" -s test -- first
    A_BG=$BGPID A_OUT=$OUT A_ERR=$ERR
    # the first run holds the lock on every host once all of them recorded "ran first"
    for ((i = 0; i < 150; i++)); do
        n=$(evidence first)
        [ "$n" = "$FL_HOSTS" ] && break
        sleep 0.1
    done
    [ "$n" = "$FL_HOSTS" ] || fail_run "the first run did not start on every host ($n of $FL_HOSTS)"
    oo_bg second run "$task" -s test --wait-lock 30s -- second
    B_BG=$BGPID B_OUT=$OUT B_ERR=$ERR
    WAIT_T0=$(now_ms) wait_a 20
    [ "$A_RC" = 0 ] || { OUT=$A_OUT ERR=$A_ERR; fail_run "the holder exited $A_RC"; }
    WAIT_T0=$(now_ms) wait_b 35
    expect_rc 0 "--wait-lock 30s waits for the holder, then runs"
    RC=0 all_rows "$B_OUT" ok
    serial_on_hosts first second
}

test_wait_lock_race() {
    new_marker
    local task=lk-wrace-$MARK t t1 ms
    lk_task "$task"
    on_exit_clear
    for ((t = 1; t <= 5; t++)); do
        clear_trials
        t1=$(now_ms)
        start_pair "wrace$t-a" "wrace$t-b" "$task" -s test --wait-lock 30s -- "a$t" :: \
            "$task" -s test --wait-lock 30s -- "b$t"
        WAIT_T0=$t1 wait_a 40
        WAIT_T0=$t1 wait_b 40
        ms=$(($(now_ms) - t1))
        if [ "$A_RC" != 0 ] || [ "$B_RC" != 0 ]; then
            OUT=$B_OUT ERR=$B_ERR RC=$B_RC
            fail_run "trial $t: both runs wait for the lock; A exited $A_RC and B exited $B_RC after ${ms}ms, expected both 0"
        fi
        [ "$ms" -lt 20000 ] || fail "trial $t: the two waiting runs took ${ms}ms for two 2 s tasks (a deadlock until the --wait-lock limit?)"
        RC=0 all_rows "$A_OUT" ok
        RC=0 all_rows "$B_OUT" ok
        serial_on_hosts "a$t" "b$t"
    done
}

test_held_lock_named_then_sigkill() {
    new_marker
    local task=lk-held-$MARK holder_id i t0 f free
    fl_task "$task" <<EOF
description: holds its lock and ignores TERM (or, with "quick", ends at once)
lock: true
args: any
command: trap '' TERM INT HUP; echo started; [ "\$1" = quick ] || sleep $MARK
EOF
    on_exit "kill_fleet_procs 'sleep $MARK'"
    oo_bg holder run "$task" -s test --log-dir "$W/log-holder" -- hold
    A_BG=$BGPID A_PID=$OOPID A_OUT=$OUT A_ERR=$ERR
    for ((i = 0; i < 150; i++)); do
        [ "$(pgrep -fc -- "^sleep $MARK\$")" = "$FL_HOSTS" ] && break
        sleep 0.1
    done
    [ "$(pgrep -fc -- "^sleep $MARK\$")" = "$FL_HOSTS" ] || fail_run "the holder's task does not run on every host"
    holder_id=$(ls "$W/log-holder" 2>/dev/null | head -n 1)
    [ -n "$holder_id" ] || fail "no run directory for the holder"

    oo_bg second run "$task" -s test -- quick
    WAIT_T0=$(now_ms) wait_bg 20
    expect_rc 4 "the lock is held"
    for ((i = 1; i <= FL_HOSTS; i++)); do expect_row "h$i" refused; done
    [ "$(count_lines "$OUT" '\| started$')" = 0 ] || fail_run "the refused run started its task"
    grep -qF "$holder_id" "$OUT" "$ERR" || fail_run "the refusal does not name the holder (run $holder_id)"

    # SIGKILL of the holder's client: the hosts stop the task (TERM, then KILL 5 s later)
    kill -KILL "$A_PID"
    t0=$(now_ms)
    while :; do
        free=0
        for ((i = 1; i <= FL_HOSTS; i++)); do
            f=$DIR/hosts/h$i/app/shared/.oneoff/locks/$task.lock
            [ -f "$f" ] || fail "no lock file $f"
            flock -n "$f" true 2>/dev/null && free=$((free + 1))
        done
        [ "$free" = "$FL_HOSTS" ] && break
        [ $(($(now_ms) - t0)) -le 8000 ] || fail "$((FL_HOSTS - free)) lock(s) still held $(($(now_ms) - t0))ms after the holder's client was killed: $(fleet_procs "sleep $MARK" | head -n 5)"
        sleep 0.1
    done
    note "every lock free $(($(now_ms) - t0))ms after kill -9 of the client"
    wait_fleet_procs "sleep $MARK" 0 5 || fail "$WAIT_LEFT process(es) of the killed run's task left: $(fleet_procs "sleep $MARK" | head -n 5)"

    oo_bg next run "$task" -s test -- quick
    WAIT_T0=$(now_ms) wait_bg 20
    expect_rc 0 "the lock is free again"
    for ((i = 1; i <= FL_HOSTS; i++)); do expect_row "h$i" ok 0; done
}

fl_main "$@"
