# tests/integration/interfaces.sh - integration tests of what tools and operators read
# (README "The run record", "Following a run: --json", "JUnit reports", "Commands"): run.json's
# format, output tails and gate; the --json event stream; --report-junit; `oneoff help` and
# the suggestions for mistyped commands and options.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, expect_*, jget, on_exit, ...).
# Only test_if_* functions and if_* helpers live here. Every run.json a test leaves is also
# checked against docs/run.schema.json by run.sh; the events here are checked against its
# $defs/event (tests/integration/schemacheck.c). JUnit files are checked with xmllint.

# if_task NAME < YAML: writes tasks/NAME.yml (removed when the test ends)
if_task() {
    on_exit "rm -f -- '$DIR/app/tasks/$1.yml'"
    cat >"$DIR/app/tasks/$1.yml"
}

# if_xpath FILE XPATH: the value of an XPath expression
if_xpath() { xmllint --xpath "$2" "$1" 2>/dev/null; }

# if_events FILE: every line is an event matching the schema's $defs/event
if_events() {
    "$TOOLS/schemacheck" "$ROOT/docs/run.schema.json" --def event --lines "$1" 2>"$W/schema.err" ||
        fail_run "events do not match \$defs/event: $(head -n 5 "$W/schema.err")"
}

# Each host's output ends up in run.json: the last 64 KiB of each stream, the byte counts, a
# truncated flag; a cut multi-byte character at the front is dropped, never mangled.
test_if_record_output_tails() {
    if_task if-out <<'EOF'
description: a little on both streams on h1, 80000 bytes of 2-byte characters on h2
command: |
  if [ "$APP_HOST" = h2 ]; then
    i=0; while [ $i -lt 40 ]; do head -c 1000 /dev/zero | tr '\0' x | sed 's/x/é/g'; i=$((i+1)); done
    printf 'last\n'
  else
    echo "out of $APP_HOST"; echo "err of $APP_HOST" >&2
  fi
EOF
    oo tails run if-out -s test -l h1,h2
    expect_rc 0
    expect_valid_json
    expect_json format 2
    expect_json hosts.h1.output.stdout.tail "out of h1"
    expect_json hosts.h1.output.stdout.bytes 10
    expect_json hosts.h1.output.stdout.truncated false
    expect_json hosts.h1.output.stderr.tail "err of h1"
    expect_json hosts.h1.output.stderr.bytes 10
    expect_json hosts.h2.output.stdout.bytes 80005
    expect_json hosts.h2.output.stdout.truncated true
    expect_json hosts.h2.output.stderr.bytes 0
    local t
    t=$(jget hosts.h2.output.stdout.tail)
    [ "${#t}" -le 65536 ] || fail_run "h2's tail is ${#t} bytes, more than 64 KiB"
    [ "${#t}" -ge 65530 ] || fail_run "h2's tail is ${#t} bytes, expected about 64 KiB"
    case $t in é*last) ;; *) fail_run "h2's tail does not start with a whole character and end with 'last'" ;; esac
    ! printf '%s' "$t" | grep -q $'\xef\xbf\xbd' || fail_run "h2's tail holds U+FFFD: a character was cut"
    expect_json gate.verdict go
    expect_json gate.reason null
    expect_json gate.releases_agree true
    expect_json gate.hosts_judged 2
}

# --json: every line of stdout is one event matching the schema; the run starts, every host
# goes through its phases to its end, output lines arrive with their stream, and run_end
# carries the exit code. The human output goes to stderr.
test_if_json_events() {
    oo events run fail7 -s test -l h1,h2,h3 --json
    expect_rc 1
    [ -s "$OUT" ] || fail_run "no events on stdout"
    if_events "$OUT"
    head -n 1 "$OUT" | grep -q '^{"event":"run_start",' || fail_run "the first event is not run_start"
    tail -n 1 "$OUT" | grep -q '^{"event":"run_end",.*"exit_code":1,' ||
        fail_run "the last event is not run_end with exit code 1"
    local h ph
    for h in h1 h2 h3; do
        for ph in connecting preflight ready running "done"; do
            grep -q "\"event\":\"host_state\",[^}]*\"host\":\"$h\",\"phase\":\"$ph\"" "$OUT" ||
                fail_run "no host_state $ph for $h"
        done
        [ "$(grep -c "\"event\":\"host_end\",[^}]*\"host\":\"$h\"" "$OUT")" = 1 ] ||
            fail_run "expected one host_end for $h"
    done
    grep -q '"event":"host_end",[^}]*"host":"h2","status":"failed","exit_code":7' "$OUT" ||
        fail_run "h2's host_end does not say failed, exit 7"
    grep -q '"event":"gate",[^}]*"verdict":"go"' "$OUT" || fail_run "no gate event"
    expect_grep "$ERR" '^2 ok, 1 failed' "stderr (the summary)"
    expect_nogrep "$OUT" '^h[0-9] ' "stdout (human output)"

    oo events2 run hello -s test -l h1 --json
    expect_rc 0
    if_events "$OUT"
    grep -q '"event":"output",[^}]*"host":"h1","stream":"stdout","text":"hello from h1","eol":true' "$OUT" ||
        fail_run "no stdout output event for h1"
    grep -q '"event":"output",[^}]*"host":"h1","stream":"stderr","text":"to err h1","eol":true' "$OUT" ||
        fail_run "no stderr output event for h1"

    # --json and --report - would both want stdout
    oo clash run hello -s test --json --report -
    expect_rc 2
    expect_grep "$ERR" 'would both write to stdout'
}

# --report-junit: one test case per host, a failure with the exit code and stderr's tail,
# escaped; a refused run still writes it, every host skipped.
test_if_junit() {
    if_task if-junit <<'EOF'
description: fails on h2 with markup and control bytes on stderr
command: |
  echo "fine on $APP_HOST"
  if [ "$APP_HOST" = h2 ]; then printf 'bad <tag> & "q"\001\033[31m\n' >&2; exit 3; fi
EOF
    oo junit run if-junit -s test -l h1,h2,h3 --report-junit "$W/junit.xml"
    expect_rc 1
    expect_file "$W/junit.xml"
    xmllint --noout "$W/junit.xml" 2>"$W/xml.err" || fail_run "not well-formed XML: $(head -n 3 "$W/xml.err")"
    expect_eq "$(if_xpath "$W/junit.xml" 'count(//testcase)')" 3 "test cases"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//testsuite/@tests)')" 3 "testsuite tests"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//testsuite/@failures)')" 1 "testsuite failures"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//testsuite/@name)')" "if-junit on test" "testsuite name"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//property[@name="stage"]/@value)')" test "stage property"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//property[@name="run_id"]/@value)')" "${RUNDIR##*/}" "run_id property"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//testcase[@name="h2"]/failure/@message)')" "exit 3" "h2's failure"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//testcase[@name="h2"]/failure)')" 'bad <tag> & "q"[31m' "h2's stderr tail"
    expect_eq "$(if_xpath "$W/junit.xml" 'count(//testcase[@name="h1"]/failure)')" 0 "h1 passed"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//testcase[@name="h1"]/system-out)')" "fine on h1" "h1's stdout"
    expect_eq "$(if_xpath "$W/junit.xml" 'string(//testcase[@name="h1"]/@classname)')" "test.if-junit" "classname"
    ! LC_ALL=C grep -q $'[\001\033]' "$W/junit.xml" || fail_run "a control byte reached the XML"

    # refused before it started: every selected host skipped, the reason given
    oo junit2 run if-junit -s test -l h1,h2 --max-fail bogus --report-junit "$W/refused.xml"
    expect_rc 2
    xmllint --noout "$W/refused.xml" 2>"$W/xml.err" || fail_run "refused: not well-formed XML: $(head -n 3 "$W/xml.err")"
    expect_eq "$(if_xpath "$W/refused.xml" 'count(//testcase/skipped)')" 2 "refused: skipped cases"
    expect_eq "$(if_xpath "$W/refused.xml" 'string(//property[@name="exit_code"]/@value)')" 2 "refused: exit_code"
    if_xpath "$W/refused.xml" 'string(//property[@name="refused"]/@value)' | grep -q 'max' ||
        fail_run "refused: the reason is not in the report"
}

# oneoff help [COMMAND] is --help; mistyped commands and options get a suggestion; a command
# refuses the options it would ignore, naming itself.
test_if_help_and_suggestions() {
    local a b rc
    a=$("$ONEOFF" help run) || fail "oneoff help run failed"
    b=$("$ONEOFF" run --help) || fail "oneoff run --help failed"
    [ "$a" = "$b" ] || fail "'oneoff help run' differs from 'oneoff run --help'"
    a=$("$ONEOFF" help) || fail "oneoff help failed"
    b=$("$ONEOFF" --help) || fail "oneoff --help failed"
    [ "$a" = "$b" ] || fail "'oneoff help' differs from 'oneoff --help'"
    "$ONEOFF" rn >"$W/o" 2>"$W/e"
    rc=$?
    expect_eq "$rc" 2 "oneoff rn: exit code"
    expect_eq "$(cat "$W/e")" "oneoff: 'rn' is not a command; did you mean 'run'?" "oneoff rn"
    "$ONEOFF" help chek >"$W/o" 2>"$W/e"
    rc=$?
    expect_eq "$rc" 2 "oneoff help chek: exit code"
    grep -qF "did you mean 'check'?" "$W/e" || fail "oneoff help chek: no suggestion: $(cat "$W/e")"
    "$ONEOFF" frobnicate >"$W/o" 2>"$W/e"
    rc=$?
    expect_eq "$rc" 2 "oneoff frobnicate: exit code"
    ! grep -q "did you mean" "$W/e" || fail "oneoff frobnicate: a far-fetched suggestion: $(cat "$W/e")"
    oo dry run hello -s test --dryrun
    expect_rc 2
    expect_grep "$ERR" "unknown option '--dryrun'; did you mean '--dry-run'\\?"
    oo chk check -s test --timeout 3s
    expect_rc 2
    expect_grep "$ERR" "'check' does not take --timeout"
    oo chk2 check -s test -e A=b
    expect_rc 2
    expect_grep "$ERR" "'check' does not take -e"
}
