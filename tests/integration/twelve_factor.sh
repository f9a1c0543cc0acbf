# tests/integration/twelve_factor.sh - integration tests of the twelve-factor rules a run
# follows (README "What a run does", "What a host runs", locks, check, exit codes): one
# release per run, the task shipped with the release, the environment, where a task runs,
# rolling runs, locks, confirmation, exec records, the local transport, `check`, and bad
# input that leaves nothing half-done.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, oo_bg, expect_*, jget,
# wait_procs, log_content, on_exit, ...). Only test_* functions and tf_* helpers live here.
#
# Every test that changes the fleet (a `current` symlink, a release folder, an env file, a
# stopped host, file modes, lock files) registers the undo with on_exit first, so the fleet is
# restored even when the test fails half-way. Files a test adds to the project ($DIR/app:
# tasks/tf-*.yml, hosts/tf-*.yml) are removed the same way.

# ---------------------------------------------------------------------------------------------
# helpers

# the release and revision tests/fleet.sh deploys on every host
tf_rel_id() { echo 20261101120000; }
tf_rev() { echo a1b2c3d; }
tf_app() { echo "$DIR/hosts/h$1/app"; }
tf_rel_dir() { echo "$DIR/hosts/h$1/app/releases/${2:-$(tf_rel_id)}"; }

# tf_task NAME < YAML: writes tasks/NAME.yml of the project (removed when the test ends)
tf_task() {
    on_exit "rm -f -- '$DIR/app/tasks/$1.yml'"
    cat >"$DIR/app/tasks/$1.yml"
}

# tf_stage NAME < HOSTS: writes hosts/NAME.yml with the fleet's defaults and the given text
# after them (host lines under "hosts:", or more defaults first); removed when the test ends
tf_stage() {
    on_exit "rm -f -- '$DIR/app/hosts/$1.yml'"
    {
        printf 'stage: %s\n' "$1"
        cat
    } >"$DIR/app/hosts/$1.yml"
}
# tf_defaults: the connection defaults of the fleet, as lines of a `defaults:` mapping
tf_defaults() {
    printf '  user: root\n  port: %s\n  identity: %s\n  env_file: shared/.env\n' "$PORT" "$DIR/client_key"
}
# tf_host I [EXTRA]: a host line "  hI: { address, app_dir[, EXTRA] }"
tf_host() { printf '  h%s: { address: %s, app_dir: %s%s }\n' "$1" "$(host_ip "$1")" "$(tf_app "$1")" "${2:+, $2}"; }

# the marker folder: tasks that must not run touch $W/m/HOST
tf_markers() { mkdir -p "$W/m"; }
tf_mark_cmd() { printf 'touch "%s/m/$APP_HOST"' "$W"; }
tf_expect_markers() { # tf_expect_markers HOST... : exactly these hosts ran the task
    local got want
    got=$(ls -A "$W/m" 2>/dev/null | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail_run "the task ran on '${got% }', expected on '${want% }'"
}

# tf_nothing_ran: no marker, no task output on the terminal, no task output in any host log
tf_nothing_ran() {
    local f
    [ -z "$(ls -A "$W/m" 2>/dev/null)" ] || fail_run "the task ran on: $(ls -A "$W/m" | tr '\n' ' ')"
    expect_nogrep "$OUT" '^[A-Za-z0-9._-]+ +\| ' "stdout (task output although nothing may run)"
    # what the set-up printed (why it failed) is shown, marked "setup:"
    if grep -E '^[A-Za-z0-9._-]+ +\| ' "$ERR" | grep -qvE '^[^ ]+ +\| setup: '; then
        fail_run "stderr (task output although nothing may run): $(grep -E '^[A-Za-z0-9._-]+ +\| ' "$ERR" | head -3)"
    fi
    [ -n "${RUNDIR:-}" ] || return 0
    for f in "$RUNDIR"/*.log; do
        [ -e "$f" ] || continue
        expect_nogrep "$f" '^[^ ]+ (out|err) [|~] ' "${f##*/} (task output although nothing may run)"
    done
}

# tf_sessions I: sessions host hI's sshd has started so far (one per command oneoff runs)
tf_sessions() { grep -c 'Starting session' "$DIR/hosts/h$1/sshd.log" 2>/dev/null || true; }

# tf_col HOST COLUMN: a column (STATUS, EXIT, RELEASE, REVISION...) of HOST's summary row
tf_col() {
    sed -n '/^HOST  *STATUS /,$p' "$OUT" | awk -v h="$1" -v c="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
        $1 == h && col { print $col; exit }'
}
tf_expect_col() { # tf_expect_col HOST COLUMN VALUE
    local v
    v=$(tf_col "$1" "$2")
    [ "$v" = "$3" ] || fail_run "summary: $2 of $1 is '$v', expected '$3' (row: $(summary_line "$1"))"
}

# tf_new_release I ID REVISION: adds app/releases/ID with that REVISION on hI (removed at exit)
tf_new_release() {
    local d
    d=$(tf_rel_dir "$1" "$2")
    [ ! -e "$d" ] || fail "precondition: $d exists already"
    on_exit "rm -rf -- '$d'"
    mkdir -p "$d" && printf '%s\n' "$3" >"$d/REVISION" || fail "cannot create $d"
}
# tf_point_current I ID: app/current of hI -> releases/ID (the old target is restored at exit)
tf_point_current() {
    local app old
    app=$(tf_app "$1")
    old=$(readlink "$app/current") || fail "precondition: $app/current is not a symlink"
    on_exit "ln -sfn -- '$old' '$app/current'"
    ln -sfn -- "releases/$2" "$app/current" || fail "cannot switch $app/current"
}

# tf_hide_env I: moves hI's shared/.env away (put back at exit)
tf_hide_env() {
    local e
    e=$(tf_app "$1")/shared/.env
    [ -f "$e" ] || fail "precondition: $e is missing"
    on_exit "mv -f -- '$e.tf-hidden' '$e'"
    mv -f -- "$e" "$e.tf-hidden" || fail "cannot move $e"
}

# tf_stop_host I: stops hI's sshd (started again at exit)
tf_stop_host() {
    on_exit "bash '$FLEET' start-host '$DIR' $1 >/dev/null 2>&1"
    bash "$FLEET" stop-host "$DIR" "$1" >/dev/null 2>&1 || fail "fleet.sh stop-host $1 failed"
}

# tf_lock_dir_cleanup I: the lock folder of hI is removed at exit if the test creates it
tf_lock_dir_cleanup() {
    local d
    d=$(tf_app "$1")/shared/.oneoff
    [ -e "$d" ] || on_exit "rm -rf -- '$d'"
}
tf_lock_file() { echo "$(tf_app "$1")/shared/.oneoff/locks/$2.lock"; }
# tf_lock_free FILE: nobody holds the flock on FILE
tf_lock_free() { flock -n "$1" true 2>/dev/null; }

# tf_open_for_others PATH: lets any user read PATH's tree and reach it (chmod a+rX on the tree
# and on every parent folder lacking it); every mode changed is put back at exit
tf_open_for_others() {
    local p=$1 modes d
    modes=$W/modes.$RANDOM$RANDOM
    : >"$modes"
    on_exit "tf_restore_modes '$modes'"
    find "$p" \( -type d -o -type f \) -printf '%m %p\n' >>"$modes" || fail "cannot list $p"
    d=$(dirname -- "$p")
    while [ "$d" != / ]; do
        [ "$(( 0$(stat -c %a "$d") & 05 ))" = 5 ] || printf '%s %s\n' "$(stat -c %a "$d")" "$d" >>"$modes"
        d=$(dirname -- "$d")
    done
    cut -d' ' -f2- "$modes" | while IFS= read -r d; do chmod a+rX -- "$d"; done
}
tf_restore_modes() {
    local m d
    [ -f "$1" ] || return 0
    while read -r m d; do chmod "$m" -- "$d" 2>/dev/null || true; done <"$1"
}

# tf_secret I: the secret of hI's env file
tf_secret() { sed -n 's/^SECRET_KEY_BASE=//p' "$(tf_app "$1")/shared/.env"; }

# ---------------------------------------------------------------------------------------------
# 1. one release per run

# all hosts on the same release: the run goes on; summary and run.json say release and revision
test_release_same_everywhere_recorded() {
    tf_task tf-where <<'EOF'
description: prints the host and its release directory
command: echo "$APP_HOST $(pwd -P)"
EOF
    oo same run tf-where -s test
    expect_rc 0
    local i
    for i in $(seq 1 "$NHOSTS"); do
        expect_row "h$i" ok 0
        has_line "$OUT" "h$i | h$i $(tf_rel_dir "$i")"
        tf_expect_col "h$i" RELEASE "$(tf_rel_id)"
        tf_expect_col "h$i" REVISION "$(tf_rev)"
    done
    expect_valid_json
    expect_json refused null
    for i in $(seq 1 "$NHOSTS"); do
        expect_json "hosts.h$i.release" "$(tf_rel_dir "$i")"
        expect_json "hosts.h$i.revision" "$(tf_rev)"
    done
}

# one host's current points at another release: nothing runs anywhere, exit 4, and stderr
# holds the table host -> release -> revision
test_release_drift_refused() {
    local new=20261102000000 i
    tf_markers
    tf_task tf-mark <<EOF
description: leaves a marker and prints
command: $(tf_mark_cmd); echo "ran on \$APP_HOST"
EOF
    tf_new_release 3 "$new" zzz
    tf_point_current 3 "$new"
    oo drift run tf-mark -s test
    expect_rc 4 "hosts disagree on the release"
    tf_nothing_ran
    expect_json gate.verdict release-drift
    expect_json gate.releases_agree false
    expect_json gate.exit_code 4
    for i in $(seq 1 "$NHOSTS"); do
        if [ "$i" = 3 ]; then
            expect_grep "$ERR" "^oneoff: +h3 +$new +zzz *\$" "stderr (release table: h3)"
        else
            expect_grep "$ERR" "^oneoff: +h$i +$(tf_rel_id) +$(tf_rev) *\$" "stderr (release table: h$i)"
        fi
        expect_row "h$i" refused
    done
    expect_valid_json
    expect_json exit_code 4
    [ "$(jget refused)" != null ] || fail_run "run.json: 'refused' does not say why nothing ran"
    expect_json hosts.h3.release "$(tf_rel_dir 3 "$new")"
    expect_json hosts.h3.revision zzz
    expect_json hosts.h1.revision "$(tf_rev)"
}

# --release ID runs in app_dir/releases/ID whatever `current` says
test_release_pinned() {
    local new=20261102000000 i
    tf_task tf-pwd <<'EOF'
description: prints its directory
command: pwd -P
EOF
    for i in 1 2; do tf_new_release "$i" "$new" zzz; done
    oo pinned run tf-pwd -s test -l h1,h2 --release "$new"
    expect_rc 0
    for i in 1 2; do
        has_line "$OUT" "h$i | $(tf_rel_dir "$i" "$new")"
        tf_expect_col "h$i" RELEASE "$new"
        tf_expect_col "h$i" REVISION zzz
    done
    expect_valid_json
    expect_json hosts.h1.release "$(tf_rel_dir 1 "$new")"
    expect_json hosts.h2.revision zzz
    # without --release: the deployed one
    oo unpinned run tf-pwd -s test -l h1
    expect_rc 0
    has_line "$OUT" "h1 | $(tf_rel_dir 1)"
}

# a deploy that switches `current` mid-run moves neither a running task nor a host that starts
# later (--batch 1: h2 starts after the switch, in the release the preflight resolved)
test_release_switch_mid_run() {
    local new=20261102000000 i
    tf_task tf-slowpwd <<EOF
description: sleeps 2 s, then prints its directory
command: $SLEEP 2; pwd -P
EOF
    for i in 1 2; do tf_new_release "$i" "$new" zzz; done
    oo_bg switch run tf-slowpwd -s test -l h1,h2 --batch 1
    wait_procs "^$SLEEP 2\$" 1 15
    # h1's task is sleeping: deploy the new release on both hosts
    for i in 1 2; do tf_point_current "$i" "$new"; done
    wait_bg 20
    expect_rc 0
    for i in 1 2; do
        has_line "$OUT" "h$i | $(tf_rel_dir "$i")"
        tf_expect_col "h$i" RELEASE "$(tf_rel_id)"
    done
    expect_nogrep "$OUT" "$new" "stdout (the task ran in the release deployed mid-run)"
    expect_valid_json
    expect_json hosts.h1.release "$(tf_rel_dir 1)"
    expect_json hosts.h2.release "$(tf_rel_dir 2)"
}

# ---------------------------------------------------------------------------------------------
# 2. the task shipped with the release

# tf_ship_task NAME [HOST_WITH_OTHER_BYTES]: copies tasks/NAME.yml into the release of every
# host (one host may get different bytes); removed at exit
tf_ship_task() {
    local i d
    for i in $(seq 1 "$NHOSTS"); do
        d=$(tf_rel_dir "$i")/tasks
        [ -e "$d" ] || on_exit "rm -rf -- '$d'"
        on_exit "rm -f -- '$d/$1.yml'"
        mkdir -p "$d" && cp "$DIR/app/tasks/$1.yml" "$d/$1.yml" || fail "cannot ship $1.yml to h$i"
        if [ "h$i" = "${2:-}" ]; then echo "# changed on the host" >>"$d/$1.yml"; fi
    done
}

tf_shipped_task() {
    tf_markers
    tf_task tf-shipped <<EOF
description: a task versioned with the app
command: $(tf_mark_cmd); echo "shipped on \$APP_HOST"
EOF
}

# the release holds the same bytes: runs, run.json says "same" for every host
test_task_in_release_same() {
    tf_shipped_task
    tf_ship_task tf-shipped
    oo same run tf-shipped -s test
    expect_rc 0
    expect_counts "$NHOSTS ok, 0 failed, 0 unreachable"
    local i
    for i in $(seq 1 "$NHOSTS"); do
        has_line "$OUT" "h$i | shipped on h$i"
        expect_json "hosts.h$i.task_in_release" same
    done
    expect_json task_sha256 "$(sha <"$DIR/app/tasks/tf-shipped.yml")"
    expect_nogrep "$ERR" 'has no tasks/tf-shipped.yml' "stderr (the release does hold the task)"
}

# one host's release holds other bytes: exit 4, both digests shown, nothing ran anywhere;
# --allow-drift runs it and says so in run.json
test_task_in_release_drift() {
    tf_shipped_task
    tf_ship_task tf-shipped h2
    local here there
    here=$(sha <"$DIR/app/tasks/tf-shipped.yml")
    there=$(sha <"$(tf_rel_dir 2)/tasks/tf-shipped.yml")
    [ "$here" != "$there" ] || fail "precondition: the two copies are identical"
    oo drift run tf-shipped -s test
    expect_rc 4 "task file drift"
    tf_nothing_ran
    grep -qF "$here" "$ERR" || fail_run "stderr does not show the local digest $here"
    grep -qF "$there" "$ERR" || fail_run "stderr does not show h2's digest $there"
    expect_valid_json
    expect_json exit_code 4
    expect_json allow_drift false
    expect_json gate.verdict task-drift
    expect_json gate.allow_drift false
    expect_json gate.releases_agree true
    expect_json hosts.h2.task_in_release differs
    expect_json hosts.h1.task_in_release same
    [ "$(jget refused)" != null ] || fail_run "run.json: 'refused' does not say why nothing ran"

    oo allowed run tf-shipped -s test --allow-drift
    expect_rc 0
    expect_counts "$NHOSTS ok, 0 failed, 0 unreachable"
    tf_expect_markers $(seq -f 'h%g' 1 "$NHOSTS")
    expect_valid_json
    expect_json allow_drift true
    expect_json refused null
    expect_json gate.verdict go
    expect_json gate.allow_drift true
    expect_json gate.hosts_judged "$NHOSTS"
    expect_json hosts.h2.task_in_release differs
}

# the release has no tasks/NAME.yml: runs, and the summary notes it
test_task_in_release_absent_noted() {
    tf_shipped_task
    oo absent run tf-shipped -s test -l h1,h2
    expect_rc 0
    tf_expect_markers h1 h2
    cat "$OUT" "$ERR" >"$W/all"
    expect_grep "$W/all" 'release has no tasks/tf-shipped\.yml' "summary (the release lacks the task file)"
    expect_json hosts.h1.task_in_release absent
    expect_json hosts.h2.task_in_release absent
}

# ---------------------------------------------------------------------------------------------
# 3. environment

# exec 'env | sort': the env file's values, PWD the release; the secret stays out of run.json
# but for the tail of what the task printed
test_env_exec_shows_env_file_and_release() {
    local i s
    oo env exec -s test -l h1,h2 -- 'env | sort'
    expect_rc 0
    for i in 1 2; do
        s=$(tf_secret "$i")
        [ -n "$s" ] || fail "precondition: no SECRET_KEY_BASE in h$i's env file"
        has_line "$OUT" "h$i | SECRET_KEY_BASE=$s"
        has_line "$OUT" "h$i | APP_HOST=h$i"
        has_line "$OUT" "h$i | PWD=$(tf_rel_dir "$i")"
        # the task printed it: only its output's tail may hold it, as the log does
        ! grep -vF '"tail":' "$JSON" | grep -qF -- "$s" ||
            fail_run "run.json holds the secret of h$i's env file outside the task's output"
    done
    expect_json command 'env | sort'
}

# literal env: stage < host < task < -e, all after the env file
test_env_precedence() {
    tf_stage tf-env <<EOF
defaults:
$(tf_defaults)
  env: { TF_A: stage, TF_B: stage, TF_C: stage, TF_D: stage }
hosts:
$(tf_host 1 'env: { TF_B: host, TF_C: host, TF_D: host }')
$(tf_host 2)
EOF
    tf_task tf-env <<'EOF'
description: shows its literal environment
env: { TF_C: task, TF_D: task }
command: env | grep -E '^(TF_[A-D]|APP_HOST)=' | sort
EOF
    oo env run tf-env -s tf-env -e TF_D=cli -e APP_HOST=from-cli
    expect_rc 0
    has_line "$OUT" "h1 | TF_A=stage"
    has_line "$OUT" "h1 | TF_B=host"
    has_line "$OUT" "h1 | TF_C=task"
    has_line "$OUT" "h1 | TF_D=cli"
    has_line "$OUT" "h2 | TF_A=stage"
    has_line "$OUT" "h2 | TF_B=stage"
    has_line "$OUT" "h2 | TF_C=task"
    has_line "$OUT" "h2 | TF_D=cli"
    # the literal env is exported after the env file is sourced: it wins
    has_line "$OUT" "h1 | APP_HOST=from-cli"
    has_line "$OUT" "h2 | APP_HOST=from-cli"
    # exec gets the stage's and the host's too
    oo envexec exec -s tf-env -l h1 -- 'echo "$TF_A $TF_B $TF_C $TF_D"'
    expect_rc 0
    has_line "$OUT" "h1 | stage host host host"
}

# the secret never leaves the host: not in run.json, the logs, the dry-run script, nor in any
# process's command line while the task runs
test_env_secret_never_recorded() {
    local s
    s=$(tf_secret 1)
    [ -n "$s" ] && [ "$s" = "$(tf_secret 2)" ] || fail "precondition: h1 and h2 share SECRET_KEY_BASE"
    tf_task tf-quiet <<EOF
description: uses the environment without printing the secret
command: test -n "\$SECRET_KEY_BASE" && echo "quiet on \$APP_HOST"; $SLEEP 1.5
EOF
    oo dry run tf-quiet -s test -l h1,h2 --dry-run
    expect_rc 0
    expect_nogrep "$OUT" "$s" "dry-run script"
    oo_bg quiet run tf-quiet -s test -l h1,h2 --report "$W/report.json"
    wait_procs "^$SLEEP 1.5\$" 2 15
    local seen
    seen=$(pgrep -fa -- "$s" | cut -c1-200)
    [ -z "$seen" ] || fail "the secret is on a command line while the task runs: $seen"
    wait_bg 20
    expect_rc 0
    has_line "$OUT" "h1 | quiet on h1"
    has_line "$OUT" "h2 | quiet on h2"
    expect_valid_json
    ! grep -rqF -- "$s" "$RUNDIR" "$W/report.json" ||
        fail_run "the secret is recorded in: $(grep -rlF -- "$s" "$RUNDIR" "$W/report.json" | tr '\n' ' ')"
    ! grep -qF -- "$s" "$OUT" "$ERR" || fail_run "the secret was shown on the terminal"
}

# become: nobody runs the task as nobody, with the env file and in the release
test_become_nobody() {
    tf_open_for_others "$(tf_app 1)"
    tf_task tf-whoami <<'EOF'
description: who runs it, where
become: nobody
command: echo "$(id -un) $APP_HOST $(pwd -P)"
EOF
    oo become run tf-whoami -s test -l h1
    expect_rc 0
    has_line "$OUT" "h1 | nobody h1 $(tf_rel_dir 1)"
    expect_row h1 ok 0
}

# become: an unknown user fails h2's preflight with sudo's message: exit 2, nothing ran anywhere
test_become_unknown_user_runs_nowhere() {
    tf_markers
    tf_stage tf-become <<EOF
defaults:
$(tf_defaults)
hosts:
$(tf_host 1)
$(tf_host 2 'become: nosuchuser')
EOF
    tf_task tf-mark <<EOF
description: leaves a marker
command: $(tf_mark_cmd)
EOF
    oo nosuch run tf-mark -s tf-become
    expect_rc 2 "set-up failed on a host"
    tf_nothing_ran
    expect_row h2 failed
    expect_match "$(summary_line h2)" 'sudo.*unknown user:? ?nosuchuser' "summary row of h2 (sudo's message)"
    [ "$(tf_col h1 STATUS)" != ok ] || fail_run "h1 ran although h2's preflight failed"
    expect_valid_json
    expect_json exit_code 2
    expect_match "$(jget hosts.h2.error)" 'unknown user:? ?nosuchuser' "run.json hosts.h2.error"
}

# ---------------------------------------------------------------------------------------------
# 4. where it runs

tf_where_task() { # tf_where_task NAME RUN_ON
    tf_task "$1" <<EOF
description: prints where it runs
run_on: $2
command: $(tf_mark_cmd); echo "ran on \$APP_HOST"
EOF
}

test_run_on_primary_one_role() {
    tf_markers
    tf_where_task tf-primary primary
    oo primary run tf-primary -s test
    expect_rc 0
    tf_expect_markers h1
    has_line "$OUT" "h1 | ran on h1"
    # the other hosts of the stage are checked (one release), not run on
    expect_counts "1 ok, 0 failed, 0 unreachable, 5 checked"
    expect_json hosts.# 6
    expect_json hosts.h1.status ok
    expect_json hosts.h2.status checked

    rm -f "$W"/m/*
    tf_where_task tf-one one
    oo one run tf-one -s test -l 'h*,!h1,!h2'
    expect_rc 0
    tf_expect_markers h3
    expect_counts "1 ok, 0 failed, 0 unreachable, 3 checked"
    expect_json hosts.# 4

    rm -f "$W"/m/*
    tf_stage tf-roles <<EOF
defaults:
$(tf_defaults)
hosts:
$(tf_host 1 'roles: [db], primary: true')
$(tf_host 2 'roles: [web]')
$(tf_host 3 'roles: [web, worker]')
$(tf_host 4 'roles: [worker]')
EOF
    tf_where_task tf-web role:web
    oo web run tf-web -s tf-roles
    expect_rc 0
    tf_expect_markers h2 h3
    expect_counts "2 ok, 0 failed, 0 unreachable, 2 checked"
    expect_json hosts.# 4
}

# two hosts primary for different roles and a task without a role: refused, both named,
# nothing ran and nothing connected
test_run_on_primary_two_primaries_refused() {
    tf_markers
    tf_stage tf-twoprim <<EOF
defaults:
$(tf_defaults)
hosts:
$(tf_host 1 'roles: [db], primary: true')
$(tf_host 2 'roles: [cache], primary: true')
$(tf_host 3 'roles: [web]')
EOF
    tf_where_task tf-primary primary
    local s1 s2
    s1=$(tf_sessions 1) s2=$(tf_sessions 2)
    oo twoprim run tf-primary -s tf-twoprim
    expect_rc 2
    tf_nothing_ran
    expect_grep "$ERR" "h1" "stderr (names h1)"
    expect_grep "$ERR" "h2" "stderr (names h2)"
    expect_grep "$ERR" "primary" "stderr (says why)"
    [ "$(tf_sessions 1)" = "$s1" ] && [ "$(tf_sessions 2)" = "$s2" ] ||
        fail_run "oneoff started a command on a host although the plan was refused"
}

# ---------------------------------------------------------------------------------------------
# 5. rolling runs

# tf_times HOST: "START END" nanoseconds of HOST's run of tf-roll
tf_times() { printf '%s %s' "$(cat "$W/m/$1.start" 2>/dev/null)" "$(cat "$W/m/$1.end" 2>/dev/null)"; }
# tf_expect_before FIRST LATER...: FIRST's task ended before each LATER host's started
tf_expect_before() {
    local a h b
    read -r _ a <<<"$(tf_times "$1")"
    [[ "$a" =~ ^[0-9]+$ ]] || fail_run "no end time for $1"
    shift
    for h in "$@"; do
        read -r b _ <<<"$(tf_times "$h")"
        [[ "$b" =~ ^[0-9]+$ ]] || fail_run "no start time for $h"
        [ "$a" -le "$b" ] || fail_run "$h started $(((a - b) / 1000000))ms before the first batch (h1) finished"
    done
}
tf_roll_cmd() {
    printf 'date +%%s%%N >"%s/m/$APP_HOST.start"; %s 0.3; date +%%s%%N >"%s/m/$APP_HOST.end"' \
        "$W" "$SLEEP" "$W"
}

test_batch_order() {
    tf_markers
    tf_task tf-roll <<EOF
description: records when it starts and ends
command: $(tf_roll_cmd)
EOF
    oo batch run tf-roll -s test -l h1,h2,h3 --batch 1,100%
    expect_rc 0
    expect_counts "3 ok, 0 failed, 0 unreachable"
    tf_expect_before h1 h2 h3
    # the task's own batch: works the same
    rm -f "$W"/m/*
    tf_task tf-rolltask <<EOF
description: records when it starts and ends, in batches
batch: 1,100%
command: $(tf_roll_cmd)
EOF
    oo taskbatch run tf-rolltask -s test -l h1,h2,h3
    expect_rc 0
    expect_counts "3 ok, 0 failed, 0 unreachable"
    tf_expect_before h1 h2 h3
}

# the first batch fails and --max-fail 1 is reached: the others never start ("skipped", with
# the reason), exit 1; the task's own max_fail does the same
test_batch_max_fail_skips() {
    local h
    tf_markers
    tf_task tf-failfirst <<EOF
description: fails on h1
command: $(tf_mark_cmd); test "\$APP_HOST" != h1 || exit 3
EOF
    oo maxfail run tf-failfirst -s test -l h1,h2,h3 --batch 1,100% --max-fail 1
    expect_rc 1
    tf_expect_markers h1
    expect_row h1 failed 3
    expect_valid_json
    for h in h2 h3; do
        expect_row "$h" skipped
        expect_match "$(summary_line "$h")" '[Ff]ail' "summary row of $h (the reason)"
        expect_json "hosts.$h.status" skipped
        expect_match "$(jget "hosts.$h.error")" '[Ff]ail' "run.json hosts.$h.error (the reason)"
    done
    expect_json exit_code 1

    rm -f "$W"/m/*
    tf_task tf-failfirst-task <<EOF
description: fails on h1, rolling with its own settings
batch: 1,100%
max_fail: 1
command: $(tf_mark_cmd); test "\$APP_HOST" != h1 || exit 3
EOF
    oo maxfailtask run tf-failfirst-task -s test -l h1,h2,h3
    expect_rc 1
    tf_expect_markers h1
    expect_row h1 failed 3
    expect_row h2 skipped
    expect_row h3 skipped
}

# ---------------------------------------------------------------------------------------------
# 6. locks

tf_lock_task() { # tf_lock_task NAME
    tf_task "$1" <<EOF
description: holds its lock while it sleeps \$1 seconds
lock: true
run_on: primary
args: any
command: echo "started \$1"; $SLEEP "\$1"; echo "done \$1"
EOF
}

# a held lock refuses a second run (exit 4, the holder named, the lock file holding the
# holder's details); --wait-lock waits for it and then runs
test_lock_held_then_wait_lock() {
    local lf first_id content t_done t_start
    tf_lock_dir_cleanup 1
    tf_lock_task tf-lock
    lf=$(tf_lock_file 1 tf-lock)
    oo_bg first run tf-lock -s test --log-dir "$W/log-first" -- 3
    wait_procs "^$SLEEP 3\$" 1 15
    first_id=$(ls "$W/log-first")
    [ -n "$first_id" ] || fail "no run directory for the first run"
    ! tf_lock_free "$lf" || fail "the lock $lf is not held while the task runs"
    content=$(cat "$lf")
    [[ "$content" == *"$first_id"* ]] || fail "the lock file does not name the run $first_id: '$content'"
    [[ "$content" == *"root"* ]] || fail "the lock file does not name the operator: '$content'"
    [[ "$content" == *h1* ]] || fail "the lock file does not name the host: '$content'"
    [[ "$content" =~ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2} ]] || fail "the lock file has no start time: '$content'"

    oo second run tf-lock -s test -- 0
    expect_rc 4 "lock held"
    expect_nogrep "$OUT" 'started 0' "stdout (the second run started the task)"
    grep -qF "$first_id" "$ERR" || fail_run "stderr does not name the holder (run $first_id)"
    expect_row h1 refused
    expect_valid_json
    [ "$(jget refused)" != null ] || fail_run "run.json: 'refused' does not say why nothing ran"
    [ "$(count_procs "^$SLEEP 3\$")" = 1 ] || fail_run "the first run's task is not running any more (too slow a machine?)"

    oo third run tf-lock -s test --wait-lock 10s -- 0
    expect_rc 0 "--wait-lock waits for the holder"
    has_line "$OUT" "h1 | started 0"
    t_start=$(sed -n 's/^\([^ ]*\) out | started 0$/\1/p' "$RUNDIR/h1.log")
    OUT=$W/first.out ERR=$W/first.err
    wait_bg 15
    expect_rc 0
    t_done=$(sed -n 's/^\([^ ]*\) out | done 3$/\1/p' "$RUNDIR/h1.log")
    [ -n "$t_start" ] && [ -n "$t_done" ] || fail_run "missing log lines (started 0: '$t_start', done 3: '$t_done')"
    [[ ! "$t_start" < "$t_done" ]] || fail_run "the waiting run started ($t_start) before the holder finished ($t_done)"
    tf_lock_free "$lf" || fail "the lock is still held after both runs"
}

# the client is killed with SIGKILL while its task holds the lock: the remote watchdog stops the
# task, the lock is free again within seconds with no cleanup, and the next run succeeds
test_lock_freed_after_client_sigkill() {
    local lf t0 i
    tf_lock_dir_cleanup 1
    tf_lock_task tf-lock9
    lf=$(tf_lock_file 1 tf-lock9)
    oo_bg victim run tf-lock9 -s test -- 1000
    wait_procs "^$SLEEP 1000\$" 1 15
    ! tf_lock_free "$lf" || fail "the lock is not held while the task runs"
    kill -KILL "$OOPID"
    t0=$(now_ms)
    for ((i = 0; i < 80; i++)); do
        tf_lock_free "$lf" && break
        sleep 0.1
    done
    tf_lock_free "$lf" || fail "the lock is still held $(($(now_ms) - t0))ms after the client was killed"
    note "lock free $(($(now_ms) - t0))ms after kill -9"
    wait_procs "$SLEEP 1000" 0 8
    oo next run tf-lock9 -s test -- 0
    expect_rc 0
    has_line "$OUT" "h1 | started 0"
    has_line "$OUT" "h1 | done 0"
}

# ---------------------------------------------------------------------------------------------
# 7. confirmation, --dry-run, --preflight

tf_confirm_stage() {
    tf_markers
    tf_stage tf-confirm <<EOF
confirm: true
defaults:
$(tf_defaults)
hosts:
$(tf_host 1)
$(tf_host 2)
EOF
    tf_task tf-mark <<EOF
description: leaves a marker
command: $(tf_mark_cmd)
EOF
}

test_confirm_refused_without_terminal() {
    local s1
    tf_confirm_stage
    s1=$(tf_sessions 1)
    oo noterm run tf-mark -s tf-confirm
    expect_rc 4 "no terminal to confirm on"
    tf_nothing_ran
    expect_grep "$ERR" 'confirm' "stderr (says it needs confirmation)"
    [ "$(tf_sessions 1)" = "$s1" ] || fail_run "oneoff connected to h1 before the stage was confirmed"
    oo yes run tf-mark -s tf-confirm --yes
    expect_rc 0
    tf_expect_markers h1 h2
    # a task with confirm: true on an unprotected stage asks too
    rm -f "$W"/m/*
    tf_task tf-mark-confirm <<EOF
description: leaves a marker, after confirmation
confirm: true
command: $(tf_mark_cmd)
EOF
    oo taskconfirm run tf-mark-confirm -s test -l h1
    expect_rc 4 "the task asks for confirmation"
    tf_nothing_ran
}

# --dry-run asks nothing and connects nowhere: it works with a host's sshd stopped
test_dry_run_connects_nowhere() {
    local s1
    tf_confirm_stage
    tf_stop_host 2
    s1=$(tf_sessions 1)
    oo dry run tf-mark -s tf-confirm --dry-run
    expect_rc 0
    tf_nothing_ran
    expect_grep "$OUT" 'h2' "dry-run output (the plan names h2)"
    [ "$(tf_sessions 1)" = "$s1" ] || fail_run "--dry-run connected to h1"
}

# --preflight connects, reports ready hosts, runs nothing (and does not ask)
test_preflight_runs_nothing() {
    local s1
    tf_confirm_stage
    s1=$(tf_sessions 1)
    oo pre run tf-mark -s tf-confirm --preflight
    expect_rc 0
    tf_nothing_ran
    expect_row h1 ready
    expect_row h2 ready
    tf_expect_col h1 RELEASE "$(tf_rel_id)"
    [ "$(tf_sessions 1)" -gt "$s1" ] || fail_run "--preflight did not connect to h1"
    expect_valid_json
    expect_json hosts.h1.status ready
}

# ---------------------------------------------------------------------------------------------
# 8. exec is recorded like a task

test_exec_recorded_like_a_task() {
    local i
    oo exec exec -s test -l h1,h2 -- 'echo "exec on $APP_HOST"'
    expect_rc 0
    expect_valid_json
    expect_json run_id "${RUNDIR##*/}"
    expect_json stage test
    expect_json command 'echo "exec on $APP_HOST"'
    expect_json exit_code 0
    expect_json hosts.# 2
    [ -n "$(jget operator)" ] && [ "$(jget started_at)" != null ] && [ "$(jget finished_at)" != null ] ||
        fail_run "run.json lacks the operator or the times"
    for i in 1 2; do
        expect_json "hosts.h$i.status" ok
        expect_json "hosts.h$i.exit_code" 0
        expect_json "hosts.h$i.release" "$(tf_rel_dir "$i")"
        expect_json "hosts.h$i.revision" "$(tf_rev)"
        [ "$(log_content "h$i")" = "exec on h$i" ] || fail_run "h$i.log does not hold the command's output"
    done
    oo execfail exec -s test -l h1 -- 'exit 4'
    expect_rc 1
    expect_json command 'exit 4'
    expect_json exit_code 1
    expect_json hosts.h1.exit_code 4
    expect_json hosts.h1.status failed
}

# ---------------------------------------------------------------------------------------------
# 9. local transport

test_local_transport() {
    local app=$W/localapp rel
    mkdir -p "$app/releases/r1" "$app/shared"
    echo rev-local >"$app/releases/r1/REVISION"
    ln -s releases/r1 "$app/current"
    printf 'APP_HOST=dev\nTF_LOCAL_SECRET=local-secret-value\n' >"$app/shared/.env"
    rel=$(cd -P "$app/releases/r1" && pwd)
    tf_stage tf-local <<EOF
defaults:
  env_file: shared/.env
  env: { TF_LIT: literal }
hosts:
  dev: { transport: local, app_dir: $app }
EOF
    tf_task tf-localtask <<'EOF'
description: shows its environment and directory, exits with $1
args: any
command: echo "$APP_HOST|$TF_LOCAL_SECRET|$TF_LIT|$(pwd -P)"; exit "$1"
EOF
    oo local0 run tf-localtask -s tf-local -- 0
    expect_rc 0
    has_line "$OUT" "dev | dev|local-secret-value|literal|$rel"
    expect_row dev ok 0
    tf_expect_col dev RELEASE r1
    tf_expect_col dev REVISION rev-local
    expect_valid_json
    expect_json hosts.dev.release "$rel"
    oo local5 run tf-localtask -s tf-local -- 5
    expect_rc 1
    expect_row dev failed 5
    expect_json hosts.dev.exit_code 5
    expect_json exit_code 1
    # the task printed it: only its output's tail may hold it, as the log does
    ! grep -vF '"tail":' "$RUNDIR/run.json" | grep -qF local-secret-value ||
        fail_run "run.json holds the local env file's secret outside the task's output"
    jget hosts.dev.output.stdout.tail | grep -qF local-secret-value ||
        fail_run "run.json's output tail does not hold what the task printed"
}

# ---------------------------------------------------------------------------------------------
# 10. oneoff check

test_check_all_ready() {
    oo check check -s test
    expect_rc 0
    local i
    for i in $(seq 1 "$NHOSTS"); do
        expect_row "h$i" ready
        tf_expect_col "h$i" RELEASE "$(tf_rel_id)"
    done
    [ "$(sed -n '/^HOST  *STATUS /,$p' "$OUT" | grep -c '^h[0-9]')" = "$NHOSTS" ] ||
        fail_run "expected one line per host"
}

test_check_unreachable_host() {
    tf_stop_host 5
    oo check check -s test
    expect_rc 3
    expect_row h5 unreachable
    expect_row h4 ready
    expect_row h6 ready
}

test_check_lock_held() {
    local lf hp i
    tf_lock_dir_cleanup 2
    lf=$(tf_lock_file 2 tf-chk)
    mkdir -p "${lf%/*}"
    printf 'run tf-check-holder by tester since 2026-11-21T00:00:00Z on h2\n' >"$lf"
    on_exit "rm -f -- '$lf'"
    (exec 9>>"$lf" && flock -n 9 && exec "$SLEEP" 1000) &
    hp=$!
    on_exit "kill_ours $(ours $hp)"
    for ((i = 0; i < 50; i++)); do
        tf_lock_free "$lf" || break
        sleep 0.05
    done
    ! tf_lock_free "$lf" || fail "could not take the lock $lf"
    oo check check -s test
    expect_rc 4 "a task lock is held"
    expect_row h1 ready
    [ "$(tf_col h2 STATUS)" != ready ] || fail_run "h2 is reported ready although tf-chk's lock is held there"
    expect_match "$(summary_line h2)" 'tf-chk' "summary row of h2 (names the lock)"
    expect_match "$(summary_line h2)" 'tf-check-holder' "summary row of h2 (names the holder)"
}

test_check_missing_env_file() {
    tf_hide_env 3
    oo check check -s test
    expect_rc 2
    expect_row h3 failed
    expect_match "$(summary_line h3)" 'env_file is not readable: shared/\.env' "summary row of h3"
    expect_row h1 ready
}

# ---------------------------------------------------------------------------------------------
# 11. bad input leaves nothing half-done

test_missing_env_file_runs_nowhere() {
    tf_markers
    tf_task tf-mark <<EOF
description: leaves a marker and prints
command: $(tf_mark_cmd); echo "ran on \$APP_HOST"
EOF
    tf_hide_env 4
    oo noenv run tf-mark -s test
    expect_rc 2
    tf_nothing_ran
    expect_row h4 failed
    expect_match "$(summary_line h4)" 'env_file is not readable: shared/\.env' "summary row of h4"
    expect_valid_json
    expect_json exit_code 2
    expect_json hosts.h4.status failed
    expect_match "$(jget hosts.h4.error)" 'env_file' "run.json hosts.h4.error"
}

test_missing_release_runs_nowhere() {
    tf_markers
    tf_task tf-mark <<EOF
description: leaves a marker and prints
command: $(tf_mark_cmd); echo "ran on \$APP_HOST"
EOF
    oo norel run tf-mark -s test --release nope
    expect_rc 2
    tf_nothing_ran
    expect_match "$(summary_line h1)" 'releases/nope' "summary row of h1 (names the missing release)"
    expect_valid_json
    expect_json exit_code 2
}

# tf_connections I: connections host hI's sshd has accepted so far
tf_connections() { grep -c 'Connection from' "$DIR/hosts/h$1/sshd.log" 2>/dev/null || true; }

# what a host's command line cannot hold (one argument of its login shell, 128 KiB on Linux) is
# refused with the sizes and what to do, before anything connects: a task's two 70 KB
# arguments (arguments stay in the line). A 140 KB command is no such case, of a task file or
# of `exec` (two 70 KB words: one argument of oneoff's own may not pass 128 KiB either): the
# script and the command travel on the host's standard input, and run whole
test_command_too_long_refused() {
    local i word before=() after=()
    word=$(head -c 70000 /dev/zero | tr '\0' x)
    tf_task tf-big <<EOF2
description: a command longer than one argument may be
command: w='$word$word'; echo "length \${#w}"
EOF2
    oo big run tf-big -s test
    expect_rc 0
    for i in $(seq 1 "$NHOSTS"); do has_line "$OUT" "h$i | length 140000"; done
    oo bigexec exec -s test -- sh -c 'echo "length $((${#1} + ${#2}))"' sh "$word" "$word"
    expect_rc 0
    for i in $(seq 1 "$NHOSTS"); do has_line "$OUT" "h$i | length 140000"; done
    tf_task tf-args <<'EOF2'
description: takes arguments
command: echo "$#"
args: any
EOF2
    for i in $(seq 1 "$NHOSTS"); do before+=("$(tf_connections "$i")"); done
    oo bigargs run tf-args -s test -- "$word" "$word"
    expect_rc 2
    expect_grep "$ERR" "^oneoff: the command line for host 'h1' would be [0-9]+ bytes, more than the 131071 a host accepts as one argument \\(the command is 9 bytes, its arguments 140000"
    expect_grep "$ERR" "put the command in a script in the release and run that"
    [ -z "$RUNDIR" ] || fail_run "a run directory was made: $RUNDIR"
    for i in $(seq 1 "$NHOSTS"); do after+=("$(tf_connections "$i")"); done
    [ "${before[*]}" = "${after[*]}" ] || fail_run "hosts were contacted: connections ${before[*]} -> ${after[*]}"
}

# regression: two runs of a locked task started together on five hosts were both refused (each
# held some hosts' locks) in 8 of 10 trials. The older run wins: never both refused, and never
# two tasks at once on a host (each host's notes read start, end, start, end...)
test_two_locked_runs_started_together() {
    local trial i p1 p2 rc1 rc2 f
    for i in 1 2 3 4 5; do tf_lock_dir_cleanup "$i"; done
    mkdir -p "$W/race"
    tf_task tf-race <<EOF2
description: notes when it starts and ends on each host
lock: true
command: echo "start \$(date +%s%N)" >>"$W/race/\$APP_HOST"; $SLEEP 0.3; echo "end \$(date +%s%N)" >>"$W/race/\$APP_HOST"
EOF2
    for trial in 1 2 3 4; do
        tf_race_start "race${trial}a"
        p1=$P
        tf_race_start "race${trial}b"
        p2=$P
        wait "$p1"
        rc1=$?
        wait "$p2"
        rc2=$?
        note "trial $trial: exit $rc1 and $rc2"
        [ "$rc1" = 0 ] || [ "$rc2" = 0 ] || fail "trial $trial: both runs refused (exit $rc1 and $rc2)"
        for i in $rc1 $rc2; do
            [ "$i" = 0 ] || [ "$i" = 4 ] || fail "trial $trial: exit $rc1 and $rc2"
        done
    done
    for f in "$W"/race/*; do
        awk '(NR % 2 == 1 && $1 != "start") || (NR % 2 == 0 && $1 != "end") { exit 1 }' "$f" ||
            fail "two tasks ran at once on ${f##*/}: $(tr '\n' ' ' <"$f")"
    done
}
# tf_race_start NAME: starts `oneoff run tf-race` on h1..h5 in the background at once (no wait
# for a pid file, unlike oo_bg); sets P to its pid
tf_race_start() {
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" run tf-race -C "$DIR/app" \
        --known-hosts "$DIR/known_hosts" -s test -l 'h[1-5]' >"$W/$1.out" 2>"$W/$1.err" </dev/null &
    P=$!
    on_exit "kill_ours $(ours "$P")"
}
