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

# pr_stages [PRODUCTION-TOP-KEYS]: writes hosts/pr-staging.yml and hosts/pr-production.yml
pr_stages() {
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
    # --from must be the stage production is promoted from
    oo wrong promote pr-bad --from test --to pr-production --yes
    expect_rc 2
    expect_grep "$ERR" "stage 'pr-production' is promoted from 'pr-staging'" "stderr"
}
