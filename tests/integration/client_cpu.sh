# tests/integration/client_cpu.sh - integration tests of what the client shares between hosts
# to spend less CPU per host, and must share without changing what a run does: the
# known_hosts files read once (a change to them, by accept-new or anyone, is seen by the next
# host's check), and run.json written host by host (a host's "running" is on disk before its
# task can start); and of how a session ends, which is paid by the host: with the client's
# SSH_MSG_DISCONNECT, as OpenSSH's client ends it.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, expect_*, jget, on_exit, ...).
# Only test_cc_* functions and cc_* helpers live here. The tests use stages and tasks of their
# own (hosts/cc-*.yml, tasks/cc-*.yml, removed when each test ends) on the suite's hosts
# h1..h3, and change nothing else of the fleet.

# cc_stage NAME < HOST_LINES: writes hosts/NAME.yml with the fleet's defaults (removed when the
# test ends)
cc_stage() {
    on_exit "rm -f -- '$DIR/app/hosts/$1.yml'"
    {
        printf 'stage: %s\ndefaults:\n  user: root\n  port: %s\n  identity: %s\n' "$1" "$PORT" "$DIR/client_key"
        printf '  env_file: shared/.env\nhosts:\n'
        cat
    } >"$DIR/app/hosts/$1.yml"
}

# One address under two names, one host at a time, with accept-new: the first check records
# the key, and the second one reads the file again (it changed) and finds it there, so the key
# is recorded once, not twice.
test_cc_accept_new_seen_by_next_host() {
    local kh=$W/known_hosts.cc ip
    ip=$(host_ip 2)
    grep -vF "[$ip]:$PORT " "$DIR/known_hosts" >"$kh"
    cc_stage cc-twice <<EOF2
  first: { address: $ip, app_dir: $DIR/hosts/h2/app }
  second: { address: $ip, app_dir: $DIR/hosts/h2/app }
  h1: { address: $(host_ip 1), app_dir: $DIR/hosts/h1/app }
EOF2
    KH=$kh oo accept exec -s cc-twice --parallel 1 --host-key-policy accept-new -- true
    expect_rc 0
    expect_json hosts.first.status ok
    expect_json hosts.second.status ok
    [ "$(grep -cF "[$ip]:$PORT " "$kh")" = 1 ] ||
        fail_run "the key of $ip was recorded $(grep -cF "[$ip]:$PORT " "$kh") times, expected once"

    # and a key removed from the file between two runs is unknown again
    grep -vF "[$ip]:$PORT " "$kh" >"$kh.new" && mv "$kh.new" "$kh"
    KH=$kh oo strict exec -s cc-twice --parallel 1 -- true
    expect_rc 3
    expect_json hosts.first.status host-key
    expect_json hosts.h1.status ok
}

# run.json says "running" for every host whose task started, even when the client dies at
# once: h1 and h2 start together (recorded as one wave), h3 when h1's slot frees (recorded by
# its own worker). SIGKILL leaves no chance to write anything more.
test_cc_killed_client_leaves_running() {
    local i m
    cc_stage cc-kill <<EOF2
$(for i in 1 2 3; do printf '  h%s: { address: %s, app_dir: %s }\n' "$i" "$(host_ip "$i")" "$DIR/hosts/h$i/app"; done)
EOF2
    for i in 1 2 3; do
        m=$DIR/hosts/h$i/app/current/.cc-started
        rm -f "$m"
        on_exit "rm -f -- '$m'"
    done
    oo_bg kill exec -s cc-kill --parallel 2 --log-dir "$W/log" -- \
        'case $PWD in */hosts/h1/*) exit 0 ;; esac; touch .cc-started; sleep 10'
    for ((i = 0; i < 300; i++)); do
        [ -e "$DIR/hosts/h2/app/current/.cc-started" ] &&
            [ -e "$DIR/hosts/h3/app/current/.cc-started" ] && break
        sleep 0.05
    done
    [ -e "$DIR/hosts/h3/app/current/.cc-started" ] || fail "the task did not start on h2 and h3"
    kill -KILL "$OOPID"
    wait "$BGPID" 2>/dev/null
    # the run's one log directory (its "logs:" line comes at the end)
    JSON=$(echo "$W"/log/*/run.json)
    expect_valid_json
    expect_json hosts.h2.status running
    expect_json hosts.h3.status running
    expect_match "$(jget hosts.h1.status)" '^(running|ok)$' "run.json hosts.h1.status"
}

# Every session ends with the client's goodbye: sshd logs "Received disconnect" and leaves at
# once. Without it sshd sees only the end of the connection ("Connection closed by") and
# takes its normal exit, a few ms of the host's CPU more per session. Also after a task that
# failed, and after a run stopped by --timeout (the client closed the channel itself).
test_cc_sessions_end_with_goodbye() {
    local i mark=() bye closed
    cc_stage cc-bye <<EOF2
$(for i in 1 2 3; do printf '  h%s: { address: %s, app_dir: %s }\n' "$i" "$(host_ip "$i")" "$DIR/hosts/h$i/app"; done)
EOF2
    for i in 1 2 3; do mark[i]=$(wc -l <"$DIR/hosts/h$i/sshd.log"); done
    oo ok exec -s cc-bye -- true
    expect_rc 0
    oo failed exec -s cc-bye -l h2 -- 'exit 3'
    expect_rc 1
    oo stopped exec -s cc-bye -l h3 --timeout 1s -- 'sleep 30'
    expect_match "$RC" '^[1-9]' "exit code of the run stopped by --timeout"
    for i in 1 2 3; do
        bye=$(tail -n +"$((mark[i] + 1))" "$DIR/hosts/h$i/sshd.log" | grep -c 'Received disconnect from .*:11: Bye Bye' || true)
        closed=$(tail -n +"$((mark[i] + 1))" "$DIR/hosts/h$i/sshd.log" | grep -c 'Connection closed by' || true)
        expect_eq "$bye:$closed" "$([ "$i" = 1 ] && echo 1 || echo 2):0" \
            "h$i's sessions ended by the client's goodbye:by the end of the connection"
    done
}
