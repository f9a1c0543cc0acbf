# tests/integration/fault_lib.sh - the runner and helpers shared by the fault tests
# (stops.sh, locks.sh): each of them starts a fleet of its own, runs its tests one by one,
# each in a fresh bash under `timeout`, prints "ok - NAME" / "not ok - NAME: REASON" and ends
# with "integration: N passed, N failed".
#
# Sourced, not run. The including script defines FL_NAME (its name in messages), FL_HOSTS
# (fleet size), FL_TESTS (the test function names, in order), FL_TIMEOUT (seconds per test),
# optionally fl_setup (called once the fleet is up, in the runner), then calls
# `fl_main "$@"`. With arguments, only the named tests run.
#
# Environment: ONEOFF (default build/oneoff), FL_KEEP=1 keeps the temporary directory,
# FL_USER (default oneoff-fleet): the non-root login user of the fleet (tests/fleet.sh
# FLEET_USER; created when missing, never deleted); FL_USER= (empty) runs without it, and
# the tests that need it are skipped. As non-root the user is never created and those tests
# are skipped too.
#
# Safety: only 127.0.0.0/8 (tests/fleet.sh). A process is only ever signalled by pid: oneoff
# runs that a test started (with their start time checked), and remote processes that carry
# the test's unique marker in their command line AND the fleet's HOME (every session on the
# fleet gets HOME=DIR/hosts/hI/home, see tests/fleet.sh) in their environment.

export LC_ALL=C
FL_HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
FL_ROOT=$(cd -- "$FL_HERE/../.." && pwd -P)
FLEET=$FL_ROOT/tests/fleet.sh

# ---------------------------------------------------------------------------------------------
# inside a test

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
skip() {
    printf 'SKIP: %s\n' "$*" >&2
    exit 77
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
    # shellcheck disable=SC2086
    set -- $line
    echo "${20}"
}
ours() { echo "$1:$(proc_start "$1")"; }
kill_ours() { # kill_ours PID:START [SIGNAL]: only if it is still that very process
    local pid=${1%%:*} st=${1#*:}
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] && [ -n "$st" ] || return 0
    [ "$(proc_start "$pid")" = "$st" ] || return 0
    kill "-${2:-KILL}" "$pid" 2>/dev/null || true
}

host_ip() { echo "127.0.0.$((10 + $1))"; }

# fl_stage NAME USER FIRST LAST: writes hosts/NAME.yml with hosts hFIRST..hLAST logging in as USER
fl_stage() {
    local name=$1 user=$2 i
    {
        printf 'stage: %s\ndefaults:\n  user: %s\n  port: %s\n' "$name" "$user" "$PORT"
        printf '  identity: %s/client_key\n  env_file: shared/.env\nhosts:\n' "$DIR"
        for ((i = $3; i <= $4; i++)); do
            printf '  h%s: { address: %s, app_dir: %s/hosts/h%s/app }\n' "$i" "$(host_ip "$i")" "$DIR" "$i"
        done
    } >"$DIR/app/hosts/$name.yml"
    on_exit "rm -f -- '$DIR/app/hosts/$name.yml'"
}

# fl_task NAME < YAML: writes tasks/NAME.yml (removed when the test ends)
fl_task() {
    cat >"$DIR/app/tasks/$1.yml"
    on_exit "rm -f -- '$DIR/app/tasks/$1.yml'"
}

# marker: a number no other test (or other run of this suite) uses, for `sleep MARKER`
new_marker() {
    local r=${SRANDOM:-$(((RANDOM << 15) ^ RANDOM))}
    MARK=3$(printf '%06d%03d' $((r % 1000000)) $((FL_SEQ % 1000)))
    FL_SEQ=$((FL_SEQ + 1))
}
FL_SEQ=$$

# fleet_pids MARKER: the pids of the processes on the fleet whose command line holds MARKER (a
# task's processes, its shells and watchdogs): HOME in their environment proves that an sshd of
# this fleet started them (or their ancestors). Builtins only, but for one pgrep: it runs in
# polling loops.
fleet_pids() {
    local p e
    local -a env
    for p in $(pgrep -f -- "$1" 2>/dev/null); do
        [ "$p" != $$ ] || continue
        env=()
        { mapfile -d '' -t env <"/proc/$p/environ"; } 2>/dev/null || continue
        for e in "${env[@]}"; do
            if [[ "$e" == "HOME=$DIR/hosts/h"* ]]; then
                echo "$p"
                break
            fi
        done
    done
}
count_fleet_procs() { fleet_pids "$1" | wc -l; }

# fleet_procs MARKER: "PID USER ppid=PPID CMD" of those processes, for messages
fleet_procs() {
    local p cmd
    for p in $(fleet_pids "$1"); do
        cmd=$(tr '\0\n' '  ' 2>/dev/null <"/proc/$p/cmdline") || continue
        printf '%s %s ppid=%s %s\n' "$p" "$(stat -c %U "/proc/$p" 2>/dev/null)" \
            "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" "${cmd:0:60}"
    done
}

# kill_fleet_procs MARKER: SIGKILL what a failed test left behind (marker and HOME checked)
kill_fleet_procs() {
    local p
    for p in $(fleet_pids "$1"); do kill -KILL "$p" 2>/dev/null; done
    return 0
}

# wait_fleet_procs MARKER N SECONDS: until exactly N are left; sets WAIT_LEFT when it fails
wait_fleet_procs() {
    local want=$2 limit=$(($3 * 1000)) t0 n
    t0=$(now_ms)
    while :; do
        n=$(count_fleet_procs "$1")
        [ "$n" -eq "$want" ] && return 0
        if [ $(($(now_ms) - t0)) -gt "$limit" ]; then
            WAIT_LEFT=$n
            return 1
        fi
        sleep 0.2
    done
}

# oo_bg NAME SUBCOMMAND ARGS...: starts oneoff in a session of its own (setsid), so that a
# signal reaches oneoff alone. Sets OUT, ERR, BGPID (to wait for), OOPID (oneoff's pid).
# With OO_GATE=FIFO, oneoff is only exec'd once the FIFO is opened for writing (gate_open):
# runs started behind one gate start at the same moment.
oo_bg() {
    local name=$1 sub=$2 pidf i
    shift 2
    OUT=$W/$name.out ERR=$W/$name.err
    pidf=$W/$name.pid
    rm -f "$pidf"
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" OO_GATE="${OO_GATE:-}" setsid -w bash -c \
        'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" || exit 2
         if [ -n "$OO_GATE" ]; then : <"$OO_GATE"; fi
         unset OO_GATE
         exec "$@"' "$pidf" \
        "$ONEOFF" "$sub" -C "$DIR/app" --known-hosts "$DIR/known_hosts" "$@" \
        >"$OUT" 2>"$ERR" </dev/null &
    BGPID=$!
    on_exit "kill_ours $(ours $BGPID)"
    for ((i = 0; i < 200; i++)); do
        [ -s "$pidf" ] && break
        sleep 0.02
    done
    OOPID=$(cat "$pidf" 2>/dev/null) || fail "oneoff did not start (no pid file)"
    on_exit "kill_ours $(ours "$OOPID")"
}

# gate_new FIFO: a closed gate; gate_open FIFO PID...: lets every run behind it go at once,
# and returns when each PID has exec'd oneoff
gate_new() { rm -f "$1" && mkfifo -m 600 "$1" || fail "mkfifo $1"; }
gate_open() {
    local fifo=$1 p i
    shift
    sleep 0.1 # the launchers block in open(FIFO)
    exec 7<>"$fifo"
    for p in "$@"; do
        for ((i = 0; i < 200; i++)); do
            [ /proc/"$p"/exe -ef "$ONEOFF" ] 2>/dev/null && break
            sleep 0.01
        done
    done
    exec 7>&-
}

# wait_bg SECONDS: waits for BGPID; sets RC and MS (since WAIT_T0, or since the call)
wait_bg() {
    local limit=$(($1 * 1000)) t0=${WAIT_T0:-$(now_ms)}
    while kill -0 "$BGPID" 2>/dev/null; do
        if [ $(($(now_ms) - t0)) -gt "$limit" ]; then
            fail_run "oneoff still running ${1}s later"
        fi
        sleep 0.05
    done
    wait "$BGPID"
    RC=$?
    MS=$(($(now_ms) - t0))
}

show_run() {
    printf -- '--- oneoff exited %s after %sms; stdout (tail):\n' "${RC:-?}" "${MS:-?}"
    tail -n 25 "$OUT" 2>/dev/null | cut -c1-200
    printf -- '--- stderr (tail):\n'
    tail -n 12 "$ERR" 2>/dev/null | cut -c1-300
}
fail_run() {
    printf 'FAIL: %s\n' "$*" >&2
    show_run >&2
    exit 1
}
expect_rc() { [ "$RC" = "$1" ] || fail_run "exit code $RC, expected $1${2:+ ($2)}"; }

# summary_row HOST: "STATUS EXIT" from the summary table of OUT; summary_line HOST: the row
summary_row() { sed -n '/^HOST  *STATUS /,$p' "$OUT" | awk -v h="$1" '$1 == h { print $2, $3; exit }'; }
summary_line() { sed -n '/^HOST  *STATUS /,$p' "$OUT" | awk -v h="$1" '$1 == h { print; exit }'; }
expect_row() { # expect_row HOST STATUS [EXIT]
    local r
    r=$(summary_row "$1")
    [ -n "$r" ] || fail_run "summary: no row for host $1"
    [ "${r%% *}" = "$2" ] || fail_run "summary: $1 is '${r%% *}', expected '$2': $(summary_line "$1")"
    [ -z "${3:-}" ] || [ "${r#* }" = "$3" ] || fail_run "summary: $1 exit is '${r#* }', expected '$3'"
}
# count_lines FILE ERE
count_lines() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------------------------------------
# the runner

fl_one() {
    local name=$1
    DIR=$FL_DIR W=$FL_WORK/$name CLIENT_HOME=$FL_DIR/client-home
    PORT=$(cat "$DIR/port")
    mkdir -p "$W"
    cd "$W" || exit 1
    trap 'run_cleanup' EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    touch "$W/.records-t0"
    "$name"
    # every run.json the test left must match the documented schema
    local f msg
    while IFS= read -r f; do
        msg=$("$FL_TOOLS/schemacheck" "$FL_ROOT/docs/run.schema.json" "$f" 2>&1) ||
            fail "$f does not match docs/run.schema.json: $msg"
    done < <(find "$DIR" -name run.json -type f -newer "$W/.records-t0" 2>/dev/null)
    exit 0
}

fl_main() {
    if [ "${1:-}" = --one ]; then fl_one "$2"; fi
    ONEOFF=${ONEOFF:-$FL_ROOT/build/oneoff}
    case $ONEOFF in /*) ;; *) ONEOFF=$PWD/$ONEOFF ;; esac
    [ -x "$ONEOFF" ] || { echo "$FL_NAME: ONEOFF=$ONEOFF is not an executable (run make)" >&2; exit 2; }
    export ONEOFF
    local t a sel=()
    if [ $# -gt 0 ]; then
        for a in "$@"; do
            a=test_${a#test_}
            printf '%s\n' "${FL_TESTS[@]}" | grep -qxF -- "$a" || { echo "$FL_NAME: no test '${a#test_}'" >&2; exit 2; }
            sel+=("$a")
        done
    else
        sel=("${FL_TESTS[@]}")
    fi

    FL_USER=${FL_USER-oneoff-fleet}
    if [ "$(id -u)" != 0 ] && [ -n "$FL_USER" ]; then
        echo "# $FL_NAME: not root: no non-root login user, its tests are skipped" >&2
        FL_USER=
    fi
    export FL_USER

    TMP=$(mktemp -d) || exit 2
    TMP=$(cd "$TMP" && pwd -P)
    FL_CUR=
    trap fl_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    chmod o+x "$TMP"   # a non-root login must reach the fleet in it (tests/fleet.sh FLEET_USER)
    export FL_DIR=$TMP/fleet FL_WORK=$TMP/work
    mkdir -p "$FL_DIR" "$FL_WORK" "$FL_DIR/client-home" "$TMP/tools"
    export FL_TOOLS=$TMP/tools
    local jansson
    jansson=$(pkg-config --cflags --libs jansson 2>/dev/null) || jansson=-ljansson
    # shellcheck disable=SC2086
    "${CC:-cc}" -O2 -Wall -o "$FL_TOOLS/schemacheck" "$FL_ROOT/tests/integration/schemacheck.c" $jansson ||
        { echo "$FL_NAME: cannot compile schemacheck.c" >&2; exit 2; }
    local t0
    t0=$(now_ms)
    if ! FLEET_USER=$FL_USER bash "$FLEET" up "$FL_DIR" "$FL_HOSTS" test >"$TMP/fleet-up.log" 2>&1; then
        cat "$TMP/fleet-up.log" >&2
        echo "$FL_NAME: the fleet did not come up" >&2
        exit 2
    fi
    mkdir -p "$FL_DIR/app/tasks"
    if declare -F fl_setup >/dev/null; then DIR=$FL_DIR fl_setup; fi

    local passed=0 failed=0 rc t1 secs reason
    for t in "${sel[@]}"; do
        t1=$(now_ms)
        timeout -k 5 "$FL_TIMEOUT" bash "$FL_SCRIPT" --one "$t" >"$FL_WORK/$t.log" 2>&1 </dev/null &
        FL_CUR=$!
        wait "$FL_CUR"
        rc=$?
        FL_CUR=
        secs=$(awk -v ms=$(($(now_ms) - t1)) 'BEGIN { printf "%.1f", ms / 1000 }')
        if [ "$rc" = 0 ]; then
            echo "ok - ${t#test_} (${secs}s)"
            grep '^# ' "$FL_WORK/$t.log" | head -n 5 | sed 's/^/#   /'
            passed=$((passed + 1))
        elif [ "$rc" = 77 ]; then
            echo "ok - ${t#test_} # SKIP $(sed -n 's/^SKIP: //p' "$FL_WORK/$t.log" | head -n 1)"
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
                reason="timed out after ${FL_TIMEOUT}s"
            else
                reason=$(grep -m1 '^FAIL: ' "$FL_WORK/$t.log" | cut -c7-)
            fi
            echo "not ok - ${t#test_} (${secs}s): ${reason:-exit status $rc}"
            grep -v '^FAIL: ' "$FL_WORK/$t.log" | head -n 40 | sed 's/^/#   /'
        fi
        # a test that failed half-way may leave a host stopped: heal the fleet
        if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
            FLEET_USER=$FL_USER bash "$FLEET" up "$FL_DIR" "$FL_HOSTS" test >>"$TMP/fleet-up.log" 2>&1 ||
                echo "# $FL_NAME: restoring the fleet failed" >&2
        fi
    done
    echo "# $FL_NAME: total time $(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')s"
    echo "integration: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}

fl_cleanup() {
    local rc=$?
    trap - EXIT
    trap '' INT TERM
    [ -z "$FL_CUR" ] || kill -TERM "$FL_CUR" 2>/dev/null
    wait 2>/dev/null
    bash "$FLEET" down "$FL_DIR" >/dev/null 2>&1 || echo "$FL_NAME: fleet.sh down $FL_DIR failed" >&2
    if [ "${FL_KEEP:-}" = 1 ]; then
        echo "$FL_NAME: kept $TMP" >&2
    else
        rm -rf -- "$TMP"
    fi
    exit "$rc"
}
