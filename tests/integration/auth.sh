# tests/integration/auth.sh - integration tests of SSH authentication (README "SSH"): an
# encrypted identity is asked for once per run on the terminal and never logged, a wrong
# passphrase or a missing terminal stops the run before any host is contacted, a key the host
# does not accept fails that host only ("auth"), and ssh-agent is used when no key is named.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, expect_*, jget, on_exit, ...).
# Only test_* functions and au_* helpers live here.
#
# Everything a test changes is undone with on_exit, registered before the change: the fleet's
# shared authorized_keys (restored byte for byte), stage files it adds to $DIR/app/hosts, the
# ssh-agent and the `script` pseudo-terminals it starts (killed by pid). Keys are made in the
# test's work directory $W.
#
# A passphrase is typed on a pseudo-terminal made by `script` (util-linux): oneoff reads it
# from /dev/tty. Runs without a terminal use `setsid -w`, so that oneoff has no controlling
# terminal even when the suite itself is started from one.

# ---------------------------------------------------------------------------------------------
# helpers

# au_key NAME [PASSPHRASE]: a new ed25519 key $W/NAME (and $W/NAME.pub)
au_key() {
    rm -f "$W/$1" "$W/$1.pub"
    ssh-keygen -q -t ed25519 -N "${2:-}" -C "au-$1" -f "$W/$1" </dev/null >/dev/null 2>&1 ||
        fail "ssh-keygen could not make $W/$1"
}

# au_fp KEY: the SHA256 fingerprint of KEY.pub, as sshd logs it
au_fp() { ssh-keygen -l -E sha256 -f "$1.pub" | cut -d' ' -f2; }

# au_authorize PUBFILE: appends a public key to the fleet's shared authorized_keys; the file
# is restored when the test ends, whatever happens
au_authorize() {
    local ak=$DIR/authorized_keys
    [ -f "$W/authorized_keys.orig" ] || {
        cp -p "$ak" "$W/authorized_keys.orig" || fail "cannot save $ak"
        on_exit "cp -p '$W/authorized_keys.orig' '$ak.au-tmp' && mv -f '$ak.au-tmp' '$ak'"
    }
    cat "$1" >>"$ak" || fail "cannot append $1 to $ak"
}

# au_stage NAME < YAML: writes the stage file hosts/NAME.yml (removed when the test ends)
au_stage() {
    on_exit "rm -f -- '$DIR/app/hosts/$1.yml'"
    cat >"$DIR/app/hosts/$1.yml"
}

# au_host I [EXTRA]: one line of a stage's hosts: mapping for host hI
au_host() { printf '  h%s: { address: %s, app_dir: %s%s }\n' "$1" "$(host_ip "$1")" "$DIR/hosts/h$1/app" "${2:+, $2}"; }

# au_mark: remembers how long every host's sshd.log is; au_log I: hI's sshd.log lines since
au_mark() {
    local i
    AU_MARK=()
    for i in $(seq 1 $NHOSTS); do AU_MARK[$i]=$(wc -l <"$DIR/hosts/h$i/sshd.log"); done
}
au_log() { tail -n +"$((${AU_MARK[$1]} + 1))" "$DIR/hosts/h$1/sshd.log"; }
# au_contacts: TCP connections the hosts have accepted since au_mark
au_contacts() {
    local i n=0
    for i in $(seq 1 $NHOSTS); do n=$((n + $(au_log "$i" | grep -c '^Connection from '))); done
    echo "$n"
}
au_expect_no_contact() {
    local n
    n=$(au_contacts)
    [ "$n" = 0 ] || fail_run "${1:-the run} contacted the hosts ($n SSH connection(s) in their sshd logs)"
}

# au_oo NAME SUBCOMMAND ARGS...: `oo`, with the extra environment assignments of the array
# AU_ENV (oo itself removes SSH_AUTH_SOCK), and with AU_NOTTY=1 in a session of its own
# (setsid: no controlling terminal). Sets RC, OUT, ERR, MS, RUNDIR, JSON.
au_oo() {
    local name=$1 sub=$2 t0
    local -a wrap=()
    shift 2
    OUT=$W/$name.out ERR=$W/$name.err
    [ "${AU_NOTTY:-}" = 1 ] && wrap=(setsid -w)
    t0=$(now_ms)
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" ${AU_ENV[@]+"${AU_ENV[@]}"} "${wrap[@]}" \
        "$ONEOFF" "$sub" -C "$DIR/app" --known-hosts "${KH:-$DIR/known_hosts}" "$@" \
        >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    MS=$(($(now_ms) - t0))
    find_rundir
}

# au_q ARGS...: the arguments quoted for bash
au_q() { printf '%q ' "$@"; }

# au_pty NAME PASSPHRASE SUBCOMMAND ARGS...: runs oneoff (options of `oo`, environment of
# AU_ENV) on a pseudo-terminal
# made by `script`, its stdout and stderr to $OUT and $ERR, and types PASSPHRASE (and Enter)
# each time a "passphrase for" prompt appears on the terminal (after it, so that the echo is
# off: typed-ahead input is discarded). Sets RC, OUT, ERR, MS, RUNDIR, JSON, TTY (what the
# terminal showed) and PROMPTS (how many prompts it showed).
au_pty() {
    local name=$1 pw=$2 sub=$3 t0 spid opid="" fd n answered=0
    shift 3
    command -v script >/dev/null || fail "needs script (util-linux)"
    OUT=$W/$name.out ERR=$W/$name.err TTY=$W/$name.tty
    local fifo=$W/$name.in cmdf=$W/$name.sh pidf=$W/$name.pid
    rm -f "$fifo" "$pidf" "$OUT" "$ERR"
    mkfifo "$fifo" || fail "mkfifo $fifo"
    {
        echo "echo \$\$ >$(au_q "$pidf.tmp") && mv -f $(au_q "$pidf.tmp" "$pidf")"
        echo "exec $(au_q env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" ${AU_ENV[@]+"${AU_ENV[@]}"} \
            "$ONEOFF" "$sub" -C "$DIR/app" --known-hosts "${KH:-$DIR/known_hosts}" "$@") \
            >$(au_q "$OUT") 2>$(au_q "$ERR")"
    } >"$cmdf"
    : >"$TTY"
    t0=$(now_ms)
    script -qec "bash $(au_q "$cmdf")" /dev/null <"$fifo" >"$TTY" 2>&1 &
    spid=$!
    on_exit "kill_ours $(ours $spid)"
    exec {fd}>"$fifo"
    while kill -0 "$spid" 2>/dev/null; do
        if [ -z "$opid" ] && [ -s "$pidf" ]; then
            opid=$(cat "$pidf")
            on_exit "kill_ours $(ours "$opid")"
        fi
        n=$(grep -o 'passphrase for' "$TTY" | wc -l)
        if [ "$n" -gt "$answered" ]; then
            sleep 0.3
            (printf '%s\n' "$pw" >&"$fd") 2>/dev/null
            answered=$n
        fi
        if [ $(($(now_ms) - t0)) -gt 30000 ]; then
            exec {fd}>&-
            fail_run "oneoff still running 30s later on its terminal (prompts so far: $n); terminal: $(tr -d '\r' <"$TTY" | head -c 600)"
        fi
        sleep 0.05
    done
    wait "$spid"
    RC=$?
    MS=$(($(now_ms) - t0))
    exec {fd}>&-
    PROMPTS=$(grep -o 'passphrase for' "$TTY" | wc -l)
    touch "$OUT" "$ERR"
    find_rundir
}

# au_no_secret SECRET WHAT FILE...: SECRET occurs in none of the files (directories: every
# file under them)
au_no_secret() {
    local s=$1 what=$2 hit
    shift 2
    hit=$(grep -rlF -- "$s" "$@" 2>/dev/null | head -n 3 | tr '\n' ' ')
    [ -z "$hit" ] || fail_run "the passphrase appears in $what: $hit"
}

# the fleet's connection defaults without any identity
au_defaults() {
    printf 'defaults:\n  user: root\n  port: %s\n  env_file: shared/.env\n' "$PORT"
}

# ---------------------------------------------------------------------------------------------
# the tests

# A1. an encrypted identity is asked for once per run, not once per host: with -i, and as the
#     hosts' `identity`; the passphrase is never echoed, printed, logged or recorded
test_auth_passphrase_asked_once() {
    local pw="au-pw-$RANDOM$RANDOM-secret" fp i
    au_key enc "$pw"
    au_authorize "$W/enc.pub"
    fp=$(au_fp "$W/enc")
    [[ "$fp" == SHA256:* ]] || fail "cannot compute the fingerprint of $W/enc"
    au_mark
    au_pty once "$pw" exec -s test -l h1,h2,h3 -i "$W/enc" -- true
    expect_rc 0
    for i in 1 2 3; do expect_row "h$i" ok 0; done
    expect_counts "3 ok, 0 failed, 0 unreachable"
    [ "$PROMPTS" = 1 ] || fail_run "the passphrase was asked $PROMPTS times for 3 hosts (terminal: $(tr -d '\r' <"$TTY" | head -c 400))"
    expect_grep "$TTY" "passphrase for '?$W/enc'?" "terminal (the prompt names the key)"
    for i in 1 2 3; do
        au_log "$i" | grep -q "^Accepted publickey for root .* ssh2: ED25519 $fp" ||
            fail_run "h$i did not accept the encrypted key $fp (-i must win over the inventory's identity); its sshd log since the run: $(au_log "$i" | grep -E "^(Accepted|Connection)" | head -n 4)"
    done
    expect_nogrep "$OUT" 'passphrase for' "stdout (the prompt belongs on the terminal)"
    expect_nogrep "$ERR" 'passphrase for' "stderr (the prompt belongs on the terminal)"
    au_no_secret "$pw" "oneoff's terminal (echo must be off), stdout or stderr" "$TTY" "$OUT" "$ERR"
    expect_valid_json
    for i in 1 2 3; do expect_json "hosts.h$i.status" ok; done
    au_no_secret "$pw" "the run directory (logs, run.json)" "$RUNDIR"

    # the same key as every host's `identity` (no -i): still one prompt
    au_stage au-enc <<EOF
stage: au-enc
$(au_defaults)
  identity: $W/enc
hosts:
$(au_host 1)
$(au_host 2)
$(au_host 3)
EOF
    au_mark
    au_pty inventory "$pw" exec -s au-enc -- true
    expect_rc 0
    for i in 1 2 3; do expect_row "h$i" ok 0; done
    [ "$PROMPTS" = 1 ] || fail_run "identity in the inventory: the passphrase was asked $PROMPTS times for 3 hosts"
    au_no_secret "$pw" "oneoff's terminal, stdout or stderr" "$TTY" "$OUT" "$ERR"
    expect_valid_json
    au_no_secret "$pw" "the run directory (logs, run.json)" "$RUNDIR"
    au_no_secret "$pw" "the project's log directory" "$DIR/app/log"
}

# A2. a wrong passphrase: asked once, then the run stops before any host is contacted, exit 2,
#     and the message names the key file
test_auth_wrong_passphrase() {
    local pw="au-pw-$RANDOM$RANDOM-right" bad="au-typo-$RANDOM$RANDOM"
    au_key enc "$pw"
    au_authorize "$W/enc.pub"
    au_mark
    au_pty wrong "$bad" exec -s test -l h1,h2,h3 -i "$W/enc" -- true
    expect_rc 2 "a key that cannot be decrypted is a configuration error"
    [ "$PROMPTS" = 1 ] || fail_run "the passphrase was asked $PROMPTS times"
    au_expect_no_contact "a run whose key cannot be decrypted"
    expect_grep "$ERR" "^oneoff: .*$W/enc" "stderr (the message must name the key file)"
    expect_grep "$ERR" "passphrase" "stderr (the message must say what went wrong)"
    expect_nogrep "$OUT" '^h[0-9] \|' "stdout"
    au_no_secret "$bad" "oneoff's terminal, stdout or stderr" "$TTY" "$OUT" "$ERR"
}

# A3. no terminal to ask on (stdin /dev/null, no controlling terminal): an encrypted key fails
#     at once with exit 2, saying there is no terminal (or to use ssh-agent); nothing contacted
test_auth_encrypted_key_without_terminal() {
    au_key enc "au-pw-$RANDOM$RANDOM"
    au_authorize "$W/enc.pub"
    au_mark
    AU_NOTTY=1 au_oo notty exec -s test -l h1,h2,h3 -i "$W/enc" -- true
    expect_rc 2 "no terminal to ask for the passphrase"
    [ "$MS" -lt 5000 ] || fail_run "without a terminal, oneoff took ${MS}ms to give up"
    au_expect_no_contact "a run without a terminal for an encrypted key"
    expect_grep "$ERR" "^oneoff: .*$W/enc" "stderr (the message must name the key file)"
    expect_grep "$ERR" "([Nn]o (controlling )?terminal|no tty|ssh-agent)" \
        "stderr (the message must say there is no terminal, or to use ssh-agent)"
    expect_nogrep "$ERR" 'passphrase for' "stderr (no prompt without a terminal)"
    expect_nogrep "$OUT" '^h[0-9] \|' "stdout"
}

# A4. a valid key the hosts do not accept: each host "auth" naming the user and the key tried,
#     exit 3; in a mixed stage the hosts with a good identity still succeed
test_auth_denied() {
    local i line
    au_key other
    au_oo denied exec -s test -l h1,h2,h3 -i "$W/other" -- true
    expect_rc 3
    for i in 1 2 3; do
        expect_row "h$i" auth
        line=$(summary_line "h$i")
        [[ "$line" == *"'root'"* ]] || fail_run "h$i's message does not name the user 'root': $line"
        [[ "$line" == *"tried: key $W/other"* ]] || fail_run "h$i's message does not say 'tried: key $W/other': $line"
    done
    expect_counts "0 ok, 0 failed, 0 unreachable, 3 auth"
    expect_nogrep "$OUT" '^h[0-9] \|' "stdout"
    expect_valid_json
    expect_json exit_code 3
    for i in 1 2 3; do
        expect_json "hosts.h$i.status" auth
        [[ "$(jget "hosts.h$i.error")" == *"tried: key $W/other"* ]] ||
            fail_run "run.json hosts.h$i.error does not name the key tried: $(jget "hosts.h$i.error")"
    done

    # mixed: h1 and h3 with the fleet's key, h2 with the other one
    au_stage au-mixed <<EOF
stage: au-mixed
$(au_defaults)
hosts:
$(au_host 1 "identity: $DIR/client_key")
$(au_host 2 "identity: $W/other")
$(au_host 3 "identity: $DIR/client_key")
EOF
    au_oo mixed exec -s au-mixed -- 'echo "hi from $APP_HOST"'
    expect_rc 3
    expect_row h1 ok 0
    expect_row h2 auth
    expect_row h3 ok 0
    has_line "$OUT" "h1 | hi from h1"
    has_line "$OUT" "h3 | hi from h3"
    expect_nogrep "$OUT" '^h2 \|' "stdout"
    line=$(summary_line h2)
    [[ "$line" == *"'root'"* && "$line" == *"tried: key $W/other"* ]] ||
        fail_run "h2's message does not name the user and the key tried: $line"
    expect_counts "2 ok, 0 failed, 0 unreachable, 1 auth"
    expect_valid_json
    expect_json hosts.h1.status ok
    expect_json hosts.h2.status auth
    expect_json hosts.h3.status ok
}

# A5. no -i and no identity anywhere: the key held by ssh-agent (SSH_AUTH_SOCK) is used
test_auth_ssh_agent() {
    local sock=$W/agent.sock apid i fp
    command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null || fail "needs ssh-agent and ssh-add"
    ssh-agent -D -a "$sock" >"$W/agent.log" 2>&1 </dev/null &
    apid=$!
    on_exit "kill_ours $(ours $apid)"
    for ((i = 0; i < 100; i++)); do
        [ -S "$sock" ] && break
        kill -0 "$apid" 2>/dev/null || break
        sleep 0.05
    done
    [ -S "$sock" ] || fail "ssh-agent did not start: $(cat "$W/agent.log")"
    SSH_AUTH_SOCK=$sock ssh-add "$DIR/client_key" </dev/null >"$W/ssh-add.log" 2>&1 ||
        fail "ssh-add failed: $(cat "$W/ssh-add.log")"
    fp=$(au_fp "$DIR/client_key")
    au_stage au-agent <<EOF
stage: au-agent
$(au_defaults)
hosts:
$(au_host 1)
$(au_host 2)
$(au_host 3)
EOF
    au_mark
    AU_ENV=("SSH_AUTH_SOCK=$sock")
    au_oo agent exec -s au-agent -- 'echo "agent $APP_HOST"'
    expect_rc 0
    for i in 1 2 3; do
        expect_row "h$i" ok 0
        has_line "$OUT" "h$i | agent h$i"
        au_log "$i" | grep -q "^Accepted publickey for root .* ssh2: ED25519 $fp" ||
            fail_run "h$i did not accept the agent's key $fp"
    done
    expect_counts "3 ok, 0 failed, 0 unreachable"

    # an empty agent: each host "auth", and the message says the agent was tried
    SSH_AUTH_SOCK=$sock ssh-add -D </dev/null >/dev/null 2>&1 || fail "ssh-add -D failed"
    au_oo agentempty exec -s au-agent -l h1 -- true
    unset AU_ENV
    expect_rc 3
    expect_row h1 auth
    [[ "$(summary_line h1)" == *"ssh-agent"* ]] || fail_run "h1's message does not say ssh-agent was tried: $(summary_line h1)"
}

# A6. an encrypted key named by the ssh config's IdentityFile (no -i, no identity) is also
#     decrypted once per run: a wrong passphrase is asked once, and stops the run before any
#     host is contacted (exit 2), as for -i and `identity`
test_auth_config_identity_asked_once() {
    local pw="au-pw-$RANDOM$RANDOM-right" bad="au-typo-$RANDOM$RANDOM" i
    au_key enc "$pw"
    au_authorize "$W/enc.pub"
    printf 'Host *\n    IdentityFile %s\n' "$W/enc" >"$W/ssh_config"
    au_stage au-cfgid <<EOF
stage: au-cfgid
$(au_defaults)
hosts:
$(au_host 1)
$(au_host 2)
$(au_host 3)
EOF
    # the right passphrase: once, every host ok
    au_mark
    au_pty cfgright "$pw" exec -s au-cfgid --ssh-config "$W/ssh_config" -- true
    expect_rc 0
    for i in 1 2 3; do expect_row "h$i" ok 0; done
    [ "$PROMPTS" = 1 ] || fail_run "IdentityFile from the ssh config: the passphrase was asked $PROMPTS times for 3 hosts"
    au_no_secret "$pw" "oneoff's terminal, stdout or stderr" "$TTY" "$OUT" "$ERR"
    # a wrong one: once, nothing contacted
    au_mark
    au_pty cfgwrong "$bad" exec -s au-cfgid --ssh-config "$W/ssh_config" -- true
    [ "$PROMPTS" = 1 ] || fail_run "IdentityFile from the ssh config, wrong passphrase: asked $PROMPTS times for 3 hosts (once per host)"
    expect_rc 2 "a key that cannot be decrypted is a configuration error"
    au_expect_no_contact "a run whose key cannot be decrypted"
    expect_grep "$ERR" "^oneoff: .*$W/enc" "stderr (the message must name the key file)"
}
