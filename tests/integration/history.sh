# tests/integration/history.sh - integration tests of the history every run leaves on its
# hosts (README "History on the hosts"): start and end lines on every host, writers that never
# interleave, "started, never ended" after a killed client, corrupt and unreachable histories
# reported, --reason and require_reason, `once` refused, forced and unknown, secret_args.
#
# Sourced by tests/integration/run.sh (after twelve_factor.sh, whose tf_* helpers it uses);
# only test_* functions and hs_* helpers live here. Two stages over the suite's fleet:
# hs-staging (h1, h2) and hs-production (h3, h4, h5). Every task a test writes has content of
# its own (the test's work folder is in it), so the histories other tests leave on the same
# hosts never match its digest; the stages are this file's own.

# ---------------------------------------------------------------------------------------------
# helpers

# hs_stages [EXTRA-STAGING-KEYS]: writes hosts/hs-staging.yml and hosts/hs-production.yml
hs_stages() {
    {
        printf '%s' "${1:-}"
        printf 'defaults:\n'
        tf_defaults
        printf 'hosts:\n'
        tf_host 1
        tf_host 2
    } | tf_stage hs-staging
    {
        printf 'defaults:\n'
        tf_defaults
        printf 'hosts:\n'
        tf_host 3
        tf_host 4
        tf_host 5
    } | tf_stage hs-production
}

# hs_file I: host I's history file
hs_file() { echo "$(tf_app "$1")/shared/.oneoff/history.jsonl"; }

# hs_line I RUN EVENT: host I's EVENT line of RUN, into $W/line.json (fails when not exactly
# one); hq PATH...: values from it
hs_line() {
    local n
    n=$(grep -F "\"run\":\"$2\"" "$(hs_file "$1")" | grep -cF "\"event\":\"$3\"")
    [ "$n" = 1 ] || fail_run "h$1: $n $3 line(s) of run $2, expected 1"
    grep -F "\"run\":\"$2\"" "$(hs_file "$1")" | grep -F "\"event\":\"$3\"" >"$W/line.json"
}
hq() { "$TOOLS/jsonq" "$W/line.json" "$@"; }
hs_expect() { # hs_expect PATH VALUE: in $W/line.json
    local v
    v=$(hq "$1") || fail_run "history line: cannot read $1 ($v): $(cut -c1-300 "$W/line.json")"
    [ "$v" = "$2" ] || fail_run "history line $1: got '$v', expected '$2'"
}

# hs_keep I: the test may change host I's history; it is put back when the test ends
hs_keep() {
    local f
    f=$(hs_file "$1")
    if [ -e "$f" ]; then
        cp -p -- "$f" "$W/history-h$1.keep"
        on_exit "cp -p -- '$W/history-h$1.keep' '$f'"
    else
        on_exit "rm -f -- '$f'"
    fi
}

# ---------------------------------------------------------------------------------------------
# the tests

test_history_lines_on_every_host() {
    local run sha i
    hs_stages
    tf_task hs-hello <<EOF
description: say hello ($W)
command: echo "hello from \$APP_HOST"
EOF
    sha=$(sha <"$DIR/app/tasks/hs-hello.yml")
    # the project's git user.email (git reads it from the environment here)
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=user.email GIT_CONFIG_VALUE_0='ops@example.test' \
        oo hello run hs-hello -s hs-staging -m 'ticket 42: hello'
    expect_rc 0
    run=$(jget run_id)
    expect_json reason 'ticket 42: hello'
    expect_json overrides '[]'
    expect_json operator "$(id -un)"
    expect_json email 'ops@example.test'
    for i in 1 2; do
        hs_line "$i" "$run" start
        hs_expect host "h$i"
        hs_expect stage hs-staging
        hs_expect task hs-hello
        hs_expect sha256 "$sha"
        hs_expect reason 'ticket 42: hello'
        hs_expect release "$(tf_rel_id)"
        hs_expect revision "$(tf_rev)"
        hs_expect kind run
        hs_expect email 'ops@example.test'
        hs_line "$i" "$run" end
        hs_expect outcome succeeded
        hs_expect exit 0
        hs_expect signal null
    done
    # no host outside the selection has it
    ! grep -qF "$run" "$(hs_file 3)" 2>/dev/null || fail_run "h3 has run $run in its history"
    # the same run, read back from the hosts
    oo hist history -s hs-staging hs-hello
    expect_rc 0
    grep -F "$run" "$OUT" | grep -q 'succeeded.*h1 succeeded, h2 succeeded / ticket 42: hello' ||
        fail_run "history does not show run $run on both hosts"
    oo histj history -s hs-staging hs-hello --json
    expect_rc 0
    JSON=$OUT
    expect_json runs.0.run "$run"
    expect_json runs.0.hosts.# 2
    expect_json runs.0.outcome succeeded
    # show: per-host results and the local logs
    oo show show "$run" -s hs-staging
    expect_rc 0
    expect_grep "$OUT" '^h2 +succeeded +0 '
    expect_grep "$OUT" 'reason +ticket 42: hello'
    expect_grep "$OUT" 'hello from h1'
}

test_history_concurrent_writers_never_interleave() {
    local big i pids=() n
    hs_stages
    tf_task hs-conc <<EOF
description: runs many times at once ($W)
command: 'true "\$@"'
args: any
EOF
    # arguments that make every start line close to the 4 KiB one write holds
    big=$(head -c 3000 /dev/zero | tr '\0' x)
    for i in 1 2 3 4 5 6; do
        env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" run hs-conc -s hs-staging \
            -C "$DIR/app" --known-hosts "$DIR/known_hosts" -m "writer $i" -- "$i$big" \
            >"$W/conc$i.out" 2>&1 </dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || fail "a concurrent run failed: $(cat "$W"/conc*.out | grep oneoff: | head -3)"
    done
    oo hist history -s hs-staging hs-conc --limit 50
    expect_rc 0
    n=$(grep -c 'h1 succeeded, h2 succeeded' "$OUT")
    [ "$n" = 6 ] || fail_run "$n runs of 6 read back whole from both hosts"
    expect_nogrep "$ERR" 'skipped|not read'
}

test_history_killed_client_started_never_ended_and_once_unknown() {
    local run i pid
    tf_markers
    hs_stages
    tf_task hs-stuck <<EOF
description: a once fix that outlives its client ($W)
command: echo \$\$ >"$W/m/pid"; trap '' TERM; echo started; sleep 30
once: true
EOF
    oo_bg stuck run hs-stuck -s hs-staging -l h1 -m 'will be killed'
    for ((i = 0; i < 200; i++)); do
        grep -q 'started' "$OUT" 2>/dev/null && break
        sleep 0.05
    done
    grep -q 'started' "$OUT" || fail_run "the task did not start"
    kill -KILL "$OOPID"
    # the watchdog stops the task (KILL, 5 s after the connection went) and its shell with it
    pid=$(cat "$W/m/pid")
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    ! kill -0 "$pid" 2>/dev/null || fail "the task still runs 20 s after its client was killed"
    oo hist history -s hs-staging hs-stuck
    expect_rc 0
    expect_grep "$OUT" 'never ended +h1 started, never ended / will be killed'
    run=$(awk 'NR == 2 { print $1 }' "$OUT")
    hs_line 1 "$run" start
    ! grep -F "\"run\":\"$run\"" "$(hs_file 1)" | grep -qF '"event":"end"' ||
        fail_run "an end line after the client was killed"
    # once: a run that never ended is "unknown": refused, saying so
    oo again run hs-stuck -s hs-staging -l h1
    expect_rc 4
    expect_grep "$ERR" 'started and never ended'
    expect_grep "$ERR" "earlier: run $run by $(id -un)"
    expect_json gate.verdict once
    [ "$(grep -cF "$(jget run_id)" "$(hs_file 1)")" = 0 ] ||
        fail_run "the refused run left history lines"
}

test_history_corrupt_or_unreachable_reported() {
    hs_stages
    hs_keep 2
    tf_task hs-fix <<EOF
description: a once fix run after a crash left a torn line ($W)
command: echo fixed
once: true
EOF
    mkdir -p "$(dirname "$(hs_file 2)")"
    # garbage, and the torn start line of a run of this very task
    printf 'garbage \001\002 line\n{"v":1,"event":"start","sha256":"%s","run":"2026' \
        "$(sha <"$DIR/app/tasks/hs-fix.yml")" >>"$(hs_file 2)"
    oo hist history -s hs-staging
    expect_rc 0
    expect_grep "$ERR" "history of host 'h2', line [0-9]+ skipped: not JSON"
    expect_grep "$ERR" "history of host 'h2', line [0-9]+ skipped: truncated last line"
    # a corrupt history never blocks a run by accident
    oo fix run hs-fix -s hs-staging
    expect_rc 0
    expect_grep "$ERR" "history of host 'h2'.*truncated last line"
    # the lines it appends start on their own line: the torn one stays alone
    oo hist2 history -s hs-staging hs-fix
    expect_rc 0
    expect_grep "$OUT" 'h1 succeeded, h2 succeeded'
    # a host that cannot be reached is named (exit 3); the others are shown
    {
        printf 'defaults:\n'
        tf_defaults
        printf 'hosts:\n'
        tf_host 1
        printf '  gone: { address: 127.0.0.99, app_dir: /nonexistent }\n'
    } | tf_stage hs-gone
    oo gone history -s hs-gone --connect-timeout 5s
    expect_rc 3
    expect_grep "$ERR" "history of host 'gone' not read"
}

test_history_reason_and_require_reason() {
    tf_markers
    hs_stages 'require_reason: true
'
    tf_task hs-why <<EOF
description: needs a reason on staging ($W)
command: $(tf_mark_cmd)
EOF
    oo noreason run hs-why -s hs-staging
    expect_rc 4
    expect_grep "$ERR" "stage 'hs-staging' requires a reason"
    tf_expect_markers
    oo dry run hs-why -s hs-staging --dry-run
    expect_rc 4
    oo withreason run hs-why -s hs-staging --reason 'INC-7 cleanup'
    expect_rc 0
    expect_json reason 'INC-7 cleanup'
    tf_expect_markers h1 h2
    hs_line 1 "$(jget run_id)" start
    hs_expect reason 'INC-7 cleanup'
    # the task may ask for it too, on any stage
    tf_task hs-why2 <<EOF
description: needs a reason everywhere ($W)
command: 'true'
require_reason: true
EOF
    oo noreason2 run hs-why2 -s hs-production
    expect_rc 4
    expect_grep "$ERR" "task 'hs-why2' requires a reason"
    oo reason2 run hs-why2 -s hs-production -m why
    expect_rc 0
}

test_history_once_refused_then_forced() {
    local first
    hs_stages
    tf_task hs-once <<EOF
description: a fix that must run once per stage ($W)
command: echo fixing on \$APP_HOST
once: true
EOF
    oo first run hs-once -s hs-production -m 'first time'
    expect_rc 0
    first=$(jget run_id)
    # the same content again: refused, showing the earlier run
    oo second run hs-once -s hs-production
    expect_rc 4
    expect_grep "$ERR" "task 'hs-once' is 'once' and this content already succeeded on stage 'hs-production'"
    expect_grep "$ERR" "earlier: run $first by $(id -un) at .*, release $(tf_rel_id) \\(revision $(tf_rev)\\), reason: first time"
    expect_nogrep "$OUT" 'fixing on'
    # another stage has its own history
    oo staging run hs-once -s hs-staging
    expect_rc 0
    # --force runs it again (no terminal: nothing to ask) and says so, everywhere
    oo forced run hs-once -s hs-production --force -m 'again, on purpose'
    expect_rc 0
    expect_grep "$ERR" "--force: task 'hs-once' \\(once\\) succeeded on stage 'hs-production' before"
    expect_json overrides '["force"]'
    hs_line 4 "$(jget run_id)" start
    hs_expect overrides '["force"]'
    # new content is a new fix
    echo "# v2" >>"$DIR/app/tasks/hs-once.yml"
    oo v2 run hs-once -s hs-production
    expect_rc 0
}

test_history_secret_args_masked() {
    local run
    tf_markers
    hs_stages
    tf_task hs-secret <<EOF
description: takes a token ($W)
command: 'printf "%s\n" "\$@" >"$W/m/\$APP_HOST"'
args: any
secret_args: [TOKEN, password]
EOF
    oo dry run hs-secret -s hs-staging --dry-run -- TOKEN=s3cr3t-v4lue --password=hunter2 USER=ann
    expect_rc 0
    expect_nogrep "$OUT" 's3cr3t-v4lue|hunter2'
    expect_grep "$OUT" "'TOKEN=\\*\\*\\*' '--password=\\*\\*\\*' 'USER=ann'"
    oo real run hs-secret -s hs-staging --json -- TOKEN=s3cr3t-v4lue --password=hunter2 USER=ann
    expect_rc 0
    find_rundir
    run=$(jget run_id)
    expect_json args '["TOKEN=***","--password=***","USER=ann"]'
    # the task itself gets the real values
    has_line "$W/m/h1" TOKEN=s3cr3t-v4lue
    hs_line 2 "$run" start
    hs_expect args '["TOKEN=***","--password=***","USER=ann"]'
    ! grep -rqE 's3cr3t-v4lue|hunter2' "$RUNDIR" "$(hs_file 1)" "$(hs_file 2)" ||
        fail_run "a secret value reached the record, the logs or the history"
    expect_nogrep "$OUT" 's3cr3t-v4lue|hunter2'
}
