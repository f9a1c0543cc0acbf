# tests/integration/promote.sh - integration tests of the stage rules (README "Stages"):
# one release across the stage selection, a dry run that tells the truth, and promotion
# from one stage to the next.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, expect_*, jget, ...) and
# those of twelve_factor.sh (tf_*). Only test_* functions and pr_* helpers live here.
#
# Two stages on the fleet's loopback hosts: pr-staging (h1 web, h2 db primary, at
# 127.0.0.11-12) and pr-production (h3, h4 web, h5 db primary, at 127.0.0.13-15). Files a
# test adds to the project and every change to the fleet are undone at exit (on_exit).

# ---------------------------------------------------------------------------------------------
# helpers

# pr_stages [PRODUCTION-TOP-KEYS]: writes hosts/pr-staging.yml and hosts/pr-production.yml;
# the history files of h1..h5 are put back as they were at exit
pr_stages() {
    local i
    for i in 1 2 3 4 5; do pr_history "$i" >/dev/null; done
    tf_stage pr-staging <<EOF
defaults:
$(tf_defaults)
hosts:
$(tf_host 1 'roles: [web]')
$(tf_host 2 'roles: [db], primary: true')
EOF
    tf_stage pr-production <<EOF
${1:-}
defaults:
$(tf_defaults)
hosts:
$(tf_host 3 'roles: [web]')
$(tf_host 4 'roles: [web]')
$(tf_host 5 'roles: [db], primary: true')
EOF
}

# pr_migrate NAME [EXTRA-KEYS]: a migration on the db primary that leaves a marker
pr_migrate() {
    tf_task "$1" <<EOF
description: a migration on the primary
run_on: primary
role: db
${2:-}
command: $(tf_mark_cmd); echo "migrated on \$APP_HOST"
EOF
}

# ---------------------------------------------------------------------------------------------
# 7. one release across the stage

# run_on: primary with every host of the stage on one release: the task runs on the primary,
# the web hosts are checked (preflight) and marked so in the summary and in run.json
test_stage_release_checked_hosts() {
    tf_markers
    pr_stages
    pr_migrate pr-mig
    oo ok run pr-mig -s pr-production
    expect_rc 0
    tf_expect_markers h5
    expect_row h5 ok 0
    expect_row h3 checked
    expect_row h4 checked
    expect_counts "1 ok, 0 failed, 0 unreachable, 2 checked"
    expect_nogrep "$OUT" '^h[34] +\| ' "stdout (task output from a checked host)"
    expect_valid_json
    expect_json hosts.# 3
    expect_json hosts.h5.status ok
    expect_json hosts.h5.checked_only false
    expect_json hosts.h3.status checked
    expect_json hosts.h3.checked_only true
    expect_json hosts.h4.checked_only true
    expect_json hosts.h4.release "$(tf_rel_dir 4)"
    expect_json gate.verdict go
    expect_json gate.hosts_judged 3
    # --limit bounds the stage selection: h5 alone, nothing to check
    rm -f "$W"/m/*
    oo limited run pr-mig -s pr-production -l h5
    expect_rc 0
    tf_expect_markers h5
    expect_json hosts.# 1
}

# a web host on another release: the migration on the primary is refused (exit 4) with the
# host -> release -> revision table; --release ID pins the release and runs it
test_stage_release_drift_refuses_primary() {
    local new=20261203000000
    tf_markers
    pr_stages
    pr_migrate pr-mig
    tf_new_release 4 "$new" eee
    tf_point_current 4 "$new"
    oo drift run pr-mig -s pr-production
    expect_rc 4 "a web host is on another release"
    tf_nothing_ran
    expect_grep "$ERR" "^oneoff: +h4 +$new +eee +\\(checked only\\) *\$" "stderr (release table: h4)"
    expect_grep "$ERR" "^oneoff: +h5 +$(tf_rel_id) +$(tf_rev) *\$" "stderr (release table: h5)"
    expect_grep "$ERR" "^oneoff: +h3 +$(tf_rel_id) +$(tf_rev) +\\(checked only\\) *\$" "stderr (release table: h3)"
    expect_row h5 refused
    expect_row h4 checked
    expect_valid_json
    expect_json exit_code 4
    expect_json gate.verdict release-drift
    expect_json gate.releases_agree false
    expect_json hosts.h4.revision eee
    expect_json hosts.h4.checked_only true
    # --dry-run says the release is checked on all three hosts
    oo dry run pr-mig -s pr-production --dry-run
    expect_rc 0
    expect_grep "$OUT" '^host h4 .*checked only' "dry-run output (h4 checked only)"
    # --release pins it: the primary alone, in that release
    tf_new_release 5 "$new" eee
    oo pinned run pr-mig -s pr-production --release "$new"
    expect_rc 0
    tf_expect_markers h5
    expect_json hosts.# 1
    expect_json hosts.h5.revision eee
}

# ---------------------------------------------------------------------------------------------
# 8. the dry run tells the truth

# pr_dry_and_real NAME TASK ARGS...: the same command with --dry-run, then for real; both must
# give the same exit code and the same refusal, and neither may connect anywhere
pr_dry_and_real() {
    local name=$1 s3 s5 dry_rc dry_err
    shift
    s3=$(tf_sessions 3) s5=$(tf_sessions 5)
    oo "$name-dry" run "$@" --dry-run
    dry_rc=$RC dry_err=$ERR
    expect_grep "$OUT" '^checked at preflight' "dry-run output (what only the hosts can tell)"
    expect_grep "$OUT" "^refused before connecting: exit $RC" "dry-run output (the verdict)"
    oo "$name-real" run "$@" --yes
    [ "$RC" = "$dry_rc" ] || fail_run "the real run exited $RC, the dry run $dry_rc"
    while IFS= read -r line; do
        grep -qxF -- "oneoff: ${line#oneoff: would refuse: }" "$ERR" ||
            fail_run "the real run does not say what the dry run said: $line"
    done < <(grep '^oneoff: would refuse: ' "$dry_err" | head -n 1)
    [ "$(tf_sessions 3)" = "$s3" ] && [ "$(tf_sessions 5)" = "$s5" ] ||
        fail_run "a refused run connected to a host"
}

test_dry_run_refusals_match_the_run() {
    tf_markers
    pr_stages
    pr_migrate pr-pty 'pty: true'
    pr_dry_and_real pty pr-pty -s pr-production
    expect_rc 2
    expect_grep "$W/pty-dry.err" "^oneoff: would refuse: task 'pr-pty' needs a terminal" "dry-run stderr"
    # an impossible rollout is known before connecting too
    pr_migrate pr-batch 'batch: 0'
    pr_dry_and_real batch pr-batch -s pr-production
    expect_rc 2
    tf_nothing_ran
    # and a plain task: exit 0, the preflight's checks listed, nothing refused
    oo plain-dry run pr-batch -s pr-production --dry-run --batch 1
    expect_rc 0
    expect_grep "$OUT" '^  - every host reports the same release and revision \(3 hosts, 2 of them checked only\)$' "dry-run output"
    expect_nogrep "$OUT" '^refused before connecting' "dry-run output"
    expect_nogrep "$ERR" 'would refuse' "dry-run stderr"
}

# ---------------------------------------------------------------------------------------------
# 6. oneoff promote

# the whole path as one command: staging, then production, one summary, one report
test_promote_runs_staging_then_production() {
    local rep=$W/promote.json
    tf_markers
    pr_stages 'promote_from: pr-staging
confirm: true'
    pr_migrate pr-mig
    : >"$(pr_history 1)"
    : >"$(pr_history 2)"
    oo promote promote pr-mig --from pr-staging --to pr-production --yes --report "$rep"
    expect_rc 0
    tf_expect_markers h2 h5
    has_line "$OUT" "h2 | migrated on h2"
    has_line "$OUT" "h5 | migrated on h5"
    expect_grep "$OUT" "^promote 'pr-mig': pr-staging -> pr-production\$" "combined summary"
    expect_grep "$OUT" '^pr-staging +0 +[0-9T]+Z-[0-9a-f]+ +1 checked, 1 ok$' "combined summary (staging)"
    expect_grep "$OUT" '^pr-production +0 +[0-9T]+Z-[0-9a-f]+ +2 checked, 1 ok$' "combined summary (production)"
    expect_grep "$OUT" "^promoted: " "combined summary (verdict)"
    JSON=$rep
    expect_valid_json
    expect_json kind promote
    expect_json from pr-staging
    expect_json to pr-production
    expect_json promoted true
    expect_json exit_code 0
    expect_json runs.# 2
    expect_json runs.0.stage pr-staging
    expect_json runs.0.hosts.h2.status ok
    expect_json runs.1.stage pr-production
    expect_json runs.1.hosts.h5.status ok
    expect_json runs.1.hosts.h3.status checked
    # every stage's own run.json is there too, and valid
    [ "$(find "$DIR/app/log" -name run.json -newer "$W/.records-t0" | wc -l)" -ge 2 ] ||
        fail_run "the two runs did not leave their own run.json"
}

# a failure on staging: production is never touched; the report says so
test_promote_stops_after_a_failed_stage() {
    local rep=$W/promote.json s3 s5
    tf_markers
    pr_stages 'promote_from: pr-staging'
    tf_task pr-bad <<EOF
description: fails on staging's primary
run_on: primary
role: db
command: $(tf_mark_cmd); test "\$APP_HOST" != h2 || exit 5
EOF
    s3=$(tf_sessions 3) s5=$(tf_sessions 5)
    oo promote promote pr-bad --from pr-staging --to pr-production --yes --report "$rep"
    expect_rc 1
    tf_expect_markers h2
    [ "$(tf_sessions 3)" = "$s3" ] && [ "$(tf_sessions 5)" = "$s5" ] ||
        fail_run "production was contacted although staging failed"
    expect_grep "$OUT" "^not promoted: 'pr-staging' did not succeed on every host \\(exit 1\\); nothing ran on 'pr-production'\$" "combined summary"
    expect_grep "$OUT" '^pr-production +- +- +not run$' "combined summary (production)"
    JSON=$rep
    expect_json promoted false
    expect_json exit_code 1
    expect_json runs.0.hosts.h2.exit_code 5
    expect_json runs.1 null
    # --dry-run: both plans, nothing contacted
    s3=$(tf_sessions 3)
    oo dry promote pr-bad --from pr-staging --to pr-production --dry-run
    expect_rc 0
    expect_grep "$OUT" "^plan: task 'pr-bad' on stage 'pr-staging'" "dry-run output (staging)"
    expect_grep "$OUT" "^plan: task 'pr-bad' on stage 'pr-production'" "dry-run output (production)"
    [ "$(tf_sessions 3)" = "$s3" ] || fail_run "--dry-run connected to h3"
    # --from must be the stage production is promoted from
    oo wrong promote pr-bad --from test --to pr-production --yes
    expect_rc 2
    expect_grep "$ERR" "stage 'pr-production' is promoted from 'pr-staging'" "stderr"
}

# ---------------------------------------------------------------------------------------------
# 5. staging before production

# pr_history I: the history file of hI (put back as it was at exit)
pr_history() {
    local f
    f=$(tf_app "$1")/shared/.oneoff/history.jsonl
    tf_lock_dir_cleanup "$1"
    if [ -e "$f" ]; then
        cp -p -- "$f" "$W/history.h$1.saved"
        on_exit "cp -p -- '$W/history.h$1.saved' '$f'"
    else
        on_exit "rm -f -- '$f'"
    fi
    mkdir -p "${f%/*}"
    echo "$f"
}
# pr_hist_run I RUN STAGE TASK SHA REVISION [OUTCOME [EXIT]]: appends a start line (and, with
# OUTCOME, an end line) of a run to hI's history, in the format the hosts write
pr_hist_run() {
    local f
    f=$(tf_app "$1")/shared/.oneoff/history.jsonl
    printf '{"v":1,"event":"start","run":"%s","kind":"run","host":"h%s","stage":"%s","task":"%s","sha256":"%s","command":"bin/migrate","args":[],"release":"%s","revision":"%s","operator":"ann","email":null,"reason":null,"overrides":[],"at":"2026-12-01T09:00:00.000Z"}\n' \
        "$2" "$1" "$3" "$4" "$5" "$(tf_rel_id)" "$6" >>"$f"
    [ -n "${7:-}" ] || return 0
    printf '{"v":1,"event":"end","run":"%s","host":"h%s","at":"2026-12-01T09:00:05.000Z","outcome":"%s","exit":%s,"signal":null,"duration_ms":5000}\n' \
        "$2" "$1" "$7" "${8:-0}" >>"$f"
}

test_promotion_gate_reads_the_stage_before() {
    local sha s3 s5
    tf_markers
    pr_stages 'promote_from: pr-staging'
    pr_migrate pr-mig
    sha=$(sha <"$DIR/app/tasks/pr-mig.yml")
    pr_history 1 >/dev/null
    pr_history 2 >/dev/null
    : >"$(pr_history 2)"
    # never run on staging: refused before production is contacted
    s3=$(tf_sessions 3) s5=$(tf_sessions 5)
    oo never run pr-mig -s pr-production
    expect_rc 4 "never run on staging"
    tf_nothing_ran
    expect_grep "$ERR" "^oneoff: task 'pr-mig' has not passed stage 'pr-staging' before 'pr-production': never run on stage 'pr-staging'; nothing was run" "stderr"
    [ "$(tf_sessions 3)" = "$s3" ] && [ "$(tf_sessions 5)" = "$s5" ] ||
        fail_run "production was contacted although the gate refused"
    # the dry run names the gate among what the preflight checks
    oo dry run pr-mig -s pr-production --dry-run
    expect_rc 0
    expect_grep "$OUT" "^  - the promotion gate: .* succeeded on every host" "dry-run output"
    # failed there
    pr_hist_run 2 20261201T090000Z-aaaaaa pr-staging pr-mig "$sha" "$(tf_rev)" failed 3
    oo failed run pr-mig -s pr-production
    expect_rc 4
    expect_grep "$ERR" "it failed on stage 'pr-staging': run 20261201T090000Z-aaaaaa on h2 \\(failed, exit 3\\)" "stderr"
    # started there and never ended
    pr_hist_run 2 20261201T090100Z-bbbbbb pr-staging pr-mig "$sha" "$(tf_rev)"
    oo unknown run pr-mig -s pr-production
    expect_rc 4
    expect_grep "$ERR" "run 20261201T090100Z-bbbbbb on stage 'pr-staging' started and never ended on h2" "stderr"
    # other content
    : >"$(tf_app 2)/shared/.oneoff/history.jsonl"
    pr_hist_run 2 20261201T090200Z-cccccc pr-staging pr-mig 0000beef "$(tf_rev)" succeeded
    oo other run pr-mig -s pr-production
    expect_rc 4
    expect_grep "$ERR" "never run on stage 'pr-staging' with this content .*it ran there as sha256 0000beef" "stderr"
    # succeeded, on another revision: known only after production's preflight
    pr_hist_run 2 20261201T090300Z-dddddd pr-staging pr-mig "$sha" zzz succeeded
    oo otherrev run pr-mig -s pr-production
    expect_rc 4
    tf_nothing_ran
    expect_grep "$ERR" "it succeeded on stage 'pr-staging' at revision zzz \\(run 20261201T090300Z-dddddd\\), not at this release's revision $(tf_rev)" "stderr"
    expect_valid_json
    expect_json gate.verdict promotion
    expect_json exit_code 4
    expect_json hosts.h5.status refused
    # --skip-gate needs a reason; with one it runs anyway, and says what it skipped
    oo skipnoreason run pr-mig -s pr-production --skip-gate
    expect_rc 2
    expect_grep "$ERR" "^oneoff: --skip-gate needs a reason" "stderr"
    tf_nothing_ran
    oo skip run pr-mig -s pr-production --skip-gate -m "hotfix for ticket 7"
    expect_rc 0
    tf_expect_markers h5
    expect_grep "$ERR" "promotion gate skipped \\(--skip-gate\\)" "stderr"
    expect_json overrides '["skip-gate"]'
    expect_grep "$(tf_app 5)/shared/.oneoff/history.jsonl" '"reason":"hotfix for ticket 7","overrides":\["skip-gate"\]' "h5's history (the skipped gate)"
    rm -f "$W"/m/*
    # succeeded on every host it ran on, at this revision: go
    pr_hist_run 2 20261201T090400Z-eeeeee pr-staging pr-mig "$sha" "$(tf_rev)" succeeded
    pr_hist_run 1 20261201T090400Z-eeeeee pr-staging pr-mig "$sha" "$(tf_rev)" succeeded
    oo go run pr-mig -s pr-production
    expect_rc 0
    tf_expect_markers h5
    expect_json gate.verdict go
    # a corrupt line (a cut last line) is skipped, not fatal
    printf '{"v":1,"event":"start","run":"2026' >>"$(tf_app 1)/shared/.oneoff/history.jsonl"
    oo corrupt run pr-mig -s pr-production
    expect_rc 0
    # a staging host whose history cannot be read: refused, named
    tf_stop_host 1
    oo unread run pr-mig -s pr-production
    expect_rc 4
    expect_grep "$ERR" "the history of host h1 of stage 'pr-staging' could not be read" "stderr"
}

# --skip-gate is recorded in both stages' history: every host of the stage before that the gate
# read gets a gate-skipped line with the run's id (the one in production's history and run.json)
# and the reason, before the run starts; `history` and `show` on the stage before show it, and
# it is no run there: the gate still finds nothing that passed
test_skip_gate_is_recorded_on_the_stage_before() {
    local run f i reason="ticket 7: it's \$(not run) \"now\""
    tf_markers
    pr_stages 'promote_from: pr-staging'
    pr_migrate pr-mig
    : >"$(pr_history 1)"
    : >"$(pr_history 2)"
    oo skip run pr-mig -s pr-production --skip-gate -m "$reason"
    expect_rc 0
    tf_expect_markers h5
    expect_json overrides '["skip-gate"]'
    run=$(jget run_id)
    expect_match "$run" '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$' "run id"
    grep -qF "{\"v\":1,\"event\":\"start\",\"run\":\"$run\"," "$(tf_app 5)/shared/.oneoff/history.jsonl" ||
        fail_run "h5's history has no start line of run $run"
    for i in 1 2; do
        f=$(tf_app "$i")/shared/.oneoff/history.jsonl
        grep -qF "{\"v\":1,\"event\":\"gate-skipped\",\"run\":\"$run\",\"stage\":\"pr-staging\",\"to_stage\":\"pr-production\",\"task\":\"pr-mig\",\"sha256\":\"$(sha <"$DIR/app/tasks/pr-mig.yml")\"," "$f" ||
            fail_run "h$i's history has no gate-skipped line of run $run: $(tail -n 2 "$f")"
        grep -qF "\"reason\":\"ticket 7: it's \$(not run) \\\"now\\\"\",\"host\":\"h$i\",\"at\":\"" "$f" ||
            fail_run "h$i's gate-skipped line lacks the reason: $(tail -n 2 "$f")"
    done
    # `history` on staging: a row marked "gate skipped", no corrupt line
    oo hist history -s pr-staging
    expect_rc 0
    expect_grep "$OUT" "^$run .* gate skipped +h1, h2 / gate skipped by [^ ]+ for pr-production: ticket 7: it's" "history table"
    expect_nogrep "$ERR" "skipped:|not read" "history stderr"
    oo histjson history -s pr-staging --json
    expect_rc 0
    grep -qF "\"gate_skipped_for\":\"pr-production\",\"gate_skipped_on\":[\"h1\",\"h2\"]" "$OUT" ||
        fail_run "history --json has no gate-skipped mark"
    oo show show "$run" -s pr-staging
    expect_rc 0
    expect_grep "$OUT" "^run $run on stage 'pr-production' skipped the promotion gate of stage 'pr-staging' for task 'pr-mig'" "show"
    expect_grep "$OUT" "^  recorded +h1 h2$" "show"
    # the mark is not a run of staging: the gate still refuses
    rm -f "$W"/m/*
    oo again run pr-mig -s pr-production
    expect_rc 4
    tf_nothing_ran
    expect_grep "$ERR" "never run on stage 'pr-staging'; nothing was run" "stderr"
}

# a chain (production <- staging <- rehearsal): only the direct predecessor is read; staging
# is itself gated by rehearsal
test_promotion_chain_reads_the_direct_predecessor() {
    local sha
    tf_markers
    pr_stages 'promote_from: pr-staging'
    sed -i 's/^stage: pr-staging$/stage: pr-staging\npromote_from: pr-rehearsal/' "$DIR/app/hosts/pr-staging.yml"
    tf_stage pr-rehearsal <<EOF
defaults:
$(tf_defaults)
hosts:
$(tf_host 6 'roles: [db], primary: true')
EOF
    pr_migrate pr-mig
    sha=$(sha <"$DIR/app/tasks/pr-mig.yml")
    pr_history 6 >/dev/null
    : >"$(pr_history 1)"
    : >"$(pr_history 2)"
    # staging: never rehearsed
    oo staging run pr-mig -s pr-staging
    expect_rc 4
    expect_grep "$ERR" "has not passed stage 'pr-rehearsal' before 'pr-staging': never run on stage 'pr-rehearsal'" "stderr"
    # production reads staging only: staging's success is enough
    pr_hist_run 2 20261201T100000Z-ffffff pr-staging pr-mig "$sha" "$(tf_rev)" succeeded
    oo production run pr-mig -s pr-production
    expect_rc 0
    tf_expect_markers h5
}

# ---------------------------------------------------------------------------------------------
# 9. rehearsal on a copy

# the practice of README "Rehearsal on a copy": a rehearsal stage (the production primary, its
# DATABASE_URL pointing at a scratch copy) copies the real SQLite database and runs the same
# migration on the copy first; the real database changes only when production runs it
test_rehearsal_on_a_copy() {
    local app real copy
    app=$(tf_app 5)
    real=$app/shared/pr-db.sqlite3 copy=$app/shared/pr-rehearsal.sqlite3
    on_exit "rm -f -- '$real' '$copy'"
    sqlite3 "$real" "CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (1)" ||
        fail "sqlite3 cannot make $real"
    pr_stages
    tf_stage pr-production <<EOF
promote_from: pr-rehearsal
defaults:
$(tf_defaults)
  env: { DATABASE_URL: "sqlite://$real" }
hosts:
$(tf_host 3 'roles: [web]')
$(tf_host 4 'roles: [web]')
$(tf_host 5 'roles: [db], primary: true')
EOF
    tf_stage pr-rehearsal <<EOF
defaults:
$(tf_defaults)
  env: { DATABASE_URL: "sqlite://$copy", SOURCE_DATABASE_URL: "sqlite://$real" }
hosts:
$(tf_host 5 'roles: [db], primary: true')
EOF
    tf_task pr-db-copy <<'EOF'
description: copy the real database to the rehearsal's scratch file
run_on: primary
role: db
command: sqlite3 "${SOURCE_DATABASE_URL#sqlite://}" ".backup '${DATABASE_URL#sqlite://}'"
EOF
    tf_task pr-add-status <<'EOF'
description: a migration
run_on: primary
role: db
command: sqlite3 -bail "${DATABASE_URL#sqlite://}" "ALTER TABLE orders ADD COLUMN status TEXT" && echo "migrated ${DATABASE_URL##*/}"
EOF
    oo copy run pr-db-copy -s pr-rehearsal
    expect_rc 0
    oo rehearse run pr-add-status -s pr-rehearsal
    expect_rc 0
    has_line "$OUT" "h5 | migrated pr-rehearsal.sqlite3"
    [ "$(sqlite3 "$copy" "SELECT count(*) FROM pragma_table_info('orders') WHERE name = 'status'")" = 1 ] ||
        fail_run "the copy was not migrated"
    [ "$(sqlite3 "$real" "SELECT count(*) FROM pragma_table_info('orders') WHERE name = 'status'")" = 0 ] ||
        fail_run "the rehearsal changed the real database"
    # it passed the rehearsal: production may run it, on the real database
    oo production run pr-add-status -s pr-production
    expect_rc 0
    has_line "$OUT" "h5 | migrated pr-db.sqlite3"
    [ "$(sqlite3 "$real" "SELECT count(*) FROM pragma_table_info('orders') WHERE name = 'status'")" = 1 ] ||
        fail_run "production did not migrate the real database"
}
