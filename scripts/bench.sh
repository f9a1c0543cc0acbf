#!/usr/bin/env bash
# bench.sh - oneoff against a parallel OpenSSH baseline, side by side, in one run on one
# loopback fleet: wall time, client CPU per host, SERVER CPU per host, peak memory.
#
#   bash scripts/bench.sh          (`make bench` builds oneoff first)
#
# Starts 200 sshd hosts on 127.0.0.11..210 (tests/fleet.sh, root logins) and measures, as
# medians of REPS runs (default 3), each oneoff run right before its baseline:
#   true, 100 hosts         oneoff exec -- true          vs  ssh HOST true
#   locked task, 100 hosts  oneoff run (lock: true, command: true)  vs  ssh HOST true
#   seq, 20 hosts           oneoff exec -- seq 1 200000  vs  ssh HOST seq 1 200000; every one
#                           of oneoff's lines is checked: whole, in order, from the right host
#   1000 hosts              oneoff exec -- true on 200 addresses listed five times, default
#                           settings (no baseline: the figure is oneoff's peak RSS)
#   one at a time           40 one-host runs in a row of oneoff exec -- true, ssh HOST true and
#                           the locked task: each session alone on the machine, where the
#                           cases above load both cores (no target: it tells the design's
#                           cost apart from what a saturated machine adds)
# and, after each baseline, the floor: the same ssh sessions starting only what oneoff's
# design starts on every host (the login shell execs /bin/sh, which forks once; with a lock,
# one flock more), the least a session of oneoff's can cost its host.
# The baseline is `xargs -P 64 ssh` with ControlMaster off and KexAlgorithms
# curve25519-sha256 (the key exchange libssh uses); oneoff runs with its defaults
# (--parallel 64). Every run must succeed on every host, or the bench stops.
#
# What is measured:
#   wall, client CPU   /usr/bin/time: elapsed, user+sys of the command and its children
#                      (xargs and every ssh), per host
#   peak RSS           /usr/bin/time %M: the largest single process (oneoff; for the baseline
#                      one ssh or xargs, not the sum of the 64 running at once)
#   server CPU         the sum over the fleet's sshd listeners of utime+stime+cutime+cstime
#                      (/proc/PID/stat) after minus before the command, per host. A session's
#                      CPU (its sshd processes, shells, task) reaches the listener's cutime and
#                      cstime once every process of it has been reaped, so "after" is read
#                      only when the listeners have no child left. A process whose parent
#                      dies first would be reparented to init and escape that sum: the fleet
#                      runs under scripts/bench_reaper.c, a child subreaper, so such orphans
#                      are reaped there instead; their CPU is added and they are reported
#                      ("orphans"), as are processes still alive when "after" is read
#                      ("survivors", which should be none).
#
# Then the targets, each marked met / NOT MET:
#   100 hosts true    wall <= 0.80x, client CPU/host <= 0.10x, server CPU/host <= 1.10x
#   locked task       server CPU/host <= 1.25x (of `ssh HOST true`)
#   seq               wall <= 0.85x
#   1000 hosts        peak RSS < 50 MB
#
# Environment: ONEOFF (default build/oneoff), REPS (default 3), BENCH_QUICK=1 (a fast check:
# 20 hosts for true and the locked task, 5 for seq, 100 entries for the "1000 hosts" case,
# REPS default 1; the targets are printed all the same), BENCH_CASES (the cases to run, of
# "true lock one seq big", default all: a target whose case did not run is printed as "inf"),
# BENCH_STRICT=1 (exit 1 when a target is not met), CC (for the reaper, default cc).
#
# Uses only the repository, the system's ssh/sshd, GNU time, procps and a C compiler; talks
# only to 127.0.0.0/8; reads no ~/.ssh (ssh -F, oneoff with an empty HOME and no agent).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
ONEOFF=${ONEOFF:-$ROOT/build/oneoff}
case $ONEOFF in /*) ;; *) ONEOFF=$PWD/$ONEOFF ;; esac
TIME=/usr/bin/time
PAR=64
if [ "${BENCH_QUICK:-}" = 1 ]; then
    REPS=${REPS:-1} N_TRUE=20 N_SEQ=5 N_ADDR=20 N_ONE=5
else
    REPS=${REPS:-3} N_TRUE=100 N_SEQ=20 N_ADDR=200 N_ONE=40
fi
N_BIG=$((N_ADDR * 5))
SEQ_N=200000
FLEET_N=$N_ADDR
[ "$N_TRUE" -le "$FLEET_N" ] || FLEET_N=$N_TRUE
QUIET_TIMEOUT=60 # seconds for every session to end before "after" is read

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$ONEOFF" ] || die "ONEOFF=$ONEOFF is not an executable (run make)"
[ -x "$TIME" ] || die "$TIME missing (package time)"
command -v ssh >/dev/null || die "ssh missing (package openssh-client)"

FLEET=$(mktemp -d /tmp/oneoff-bench.XXXXXX)
REAPER_PID=
cleanup() {
    if bash "$ROOT/tests/fleet.sh" down "$FLEET" >/dev/null 2>&1; then
        # the reaper ends once the listeners are gone
        if [ -n "$REAPER_PID" ]; then wait "$REAPER_PID" 2>/dev/null || true; fi
        rm -rf "$FLEET"
    else
        echo "bench: fleet.sh down $FLEET failed; left it in place" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# the fleet, under the subreaper

"${CC:-cc}" -O2 -Wall -o "$FLEET/bench_reaper" "$ROOT/scripts/bench_reaper.c" ||
    die "cannot compile scripts/bench_reaper.c"
REAPLOG=$FLEET/reaper.log
: >"$REAPLOG"
"$FLEET/bench_reaper" "$REAPLOG" bash "$ROOT/tests/fleet.sh" up "$FLEET" "$FLEET_N" bench \
    >"$FLEET/fleet-up.log" 2>&1 </dev/null &
REAPER_PID=$!
while ! grep -q '^up ' "$REAPLOG"; do
    kill -0 "$REAPER_PID" 2>/dev/null || break
    sleep 0.2
done
grep -qx 'up 0' "$REAPLOG" || { cat "$FLEET/fleet-up.log" >&2; die "the fleet did not come up"; }
PORT=$(cat "$FLEET/port")
APP=$FLEET/app
mkdir -p "$APP/tasks" "$FLEET/client-home"

# the listeners: pids checked to be this fleet's sshd, their stat files
LISTENERS=() STATS=()
for ((i = 1; i <= FLEET_N; i++)); do
    p=$(cat "$FLEET/hosts/h$i/sshd.pid")
    [ /proc/"$p"/exe -ef /usr/sbin/sshd ] || die "h$i: pid $p is not sshd"
    grep -qF "$FLEET/hosts/h$i/sshd_config" "/proc/$p/cmdline" || die "h$i: pid $p is not h$i's listener"
    LISTENERS+=("$p") STATS+=("/proc/$p/stat")
done
LSET=" ${LISTENERS[*]} "
HZ=$(getconf CLK_TCK)

# inventory NAME N [COPIES]: the first N hosts, each listed COPIES times
inventory() {
    local name=$1 n=$2 copies=${3:-1} i c
    {
        printf 'stage: %s\ndefaults:\n  user: root\n  port: %s\n' "$name" "$PORT"
        printf '  identity: %s/client_key\n  env_file: shared/.env\nhosts:\n' "$FLEET"
        for ((c = 1; c <= copies; c++)); do
            for ((i = 1; i <= n; i++)); do
                printf '  h%s-%s: { address: 127.0.0.%s, app_dir: %s/hosts/h%s/app }\n' \
                    "$i" "$c" $((10 + i)) "$FLEET" "$i"
            done
        done
    } >"$APP/hosts/$name.yml"
}
inventory "n$N_TRUE" "$N_TRUE"
inventory "n$N_SEQ" "$N_SEQ"
inventory big "$N_ADDR" 5
cat >"$APP/tasks/bench-lock.yml" <<'EOF'
description: the lock and nothing else
lock: true
command: "true"
EOF

SSHCFG=$FLEET/bench_ssh_config
{ printf 'Host *\n    KexAlgorithms curve25519-sha256\n'; cat "$FLEET/ssh_config"; } >"$SSHCFG"

# ---------------------------------------------------------------------------------------------
# measuring

# server_ticks: utime+stime+cutime+cstime of every listener, in clock ticks
server_ticks() { awk '{ sub(/^.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }' "${STATS[@]}"; }

# session_procs: "SESSIONS ORPHANS": processes whose parent is a listener (sessions not yet
# reaped), and children of the reaper other than the listeners (orphans still alive)
session_procs() {
    ps -e -o ppid=,pid= | awk -v L="$LSET" -v R="$REAPER_PID" '
        { if (index(L, " " $1 " ")) s++; else if ($1 == R && !index(L, " " $2 " ")) o++ }
        END { print s + 0, o + 0 }'
}

# wait_quiet: until no session and no orphan is left (QUIET_TIMEOUT); sets SURVIVORS
wait_quiet() {
    local t0=$SECONDS s o
    while :; do
        read -r s o < <(session_procs)
        [ "$s" = 0 ] && [ "$o" = 0 ] && { SURVIVORS=0; return 0; }
        if [ $((SECONDS - t0)) -ge "$QUIET_TIMEOUT" ]; then
            SURVIVORS=$((s + o))
            echo "bench: $s session(s) and $o orphan(s) still alive ${QUIET_TIMEOUT}s after the command" >&2
            return 0
        fi
        sleep 0.05
    done
}

reaped_lines() { wc -l <"$REAPLOG"; }
# reaped_since LINE: "COUNT USEC" of the orphans reaped after line LINE of the reaper's log;
# their names are added to ORPHAN_NAMES (one per line)
reaped_since() {
    tail -n +"$(($1 + 1))" "$REAPLOG" | awk -v names="$ORPHAN_NAMES" '
        $1 == "reaped" { n++; us += $3 + $4; print $5 >>names }
        END { print n + 0, us + 0 }'
}

# measure OUTFILE CMD...: runs CMD with its output in OUTFILE(.err); sets M_RC, M_WALL (s),
# M_CPU (s, client), M_RSS (KB), M_SRV (s, server), M_ORPH (orphans), M_SURV (survivors)
measure() {
    local out=$1 b a r0 on ous
    shift
    wait_quiet
    b=$(server_ticks)
    r0=$(reaped_lines)
    set +e
    "$TIME" -f '%e %U %S %M' -o "$FLEET/time.out" "$@" >"$out" 2>"$out.err"
    M_RC=$?
    set -e
    wait_quiet
    M_SURV=$SURVIVORS
    a=$(server_ticks)
    ORPHAN_NAMES=$FLEET/orphans.last
    : >"$ORPHAN_NAMES"
    read -r on ous < <(reaped_since "$r0")
    M_ORPH=$on
    read -r M_WALL M_CPU M_RSS < <(awk '{ printf "%s %.3f %d\n", $1, $2 + $3, $4 }' "$FLEET/time.out")
    M_SRV=$(awk -v t=$((a - b)) -v hz="$HZ" -v us="$ous" 'BEGIN { printf "%.3f", t / hz + us / 1e6 }')
}

# OO: oneoff's argv prefix (client side: an empty HOME, no agent); then SUBCOMMAND ARGS...
OO=(env -u SSH_AUTH_SOCK HOME="$FLEET/client-home" "$ONEOFF")
OOPT=(-C "$APP" --known-hosts "$FLEET/known_hosts")

# SSH: the baseline's argv prefix, then N hosts from HOSTLIST.N, then the remote command:
# xargs starts one ssh per host, PAR at a time
SSH1=(ssh -F "$SSHCFG" -o ControlMaster=no) # one session
SSH=(xargs -P "$PAR" -I{} "${SSH1[@]}" {})
for n in "$N_TRUE" "$N_SEQ"; do seq 1 "$n" | sed 's/^/h/' >"$FLEET/hostlist.$n"; done
ssh_argv() { SSH_ARGV=(xargs -a "$FLEET/hostlist.$1" "${SSH[@]:1}"); }
# the floor's commands (see the header): /bin/sh, one fork; with a lock one flock more
FLOOR_TRUE='exec /bin/sh -c ": & wait"'
FLOOR_LOCK='exec /bin/sh -c "flock -n 9 9>>/dev/null; : & wait"'

check_oneoff() { # check_oneoff N LABEL: every host ok
    grep -qx "$1 ok, 0 failed, 0 unreachable" "$FLEET/o.out" || {
        echo "bench: $2: oneoff did not succeed on $1 hosts (exit $M_RC):" >&2
        tail -n 5 "$FLEET/o.out" "$FLEET/o.out.err" >&2
        exit 1
    }
}
check_ssh() { # check_ssh LABEL
    [ "$M_RC" = 0 ] || { echo "bench: $1: the ssh baseline failed (exit $M_RC):" >&2; tail -n 5 "$FLEET/s.out.err" >&2; exit 1; }
}

# check_seq N: N hosts x SEQ_N lines, each "hI-1 | K", whole, in order, nothing else
check_seq() {
    awk -v n="$1" -v want="$SEQ_N" '
        /^$/ { exit }   # the summary follows the live lines
        {
            if (!match($0, /^h[0-9]+-1 +\| [0-9]+$/)) { print "bench: seq: a line is not whole: " substr($0, 1, 80); bad = 1; exit }
            split($0, f, " "); h = f[1]; v = $NF
            if (v != last[h] + 1) { print "bench: seq: " h " sent " v " after " last[h] + 0; bad = 1; exit }
            last[h] = v; lines++
        }
        END {
            if (bad) exit 1
            for (h in last) { hosts++; if (last[h] != want) { print "bench: seq: " h " ended at " last[h]; exit 1 } }
            if (hosts != n || lines != n * want) { print "bench: seq: " lines " lines from " hosts " hosts, expected " n * want " from " n; exit 1 }
        }' "$FLEET/o.out"
}
check_seq_ssh() { # check_seq_ssh N: the baseline's output has every byte (its lines may mix)
    local got want
    got=$(wc -lc <"$FLEET/s.out" | awk '{ print $1, $2 }')
    want=$(seq 1 "$SEQ_N" | wc -lc | awk -v n="$1" '{ print $1 * n, $2 * n }')
    [ "$got" = "$want" ] || die "seq: the ssh baseline printed $got (lines, bytes), expected $want"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---------------------------------------------------------------------------------------------
# the cases: results in R[case.side.metric]

declare -A R
collect() { # collect CASE SIDE: appends this measurement to the case's lists
    local k=$1.$2
    R[$k.wall]+="$M_WALL " R[$k.cpu]+="$M_CPU " R[$k.rss]+="$M_RSS " R[$k.srv]+="$M_SRV "
    R[$k.orph]+="$M_ORPH " R[$k.surv]+="$M_SURV "
    cat "$FLEET/orphans.last" >>"$FLEET/orphans.$k"
}
med() { printf '%s\n' ${R[$1]} | median; }
total() { printf '%s\n' ${R[$1]} | awk '{ s += $1 } END { print s + 0 }'; }

run_true() {
    measure "$FLEET/o.out" "${OO[@]}" exec "${OOPT[@]}" -s "n$N_TRUE" -- true
    check_oneoff "$N_TRUE" "true"
    collect true oneoff
    ssh_argv "$N_TRUE"
    measure "$FLEET/s.out" "${SSH_ARGV[@]}" true
    check_ssh "true"
    collect true ssh
    measure "$FLEET/s.out" "${SSH_ARGV[@]}" "$FLOOR_TRUE"
    check_ssh "true floor"
    collect true floor
}
run_lock() {
    measure "$FLEET/o.out" "${OO[@]}" run bench-lock "${OOPT[@]}" -s "n$N_TRUE"
    check_oneoff "$N_TRUE" "locked task"
    collect lock oneoff
    ssh_argv "$N_TRUE"
    measure "$FLEET/s.out" "${SSH_ARGV[@]}" true
    check_ssh "locked task baseline"
    collect lock ssh
    measure "$FLEET/s.out" "${SSH_ARGV[@]}" "$FLOOR_LOCK"
    check_ssh "locked task floor"
    collect lock floor
}
run_seq() {
    measure "$FLEET/o.out" "${OO[@]}" exec "${OOPT[@]}" -s "n$N_SEQ" -- seq 1 "$SEQ_N"
    check_oneoff "$N_SEQ" "seq"
    check_seq "$N_SEQ" || exit 1
    collect seq oneoff
    ssh_argv "$N_SEQ"
    measure "$FLEET/s.out" "${SSH_ARGV[@]}" seq 1 "$SEQ_N"
    check_ssh "seq"
    check_seq_ssh "$N_SEQ"
    collect seq ssh
}
# one at a time: N_ONE sessions in a row, each alone on the machine (one.sh MODE: a loop of
# one-host runs over h1..hN_ONE, stopping at the first failure)
write_one() {
    {
        echo '#!/usr/bin/env bash'
        echo "for ((i = 1; i <= $N_ONE; i++)); do"
        echo '    case $1 in'
        echo "    oneoff) $(printf '%q ' "${OO[@]}" exec "${OOPT[@]}" -s "n$N_TRUE") -l \"h\$i-1\" -- true ;;"
        echo "    lock) $(printf '%q ' "${OO[@]}" run bench-lock "${OOPT[@]}" -s "n$N_TRUE") -l \"h\$i-1\" ;;"
        echo "    ssh) $(printf '%q ' "${SSH1[@]}") \"h\$i\" true ;;"
        echo '    esac </dev/null >/dev/null || exit 1'
        echo 'done'
    } >"$FLEET/one.sh"
}
run_one() {
    local side
    [ -e "$FLEET/one.sh" ] || write_one
    for side in oneoff ssh lock; do
        measure "$FLEET/o.out" bash "$FLEET/one.sh" "$side"
        [ "$M_RC" = 0 ] || die "one at a time: $side failed on a host (exit $M_RC)"
        case $side in
        lock) collect onelock oneoff ;;
        ssh) collect one ssh ;; # the locked task's baseline too
        *) collect one oneoff ;;
        esac
    done
}
run_big() {
    measure "$FLEET/o.out" "${OO[@]}" exec "${OOPT[@]}" -s big -- true
    check_oneoff "$N_BIG" "$N_BIG hosts"
    collect big oneoff
}

echo "bench: $("$ONEOFF" --version 2>/dev/null | head -n 1 || echo "oneoff ?") ($ONEOFF)"
echo "bench: $FLEET_N loopback sshd hosts, $(nproc) CPU(s), medians of $REPS run(s)${BENCH_QUICK:+ (BENCH_QUICK)}"
# other work on the machine skews every figure (wall times most): say how busy it was
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
CASES=${BENCH_CASES:-true lock one seq big}
for ((rep = 1; rep <= REPS; rep++)); do
    for c in $CASES; do
        case $c in
        true | lock | one | seq | big) "run_$c" ;;
        *) die "BENCH_CASES: no case '$c' (true, lock, one, seq, big)" ;;
        esac
    done
    echo "bench: run $rep of $REPS done" >&2
done

# ---------------------------------------------------------------------------------------------
# the table

declare -A NH=([true]=$N_TRUE [lock]=$N_TRUE [one]=$N_ONE [onelock]=$N_ONE [seq]=$N_SEQ [big]=$N_BIG)
declare -A LABEL=(
    [true]="true, $N_TRUE hosts"
    [lock]="locked task, $N_TRUE hosts"
    [seq]="seq 1 $SEQ_N, $N_SEQ hosts"
    [one]="true, 1 host x $N_ONE"
    [onelock]="locked task, 1 host x $N_ONE"
    [big]="true, $N_BIG hosts"
)
declare -A M
echo
printf '%-26s %-7s %8s %12s %12s %9s   %s\n' case side "wall s" "cpu ms/host" "srv ms/host" "rss MB" "orphans/survivors"
for c in true lock one onelock seq big; do
    for side in oneoff ssh floor; do
        [ -n "${R[$c.$side.wall]:-}" ] || continue
        M[$c.$side.wall]=$(med "$c.$side.wall")
        M[$c.$side.cpu]=$(awk -v v="$(med "$c.$side.cpu")" -v n="${NH[$c]}" 'BEGIN { printf "%.3f", v * 1000 / n }')
        M[$c.$side.srv]=$(awk -v v="$(med "$c.$side.srv")" -v n="${NH[$c]}" 'BEGIN { printf "%.3f", v * 1000 / n }')
        M[$c.$side.rss]=$(awk -v v="$(med "$c.$side.rss")" 'BEGIN { printf "%.1f", v / 1024 }')
        printf '%-26s %-7s %8s %12s %12s %9s   %s/%s\n' "${LABEL[$c]}" "$side" "${M[$c.$side.wall]}" \
            "${M[$c.$side.cpu]}" "${M[$c.$side.srv]}" "${M[$c.$side.rss]}" \
            "$(total "$c.$side.orph")" "$(total "$c.$side.surv")"
    done
done
for f in "$FLEET"/orphans.*.*; do
    [ -s "$f" ] || continue
    echo "orphans (${f##*/orphans.}, all runs): $(sort "$f" | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')"
done
echo "(ssh: xargs -P $PAR ssh, ControlMaster=no, KexAlgorithms=curve25519-sha256; the locked task's"
echo " baseline is ssh HOST true; rss: the largest single process; cpu: client user+sys;"
echo " srv: the fleet's sshd listeners and everything they reaped, plus orphans;"
echo " floor: ssh HOST '$FLOOR_TRUE', for the locked task '$FLOOR_LOCK')"

# ---------------------------------------------------------------------------------------------
# the targets

ratio() { awk -v a="${M[$1]:-0}" -v b="${M[$2]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
NOT_MET=0
target() { # target LABEL VALUE OP LIMIT UNIT
    local verdict
    if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !(v == "inf" ? 0 : (op == "<=" ? v <= l : v < l)) }'; then
        verdict=met
    else
        verdict="NOT MET"
        NOT_MET=$((NOT_MET + 1))
    fi
    printf '%-44s %8s%-2s  %s %s%-2s  %s\n' "$1" "$2" "$5" "$3" "$4" "$5" "$verdict"
}
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average (1, 5, 15 min) before: $LOAD0, after: $LOAD1"
if awk -v l="${LOAD1%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
    echo "bench: warning: the machine was busy with other work (load above $(nproc)): the figures are skewed"
fi
echo
echo "targets (oneoff / ssh, medians):"
target "true, $N_TRUE hosts: wall" "$(ratio true.oneoff.wall true.ssh.wall)" "<=" 0.80 x
target "true, $N_TRUE hosts: client CPU/host" "$(ratio true.oneoff.cpu true.ssh.cpu)" "<=" 0.10 x
target "true, $N_TRUE hosts: server CPU/host" "$(ratio true.oneoff.srv true.ssh.srv)" "<=" 1.10 x
target "locked task, $N_TRUE hosts: server CPU/host" "$(ratio lock.oneoff.srv lock.ssh.srv)" "<=" 1.25 x
target "seq, $N_SEQ hosts: wall" "$(ratio seq.oneoff.wall seq.ssh.wall)" "<=" 0.85 x
target "true, $N_BIG hosts: peak RSS" "${M[big.oneoff.rss]:-inf}" "<" 50 MB
echo "other ratios: locked task wall $(ratio lock.oneoff.wall lock.ssh.wall)x, client CPU/host $(ratio lock.oneoff.cpu lock.ssh.cpu)x;" \
    "seq client CPU/host $(ratio seq.oneoff.cpu seq.ssh.cpu)x, server CPU/host $(ratio seq.oneoff.srv seq.ssh.srv)x"
echo "the floor (what oneoff's design starts on a host, nothing else) / ssh, server CPU/host:" \
    "true $(ratio true.floor.srv true.ssh.srv)x, locked task $(ratio lock.floor.srv lock.ssh.srv)x;" \
    "oneoff / the floor: $(ratio true.oneoff.srv true.floor.srv)x, $(ratio lock.oneoff.srv lock.floor.srv)x"
echo "one session at a time (the machine otherwise idle), oneoff / ssh, server CPU/host:" \
    "true $(ratio one.oneoff.srv one.ssh.srv)x, locked task $(ratio onelock.oneoff.srv one.ssh.srv)x"
if [ "$NOT_MET" -gt 0 ]; then
    echo "bench: $NOT_MET target(s) NOT MET"
    if [ "${BENCH_STRICT:-}" = 1 ]; then exit 1; fi
fi
