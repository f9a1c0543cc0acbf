# tests/integration/hostkeys.sh - integration tests of oneoff's own known_hosts check (README
# "Host keys"): host certificates signed by a CA that an @cert-authority line trusts, refused
# for another name, expired, or signed by another CA; @revoked keys refused even when listed;
# hashed names and HostKeyAlias.
#
# Sourced by tests/integration/run.sh, which discovers the test_* functions of this file too
# and runs each one in a fresh bash with the suite's helpers (oo, expect_*, on_exit, ...).
# Only test_* functions and hk_* helpers live here.
#
# The certificates are made with `ssh-keygen -s` in the test's work directory $W for the
# fleet's host h5, whose sshd is restarted with a HostCertificate line; on_exit (registered
# before the change) puts its sshd_config back and restarts it. Each test writes its own
# known_hosts file ($W/kh) from the fleet's, without h5's plain key unless it says so.

HK_HOST=5

# hk_ca NAME: a CA key pair $W/NAME{,.pub}
hk_ca() {
    rm -f "$W/$1" "$W/$1.pub"
    ssh-keygen -q -t ed25519 -N '' -C "hk-$1" -f "$W/$1" </dev/null >/dev/null 2>&1 ||
        fail "ssh-keygen could not make $W/$1"
}

# hk_certify CA PRINCIPALS VALIDITY: h5's host key signed by $W/CA (ssh-keygen -h -n -V), and
# h5's sshd restarted presenting that certificate
hk_certify() {
    local hd=$DIR/hosts/h$HK_HOST
    cp "$hd/ssh_host_ed25519_key.pub" "$W/h5.pub"
    ssh-keygen -q -s "$W/$1" -I "hk-test" -h -n "$2" -V "$3" "$W/h5.pub" </dev/null >/dev/null 2>&1 ||
        fail "ssh-keygen could not sign h5's key"
    if [ ! -e "$W/sshd_config.orig" ]; then
        cp "$hd/sshd_config" "$W/sshd_config.orig"
        on_exit "cp '$W/sshd_config.orig' '$hd/sshd_config'; bash '$FLEET' stop-host '$DIR' $HK_HOST >/dev/null 2>&1; bash '$FLEET' start-host '$DIR' $HK_HOST >/dev/null 2>&1"
    fi
    { cat "$W/sshd_config.orig"; echo "HostCertificate $W/h5-cert.pub"; } >"$hd/sshd_config"
    bash "$FLEET" stop-host "$DIR" $HK_HOST >/dev/null 2>&1 || fail "fleet.sh stop-host failed"
    bash "$FLEET" start-host "$DIR" $HK_HOST >/dev/null 2>&1 || fail "fleet.sh start-host failed"
}

# hk_known LINE...: $W/kh = the fleet's known_hosts without h5, then the LINEs
hk_known() {
    grep -vF "[$(host_ip $HK_HOST)]:$PORT " "$DIR/known_hosts" >"$W/kh"
    printf '%s\n' "$@" >>"$W/kh"
}

hk_pub() { cut -d' ' -f1,2 "$1"; }

# hk_run NAME: runs hello on h5 (and h1) with $W/kh
hk_run() { KH=$W/kh oo "$1" run hello -s test -l h1,h$HK_HOST "${@:2}"; }

# ---------------------------------------------------------------------------------------------

test_host_certificate_accepted() {
    hk_ca ca
    hk_certify ca "$(host_ip $HK_HOST),web5" 20200101:20990101
    hk_known "@cert-authority [127.0.0.1?]:* $(hk_pub "$W/ca.pub")"
    hk_run cert
    expect_rc 0
    expect_row h5 ok 0
    expect_row h1 ok 0
    # a trusted certificate wins over an old line for the name, as in ssh
    hk_known "[$(host_ip $HK_HOST)]:$PORT $(hk_pub "$DIR/hosts/h1/ssh_host_ed25519_key.pub")" \
        "@cert-authority [127.0.0.1?]:* $(hk_pub "$W/ca.pub")"
    hk_run stale
    expect_rc 0
    expect_row h5 ok 0
}

test_host_certificate_for_another_name() {
    hk_ca ca
    hk_certify ca web9 20200101:20990101
    hk_known "@cert-authority * $(hk_pub "$W/ca.pub")"
    hk_run othername
    expect_rc 3
    expect_row h5 host-key
    expect_row h1 ok 0
    expect_grep "$OUT" "host certificate of '\[$(host_ip $HK_HOST)\]:$PORT' refused: certificate 'hk-test' is not for '$(host_ip $HK_HOST)'"
}

test_host_certificate_expired() {
    hk_ca ca
    hk_certify ca "$(host_ip $HK_HOST)" 20200101:20210101
    hk_known "@cert-authority * $(hk_pub "$W/ca.pub")"
    hk_run expired
    expect_rc 3
    expect_row h5 host-key
    expect_grep "$OUT" "certificate 'hk-test' has expired"
}

test_host_certificate_of_another_ca() {
    hk_ca ca
    hk_ca other
    hk_certify other "$(host_ip $HK_HOST)" 20200101:20990101
    hk_known "@cert-authority * $(hk_pub "$W/ca.pub")"
    hk_run otherca
    expect_rc 3
    expect_row h5 host-key
    expect_grep "$OUT" "host key of '\[$(host_ip $HK_HOST)\]:$PORT' is not known"
}

test_revoked_host_key_refused() {
    local key
    key=$(hk_pub "$DIR/hosts/h$HK_HOST/ssh_host_ed25519_key.pub")
    # listed as known, and revoked further down: refused
    hk_known "[$(host_ip $HK_HOST)]:$PORT $key" "@revoked * $key"
    hk_run revoked
    expect_rc 3
    expect_row h5 host-key
    expect_row h1 ok 0
    expect_grep "$OUT" "host key of '\[$(host_ip $HK_HOST)\]:$PORT' is REVOKED"
    # a revoked CA takes its certificates with it
    hk_ca ca
    hk_certify ca "$(host_ip $HK_HOST)" 20200101:20990101
    hk_known "@cert-authority * $(hk_pub "$W/ca.pub")" "@revoked * $(hk_pub "$W/ca.pub")"
    hk_run revokedca
    expect_rc 3
    expect_row h5 host-key
    expect_grep "$OUT" "is REVOKED"
}

test_hashed_known_hosts_and_alias() {
    local key
    key=$(hk_pub "$DIR/hosts/h$HK_HOST/ssh_host_ed25519_key.pub")
    hk_known "[$(host_ip $HK_HOST)]:$PORT $key"
    ssh-keygen -q -H -f "$W/kh" >/dev/null 2>&1 || fail "ssh-keygen -H failed"
    grep -q "^|1|" "$W/kh" || fail "no hashed line in $W/kh"
    hk_run hashed
    expect_rc 0
    expect_row h5 ok 0
    # HostKeyAlias: the key is known under the alias only
    hk_known "web5.example $key"
    printf 'Host h5\n    HostKeyAlias web5.example\n' >"$W/ssh_config"
    hk_run alias --ssh-config "$W/ssh_config"
    expect_rc 0
    expect_row h5 ok 0
    # and accept-new records it under the alias
    hk_known
    hk_run accept --ssh-config "$W/ssh_config" --host-key-policy accept-new
    expect_rc 0
    grep -q "^web5.example $key\$" "$W/kh" || fail_run "accept-new did not record 'web5.example $key': $(tail -n 2 "$W/kh")"
}

# A host with two host keys, an ECDSA one added to its ed25519 one, known by its ECDSA key
# alone: the connection offers the key type known_hosts holds first (as ssh does), so the host
# proves that key and the run goes on; libssh's default order would have it prove its ed25519
# key, which no line accepts. Known by both keys, or by the ed25519 key alone: ok too.
test_hostkey_known_type_offered_first() {
    local hd=$DIR/hosts/h$HK_HOST ip
    ip=$(host_ip $HK_HOST)
    ssh-keygen -q -t ecdsa -b 256 -N '' -C hk-ecdsa -f "$W/h5_ecdsa" </dev/null >/dev/null 2>&1 ||
        fail "ssh-keygen could not make an ECDSA key"
    cp "$hd/sshd_config" "$W/sshd_config.orig"
    on_exit "cp '$W/sshd_config.orig' '$hd/sshd_config'; bash '$FLEET' stop-host '$DIR' $HK_HOST >/dev/null 2>&1; bash '$FLEET' start-host '$DIR' $HK_HOST >/dev/null 2>&1"
    { cat "$W/sshd_config.orig"; echo "HostKey $W/h5_ecdsa"; } >"$hd/sshd_config"
    bash "$FLEET" stop-host "$DIR" $HK_HOST >/dev/null 2>&1 || fail "fleet.sh stop-host failed"
    bash "$FLEET" start-host "$DIR" $HK_HOST >/dev/null 2>&1 || fail "fleet.sh start-host failed"
    hk_known "[$ip]:$PORT $(hk_pub "$W/h5_ecdsa.pub")"
    hk_run ecdsa
    expect_rc 0
    expect_row h5 ok 0
    hk_known "[$ip]:$PORT $(hk_pub "$W/h5_ecdsa.pub")" "[$ip]:$PORT $(hk_pub "$hd/ssh_host_ed25519_key.pub")"
    hk_run both
    expect_rc 0
    expect_row h5 ok 0
    hk_known "[$ip]:$PORT $(hk_pub "$hd/ssh_host_ed25519_key.pub")"
    hk_run ed25519
    expect_rc 0
    expect_row h5 ok 0
}
