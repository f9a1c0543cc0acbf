# tests/integration/sshcfg.sh - integration tests of the operator's own SSH set-up (README
# "SSH"): the ssh config resolved as `ssh -G` resolves it (the inventory and the command line
# winning), located config errors that stop everything, `oneoff hosts`, ssh-agent used as
# OpenSSH uses it (IdentitiesOnly, no passphrase for a key the agent holds), user
# certificates, keepalives that give up a frozen host, ProxyCommand, and connection pacing.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, expect_*, jget, on_exit, and
# auth.sh's au_* helpers). Only test_sshcfg_* functions and sc_* helpers live here. A test that
# needs an sshd set up differently (MaxAuthTries, TrustedUserCAKeys, MaxStartups) starts a
# private one on h1's address, another port, serving h1's app folder (sc_sshd), and stops it
# when it ends. Processes are only ever signalled by the pids these tests started or listed.

# ---------------------------------------------------------------------------------------------
# helpers

# sc_sshd NAME [SSHD_CONFIG_LINES...]: a private sshd with h1's host key and app on
# 127.0.0.11:SC_PORT (a free port), configured like the fleet's hosts plus the given lines
# (a line's keyword replaces the fleet's). Sets SC_PORT, SC_LOG and SC_KH (a known_hosts file
# that also knows it).
sc_sshd() {
    local name=$1 cfg=$W/$1.sshd_config try pid kw line
    shift
    SC_LOG=$W/$name.sshd.log
    for try in 1 2 3 4 5 6 7 8; do
        SC_PORT=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        [ -z "$(ss -Hltn "sport = :$SC_PORT" 2>/dev/null)" ] || continue
        {
            while IFS= read -r line; do
                kw=${line%% *}
                case $kw in ListenAddress | PidFile) continue ;; esac
                for l in "$@"; do [ "${l%% *}" = "$kw" ] && continue 2; done
                printf '%s\n' "$line"
            done <"$DIR/hosts/h1/sshd_config"
            printf 'ListenAddress %s:%s\nPidFile %s\n' "$(host_ip 1)" "$SC_PORT" "$W/$name.pid"
            printf '%s\n' "$@"
        } >"$cfg"
        : >"$SC_LOG"
        /usr/sbin/sshd -D -e -f "$cfg" 2>"$SC_LOG" </dev/null &
        pid=$!
        on_exit "kill_ours $(ours $pid)"
        for ((i = 0; i < 100; i++)); do
            grep -q 'Server listening' "$SC_LOG" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if grep -q 'Server listening' "$SC_LOG"; then
            SC_KH=$W/$name.known_hosts
            { cat "$DIR/known_hosts"
              echo "[$(host_ip 1)]:$SC_PORT $(cut -d' ' -f1,2 "$DIR/hosts/h1/ssh_host_ed25519_key.pub")"
            } >"$SC_KH"
            return 0
        fi
        grep -q 'Address already in use' "$SC_LOG" || fail "private sshd $name did not start: $(head -c 600 "$SC_LOG")"
    done
    fail "private sshd $name: no free port"
}

# sc_agent: a real ssh-agent of this test (SC_SOCK), stopped when the test ends
sc_agent() {
    local apid i
    SC_SOCK=$W/agent.sock
    ssh-agent -D -a "$SC_SOCK" >"$W/agent.log" 2>&1 </dev/null &
    apid=$!
    on_exit "kill_ours $(ours $apid)"
    for ((i = 0; i < 100; i++)); do
        [ -S "$SC_SOCK" ] && break
        kill -0 "$apid" 2>/dev/null || break
        sleep 0.05
    done
    [ -S "$SC_SOCK" ] || fail "ssh-agent did not start: $(cat "$W/agent.log")"
}
sc_add() { SSH_AUTH_SOCK=$SC_SOCK ssh-add "$@" </dev/null >"$W/ssh-add.log" 2>&1 || fail "ssh-add $*: $(cat "$W/ssh-add.log")"; }

# sc_private_stage NAME N: hosts/NAME.yml with N hosts p01..pN, all the private sshd
# (127.0.0.11:SC_PORT, h1's app); no identity
sc_private_stage() {
    local i
    {
        printf 'stage: %s\ndefaults:\n  user: root\n  port: %s\n  env_file: shared/.env\n' "$1" "$SC_PORT"
        printf '  app_dir: %s\nhosts:\n' "$DIR/hosts/h1/app"
        for ((i = 1; i <= $2; i++)); do printf '  p%02d: { address: %s }\n' "$i" "$(host_ip 1)"; done
    } | au_stage "$1"
}

# sc_offers LOG: how many public keys the client offered in the private sshd's log
sc_offers() { grep -cE '(Failed|Accepted|Postponed) publickey|key_allowed|Partial publickey' "$1" || true; }

# ---------------------------------------------------------------------------------------------
# the tests

# S1. the issue's config: names in the inventory only, HostName/Port/User from the config, an
#     address pattern that must not match the alias, first value wins; `oneoff hosts` shows
#     what `ssh -G` says; inventory values win over the config; an IdentityFile that does not
#     exist is skipped, as ssh skips it
test_sshcfg_resolution() {
    local cfg=$W/ssh_config i g
    cat >"$cfg" <<EOF
Host web1
    HostName $(host_ip 1)
Host web2
    HostName $(host_ip 2)
Host web*
    Port $PORT
    User root
    IdentityFile $W/no-such-key
    IdentityFile $DIR/client_key
    UserKnownHostsFile $DIR/known_hosts
Host 127.0.0.*
    Port 1
Host pinned
    HostName $(host_ip 3)
    Port 1
    User nobody
    IdentityFile $DIR/client_key
    UserKnownHostsFile $DIR/known_hosts
Host *
    User nobody-from-a-later-block
    Port 2
EOF
    au_stage sc-names <<EOF
stage: sc-names
defaults:
  env_file: shared/.env
hosts:
  web1: { app_dir: $DIR/hosts/h1/app }
  web2: { app_dir: $DIR/hosts/h2/app }
  pinned: { app_dir: $DIR/hosts/h3/app, port: $PORT, user: root }
EOF
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" hosts -C "$DIR/app" -s sc-names \
        --ssh-config "$cfg" >"$W/hosts.out" 2>"$W/hosts.err" || fail "oneoff hosts failed: $(cat "$W/hosts.err")"
    for i in web1 web2; do
        g=$(ssh -G -F "$cfg" "$i" | awk '$1 == "hostname" { h = $2 } $1 == "port" { p = $2 }
            $1 == "user" { u = $2 } END { print h, p, u }')
        [ "$g" = "$(host_ip "${i#web}") $PORT root" ] || fail "ssh -G $i says '$g'"
        awk -v h="$i" '$1 == h { print $2, $3, $4, $5 }' "$W/hosts.out" >"$W/row"
        [ "$(cat "$W/row")" = "$g -" ] ||
            fail "oneoff hosts says '$(cat "$W/row")' for $i, ssh -G says '$g' (no jump): $(cat "$W/hosts.out")"
    done
    grep -qE "^pinned +$(host_ip 3) +$PORT +root " "$W/hosts.out" ||
        fail "the inventory's port and user must win over the config for 'pinned': $(cat "$W/hosts.out")"
    KH=$DIR/known_hosts oo names exec -s sc-names --ssh-config "$cfg" -- 'echo "at $APP_HOST $(id -un)"'
    expect_rc 0
    has_line "$OUT" "web1   | at h1 root"
    has_line "$OUT" "web2   | at h2 root"
    has_line "$OUT" "pinned | at h3 root"
    expect_counts "3 ok, 0 failed, 0 unreachable"
}

# S2. bad configs: a syntax error, a ProxyJump loop, an unknown Match criterion: "FILE:LINE:"
#     named, exit 2, nothing contacted; the same for `oneoff hosts`
test_sshcfg_errors() {
    local cfg
    au_stage sc-err <<EOF
stage: sc-err
$(au_defaults)
  identity: $DIR/client_key
hosts:
$(au_host 1)
$(au_host 2)
EOF
    printf 'Host h1\n    Port %s\n    Bogus yes\n' "$PORT" >"$W/syntax.conf"
    printf 'Host h1\n    ProxyJump h2\nHost h2\n    ProxyJump h1\n' >"$W/loop.conf"
    printf '# comment\nMatch host h1 colour blue\n    Port 2\n' >"$W/match.conf"
    for cfg in syntax:3 loop:2 match:2; do
        au_mark
        au_oo "err-${cfg%%:*}" exec -s sc-err --ssh-config "$W/${cfg%%:*}.conf" -- true
        expect_rc 2 "a bad ssh config is a configuration error"
        expect_grep "$ERR" "^oneoff: $W/${cfg%%:*}\\.conf:${cfg#*:}: " "stderr (FILE:LINE: of the bad line)"
        expect_nogrep "$OUT" '^h[0-9] \|' "stdout"
        au_expect_no_contact "a run with a bad ssh config"
        [ -z "$(find "$DIR/app/log" -newer "$W/.records-t0" -name run.json 2>/dev/null)" ] ||
            fail_run "a run with a bad ssh config left a run record"
        env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" hosts -C "$DIR/app" -s sc-err \
            --ssh-config "$W/${cfg%%:*}.conf" >/dev/null 2>"$W/hosts.err"
        [ $? = 2 ] || fail "oneoff hosts with ${cfg%%:*}.conf did not exit 2"
        grep -q "$W/${cfg%%:*}\\.conf:${cfg#*:}: " "$W/hosts.err" || fail "oneoff hosts: $(cat "$W/hosts.err")"
    done
    grep -q 'loop' "$W/err-loop.err" || fail "the ProxyJump loop message does not say 'loop': $(cat "$W/err-loop.err")"
}

# S3. ssh-agent holds the (encrypted) IdentityFile and 8 decoys before it, sshd allows 3 tries:
#     IdentitiesOnly yes signs through the agent, with no prompt and no terminal, offering
#     that key only; without IdentitiesOnly every agent key goes first (as with ssh) and sshd
#     gives up; a key the agent does not hold and no terminal: a clear error, exit 2
test_sshcfg_agent_identities_only() {
    local i fp
    command -v ssh-agent >/dev/null || fail "needs ssh-agent"
    sc_sshd maxauth "MaxAuthTries 3"
    sc_agent
    for i in 1 2 3 4 5 6 7 8; do au_key "decoy$i"; sc_add "$W/decoy$i"; done
    au_key right
    au_authorize "$W/right.pub"
    sc_add "$W/right"
    # encrypt the file on disk: only the agent's copy is usable without a passphrase
    ssh-keygen -q -p -N "sc-pw-$RANDOM$RANDOM" -P '' -f "$W/right" >/dev/null 2>&1 || fail "ssh-keygen -p failed"
    fp=$(au_fp "$W/right")
    sc_private_stage sc-agent 3
    printf 'Host *\n    IdentityFile %s\n    IdentitiesOnly yes\n' "$W/right" >"$W/only.conf"
    AU_ENV=("SSH_AUTH_SOCK=$SC_SOCK")
    : >"$SC_LOG.mark"
    KH=$SC_KH AU_NOTTY=1 au_oo only exec -s sc-agent --ssh-config "$W/only.conf" -- 'echo "in $APP_HOST"'
    expect_rc 0
    for i in 01 02 03; do has_line "$OUT" "p$i | in h1"; done
    expect_counts "3 ok, 0 failed, 0 unreachable"
    [ "$(grep -c "Accepted publickey for root .* ED25519 $fp" "$SC_LOG")" = 3 ] ||
        fail_run "sshd did not accept the agent's key $fp 3 times: $(grep -E 'publickey|Too many' "$SC_LOG" | head -5)"
    expect_nogrep "$SC_LOG" 'Too many authentication failures|maximum authentication attempts' "the private sshd's log"
    expect_nogrep "$ERR" 'passphrase' "stderr (the agent holds the key)"

    # with a terminal too: the agent's copy is used, nothing is asked
    KH=$SC_KH au_pty tty "never-typed" exec -s sc-agent -l p01 --ssh-config "$W/only.conf" -- true
    expect_rc 0
    [ "$PROMPTS" = 0 ] || fail_run "a passphrase was asked for a key ssh-agent holds"

    # no .pub beside the key: its public half is read from the key file itself
    mv "$W/right.pub" "$W/right.pub.away"
    KH=$SC_KH AU_NOTTY=1 au_oo nopub exec -s sc-agent -l p01 --ssh-config "$W/only.conf" -- true
    expect_rc 0
    mv "$W/right.pub.away" "$W/right.pub"

    # IdentitiesOnly no: the agent's keys in its order, decoys first: sshd stops at 3
    printf 'Host *\n    IdentityFile %s\n' "$W/right" >"$W/all.conf"
    KH=$SC_KH AU_NOTTY=1 au_oo all exec -s sc-agent -l p01 --ssh-config "$W/all.conf" -- true
    expect_rc 3
    expect_row p01 auth

    # a key the agent does not hold, encrypted, and no terminal: exit 2 before any contact
    au_key other "sc-other-$RANDOM"
    printf 'Host *\n    IdentityFile %s\n    IdentitiesOnly yes\n' "$W/other" >"$W/other.conf"
    local before
    before=$(grep -c '^Connection from ' "$SC_LOG")
    KH=$SC_KH AU_NOTTY=1 au_oo other exec -s sc-agent --ssh-config "$W/other.conf" -- true
    unset AU_ENV
    expect_rc 2
    expect_grep "$ERR" "^oneoff: .*$W/other.*(terminal|ssh-agent)" "stderr"
    [ "$(grep -c '^Connection from ' "$SC_LOG")" = "$before" ] || fail_run "the private sshd was contacted"
}

# S4. user certificates: sshd trusts a user CA (TrustedUserCAKeys), the key itself is not in
#     authorized_keys: KEY-cert.pub beside the key, an explicit CertificateFile, and a
#     certificate whose key ssh-agent holds all authenticate; no certificate: denied
test_sshcfg_user_certificate() {
    ssh-keygen -q -t ed25519 -N '' -C sc-ca -f "$W/ca" </dev/null >/dev/null 2>&1 || fail "ssh-keygen ca"
    sc_sshd certs "TrustedUserCAKeys $W/ca.pub"
    au_key user
    ssh-keygen -q -s "$W/ca" -I sc-user -n root -V -5m:+1h "$W/user.pub" >/dev/null 2>&1 || fail "ssh-keygen -s"
    [ -f "$W/user-cert.pub" ] || fail "no certificate made"
    sc_private_stage sc-cert 2
    printf 'Host *\n    IdentityFile %s\n    IdentitiesOnly yes\n' "$W/user" >"$W/beside.conf"
    KH=$SC_KH au_oo beside exec -s sc-cert --ssh-config "$W/beside.conf" -- true
    expect_rc 0
    expect_counts "2 ok, 0 failed, 0 unreachable"
    expect_grep "$SC_LOG" "Accepted publickey for root .* ED25519-CERT" "the private sshd's log (a certificate)"

    mv "$W/user-cert.pub" "$W/elsewhere.cert"
    KH=$SC_KH au_oo nocert exec -s sc-cert -l p01 --ssh-config "$W/beside.conf" -- true
    expect_rc 3
    expect_row p01 auth

    printf 'Host *\n    IdentityFile %s\n    CertificateFile %s\n    IdentitiesOnly yes\n' \
        "$W/user" "$W/elsewhere.cert" >"$W/certfile.conf"
    KH=$SC_KH au_oo certfile exec -s sc-cert -l p01 --ssh-config "$W/certfile.conf" -- true
    expect_rc 0

    # the key in ssh-agent (only its .pub on disk), the certificate on disk, no terminal
    sc_agent
    sc_add "$W/user"
    rm -f "$W/user"
    AU_ENV=("SSH_AUTH_SOCK=$SC_SOCK")
    printf 'Host *\n    IdentityFile %s\n    CertificateFile %s\n    IdentitiesOnly yes\n' \
        "$W/user" "$W/elsewhere.cert" >"$W/agentcert.conf"
    KH=$SC_KH AU_NOTTY=1 au_oo agentcert exec -s sc-cert -l p01 --ssh-config "$W/agentcert.conf" -- true
    unset AU_ENV
    expect_rc 0
}

# S5. keepalives: a host whose sshd session processes are frozen (SIGSTOP) while its task
#     runs is given up as lost within ServerAliveInterval x ServerAliveCountMax; the other
#     host finishes; once thawed, the host's watchdog ends the task (nothing left behind)
test_sshcfg_keepalive_frozen_host() {
    local pids p k st t_stop frozen=()
    printf 'Host *\n    ServerAliveInterval 1\n    ServerAliveCountMax 3\n' >"$W/alive.conf"
    oo_bg alive run slow -s test -l h3,h4 --ssh-config "$W/alive.conf"
    wait_procs "^$SLEEP 30\$" 1 15
    for ((i = 0; i < 100; i++)); do
        grep -qxF 'h4 | started' "$OUT" && break
        sleep 0.05
    done
    # h4's per-connection sshd processes (children of its listener) and their sshd children
    pids=$(bash "$FLEET" sessions "$DIR" 4 | cut -d' ' -f1)
    [ -n "$pids" ] || fail "no sshd session on h4"
    for p in $pids; do
        for k in $p $(pgrep -P "$p"); do
            [ /proc/"$k"/exe -ef /usr/sbin/sshd ] || [ /proc/"$k"/exe -ef /usr/lib/openssh/sshd-session ] || continue
            st=$(proc_start "$k") || continue
            frozen+=("$k:$st")
        done
    done
    for p in "${frozen[@]}"; do
        on_exit "[ \"\$(proc_start ${p%%:*})\" = '${p#*:}' ] && kill -CONT ${p%%:*} 2>/dev/null"
    done
    t_stop=$(now_ms)
    for p in "${frozen[@]}"; do kill -STOP "${p%%:*}"; done
    WAIT_T0=$t_stop wait_bg 25
    for p in "${frozen[@]}"; do
        [ "$(proc_start "${p%%:*}")" = "${p#*:}" ] && kill -CONT "${p%%:*}" 2>/dev/null
    done
    expect_rc 1
    expect_row h3 ok 0
    expect_row h4 failed
    has_line "$OUT" "h3 | finished"
    expect_match "$(summary_line h4)" 'connection lost: no answer' "summary row of h4"
    note "h4 given up ${MS}ms after its sshd was frozen (1s x 3)"
    [ "$MS" -ge 1500 ] || fail_run "h4 given up after ${MS}ms, before 3 keepalives could go unanswered"
    [ "$MS" -lt 15000 ] || fail_run "h4 given up only after ${MS}ms"
    expect_valid_json
    expect_match "$(jget hosts.h4.error)" 'ServerAliveInterval' "run.json hosts.h4.error"
    # thawed, sshd sees the connection gone; the watchdog stops the task
    wait_procs "^$SLEEP 30\$" 0 15
}

# S6. pacing: 12 inventory entries on one sshd that refuses a 4th unauthenticated connection
#     (MaxStartups 3:100:3), all at once: with --max-connecting 2 every one succeeds and
#     sshd drops nothing (unpaced, it drops some); 30 entries on one sshd with sshd's default
#     MaxStartups and oneoff's default pacing: the same
test_sshcfg_pacing() {
    sc_sshd pace "MaxStartups 3:100:3"
    sc_private_stage sc-pace 12
    KH=$SC_KH au_oo pace exec -s sc-pace --parallel 12 --max-connecting 2 -i "$DIR/client_key" -- true
    expect_rc 0
    expect_counts "12 ok, 0 failed, 0 unreachable"
    expect_nogrep "$SC_LOG" 'drop connection|beginning MaxStartups' "the private sshd's log"
    [ "$(grep -c '^Accepted publickey' "$SC_LOG")" = 12 ] || fail_run "sshd accepted $(grep -c '^Accepted publickey' "$SC_LOG") logins, not 12"
    # unpaced (a window as wide as the run), the same sshd drops connections
    KH=$SC_KH au_oo storm exec -s sc-pace --parallel 12 --max-connecting 12 -i "$DIR/client_key" -- true
    note "without pacing: exit $RC, $(grep -c 'drop connection' "$SC_LOG") connection(s) dropped by sshd"

    # the default (8) against sshd's default MaxStartups 10:30:100: 30 hosts on one address
    sc_sshd pace10 "MaxStartups 10:30:100"
    sc_private_stage sc-pace30 30
    KH=$SC_KH au_oo pace30 exec -s sc-pace30 --parallel 30 -i "$DIR/client_key" -- true
    expect_rc 0
    expect_counts "30 ok, 0 failed, 0 unreachable"
    expect_nogrep "$SC_LOG" 'drop connection|beginning MaxStartups' "the private sshd's log (default pacing)"
}

# S7. ProxyCommand: runs with /bin/sh, %h and %p expanded; one that fails shows its stderr in
#     the host's error; a ProxyJump through h1 reaches h2 (`ssh -W`, with --ssh-config)
test_sshcfg_proxy_command() {
    cat >"$W/proxy.conf" <<EOF
Host h1 h2
    ProxyCommand bash -c 'exec 3<>/dev/tcp/%h/%p; cat <&3 & exec cat >&3'
Host h3
    ProxyCommand echo "sc-proxy refused %h" >&2; exit 1
EOF
    oo proxy exec -s test -l h1,h2,h3 --ssh-config "$W/proxy.conf" -- 'echo "via $APP_HOST"'
    expect_rc 3
    has_line "$OUT" "h1 | via h1"
    has_line "$OUT" "h2 | via h2"
    expect_row h3 unreachable
    expect_match "$(summary_line h3)" "sc-proxy refused $(host_ip 3)" "summary row of h3 (the proxy's stderr)"

    cat >"$W/jump.conf" <<EOF
Host h1
    HostName $(host_ip 1)
    Port $PORT
    User root
    IdentityFile $DIR/client_key
    IdentitiesOnly yes
    UserKnownHostsFile $DIR/known_hosts
    BatchMode yes
Host h2
    ProxyJump h1
EOF
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" hosts -C "$DIR/app" -s test -l h2 \
        --ssh-config "$W/jump.conf" >"$W/hosts.out" 2>&1 || fail "oneoff hosts: $(cat "$W/hosts.out")"
    grep -qE "^h2 +$(host_ip 2) +$PORT +root +root@$(host_ip 1):$PORT " "$W/hosts.out" ||
        fail "oneoff hosts does not show h2's jump through h1: $(cat "$W/hosts.out")"
    oo jump exec -s test -l h2 --ssh-config "$W/jump.conf" -- 'echo "jumped to $APP_HOST"'
    expect_rc 0
    has_line "$OUT" "h2 | jumped to h2"
}

# S8. host keys as the config says: HostKeyAlias (looked up without the port), the
#     UserKnownHostsFile of the config (no --known-hosts), StrictHostKeyChecking accept-new
#     recording an unknown key there, and strict by default naming the file
test_sshcfg_known_hosts_from_config() {
    local key
    key=$(cut -d' ' -f1,2 "$DIR/hosts/h1/ssh_host_ed25519_key.pub")
    echo "sc-alias $key" >"$W/kh_alias"
    : >"$W/kh_empty"
    cat >"$W/kh.conf" <<EOF
Host h1
    HostKeyAlias sc-alias
    UserKnownHostsFile $W/kh_alias
Host h2
    StrictHostKeyChecking accept-new
    UserKnownHostsFile $W/kh_new
Host h3
    UserKnownHostsFile $W/kh_empty
EOF
    OUT=$W/kh.out ERR=$W/kh.err
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" exec -C "$DIR/app" -s test -l h1,h2,h3 \
        --ssh-config "$W/kh.conf" -- true >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    find_rundir
    expect_rc 3
    expect_row h1 ok 0
    expect_row h2 ok 0
    expect_row h3 host-key
    expect_match "$(summary_line h3)" "$W/kh_empty" "summary row of h3 (the config's known_hosts file)"
    [ "$(grep -c "^\\[$(host_ip 2)\\]:$PORT ssh-ed25519 " "$W/kh_new")" = 1 ] ||
        fail_run "accept-new from the config did not record h2's key in $W/kh_new: $(cat "$W/kh_new" 2>&1)"
    [ ! -s "$W/kh_empty" ] || fail_run "strict checking wrote $W/kh_empty"
}
