# tests/integration/view.sh - integration tests of what the operator sees of a big run
# (README "Output, logs and the record"): gathered output (-b, --diff), the summary above 20
# hosts, -q, -v, and the status line on a real pseudo-terminal.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, expect_*, jget, on_exit, ...).
# Only test_view_* functions and view_* helpers live here. The tests use stages and tasks of
# their own (hosts/view-*.yml, tasks/view-*.yml, removed when each test ends) on the suite's
# hosts, and change nothing else of the fleet. A fleet of more than 20 hosts is the suite's 6
# sshd hosts listed several times under other names (as scripts/bench.sh does).

# ---------------------------------------------------------------------------------------------
# helpers

# view_task NAME < YAML: writes tasks/NAME.yml (removed when the test ends)
view_task() {
    on_exit "rm -f -- '$DIR/app/tasks/$1.yml'"
    cat >"$DIR/app/tasks/$1.yml"
}

# view_stage NAME COPIES: hosts/NAME.yml listing h1..h6 COPIES times, as hI-C (removed when the
# test ends)
view_stage() {
    local i c
    on_exit "rm -f -- '$DIR/app/hosts/$1.yml'"
    {
        printf 'stage: %s\ndefaults:\n  user: root\n  port: %s\n' "$1" "$PORT"
        printf '  identity: %s\n  env_file: shared/.env\nhosts:\n' "$DIR/client_key"
        for ((c = 1; c <= $2; c++)); do
            for ((i = 1; i <= NHOSTS; i++)); do
                printf '  h%s-%s: { address: %s, app_dir: %s }\n' "$i" "$c" "$(host_ip "$i")" \
                    "$DIR/hosts/h$i/app"
            done
        done
    } >"$DIR/app/hosts/$1.yml"
}

# the gathering task: the same on most hosts, another line on h3, exit 5 on h6
view_gather_task() {
    view_task view-gather <<'EOF'
description: the same output almost everywhere
command: |
  echo "common line"
  echo "second line"
  if [ "$APP_HOST" = h3 ]; then echo "h3 differs"; fi
  echo "to err" >&2
  test "$APP_HOST" != h6 || exit 5
EOF
}

# view_pty NAME COMMAND...: runs oneoff under a pseudo-terminal (script(1)), stdout and stderr
# both on it; its bytes go to $W/NAME.tty. Sets RC.
view_pty() {
    local name=$1 cmd
    shift
    cmd=$(printf '%q ' env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" TERM=xterm NO_COLOR=1 \
        "$ONEOFF" "$@")
    SHELL=/bin/bash script -qfec "stty cols 200 2>/dev/null; $cmd" /dev/null \
        >"$W/$name.tty" 2>&1 </dev/null
    RC=$?
    OUT=$W/$name.tty ERR=$W/$name.tty
}

# ---------------------------------------------------------------------------------------------
# the tests

# -b: identical hosts once, under a node set, biggest group first; the exit code splits groups
test_view_gather() {
    view_gather_task
    oo gather run view-gather -s test -b
    expect_rc 1
    live "$OUT" >"$W/gather.live"
    printf '%s\n' --------------- 'h[1-2,4-5] (4 hosts): ok, exit 0' --------------- \
        'common line' 'second line' \
        --------------- 'h3 (1 host): ok, exit 0' --------------- \
        'common line' 'second line' 'h3 differs' \
        --------------- 'h6 (1 host): failed, exit 5' --------------- \
        'common line' 'second line' >"$W/gather.want"
    cmp -s "$W/gather.live" "$W/gather.want" ||
        fail_run "gathered stdout differs: $(diff "$W/gather.want" "$W/gather.live" | head -20)"
    # stderr: each group's lines under the same headers
    grep -vE '^oneoff: ' "$ERR" >"$W/gather.stderr"
    printf '%s\n' --------------- 'h[1-2,4-5] (4 hosts): ok, exit 0' --------------- 'to err' \
        --------------- 'h3 (1 host): ok, exit 0' --------------- 'to err' \
        --------------- 'h6 (1 host): failed, exit 5' --------------- 'to err' >"$W/gather.ewant"
    cmp -s "$W/gather.stderr" "$W/gather.ewant" ||
        fail_run "gathered stderr differs: $(diff "$W/gather.ewant" "$W/gather.stderr" | head -20)"
    expect_row h6 failed 5
    expect_counts "5 ok, 1 failed, 0 unreachable"
    # the logs keep every line, per host
    [ "$(log_content h3)" = "$(printf 'common line\nsecond line\nh3 differs')" ] ||
        fail_run "h3.log: $(cat "$RUNDIR/h3.log")"
    # --output gather is the same
    oo gather2 run view-gather -s test -l h1,h2 --output gather
    expect_rc 0
    has_line "$OUT" 'h[1-2] (2 hosts): ok, exit 0'
    expect_nogrep "$OUT" '^h[0-9] \| ' "stdout (no prefixed lines)"
}

# --diff: the other groups as unified diffs against the biggest
test_view_diff() {
    view_gather_task
    oo diff run view-gather -s test --diff
    expect_rc 1
    live "$OUT" >"$W/diff.live"
    printf '%s\n' --------------- 'h[1-2,4-5] (4 hosts): ok, exit 0' --------------- \
        'common line' 'second line' \
        --------------- 'h3 (1 host): ok, exit 0' --------------- \
        '--- h[1-2,4-5] (stdout)' '+++ h3 (stdout)' '@@ -1,2 +1,3 @@' \
        ' common line' ' second line' '+h3 differs' \
        --------------- 'h6 (1 host): failed, exit 5' --------------- \
        '(the same output)' >"$W/diff.want"
    cmp -s "$W/diff.live" "$W/diff.want" ||
        fail_run "diff stdout differs: $(diff "$W/diff.want" "$W/diff.live" | head -20)"
    # stderr is the same everywhere: shown once, under the first header
    [ "$(grep -c '^to err$' "$ERR")" = 1 ] || fail_run "stderr: 'to err' not shown once"
}

# more than 20 hosts: the summary lists only the hosts that are not ok; --summary full lists
# all, --summary short only those not ok even for a few hosts
test_view_summary_many() {
    view_stage view-many 4
    view_task view-fail2 <<'EOF'
description: fails on h2's copies
command: test "$APP_HOST" != h2 || exit 7
EOF
    oo many run view-fail2 -s view-many
    expect_rc 1
    expect_counts "20 ok, 4 failed, 0 unreachable"
    local rows
    rows=$(sed -n '/^HOST  *STATUS /,$p' "$OUT" | sed '1d;$d' | awk '{ print $1, $2, $3 }' | sort)
    [ "$rows" = "$(printf 'h2-%s failed 7\n' 1 2 3 4)" ] ||
        fail_run "summary rows: '$rows'"
    oo manyfull run view-fail2 -s view-many --summary full
    expect_rc 1
    [ "$(sed -n '/^HOST  *STATUS /,$p' "$OUT" | sed '1d;$d' | wc -l)" = 24 ] ||
        fail_run "--summary full: not 24 rows"
    expect_row h1-3 ok 0
    oo short run view-fail2 -s test -l h1,h2,h3 --summary short
    expect_rc 1
    [ "$(sed -n '/^HOST  *STATUS /,$p' "$OUT" | sed '1d;$d' | awk '{ print $1 }')" = h2 ] ||
        fail_run "--summary short: rows other than h2"
    # check's table is its output: every host, however many
    oo manycheck check -s view-many
    expect_rc 0
    [ "$(sed -n '/^HOST  *STATUS /,$p' "$OUT" | sed '1d;$d' | wc -l)" = 24 ] ||
        fail_run "check: not 24 rows"
    # gathered, the 24 names fold into node sets
    oo manygather run view-fail2 -s view-many -b
    expect_rc 1
    has_line "$OUT" 'h[1,3-6]-[1-4] (20 hosts): ok, exit 0'
    has_line "$OUT" 'h2-[1-4] (4 hosts): failed, exit 7'
}

# -q: only errors and the summary; the logs keep every line
test_view_quiet() {
    oo quiet run hello -s test -l h1,h2 -q
    expect_rc 0
    [ "$(cat "$OUT")" = "$(printf '\n2 ok, 0 failed, 0 unreachable')" ] ||
        fail_run "-q stdout: '$(cat "$OUT")'"
    [ ! -s "$ERR" ] || fail_run "-q stderr is not empty: $(head -5 "$ERR")"
    RUNDIR=$DIR/app/log/$(ls -t "$DIR/app/log" | head -n 1)
    [ "$(log_content h1)" = "hello from h1" ] || fail_run "h1.log: $(cat "$RUNDIR/h1.log")"
    [ "$(log_content h2 err)" = "to err h2" ] || fail_run "h2.log: $(cat "$RUNDIR/h2.log")"
    # a failure: its row and the totals, nothing else
    oo quietfail run fail7 -s test -l h1,h2,h3 -q
    expect_rc 1
    expect_row h2 failed 7
    [ -z "$(summary_row h1)" ] || fail_run "-q: an ok host is listed"
    expect_counts "2 ok, 1 failed, 0 unreachable"
    [ ! -s "$ERR" ] || fail_run "-q stderr is not empty: $(head -5 "$ERR")"
    # errors still show: an unreachable host's reason is in its row, a usage error on stderr
    oo quietbad run hello -s test -q --summary nonsense
    expect_rc 2
    expect_grep "$ERR" "^oneoff: --summary: 'nonsense' is not auto, full or short$"
}

# -v: where each host was reached, as whom, and its release
test_view_verbose() {
    oo verbose run hello -s test -l h1,h2 -v
    expect_rc 0
    local i rel
    for i in 1 2; do
        has_line "$ERR" "oneoff: h$i: connected to $(host_ip $i):$PORT as root"
        rel=$(jget "hosts.h$i.release")
        expect_grep "$ERR" "^oneoff: h$i: release $rel, revision " "stderr (h$i's release)"
    done
    has_line "$OUT" "h1 | hello from h1"
}

# on a terminal: a status line drawn with \r, erased before every output line and at the end;
# a silent host named on it; absent with -q and without a terminal
test_view_progress_pty() {
    command -v script >/dev/null || { note "script(1) missing: skipped"; return 0; }
    view_task view-slow <<'EOF'
description: lines every 0.3s on most hosts, silence on h4
command: |
  if [ "$APP_HOST" = h4 ]; then sleep 2.5; echo "h4 woke"; exit 0; fi
  for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 0.3; done
EOF
    view_pty prog run view-slow -C "$DIR/app" --known-hosts "$DIR/known_hosts" -s test \
        -l h1,h2,h3,h4 --silent-after 1s
    expect_rc 0
    local t=$W/prog.tty erase=$'\r\033[K' erase_re=$'\r\033\\[K' vis n
    grep -qF "$erase" "$t" || fail_run "no status line erased with \\r ESC [K"
    grep -aqE '\[[0-9ms]+\] [0-9]/4 done, [0-9] running, [0-9] waiting' "$t" ||
        fail_run "no status line: $(head -c 600 "$t" | cat -v)"
    grep -aq 'silent: h4' "$t" || fail_run "h4 never named silent: $(tail -c 800 "$t" | cat -v)"
    # what a terminal shows of each line: the text after the last erase (the status line's
    # text never reaches a host line or the summary)
    sed "s/.*$erase_re//" "$t" | tr -d '\r' >"$W/prog.vis"
    n=0
    while IFS= read -r vis; do
        case $vis in
        *'|'*) [[ "$vis" =~ ^h[1-4]\ \|\ (tick\ [1-8]|h4\ woke)$ ]] ||
            fail_run "a host line with something else in it: '$(printf '%s' "$vis" | cat -v)'"
            n=$((n + 1)) ;;
        *done,*running*) fail_run "a status fragment left on a line: '$(printf '%s' "$vis" | cat -v)'" ;;
        esac
    done <"$W/prog.vis"
    [ "$n" = 25 ] || fail_run "expected 25 host lines on the terminal, saw $n"
    # the raw bytes: every status line drawn is erased before anything else is written
    grep -a 'running' "$t" | grep -av "^[^|]*done, .*running.*$erase_re" >"$W/prog.bad" || true
    # (a line holding a status text must hold its erase after it)
    [ ! -s "$W/prog.bad" ] || fail_run "a status line not erased: $(head -c 300 "$W/prog.bad" | cat -v)"
    grep -q '4 ok, 0 failed, 0 unreachable' "$W/prog.vis" || fail_run "no summary on the terminal"
    # -q: no status line at all
    view_pty progq run view-slow -C "$DIR/app" --known-hosts "$DIR/known_hosts" -s test \
        -l h1,h4 -q
    expect_rc 0
    ! grep -qF "$erase" "$W/progq.tty" || fail_run "-q: a status line was drawn"
    ! grep -q 'tick' "$W/progq.tty" || fail_run "-q: host lines on the terminal"
    # no terminal: no status line either
    oo notty run view-slow -s test -l h1,h4
    expect_rc 0
    ! grep -qF "$erase" "$ERR" || fail_run "a status line without a terminal"
}

# a host past gathering's bound (64 KiB) is shown on its own block, every line whole, with a
# note; the others are still gathered
test_view_gather_bound() {
    view_task view-big <<'EOF2'
description: 20000 lines (109 KB) on h1, one line elsewhere
command: if [ "$APP_HOST" = h1 ]; then seq 1 20000; else echo small; fi
EOF2
    oo bound run view-big -s test -l h1,h2,h3 -b
    expect_rc 0
    has_line "$ERR" "oneoff: h1: more output than gathering keeps (64 KiB a host, 64 MiB in all): shown on its own"
    [ "$(grep -c '^h1 | [0-9]*$' "$OUT")" = 20000 ] || fail_run "h1: not 20000 prefixed lines"
    [ "$(sed -n 's/^h1 | //p' "$OUT" | sha)" = "$(seq 1 20000 | sha)" ] || fail_run "h1's lines differ"
    has_line "$OUT" 'h[2-3] (2 hosts): ok, exit 0'
    has_line "$OUT" small
    expect_nogrep "$OUT" '^h1 \(' "stdout (h1 gathered)"
}
