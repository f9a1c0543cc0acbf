#!/usr/bin/env bash
# tests/fleet.sh - a fleet of real OpenSSH sshd "hosts" on loopback, for oneoff's
# tests, demo and benchmark.
#
#   tests/fleet.sh up DIR N [STAGE]   start hosts h1..hN (1 <= N <= 200); STAGE defaults to "test"
#   tests/fleet.sh down DIR           stop every host of DIR
#   tests/fleet.sh stop-host DIR I    stop host hI only (listener and its session children)
#   tests/fleet.sh start-host DIR I   start host hI again with its existing config (no-op if running)
#   tests/fleet.sh rekey DIR I        give hI a NEW host key and restart it; known_hosts is NOT
#                                     updated (to test a changed host key)
#   tests/fleet.sh status DIR         list the hosts of DIR that are running
#   tests/fleet.sh sessions DIR I     list the per-connection sshd processes of hI (children of
#                                     its listener): "PID START CMDLINE", one line each
#   tests/fleet.sh drop DIR I...      cut every connection of hI (a lost connection): SIGKILL to
#                                     each of those processes and their sshd children; the
#                                     listener keeps running. Several hosts at once.
#   tests/fleet.sh remove-user NAME   delete a user that fleet.sh created (see FLEET_USER); a
#                                     user it did not create is never deleted
#
# Host hI is an sshd listening on 127.0.0.(10+I):PORT, PORT being the same for every host of
# DIR and stored in DIR/port. Files under DIR:
#   port, client_key{,.pub}, authorized_keys, known_hosts, ssh_config (Host h1..hN),
#   app/hosts/STAGE.yml (inventory for oneoff),
#   hosts/hI/{sshd_config, ssh_host_ed25519_key{,.pub}, sshd.pid, sshd.log, home/, app/}
#
# Environment: FLEET_APP=dir  -> its content is copied into every host's release directory at `up`.
#              FLEET_USER=NAME -> at `up`, also allow logins as the non-root user NAME (below).
#
# Non-root logins (FLEET_USER=NAME, as root). When NAME does not exist, `up` creates it with
#   useradd --system --create-home --shell /bin/sh --password '*' --comment FLEET_GECOS NAME
# ('*', not useradd's locking '!': without PAM, sshd refuses a locked account). An existing user
# is used as it is (never modified, never deleted; `up` fails if sshd would refuse it). The
# fleet never deletes a user on its own: `remove-user NAME` does, and only for a user whose
# comment is FLEET_GECOS (one that fleet.sh created) and that runs no process. With NAME:
#   - the user's authorized key is the fleet's client key: every host reads the one
#     DIR/authorized_keys (mode 0644, it holds a public key only) for every user;
#   - sshd reads that file as the user, so DIR gets o+x (others may traverse it, not list it)
#     and `up` checks, as NAME, that the file is readable, failing with the path otherwise;
#   - StrictModes stays off: with it, sshd would refuse a key file whose path runs through a
#     world-writable directory such as /tmp, where the tests make their fleets;
#   - each host's app directory (releases/, current, shared/.env, shared/.oneoff/locks/) and
#     home are owned by NAME, so a task run as NAME can read its env and take its locks (root
#     can use them too; a lock file that a root login creates first stays root's, so a test
#     that runs one locked task as both users must create its lock file as NAME);
#   - DIR/fleet_user holds NAME. The inventory keeps `user: root`; a test that logs in as NAME
#     writes its own inventory with `user: NAME` (or a host-level `user:`).
#
# Safety: only 127.0.0.0/8 addresses are used. A process is only ever signalled by a pid that
# this script recorded (a host's PidFile, or a child of such a listener), after checking that
# /proc/PID/exe is /usr/sbin/sshd and that it is still the very same process (start time), and
# for a listener that its command line names this host's sshd_config.
#
# Every session gets HOME=DIR/hosts/hI/home (sshd_config SetEnv), holding /etc/skel's dot
# files: bash started by sshd sources ~/.bashrc, and the real /root/.bashrc may be slow.
set -euo pipefail

SSHD=/usr/sbin/sshd
MAXN=200
RELEASE=20261101120000
REVISION=a1b2c3d
PORT_MIN=20000
PORT_MAX=60999
PORT_TRIES=5          # re-picks of the port after "Address already in use"
READY_TIMEOUT=30      # seconds for all hosts to listen
STOP_TIMEOUT=5        # seconds before SIGKILL on stop
APT_LINE='DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y openssh-server'

FLEET_GECOS='oneoff test fleet (tests/fleet.sh)'
SESSION_EXES='/usr/lib/openssh/sshd-session /usr/lib/openssh/sshd-auth'   # OpenSSH >= 9.8

PROG=fleet.sh
say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() {
    cat >&2 <<'EOF'
usage: fleet.sh up DIR N [STAGE]
       fleet.sh down DIR
       fleet.sh stop-host DIR I
       fleet.sh start-host DIR I
       fleet.sh rekey DIR I
       fleet.sh status DIR
       fleet.sh sessions DIR I
       fleet.sh drop DIR I
       fleet.sh remove-user NAME
EOF
    exit 2
}

ip_of() { REPLY="127.0.0.$((10 + $1))"; }

# ---------------------------------------------------------------------------------------------
# process identity (bash builtins only: these run in polling loops for up to 200 hosts)

# proc_start PID -> REPLY = start time (clock ticks since boot) of a live, non-zombie process
proc_start() {
    local line rest
    local -a f
    REPLY=
    { IFS= read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    rest=${line##*) }
    read -r -a f <<<"$rest"
    [ "${f[0]:-Z}" != Z ] && [ "${f[0]}" != X ] || return 1
    REPLY=${f[19]:-}
    [ -n "$REPLY" ]
}

is_sshd_exe() { [ /proc/"$1"/exe -ef "$SSHD" ] 2>/dev/null; }

# is_session_exe PID: sshd itself or one of the helpers a newer OpenSSH runs a connection in
is_session_exe() {
    local e
    is_sshd_exe "$1" && return 0
    for e in $SESSION_EXES; do [ /proc/"$1"/exe -ef "$e" ] 2>/dev/null && return 0; done
    return 1
}

# is_listener PID HOSTDIR: PID is a live /usr/sbin/sshd whose command line names HOSTDIR's config
is_listener() {
    local pid=$1 hd=$2 joined
    local -a args=()
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
    is_sshd_exe "$pid" || return 1
    { mapfile -d '' -t args <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
    joined=" ${args[*]-} "
    [[ "$joined" == *" -f $hd/sshd_config "* ]]
}

# host_pid HOSTDIR -> REPLY = pid of the host's running listener (return 1 if not running)
host_pid() {
    local hd=$1 pid=
    REPLY=
    [ -s "$hd/sshd.pid" ] || return 1
    { IFS= read -r pid <"$hd/sshd.pid"; } 2>/dev/null || return 1
    is_listener "$pid" "$hd" || return 1
    proc_start "$pid" || return 1
    REPLY=$pid
}

# same_proc PID START [HOSTDIR]: still the same process (and, with HOSTDIR, still our listener)
same_proc() {
    local pid=$1 st=$2 hd=${3:-}
    proc_start "$pid" || return 1
    [ "$REPLY" = "$st" ] || return 1
    is_sshd_exe "$pid" || return 1
    if [ -n "$hd" ]; then is_listener "$pid" "$hd" || return 1; fi
    return 0
}

# ---------------------------------------------------------------------------------------------
# stopping

# stop_host_dir HOSTDIR: TERM the listener and its sshd children, wait, KILL what is left.
stop_host_dir() {
    local hd=$1 pid lst k kk
    local -a ids=() kids=()
    if ! host_pid "$hd"; then rm -f "$hd/sshd.pid"; return 0; fi
    pid=$REPLY
    proc_start "$pid" || { rm -f "$hd/sshd.pid"; return 0; }
    lst=$REPLY
    # session children of the listener (per-connection sshd), and their sshd children
    mapfile -t kids < <(pgrep -P "$pid" 2>/dev/null || true)
    for k in "${kids[@]}"; do
        is_sshd_exe "$k" && proc_start "$k" || continue
        ids+=("$k:$REPLY")
        for kk in $(pgrep -P "$k" 2>/dev/null || true); do
            is_sshd_exe "$kk" && proc_start "$kk" && ids+=("$kk:$REPLY:grandchild")
        done
    done
    kill -TERM "$pid" 2>/dev/null || true
    local id p s
    for id in "${ids[@]}"; do
        IFS=: read -r p s kk <<<"$id"
        # a session's monitor forwards TERM to its session process; signal only the monitors
        [ -z "$kk" ] && same_proc "$p" "$s" && kill -TERM "$p" 2>/dev/null || true
    done
    local deadline=$((SECONDS + STOP_TIMEOUT)) left
    while :; do
        left=0
        same_proc "$pid" "$lst" "$hd" && left=1
        for id in "${ids[@]}"; do
            IFS=: read -r p s kk <<<"$id"
            same_proc "$p" "$s" && left=1
        done
        [ "$left" = 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "h${hd##*/h}: still running after ${STOP_TIMEOUT}s, sending KILL"
            same_proc "$pid" "$lst" "$hd" && kill -KILL "$pid" 2>/dev/null || true
            for id in "${ids[@]}"; do
                IFS=: read -r p s kk <<<"$id"
                same_proc "$p" "$s" && kill -KILL "$p" 2>/dev/null || true
            done
            sleep 0.2
            break
        fi
        sleep 0.05
    done
    rm -f "$hd/sshd.pid"
}

# ---------------------------------------------------------------------------------------------
# openssh-server

ensure_sshd() {
    if [ ! -x "$SSHD" ]; then
        if [ "$(id -u)" != 0 ]; then
            say "$SSHD is missing; install openssh-server as root with:"
            printf '%s\n' "$APT_LINE"
            exit 1
        fi
        # pids of sshd processes (and port-22 listeners) before the install
        local before
        before=" $(pgrep -x sshd 2>/dev/null | tr '\n' ' ') "
        say "installing openssh-server (may wait up to 600 s for the dpkg lock)"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y openssh-server >&2 ||
            die "apt-get install openssh-server failed"
        [ -x "$SSHD" ] || die "$SSHD still missing after installing openssh-server"
        # the package's postinst may have started the system sshd on port 22: stop that new pid only
        local cands="" p
        [ -s /run/sshd.pid ] && cands=$(cat /run/sshd.pid 2>/dev/null || true)
        cands="$cands $(ss -Hltnp 'sport = :22' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | tr '\n' ' ')"
        for p in $cands; do
            [[ "$p" =~ ^[0-9]+$ ]] || continue
            [[ "$before" == *" $p "* ]] && continue
            is_sshd_exe "$p" || continue
            ss -Hltnp 'sport = :22' 2>/dev/null | grep -q "pid=$p," || continue
            say "stopping the system sshd that the install started on port 22 (pid $p)"
            kill -TERM "$p" 2>/dev/null || true
        done
    fi
    command -v ssh-keygen >/dev/null || die "ssh-keygen not found (package openssh-client)"
    command -v ss >/dev/null || die "ss not found (package iproute2)"
    command -v pgrep >/dev/null || die "pgrep not found (package procps)"
    command -v flock >/dev/null || die "flock not found (package util-linux)"
    if [ "$(id -u)" = 0 ]; then
        # sshd's privilege separation directory (its parent /run exists)
        # shellcheck disable=SC2174
        mkdir -p -m 0755 /run/sshd
    fi
}

# ---------------------------------------------------------------------------------------------
# the non-root login user (FLEET_USER): check_user_name, ensure_user, grant_user, cmd_remove_user

# shellcheck source=tests/fleet_user.sh
. "$(dirname "${BASH_SOURCE[0]}")/fleet_user.sh"

# ---------------------------------------------------------------------------------------------
# helpers for DIR

resolve_dir() { # resolve_dir DIR [create] -> DIR (absolute, physical)
    local d=$1
    [ -n "$d" ] || usage
    if [ "${2:-}" = create ]; then mkdir -p -- "$d"; fi
    [ -d "$d" ] || die "$d is not a directory"
    DIR=$(cd -- "$d" && pwd -P)
    # the path ends up in sshd_config, ssh_config and YAML: keep it to plain characters
    [[ "$DIR" =~ ^/[A-Za-z0-9._/+@=-]*$ ]] || die "unsupported characters in directory path: $DIR"
}

lock_dir() { # serialise fleet.sh runs on the same DIR
    exec 9>>"$DIR/.fleet.lock"
    flock 9
}

read_port() {
    PORT=
    [ -s "$DIR/port" ] && { IFS= read -r PORT <"$DIR/port" || true; }
    [[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ]
}

# pick_port [EXCLUDED...] -> PORT: random port in PORT_MIN..PORT_MAX without any TCP listener
pick_port() {
    local used cand n r
    used=" $(ss -Hltn 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | sort -un | tr '\n' ' ') $* "
    for n in $(seq 1 500); do
        # SRANDOM (bash >= 5.1) comes from getrandom(); RANDOM of two scripts started at about the
        # same time is correlated, and parallel fleets must not keep picking the same ports
        if [ -n "${SRANDOM:-}" ]; then r=$SRANDOM; else r=$(( (RANDOM << 15) ^ RANDOM ^ ($$ << 7) )); fi
        cand=$(( r % (PORT_MAX - PORT_MIN + 1) + PORT_MIN ))
        [[ "$used" == *" $cand "* ]] && continue
        PORT=$cand
        return 0
    done
    die "could not find a free port in $PORT_MIN..$PORT_MAX"
}

host_index() { # host_index I -> validates I and that the host exists
    local i=${1:-}
    [[ "$i" =~ ^[1-9][0-9]*$ ]] && [ "$i" -le "$MAXN" ] || die "host index must be 1..$MAXN, got '${i}'"
    [ -s "$DIR/hosts/h$i/sshd_config" ] || die "h$i of $DIR has no sshd_config (run 'up' first)"
}

tail_log() { # tail_log I
    local hd=$DIR/hosts/h$1
    if [ -s "$hd/sshd.log" ]; then
        tail -n 8 "$hd/sshd.log" | sed "s/^/    h$1 sshd.log: /" >&2
    else
        say "    h$1: sshd.log is empty or missing"
    fi
}

# ---------------------------------------------------------------------------------------------
# per-host preparation

sshd_config_text() { # sshd_config_text I -> REPLY
    local i=$1 hd=$DIR/hosts/h$1
    ip_of "$i"
    REPLY="# generated by tests/fleet.sh for host h$i
ListenAddress $REPLY:$PORT
AddressFamily inet
HostKey $hd/ssh_host_ed25519_key
PidFile $hd/sshd.pid
LogLevel VERBOSE
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $DIR/authorized_keys
MaxStartups 1000:30:2000
MaxSessions 100
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
Subsystem sftp internal-sftp
SetEnv HOME=$hd/home
"
}

# prepare_host I: directories, dot files, app folder, host key. Does not touch sshd_config.
prepare_host() {
    local i=$1 hd=$DIR/hosts/h$1
    local app=$hd/app rel=$hd/app/releases/$RELEASE f
    mkdir -p "$hd/home" "$rel" "$app/shared"
    for f in .bashrc .profile; do
        if [ ! -e "$hd/home/$f" ]; then
            if [ -r "/etc/skel/$f" ]; then cp "/etc/skel/$f" "$hd/home/$f"; else : >"$hd/home/$f"; fi
        fi
    done
    if [ -n "${FLEET_APP:-}" ]; then cp -a "$FLEET_APP/." "$rel/"; fi
    [ -e "$rel/REVISION" ] || printf '%s\n' "$REVISION" >"$rel/REVISION"
    [ -L "$app/current" ] || [ -e "$app/current" ] || ln -s "releases/$RELEASE" "$app/current"
    [ -e "$app/shared/.env" ] ||
        printf 'DATABASE_URL=sqlite:///db.sqlite3\nSECRET_KEY_BASE=s3cr3t-from-env-file\nAPP_HOST=h%s\n' "$i" \
            >"$app/shared/.env"
    if [ ! -s "$hd/ssh_host_ed25519_key" ] || [ ! -s "$hd/ssh_host_ed25519_key.pub" ]; then
        new_host_key "$i"
    fi
}

new_host_key() { # new_host_key I
    local hd=$DIR/hosts/h$1
    rm -f "$hd/ssh_host_ed25519_key.new" "$hd/ssh_host_ed25519_key.new.pub"
    ssh-keygen -q -t ed25519 -N '' -C "fleet-h$1" -f "$hd/ssh_host_ed25519_key.new" </dev/null >/dev/null
    chmod 600 "$hd/ssh_host_ed25519_key.new"
    mv -f "$hd/ssh_host_ed25519_key.new.pub" "$hd/ssh_host_ed25519_key.pub"
    mv -f "$hd/ssh_host_ed25519_key.new" "$hd/ssh_host_ed25519_key"
}

# write_sshd_config I -> returns 0 if the file changed (or was created), 1 if unchanged
write_sshd_config() {
    local cfg=$DIR/hosts/h$1/sshd_config old=
    sshd_config_text "$1"
    if [ -f "$cfg" ]; then
        { IFS= read -r -d '' old <"$cfg"; } 2>/dev/null || true
        [ "$old" != "$REPLY" ] || return 1
    fi
    printf '%s' "$REPLY" >"$cfg.tmp"
    mv -f "$cfg.tmp" "$cfg"
    return 0
}

# start_sshd I: start the host's sshd in daemon mode (returns once it has daemonised).
# sshd daemonises BEFORE it binds, so a busy port is only visible later, in sshd.log (wait_ready).
# The previous log is kept as sshd.log.1, so sshd.log only holds the current run.
start_sshd() {
    local hd=$DIR/hosts/h$1
    rm -f "$hd/sshd.pid"
    if [ -e "$hd/sshd.log" ]; then mv -f "$hd/sshd.log" "$hd/sshd.log.1"; fi
    "$SSHD" -f "$hd/sshd_config" -E "$hd/sshd.log" </dev/null >>"$hd/sshd.log" 2>&1 9>&-
}

# wait_ready I...: wait (READY_TIMEOUT) until each host listens on its address:PORT and its pid
# file holds our live sshd, or its log shows that it gave up. Sets INUSE (hosts whose port was
# busy), BAD (other failures, incl. timeouts). Returns 0 if every host is ready.
wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT)) i listening log
    local -a pending=("$@") still
    INUSE=(); BAD=()
    while :; do
        listening=" $(ss -Hltn "sport = :$PORT" 2>/dev/null | awk '{print $4}' | tr '\n' ' ') "
        still=()
        for i in "${pending[@]}"; do
            ip_of "$i"
            if [[ "$listening" == *" $REPLY:$PORT "* ]] && host_pid "$DIR/hosts/h$i"; then
                continue
            fi
            log=
            if [ -s "$DIR/hosts/h$i/sshd.log" ]; then
                { IFS= read -r -d '' log <"$DIR/hosts/h$i/sshd.log"; } 2>/dev/null || true
            fi
            if [[ "$log" == *"Cannot bind any address"* ]]; then
                if [[ "$log" == *"Address already in use"* ]]; then INUSE+=("$i"); else BAD+=("$i"); fi
                continue
            fi
            still+=("$i")
        done
        pending=("${still[@]}")
        [ "${#pending[@]}" = 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "not listening after ${READY_TIMEOUT}s:$(for i in "${pending[@]}"; do ip_of "$i"; printf ' h%s(%s:%s)' "$i" "$REPLY" "$PORT"; done)"
            BAD+=("${pending[@]}")
            break
        fi
        sleep 0.1
    done
    [ "${#INUSE[@]}" = 0 ] && [ "${#BAD[@]}" = 0 ]
}

# report_failed I...: name the hosts and show the tail of (at most 5 of) their logs
report_failed() {
    local i n=0
    for i in "$@"; do
        n=$((n + 1))
        if [ "$n" -gt 5 ]; then say "... and $(($# - 5)) more"; break; fi
        ip_of "$i"
        say "h$i ($REPLY:$PORT, $DIR/hosts/h$i/sshd_config) failed to come up:"
        tail_log "$i"
    done
}

# ---------------------------------------------------------------------------------------------
# client-side files

write_client_files() { # write_client_files N STAGE
    local N=$1 STAGE=$2 i t k _rest ip
    local kh="" cf="" inv
    cf="# generated by tests/fleet.sh: ssh -F $DIR/ssh_config hI
"
    for ((i = 1; i <= N; i++)); do
        ip_of "$i"; ip=$REPLY
        read -r t k _rest <"$DIR/hosts/h$i/ssh_host_ed25519_key.pub"
        kh+="[$ip]:$PORT $t $k
"
        cf+="
Host h$i
    HostName $ip
    Port $PORT
    User root
    IdentityFile $DIR/client_key
    IdentitiesOnly yes
    UserKnownHostsFile $DIR/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    BatchMode yes
    ControlMaster no
"
    done
    inv="stage: $STAGE
defaults:
  user: root
  port: $PORT
  identity: $DIR/client_key
  env_file: shared/.env
hosts:
"
    for ((i = 1; i <= N; i++)); do
        ip_of "$i"
        if [ "$i" = 1 ]; then
            inv+="  h$i: { address: $REPLY, app_dir: $DIR/hosts/h$i/app, roles: [web, db], primary: true }
"
        else
            inv+="  h$i: { address: $REPLY, app_dir: $DIR/hosts/h$i/app, roles: [web] }
"
        fi
    done
    mkdir -p "$DIR/app/hosts"
    printf '%s' "$kh" >"$DIR/known_hosts.tmp" && mv -f "$DIR/known_hosts.tmp" "$DIR/known_hosts"
    printf '%s' "$cf" >"$DIR/ssh_config.tmp" && mv -f "$DIR/ssh_config.tmp" "$DIR/ssh_config"
    printf '%s' "$inv" >"$DIR/app/hosts/$STAGE.yml.tmp" && mv -f "$DIR/app/hosts/$STAGE.yml.tmp" "$DIR/app/hosts/$STAGE.yml"
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_up() {
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    local N=$2 STAGE=${3:-test}
    [[ "$N" =~ ^[1-9][0-9]*$ ]] && [ "$N" -le "$MAXN" ] || die "N must be 1..$MAXN, got '$N'"
    [[ "$STAGE" =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || die "bad STAGE '$STAGE' (letters, digits, _ and -)"
    if [ -n "${FLEET_APP:-}" ]; then
        [ -d "$FLEET_APP" ] || die "FLEET_APP=$FLEET_APP is not a directory"
    fi
    ensure_sshd
    if [ -n "${FLEET_USER:-}" ]; then ensure_user "$FLEET_USER"; fi
    resolve_dir "$1" create
    lock_dir
    local t0=$SECONDS i hd j
    mkdir -p "$DIR/hosts" "$DIR/app/hosts"

    # client key + authorized_keys
    if [ ! -s "$DIR/client_key" ] || [ ! -s "$DIR/client_key.pub" ]; then
        rm -f "$DIR/client_key" "$DIR/client_key.pub"
        ssh-keygen -q -t ed25519 -N '' -C fleet-client -f "$DIR/client_key" </dev/null >/dev/null
    fi
    chmod 600 "$DIR/client_key" "$DIR/client_key.pub"
    cp "$DIR/client_key.pub" "$DIR/authorized_keys.tmp"
    chmod 644 "$DIR/authorized_keys.tmp"
    mv -f "$DIR/authorized_keys.tmp" "$DIR/authorized_keys"

    # hosts beyond N from an earlier, larger `up`
    local -a extra=()
    for hd in "$DIR"/hosts/h*; do
        [ -d "$hd" ] || continue
        j=${hd##*/h}
        [[ "$j" =~ ^[1-9][0-9]*$ ]] && [ "$j" -gt "$N" ] && extra+=("$hd")
    done
    if [ "${#extra[@]}" -gt 0 ]; then
        for hd in "${extra[@]}"; do stop_host_dir "$hd" & done
        wait
    fi

    # directories, dot files, app folders, host keys (ssh-keygen in parallel, 2 per core)
    local par=$(( $(nproc 2>/dev/null || echo 2) * 2 ))
    local -a jobs=()
    for ((i = 1; i <= N; i++)); do
        prepare_host "$i" &
        jobs+=($!)
        if [ "${#jobs[@]}" -ge "$par" ]; then
            for j in "${jobs[@]}"; do wait "$j" || die "preparing a host failed"; done
            jobs=()
        fi
    done
    for j in "${jobs[@]}"; do wait "$j" || die "preparing a host failed"; done
    if [ -n "${FLEET_USER:-}" ]; then grant_user "$FLEET_USER"; fi

    # the port: chosen once, reused later; re-picked when sshd reports "Address already in use"
    local -a tried=()
    if ! read_port; then
        pick_port
        printf '%s\n' "$PORT" >"$DIR/port"
    fi

    local attempt=0
    local -a start=() failed=() pids=()
    INUSE=(); BAD=()
    while :; do
        tried+=("$PORT")
        # configs; running hosts whose config changed (another port) are restarted
        start=()
        local -a restart=()
        for ((i = 1; i <= N; i++)); do
            hd=$DIR/hosts/h$i
            if write_sshd_config "$i"; then
                host_pid "$hd" && restart+=("$hd")
                start+=("$i")
            elif ! host_pid "$hd"; then
                start+=("$i")
            fi
        done
        if [ "${#restart[@]}" -gt 0 ]; then
            for hd in "${restart[@]}"; do stop_host_dir "$hd" & done
            wait
        fi
        if ! "$SSHD" -t -f "$DIR/hosts/h1/sshd_config" 9>&-; then
            die "sshd -t rejected $DIR/hosts/h1/sshd_config"
        fi

        # start in parallel (each returns as soon as its sshd has daemonised)
        pids=()
        for i in "${start[@]}"; do
            start_sshd "$i" &
            pids+=($!)
        done
        failed=()
        for j in "${!start[@]}"; do
            wait "${pids[$j]}" || failed+=("${start[$j]}")
        done
        if [ "${#failed[@]}" -gt 0 ]; then
            report_failed "${failed[@]}"
            die "${#failed[@]} host(s) failed to start: ${failed[*]/#/h}"
        fi

        local -a all=()
        for ((i = 1; i <= N; i++)); do all+=("$i"); done
        if wait_ready "${all[@]}"; then break; fi
        if [ "${#BAD[@]}" -gt 0 ]; then
            report_failed "${BAD[@]}" "${INUSE[@]}"
            die "fleet in $DIR is not up: ${BAD[*]/#/h} ${INUSE[*]/#/h}"
        fi
        # only "Address already in use": restart every host on another port
        attempt=$((attempt + 1))
        if [ "$attempt" -gt "$PORT_TRIES" ]; then
            report_failed "${INUSE[@]}"
            die "port still in use after $PORT_TRIES re-picks (tried ${tried[*]}): ${INUSE[*]/#/h}"
        fi
        local oldport=$PORT
        for ((i = 1; i <= N; i++)); do stop_host_dir "$DIR/hosts/h$i" & done
        wait
        pick_port "${tried[@]}"
        say "port $oldport is already in use on the address of ${INUSE[*]/#/h}; restarting all hosts on port $PORT"
        printf '%s\n' "$PORT" >"$DIR/port"
    done

    write_client_files "$N" "$STAGE"
    ip_of 1; local first=$REPLY
    ip_of "$N"
    say "up: $N host(s) h1..h$N on $first..$REPLY port $PORT (started ${#start[@]}) in $((SECONDS - t0))s; ssh -F $DIR/ssh_config h1"
}

cmd_down() {
    [ $# -eq 1 ] || usage
    if [ ! -d "$1" ]; then say "down: $1 does not exist, nothing to do"; return 0; fi
    resolve_dir "$1"
    lock_dir
    local hd n=0 left=0
    for hd in "$DIR"/hosts/h*; do
        [ -d "$hd" ] || continue
        if host_pid "$hd"; then n=$((n + 1)); fi
        stop_host_dir "$hd" &
    done
    wait
    for hd in "$DIR"/hosts/h*; do
        [ -d "$hd" ] || continue
        if host_pid "$hd"; then left=$((left + 1)); say "${hd##*/} still running (pid $REPLY)"; fi
    done
    [ "$left" -eq 0 ] || die "down: $left host(s) still running"
    say "down: stopped $n host(s) of $DIR"
}

cmd_stop_host() {
    [ $# -eq 2 ] || usage
    resolve_dir "$1"
    lock_dir
    host_index "$2"
    if ! host_pid "$DIR/hosts/h$2"; then
        rm -f "$DIR/hosts/h$2/sshd.pid"
        say "stop-host: h$2 was not running"
        return 0
    fi
    stop_host_dir "$DIR/hosts/h$2"
    ! host_pid "$DIR/hosts/h$2" || die "h$2 still running (pid $REPLY)"
    say "stop-host: h$2 stopped"
}

start_one() { # start_one I  (host must be stopped; its config is used as is)
    local i=$1
    "$SSHD" -t -f "$DIR/hosts/h$i/sshd_config" 9>&- || die "sshd -t rejected $DIR/hosts/h$i/sshd_config"
    start_sshd "$i" || { report_failed "$i"; die "h$i failed to start"; }
    if ! wait_ready "$i"; then
        report_failed "$i"
        if [ "${#INUSE[@]}" -gt 0 ]; then die "h$i: port $PORT is already in use on its address"; fi
        die "h$i is not up"
    fi
    host_pid "$DIR/hosts/h$i" || true
}

cmd_start_host() {
    [ $# -eq 2 ] || usage
    ensure_sshd
    resolve_dir "$1"
    lock_dir
    host_index "$2"
    read_port || die "$DIR/port is missing"
    if host_pid "$DIR/hosts/h$2"; then
        say "start-host: h$2 is already running (pid $REPLY)"
        return 0
    fi
    start_one "$2"
    say "start-host: h$2 running (pid $REPLY)"
}

cmd_rekey() {
    [ $# -eq 2 ] || usage
    ensure_sshd
    resolve_dir "$1"
    lock_dir
    host_index "$2"
    read_port || die "$DIR/port is missing"
    stop_host_dir "$DIR/hosts/h$2"
    new_host_key "$2"
    start_one "$2"
    say "rekey: h$2 has a new host key ($(ssh-keygen -l -f "$DIR/hosts/h$2/ssh_host_ed25519_key.pub" | cut -d' ' -f2)); known_hosts unchanged"
}

cmd_status() {
    [ $# -eq 1 ] || usage
    resolve_dir "$1"
    local hd n=0
    read_port && echo "port $PORT"
    for hd in "$DIR"/hosts/h*; do
        [ -d "$hd" ] || continue
        if host_pid "$hd"; then n=$((n + 1)); echo "${hd##*/} pid $REPLY"; fi
    done
    echo "running: $n"
}

# children_snapshot: KIDS[PPID]="PID PID ..." for every process, from one `ps` (one process
# start costs much more than reading /proc, and drop runs while the clock is ticking)
children_snapshot() {
    local pid ppid
    declare -gA KIDS=()
    while read -r pid ppid; do
        KIDS[$ppid]+="$pid "
    done < <(ps -e -o pid=,ppid= 2>/dev/null)
}

# session_pids HOSTDIR -> SESS (array of "PID:START"): the per-connection processes of a running
# host, i.e. the children of its listener that are sshd (or OpenSSH's session helpers).
# Needs children_snapshot.
session_pids() {
    local hd=$1 k
    SESS=()
    host_pid "$hd" || return 1
    for k in ${KIDS[$REPLY]:-}; do
        is_session_exe "$k" && proc_start "$k" && SESS+=("$k:$REPLY")
    done
    return 0
}

cmd_sessions() {
    [ $# -eq 2 ] || usage
    resolve_dir "$1"
    host_index "$2"
    children_snapshot
    session_pids "$DIR/hosts/h$2" || die "h$2 is not running"
    local id p st args
    for id in "${SESS[@]}"; do
        p=${id%%:*} st=${id#*:}
        args=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
        printf '%s %s %s\n' "$p" "$st" "${args% }"
    done
}

# drop: SIGKILL each connection's process and its sshd children (privilege separation: the
# monitor and the process that holds the connection), so the TCP connection ends at once, as
# when a host's network goes away. The listener is left running. Several hosts are dropped
# together, from one snapshot of the process table.
cmd_drop() {
    [ $# -ge 2 ] || usage
    resolve_dir "$1"
    shift
    local i id p st kk n=0 nconn=0
    local -a all=()
    for i in "$@"; do host_index "$i"; done
    children_snapshot
    for i in "$@"; do
        session_pids "$DIR/hosts/h$i" || die "h$i is not running"
        nconn=$((nconn + ${#SESS[@]}))
        for id in "${SESS[@]}"; do
            p=${id%%:*}
            all+=("$id")
            for kk in ${KIDS[$p]:-}; do
                is_session_exe "$kk" && proc_start "$kk" && all+=("$kk:$REPLY")
            done
        done
    done
    for id in "${all[@]}"; do
        p=${id%%:*} st=${id#*:}
        proc_start "$p" && [ "$REPLY" = "$st" ] && is_session_exe "$p" || continue
        kill -KILL "$p" 2>/dev/null && n=$((n + 1))
    done
    say "drop: ${*/#/h}: killed $n sshd process(es) of $nconn connection(s)"
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    down) shift; cmd_down "$@" ;;
    stop-host) shift; cmd_stop_host "$@" ;;
    start-host) shift; cmd_start_host "$@" ;;
    rekey) shift; cmd_rekey "$@" ;;
    status) shift; cmd_status "$@" ;;
    sessions) shift; cmd_sessions "$@" ;;
    drop) shift; cmd_drop "$@" ;;
    remove-user) shift; cmd_remove_user "$@" ;;
    *) usage ;;
esac
