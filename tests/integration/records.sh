# tests/integration/records.sh - integration tests of what a run leaves and shows (README
# "Output, logs and the record"): nothing is lost silently (a log directory that fills up is
# reported once per file and fails the run), --report through symlinks, FIFOs and stdout
# never replaces what it names, a run refused before it starts still writes its report, and
# every message and every line shown escapes the bytes it quotes.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, expect_*, jget, on_exit, ...).
# Only test_rec_* functions and rec_* helpers live here. The tests use stages and tasks of
# their own (hosts/rec-*.yml, tasks/rec-*.yml, removed when each test ends) on the suite's
# hosts h1..h3, and change nothing else of the fleet.
#
# Root only: test_rec_logs_overflow mounts a 1 MiB tmpfs in the test's work directory (and
# unmounts it when the test ends); it is skipped with a note when not run as root.

# ---------------------------------------------------------------------------------------------
# helpers

# rec_task NAME < YAML: writes tasks/NAME.yml (removed when the test ends)
rec_task() {
    on_exit "rm -f -- '$DIR/app/tasks/$1.yml'"
    cat >"$DIR/app/tasks/$1.yml"
}

# rec_stage NAME [EXTRA_TOP_LEVEL_LINES] < HOST_LINES: writes hosts/NAME.yml with the fleet's
# defaults (removed when the test ends)
rec_stage() {
    on_exit "rm -f -- '$DIR/app/hosts/$1.yml'"
    {
        printf 'stage: %s\n%s' "$1" "${2:+$2
}"
        printf 'defaults:\n  user: root\n  port: %s\n  identity: %s\n  env_file: shared/.env\n' \
            "$PORT" "$DIR/client_key"
        printf 'hosts:\n'
        cat
    } >"$DIR/app/hosts/$1.yml"
}

# rec_host I: one host line for the hosts: mapping
rec_host() { printf '  h%s: { address: %s, app_dir: %s }\n' "$1" "$(host_ip "$1")" "$DIR/hosts/h$1/app"; }

# rec_sessions I: sessions host hI's sshd has started so far
rec_sessions() { grep -c 'Starting session' "$DIR/hosts/h$1/sshd.log" 2>/dev/null || true; }

# rec_no_raw_controls FILE: no ESC, BEL or U+202E byte sequence in FILE
rec_no_raw_controls() {
    ! LC_ALL=C grep -q $'\033' "$1" || fail_run "${1##*/}: a raw ESC byte reached the terminal"
    ! LC_ALL=C grep -q $'\a' "$1" || fail_run "${1##*/}: a raw BEL byte reached the terminal"
    ! LC_ALL=C grep -q $'\xe2\x80\xae' "$1" || fail_run "${1##*/}: a raw U+202E reached the terminal"
}

# ---------------------------------------------------------------------------------------------
# the tests

# A log directory that fills up: the run goes on (every line still reaches the terminal),
# each file that lost writes is named once with the error, oneoff says the logs are
# incomplete and exits non-zero. (The exit status is the runner's part: record_lost().)
test_rec_logs_overflow() {
    if [ "$(id -u)" != 0 ]; then
        note "skipped: mounting a tmpfs needs root"
        return 0
    fi
    local logs=$W/logs n
    mkdir -p "$logs"
    mount -t tmpfs -o size=1m,mode=0755 oneoff-rec-test "$logs" || fail "cannot mount a tmpfs on $logs"
    on_exit "umount '$logs'"
    rec_task rec-flood <<'EOF'
description: 3 MB of output, more than the log directory holds
command: |
  pad=$(printf '%090d' 0 | tr 0 x)
  seq 1 30000 | sed "s/\$/ $pad/"
EOF
    pad=$(printf '%090d' 0 | tr 0 x)
    oo flood run rec-flood -s test -l h1 --log-dir "$logs"
    # the terminal got everything
    n=$(grep -c "^h1 | [0-9]* $pad\$" "$OUT")
    [ "$n" = 30000 ] || fail_run "expected 30000 lines on stdout, got $n"
    # the log's failure is named once, with the error
    n=$(grep -c "cannot write '.*/h1\\.log': No space left on device" "$ERR")
    [ "$n" = 1 ] || fail_run "expected the full h1.log to be named once on stderr, found $n time(s)"
    expect_grep "$ERR" 'incomplete' "stderr (says the logs are incomplete)"
    [ "$(grep -c "run\\.json" "$ERR")" -le 1 ] || fail_run "run.json's failure was named more than once"
    # what the log holds is a clean prefix of what arrived
    [ -n "$RUNDIR" ] || fail_run "no 'oneoff: logs:' line"
    [ "$(log_content h1 | head -n 2 | tr '\n' ' ')" = "1 $pad 2 $pad " ] ||
        fail_run "h1.log does not start with the task's first lines"
    n=$(log_content h1 | wc -l)
    [ "$n" -gt 100 ] && [ "$n" -lt 30000 ] || fail_run "h1.log holds $n lines"
    [ "$RC" != 0 ] || fail_run "oneoff exited 0 although h1's log is incomplete"
}

# --report through a symlink to a file: the symlink stays, the file gets the record.
test_rec_report_symlink_to_file() {
    echo stale >"$W/real.json"
    ln -s real.json "$W/report-link"
    oo link run hello -s test -l h1,h2 --report "$W/report-link"
    expect_rc 0
    [ -L "$W/report-link" ] || fail_run "--report replaced the symlink $W/report-link"
    expect_valid_json "$W/real.json"
    cmp -s "$W/real.json" "$JSON" || fail_run "the symlink's target differs from run.json"
    [ -z "$(find "$W" -maxdepth 1 -name '*.tmp.*')" ] || fail_run "temporary files left: $(ls "$W")"
}

# --report through a symlink to a FIFO: the record is written through it once, at the end; the
# symlink and the FIFO stay.
test_rec_report_symlink_to_fifo() {
    local rpid i
    mkfifo "$W/fifo"
    ln -s fifo "$W/fifo-link"
    cat "$W/fifo" >"$W/got.json" &
    rpid=$!
    on_exit "kill_ours $(ours $rpid)"
    oo fifo run hello -s test -l h1 --report "$W/fifo-link"
    expect_rc 0
    for ((i = 0; i < 50; i++)); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$rpid" 2>/dev/null && fail_run "nothing was written to the FIFO"
    wait "$rpid" || fail_run "the FIFO's reader failed"
    [ -L "$W/fifo-link" ] || fail_run "--report replaced the symlink $W/fifo-link"
    [ -p "$W/fifo" ] || fail_run "--report replaced the FIFO $W/fifo"
    expect_valid_json "$W/got.json"
    [ "$("$TOOLS/jsonq" "$W/got.json" run_id)" = "${RUNDIR##*/}" ] || fail_run "the FIFO got another run's record"
    [ "$(grep -c '"run_id"' "$W/got.json")" = 1 ] || fail_run "the record went through the FIFO more than once"
    [ "$("$TOOLS/jsonq" "$W/got.json" exit_code)" = 0 ] || fail_run "the FIFO got a record before the end of the run"
}

# --report naming our stdout (a symlink to /proc/self/fd/1, as /dev/stdout is): written
# through the descriptor at the end, the human output on stderr, the symlink left alone. The
# real /dev/stdout is only looked at.
test_rec_report_stdout_symlink() {
    local was_link=no
    [ -L /dev/stdout ] && was_link=yes
    ln -s /proc/self/fd/1 "$W/my-stdout"
    oo mystdout run hello -s test -l h1,h2 --report "$W/my-stdout"
    expect_rc 0
    [ -L "$W/my-stdout" ] || fail_run "--report replaced the symlink $W/my-stdout"
    expect_valid_json "$OUT"
    [ "$("$TOOLS/jsonq" "$OUT" run_id)" = "${RUNDIR##*/}" ] || fail_run "stdout holds another record"
    has_line "$ERR" "h1 | hello from h1"
    if [ "$was_link" = yes ]; then
        [ -L /dev/stdout ] || fail_run "/dev/stdout is no longer a symlink"
    fi
}

# --report -: the record on stdout, valid JSON and nothing else; live lines, notes and the
# summary on stderr.
test_rec_report_dash() {
    oo dash run hello -s test -l h1,h2 --report -
    expect_rc 0
    expect_valid_json "$OUT"
    [ "$("$TOOLS/jsonq" "$OUT" run_id)" = "${RUNDIR##*/}" ] || fail_run "stdout holds another record"
    [ "$("$TOOLS/jsonq" "$OUT" hosts.h2.status)" = ok ] || fail_run "stdout's record is not the final one"
    has_line "$ERR" "h1 | hello from h1"
    has_line "$ERR" "h2 | to err h2"
    expect_grep "$ERR" '^HOST +STATUS ' "stderr (the summary)"
    expect_grep "$ERR" '^2 ok, 0 failed, 0 unreachable$' "stderr (the counts)"
    cmp -s "$OUT" "$JSON" || fail_run "stdout differs from run.json"
}

# A confirmation refused (a protected stage, no --yes, no terminal): exit 4, nothing
# contacted, and the report says why.
test_rec_confirm_refused_report() {
    local s1
    rec_stage rec-confirm 'confirm: true' <<EOF
$(rec_host 1)
EOF
    s1=$(rec_sessions 1)
    oo refused run hello -s rec-confirm --report "$W/report.json"
    expect_rc 4 "no terminal to confirm on"
    [ "$(rec_sessions 1)" = "$s1" ] || fail_run "oneoff connected to h1 before the stage was confirmed"
    expect_valid_json "$W/report.json"
    JSON=$W/report.json
    expect_json exit_code 4
    expect_json stage rec-confirm
    expect_json task hello
    expect_json hosts.# 0
    expect_match "$(jget refused)" 'needs confirmation' "report refused"
}

# A configuration error found after the plan (a console task given to `run`): exit 2, and the
# report says why.
test_rec_config_error_report() {
    rec_task rec-pty <<'EOF'
description: a console
pty: true
command: echo fixed
EOF
    oo pty run rec-pty -s test -l h1 --report "$W/report.json"
    expect_rc 2
    expect_valid_json "$W/report.json"
    JSON=$W/report.json
    expect_json exit_code 2
    expect_json hosts.# 0
    expect_match "$(jget refused)" "needs a terminal .* oneoff console" "report refused"
}

# Regression: a host name with ESC and BEL was refused, but the message printed those bytes
# raw to the terminal.
test_rec_inventory_name_escaped() {
    rec_stage rec-esc <<EOF
  "web\\e]0;pwned\\a": { address: $(host_ip 1), app_dir: /srv/app }
EOF
    OUT=$W/hosts.out ERR=$W/hosts.err
    HOME="$CLIENT_HOME" "$ONEOFF" hosts -C "$DIR/app" -s rec-esc >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    expect_rc 2
    rec_no_raw_controls "$ERR"
    expect_grep "$ERR" "'web\\\\e\\]0;pwned\\\\x07' is not a valid host name" "stderr"
    oo run run hello -s rec-esc
    expect_rc 2
    rec_no_raw_controls "$ERR"
    expect_grep "$ERR" "'web\\\\e\\]0;pwned\\\\x07' is not a valid host name" "stderr"
}

# Host output with a backslash, a U+202E (right-to-left override) and an ESC: escaped on the
# terminal (a backslash doubled, so it cannot pass for an escape), raw in the log.
test_rec_output_backslash_bidi() {
    rec_task rec-bidi <<'EOF'
description: a backslash, a bidi override and an escape sequence
command: |
  printf 'C:\\temp\\new invoice_\342\200\256fdp.exe\n'
  printf 'not \\e but \033[31mred\n' >&2
EOF
    oo bidi run rec-bidi -s test -l h1
    expect_rc 0
    rec_no_raw_controls "$OUT"
    rec_no_raw_controls "$ERR"
    has_line "$OUT" 'h1 | C:\\temp\\new invoice_\u{202e}fdp.exe'
    has_line "$ERR" 'h1 | not \\e but \e[31mred'
    [ "$(log_content h1 out)" = "C:\\temp\\new invoice_"$'\xe2\x80\xae'"fdp.exe" ] ||
        fail_run "h1.log does not keep the raw bytes: $(log_content h1 out | od -c | head -3)"
    [ "$(log_content h1 err)" = 'not \e but '$'\033''[31mred' ] ||
        fail_run "h1.log does not keep the raw stderr bytes"
}
