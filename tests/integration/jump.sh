#!/usr/bin/env bash
# tests/integration/jump.sh - jump hosts without the OpenSSH binary (README "Jump hosts"):
# targets that the client cannot reach, behind a bastion that can.
#
#   ONEOFF=/abs/path/build/oneoff bash tests/integration/jump.sh [TEST_NAME...]
#
# `make integration` runs it after run.sh. Needs root (ip netns); skipped otherwise. Layout:
#   - a network namespace of its own (oneoff-jump-PID), joined to this one by a veth pair
#     (names and a 10.x.y.0/30 subnet unique to the run); removed at the end;
#   - JUMP_TARGETS sshds (tests/fleet.sh, default 4) that listen on 127.0.0.11.. INSIDE the
#     namespace: its loopback is not this one's, so the client cannot reach them;
#   - the bastion: an sshd in the namespace that listens on its veth address (10.x.y.2), the
#     one way in (LogLevel VERBOSE: its log counts our logins);
#   - an outer bastion on this namespace's loopback (127.0.0.1, a free port), for two hops:
#     client -> outer -> bastion -> target.
# Every process is started by this script and stopped by pid (fleet.sh for the targets).
#
# Environment: ONEOFF, JUMP_TARGETS (default 4), JUMP_MANY (inventory hosts of the
# one-login test, default 100), JUMP_KEEP=1 keeps the temporary directory.
set -u
JP_HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
JP_SCRIPT=$JP_HERE/$(basename -- "${BASH_SOURCE[0]}")
# shellcheck source=tests/integration/fault_lib.sh
. "$JP_HERE/fault_lib.sh"

JP_TIMEOUT=120
JP_TESTS=(test_run_through_jump test_unreachable_without_jump test_target_host_key_unknown
    test_jump_host_key_unknown test_jump_host_down test_two_hops test_many_hosts_one_login
    test_proxy_command test_proxy_command_stderr test_host_certificate_behind_jump
    test_bulk_output_through_jump test_config_proxyjump_and_jump_none
    test_jump_connection_lost)

# jp_oo NAME SUBCOMMAND ARGS...: oneoff in the foreground, with the run's ssh config and
# known_hosts (KH to change it); sets RC, OUT, ERR, MS
jp_oo() {
    local name=$1 sub=$2 t0
    shift 2
    OUT=$W/$name.out ERR=$W/$name.err
    t0=$(now_ms)
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" timeout -k 5 100 \
        "$ONEOFF" "$sub" -C "$DIR/app" --ssh-config "${JP_CONFIG:-$DIR/jump_config}" \
        --known-hosts "${KH:-$DIR/jump_known_hosts}" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    MS=$(($(now_ms) - t0))
}

# jp_stage NAME JUMP N: hosts t1..tN spread over the targets, jumping through JUMP ("" for
# none at all)
jp_stage() {
    local name=$1 jump=$2 n=$3 i k
    {
        printf 'stage: %s\ndefaults:\n  user: root\n  port: %s\n' "$name" "$PORT"
        printf '  identity: %s/client_key\n' "$DIR"
        [ -z "$jump" ] || printf '  jump: %s\n' "$jump"
        printf 'hosts:\n'
        for ((i = 1; i <= n; i++)); do
            k=$(((i - 1) % JP_TARGETS + 1))
            printf '  t%s: { address: %s, app_dir: %s/hosts/h%s/app }\n' "$i" "$(host_ip "$k")" "$DIR" "$k"
        done
    } >"$DIR/app/hosts/$name.yml"
    on_exit "rm -f -- '$DIR/app/hosts/$name.yml'"
}

expect_grep() { grep -qE -- "$2" "$1" || fail_run "${1##*/}: no line matches /$2/"; }

logins() { grep -c 'Accepted publickey' "$DIR/$1/sshd.log" 2>/dev/null || true; }

# ---------------------------------------------------------------------------------------------
# the tests

test_run_through_jump() {
    jp_stage jumped bastion 4
    # shellcheck disable=SC2016 # expanded by the target's shell
    jp_oo run exec -s jumped -- 'echo "via $SSH_CONNECTION"'
    expect_rc 0
    local i
    for i in 1 2 3 4; do expect_row "t$i" ok 0; done
    # the target saw the bastion, not us, as its peer (sshd's SSH_CONNECTION: client ip first)
    [ "$(count_lines "$OUT" '^t[0-9]+ +\| via 127\.0\.0\.1 [0-9]+ 127\.0\.0\.1[0-9] ')" = 4 ] ||
        fail_run "expected 4 targets reached from the namespace's loopback"
}

test_unreachable_without_jump() {
    jp_stage direct '' 2
    jp_oo run exec -s direct -- true
    expect_rc 3
    expect_row t1 unreachable
    expect_row t2 unreachable
}

test_target_host_key_unknown() {
    jp_stage jumped bastion 2
    # t2's target (h2) is missing from known_hosts; the bastion and h1 are there
    grep -v "^\[$(host_ip 2)\]:" "$DIR/jump_known_hosts" >"$W/kh"
    KH=$W/kh jp_oo run exec -s jumped -- true
    expect_rc 3
    expect_row t1 ok 0
    expect_row t2 host-key
    grep -q "host key of '\[$(host_ip 2)\]:$PORT' is not known" "$OUT" "$ERR" ||
        fail_run "no 'host key ... is not known' for t2's target"
    grep -q "jump host" "$OUT" && fail_run "a target's host key reported as the jump host's"
    return 0
}

test_jump_host_key_unknown() {
    jp_stage jumped bastion 2
    grep -v "^\[$JP_VETH_NS\]:" "$DIR/jump_known_hosts" >"$W/kh"
    KH=$W/kh jp_oo run exec -s jumped -- true
    expect_rc 3
    expect_row t1 host-key
    expect_row t2 host-key
    [ "$(grep -c "jump host 'bastion': host key of '\[$JP_VETH_NS\]:$JP_BPORT' is not known" "$OUT")" -ge 2 ] ||
        fail_run "expected \"jump host 'bastion': host key ... is not known\" for both hosts"
    grep -qi "reset by peer" "$OUT" "$ERR" && fail_run "reported as a reset connection"
    return 0
}

test_jump_host_down() {
    jp_stage jumped deadjump 3
    jp_oo run exec -s jumped -- true
    expect_rc 3
    local i
    for i in 1 2 3; do expect_row "t$i" unreachable; done
    [ "$(grep -c "jump host 'deadjump': cannot connect to .*: Connection refused" "$OUT")" -ge 3 ] ||
        fail_run "expected \"jump host 'deadjump': cannot connect ...: Connection refused\" for every host"
}

test_two_hops() {
    jp_stage hops outer,bastion 2
    local b0 o0
    b0=$(logins bastion)
    o0=$(logins outer)
    jp_oo run exec -s hops -- true
    expect_rc 0
    expect_row t1 ok 0
    expect_row t2 ok 0
    # one login to each jump host: the outer one, and the bastion through it
    [ "$(($(logins outer) - o0))" = 1 ] || fail_run "outer bastion: $(($(logins outer) - o0)) logins, expected 1"
    [ "$(($(logins bastion) - b0))" = 1 ] || fail_run "bastion: $(($(logins bastion) - b0)) logins, expected 1"
    # the bastion saw the outer host's connection, from the veth's far end
    grep -q "Accepted publickey for root from $JP_VETH_ROOT " "$DIR/bastion/sshd.log" ||
        fail "the bastion never saw a login from the outer bastion ($JP_VETH_ROOT)"
}

# byes NAME: the sessions NAME's sshd saw end with SSH's disconnect message
byes() { grep -c 'Received disconnect from .*: Bye Bye' "$DIR/$1/sshd.log" 2>/dev/null || true; }

test_many_hosts_one_login() {
    local n=${JUMP_MANY:-100} b0 y0 i
    jp_stage many bastion "$n"
    b0=$(logins bastion) y0=$(byes bastion)
    jp_oo run exec -s many --parallel 50 -- 'echo up'
    expect_rc 0
    [ "$(count_lines "$OUT" '^t[0-9]+ +\| up$')" = "$n" ] || fail_run "expected $n 'up' lines"
    [ "$(($(logins bastion) - b0))" = 1 ] ||
        fail_run "the bastion counted $(($(logins bastion) - b0)) logins for $n hosts, expected 1"
    # the bastion's session ends as a host's does: with a goodbye (sshd then leaves at once;
    # its log may take a moment)
    for i in $(seq 40); do [ "$(byes bastion)" -gt "$y0" ] && break; sleep 0.05; done
    [ "$(($(byes bastion) - y0))" = 1 ] ||
        fail_run "the bastion's session ended without SSH's disconnect message"
    note "$n hosts behind one bastion in ${MS}ms, 1 bastion login"
}

# jp_proxy_stage NAME: hosts p1 p2 (ssh config Host "p*": a ProxyCommand), at t1's and t2's
# targets
jp_proxy_stage() {
    {
        printf 'stage: %s\ndefaults:\n  user: root\n  port: %s\n' "$1" "$PORT"
        printf '  identity: %s/client_key\nhosts:\n' "$DIR"
        printf '  p%s: { address: %s, app_dir: %s/hosts/h%s/app }\n' 1 "$(host_ip 1)" "$DIR" 1 2 "$(host_ip 2)" "$DIR" 2
    } >"$DIR/app/hosts/$1.yml"
    on_exit "rm -f -- '$DIR/app/hosts/$1.yml'"
}

test_proxy_command() {
    # a ProxyCommand that enters the namespace and relays with bash's /dev/tcp
    {
        cat "$DIR/jump_config"
        printf 'Host p*\n    ProxyCommand ip netns exec %s bash -c %s\n' "$JP_NS" \
            "'exec 3<>/dev/tcp/%h/%p && { cat <&3 & exec cat >&3; }'"
    } >"$W/config"
    jp_proxy_stage proxied
    cp "$W/config" "$DIR/jump_config.proxy"
    on_exit "rm -f '$DIR/jump_config.proxy'"
    JP_CONFIG=$DIR/jump_config.proxy jp_oo run exec -s proxied -- true
    expect_rc 0
    expect_row p1 ok 0
    expect_row p2 ok 0
}

test_proxy_command_stderr() {
    {
        cat "$DIR/jump_config"
        printf 'Host p*\n    ProxyCommand echo "proxy: no way to %%h port %%p" >&2; exit 1\n'
    } >"$DIR/jump_config.proxy"
    on_exit "rm -f '$DIR/jump_config.proxy'"
    jp_proxy_stage proxied
    JP_CONFIG=$DIR/jump_config.proxy jp_oo run exec -s proxied -- true
    expect_rc 3
    expect_row p1 unreachable
    expect_grep "$OUT" "proxy command: proxy: no way to $(host_ip 1) port $PORT"
    expect_grep "$OUT" "proxy command: proxy: no way to $(host_ip 2) port $PORT"
}

test_bulk_output_through_jump() {
    # 4 MB from each of 4 hosts at once, through one session: every byte, in order
    jp_stage jumped bastion 4
    jp_oo run exec -s jumped -- 'seq 0 39999 | sed "s/^/line /; s/\$/ xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/"'
    expect_rc 0
    local i n
    for i in 1 2 3 4; do
        expect_row "t$i" ok 0
        n=$(grep -cE "^t$i +\| line [0-9]+ " "$OUT")
        [ "$n" = 40000 ] || fail_run "t$i: $n lines of 40000"
        grep -E "^t$i +\| line [0-9]+ " "$OUT" | awk -v h="t$i" '$4 != NR - 1 { print h ": line " NR " is " $4; exit 1 }' ||
            fail_run "t$i: lines out of order or missing"
    done
}

test_config_proxyjump_and_jump_none() {
    # ProxyJump from the ssh config (Host t*), no jump: in the inventory
    { cat "$DIR/jump_config"; printf 'Host t*\n    ProxyJump bastion\n'; } >"$DIR/jump_config.pj"
    on_exit "rm -f '$DIR/jump_config.pj'"
    jp_stage cfgjump '' 2
    JP_CONFIG=$DIR/jump_config.pj jp_oo run exec -s cfgjump -- true
    expect_rc 0
    expect_row t1 ok 0
    expect_row t2 ok 0
    # jump: none wins over the config: a direct connection, which cannot work here
    jp_stage cfgnone none 2
    JP_CONFIG=$DIR/jump_config.pj jp_oo none exec -s cfgnone -- true
    expect_rc 3
    expect_row t1 unreachable
    grep -q "jump host" "$OUT" && fail_run "jump: none still went through a jump host"
    return 0
}

test_jump_connection_lost() {
    # the bastion's session dies while the task runs on two hosts behind it
    local lst p i t0
    jp_stage jumped bastion 2
    : >"$W/started"
    env -u SSH_AUTH_SOCK HOME="$CLIENT_HOME" "$ONEOFF" exec -C "$DIR/app" \
        --ssh-config "$DIR/jump_config" --known-hosts "$DIR/jump_known_hosts" -s jumped \
        -- 'echo started; sleep 30' >"$W/lost.out" 2>"$W/lost.err" </dev/null &
    BGPID=$!
    on_exit "kill_ours $(ours $BGPID)"
    OUT=$W/lost.out ERR=$W/lost.err
    for ((i = 0; i < 300; i++)); do
        [ "$(count_lines "$OUT" '^t[12] +\| started$')" = 2 ] && break
        sleep 0.1
    done
    [ "$(count_lines "$OUT" '^t[12] +\| started$')" = 2 ] || fail_run "the task did not start on both hosts"
    # the bastion's per-connection processes: children of its listener
    lst=$(cat "$DIR/bastion/sshd.pid")
    for p in $(pgrep -P "$lst"); do
        [ /proc/"$p"/exe -ef /usr/sbin/sshd ] && kill -KILL "$p"
    done
    t0=$(now_ms)
    wait "$BGPID"
    RC=$?
    MS=$(($(now_ms) - t0))
    expect_rc 1 "connections lost"
    [ "$MS" -lt 20000 ] || fail_run "oneoff took ${MS}ms to see the lost jump host"
    for i in 1 2; do
        expect_row "t$i" failed
        [[ "$(summary_line "t$i")" == *"connection lost"*"(jump host 'bastion': connection lost"* ]] ||
            fail_run "t$i: the summary does not say the jump host's connection was lost"
    done
}

# jp_restart I: restarts target hI in the namespace with its (changed) sshd_config
jp_restart() {
    bash "$FLEET" stop-host "$DIR" "$1" >/dev/null 2>&1 || fail "fleet.sh stop-host $1 failed"
    ip netns exec "$JP_NS" /usr/sbin/sshd -E "$DIR/hosts/h$1/sshd.log" -f "$DIR/hosts/h$1/sshd_config" ||
        fail "h$1 did not restart"
}

test_host_certificate_behind_jump() {
    local hd=$DIR/hosts/h1 b0
    ssh-keygen -q -t ed25519 -N '' -f "$W/ca" </dev/null >/dev/null 2>&1 || fail "ssh-keygen"
    cp "$hd/ssh_host_ed25519_key.pub" "$W/h1.pub"
    ssh-keygen -q -s "$W/ca" -I jumped -h -n "$(host_ip 1)" -V 20200101:20990101 "$W/h1.pub" \
        </dev/null >/dev/null 2>&1 || fail "ssh-keygen -s"
    cp "$hd/sshd_config" "$W/sshd_config.orig"
    on_exit "cp '$W/sshd_config.orig' '$hd/sshd_config'; jp_restart 1"
    echo "HostCertificate $W/h1-cert.pub" >>"$hd/sshd_config"
    jp_restart 1
    # h1 is known through the CA only
    { grep -v "^\[$(host_ip 1)\]:" "$DIR/jump_known_hosts"; echo "@cert-authority [127.0.0.1?]:* $(cut -d' ' -f1,2 "$W/ca.pub")"; } >"$W/kh"
    jp_stage jumped bastion 1
    b0=$(logins bastion)
    KH=$W/kh jp_oo run exec -s jumped -- true
    expect_rc 0
    expect_row t1 ok 0
    # the certificate was read through the same jump session: still one login
    [ "$(($(logins bastion) - b0))" = 1 ] || fail_run "bastion: $(($(logins bastion) - b0)) logins, expected 1"
}

# ---------------------------------------------------------------------------------------------
# set-up and the runner

# jp_sshd NAME NETNS ADDR PORT: an sshd for jumping (the fleet's client key, forwarding on)
jp_sshd() {
    local name=$1 ns=$2 addr=$3 port=$4 d=$DIR/$1 i
    mkdir -p "$d"
    ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" || return 1
    cat >"$d/sshd_config" <<EOF
ListenAddress $addr:$port
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
LogLevel VERBOSE
EOF
    /usr/sbin/sshd -t -f "$d/sshd_config" || return 1
    if [ -n "$ns" ]; then
        ip netns exec "$ns" /usr/sbin/sshd -E "$d/sshd.log" -f "$d/sshd_config" || return 1
    else
        /usr/sbin/sshd -E "$d/sshd.log" -f "$d/sshd_config" || return 1
    fi
    for ((i = 0; i < 100; i++)); do
        grep -q "Server listening on $addr port $port" "$d/sshd.log" 2>/dev/null && break
        sleep 0.05
    done
    JP_PIDS+=("$(ours "$(cat "$d/sshd.pid")")")
    echo "[$addr]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >>"$DIR/jump_known_hosts"
}

free_port() {
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

jp_setup() {
    local i x y hd
    # a subnet no interface here uses
    for ((i = 0; i < 50; i++)); do
        x=$((RANDOM % 200 + 20)) y=$((RANDOM % 63 * 4))
        ip -4 addr show | grep -q "inet 10\.$x\.$((y / 4))\." && continue
        ip -4 route show | grep -q "^10\.$x\.$((y / 4))\." && continue
        break
    done
    JP_VETH_ROOT=10.$x.$((y / 4)).1 JP_VETH_NS=10.$x.$((y / 4)).2
    ip netns add "$JP_NS" || return 1
    ip link add "$JP_VA" type veth peer name "$JP_VB" || return 1
    ip link set "$JP_VB" netns "$JP_NS" || return 1
    ip addr add "$JP_VETH_ROOT/30" dev "$JP_VA" || return 1
    ip link set "$JP_VA" up || return 1
    ip netns exec "$JP_NS" ip addr add "$JP_VETH_NS/30" dev "$JP_VB" || return 1
    ip netns exec "$JP_NS" ip link set "$JP_VB" up || return 1
    ip netns exec "$JP_NS" ip link set lo up || return 1
    # the targets: the fleet's hosts, moved into the namespace
    bash "$FLEET" up "$DIR" "$JP_TARGETS" test >"$TMP/fleet-up.log" 2>&1 || { cat "$TMP/fleet-up.log"; return 1; }
    bash "$FLEET" down "$DIR" >>"$TMP/fleet-up.log" 2>&1 || return 1
    PORT=$(cat "$DIR/port")
    for ((i = 1; i <= JP_TARGETS; i++)); do
        hd=$DIR/hosts/h$i
        : >"$hd/sshd.log"
        ip netns exec "$JP_NS" /usr/sbin/sshd -E "$hd/sshd.log" -f "$hd/sshd_config" || return 1
    done
    cp "$DIR/known_hosts" "$DIR/jump_known_hosts"
    JP_BPORT=2222
    jp_sshd bastion "$JP_NS" "$JP_VETH_NS" "$JP_BPORT" || return 1
    JP_OPORT=$(free_port)
    jp_sshd outer '' 127.0.0.1 "$JP_OPORT" || return 1
    cat >"$DIR/jump_config" <<EOF
Host bastion
    HostName $JP_VETH_NS
    Port $JP_BPORT
    User root
    IdentityFile $DIR/client_key
Host outer
    HostName 127.0.0.1
    Port $JP_OPORT
    User root
    IdentityFile $DIR/client_key
Host deadjump
    HostName 127.0.0.1
    Port $(free_port)
    User root
    IdentityFile $DIR/client_key
EOF
    mkdir -p "$DIR/app/tasks"
    printf '%s\n' "${JP_PIDS[@]}" >"$TMP/pids"
}

jp_cleanup() {
    local rc=$? p
    trap - EXIT
    trap '' INT TERM
    [ -z "${JP_CUR:-}" ] || kill -TERM "$JP_CUR" 2>/dev/null
    wait 2>/dev/null
    bash "$FLEET" down "$DIR" >/dev/null 2>&1 || echo "jump: fleet.sh down $DIR failed" >&2
    for p in "${JP_PIDS[@]}"; do kill_ours "$p" TERM; done
    ip netns del "$JP_NS" 2>/dev/null # takes the veth pair with it
    ip link del "$JP_VA" 2>/dev/null
    if [ "${JUMP_KEEP:-}" = 1 ]; then echo "jump: kept $TMP" >&2; else rm -rf -- "$TMP"; fi
    exit "$rc"
}

jp_one() {
    local name=$1
    # shellcheck disable=SC1091
    . "$TMP/env"
    W=$TMP/work/$name
    mkdir -p "$W"
    cd "$W" || exit 1
    trap 'run_cleanup' EXIT
    "$name"
    exit 0
}

jp_main() {
    if [ "${1:-}" = --one ]; then
        TMP=$2
        jp_one "$3"
    fi
    ONEOFF=${ONEOFF:-$FL_ROOT/build/oneoff}
    case $ONEOFF in /*) ;; *) ONEOFF=$PWD/$ONEOFF ;; esac
    [ -x "$ONEOFF" ] || { echo "jump: ONEOFF=$ONEOFF is not an executable (run make)" >&2; exit 2; }
    if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
        echo "ok - jump # SKIP needs root and ip(8) for a network namespace"
        echo "integration: 0 passed, 0 failed"
        exit 0
    fi
    local a sel=() t
    for a in "$@"; do
        a=test_${a#test_}
        printf '%s\n' "${JP_TESTS[@]}" | grep -qxF -- "$a" || { echo "jump: no test '${a#test_}'" >&2; exit 2; }
        sel+=("$a")
    done
    [ ${#sel[@]} -gt 0 ] || sel=("${JP_TESTS[@]}")
    JP_TARGETS=${JUMP_TARGETS:-4}
    JP_NS=oneoff-jump-$$ JP_VA=ojp$$a JP_VB=ojp$$b
    JP_PIDS=()
    TMP=$(mktemp -d) || exit 2
    TMP=$(cd "$TMP" && pwd -P)
    DIR=$TMP/fleet
    mkdir -p "$DIR/client-home" "$TMP/work"
    trap jp_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if ! jp_setup >"$TMP/setup.log" 2>&1; then
        cat "$TMP/setup.log" >&2
        echo "jump: set-up failed" >&2
        exit 2
    fi
    {
        declare -p ONEOFF DIR PORT JP_TARGETS JP_VETH_ROOT JP_VETH_NS JP_BPORT JP_OPORT JP_NS
        echo "CLIENT_HOME=$DIR/client-home"
    } >"$TMP/env"
    local passed=0 failed=0 rc t1 secs
    for t in "${sel[@]}"; do
        t1=$(now_ms)
        timeout -k 5 "$JP_TIMEOUT" bash "$JP_SCRIPT" --one "$TMP" "$t" >"$TMP/work/$t.log" 2>&1 </dev/null &
        JP_CUR=$!
        wait "$JP_CUR"
        rc=$?
        JP_CUR=
        secs=$(awk -v ms=$(($(now_ms) - t1)) 'BEGIN { printf "%.1f", ms / 1000 }')
        if [ "$rc" = 0 ]; then
            echo "ok - ${t#test_} (${secs}s)"
            grep '^# ' "$TMP/work/$t.log" | head -n 5 | sed 's/^/#   /'
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "not ok - ${t#test_} (${secs}s): $(grep -m1 '^FAIL: ' "$TMP/work/$t.log" | cut -c7-)"
            grep -v '^FAIL: ' "$TMP/work/$t.log" | head -n 40 | sed 's/^/#   /'
        fi
    done
    echo "integration: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}

jp_main "$@"
