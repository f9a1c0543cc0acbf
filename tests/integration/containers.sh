#!/usr/bin/env bash
# tests/integration/containers.sh - tasks in containers with a real engine (README
# "Containers"): `runtime: container` (podman exec in the app's running container) and
# `runtime: image` (podman run --rm of that container's image), on loopback fleet hosts.
#
#   ONEOFF=/abs/path/build/oneoff bash tests/integration/containers.sh [TEST_NAME...]
#
# `make integration` runs it. It needs podman, runc, conmon and a static busybox
# (scripts/deps.sh installs them) and root (the fleet logs in as root; podman runs rootful).
# Podman reads tests/containers/containers.conf (cgroupfs, runc, no default ulimits) and a
# vfs storage in the suite's temporary directory, through CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF: the machine's /etc/containers is never read or changed. The
# hosts' engine gets the same two variables from each host's shared/.env.
#
# Set-up (once): a root filesystem of busybox and a few applet links, imported twice with
# `podman import` (images A and B: no registry), and one running container per host:
# h1 and h2 run A, h3 runs B, each as user 1000:1000 in /srv/app with APP_MODE and
# APP_SECRET in its environment, without a network (network_of joins its namespace).
#
# Tests:
#   exec_env_user_workdir  runtime: container on h1,h2: the container's env, the task's env
#                  and -e, the container's user and working dir, arguments byte for byte,
#                  the exit code (3), and the release of run.json is the image id
#   exec_ctrl_c    a running task in the container; -e's value is in the task's environment
#                  but on no engine command line; Ctrl-C: exit 130 and, within 15 s, no
#                  process of the task is left in the container
#   exec_timeout, exec_lost_connection  a task that ignores TERM, stopped by --timeout or by
#                  cutting every connection (tests/fleet.sh drop): exit 1, and within 20 s no
#                  process of it is left in either container (TERM, then KILL 5 s later)
#   mixed_images   h1,h2 (A) and h3 (B): refused (exit 4) before anything runs
#   not_running    a container that does not exist: the set-up fails (exit 2), naming it
#   image_run      runtime: image, image_of and network_of: a fresh container of A with the
#                  app's env, user and working dir; exit code; no container left behind
#   image_ctrl_c   the same interrupted by Ctrl-C: exit 130, no process, no container left
#
# Environment: ONEOFF, FL_KEEP=1. About a minute.
set -u
FL_SCRIPT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/$(basename -- "${BASH_SOURCE[0]}")
# shellcheck source=tests/integration/fault_lib.sh
. "$(dirname -- "$FL_SCRIPT")/fault_lib.sh"
# shellcheck disable=SC2034 # FL_* are read by fault_lib.sh

FL_NAME=containers
FL_HOSTS=3
FL_TIMEOUT=120
FL_USER= # root logins: the fleet's podman is rootful
FL_TESTS=(test_exec_env_user_workdir test_exec_ctrl_c test_exec_timeout test_exec_lost_connection
    test_mixed_images test_not_running test_image_run test_image_ctrl_c)

# ---------------------------------------------------------------------------------------------
# set-up and clean-up of the engine (in the runner)

fl_setup() {
    local root=$DIR/ctr i applet
    command -v podman >/dev/null || { echo "$FL_NAME: podman is not installed (scripts/deps.sh)" >&2; exit 2; }
    [ "$(id -u)" = 0 ] || { echo "$FL_NAME: needs root (rootful podman)" >&2; exit 2; }
    mkdir -p "$root/rootfs/bin" "$root/rootfs/tmp" "$root/rootfs/srv/app"
    sed "s|@ROOT@|$root|g" "$FL_ROOT/tests/containers/storage.conf.in" >"$root/storage.conf"
    export CONTAINERS_CONF=$FL_ROOT/tests/containers/containers.conf
    export CONTAINERS_STORAGE_CONF=$root/storage.conf
    export CT_ID=oneoff-it-$$
    cp /bin/busybox "$root/rootfs/bin/busybox"
    if ! "$root/rootfs/bin/busybox" true 2>/dev/null || ldd /bin/busybox >/dev/null 2>&1; then
        echo "$FL_NAME: /bin/busybox is not static (install busybox-static: scripts/deps.sh)" >&2
        exit 2
    fi
    for applet in sh echo sleep cat env id kill pwd ls printf test true false; do
        ln -s busybox "$root/rootfs/bin/$applet"
    done
    chmod 1777 "$root/rootfs/tmp"
    chmod 0777 "$root/rootfs/srv/app"
    tar -C "$root/rootfs" -c . | podman import -q - "localhost/$CT_ID:a" >"$root/image-a" ||
        { echo "$FL_NAME: podman import failed" >&2; exit 2; }
    echo B >"$root/rootfs/B"
    tar -C "$root/rootfs" -c . | podman import -q - "localhost/$CT_ID:b" >"$root/image-b" ||
        { echo "$FL_NAME: podman import failed" >&2; exit 2; }
    for i in 1 2 3; do
        local img=a
        [ "$i" != 3 ] || img=b
        podman run -d -q --name "$CT_ID-h$i" --network none --user 1000:1000 \
            --workdir /srv/app -e APP_MODE=prod -e APP_SECRET=s3cret-h$i \
            "localhost/$CT_ID:$img" sleep 86400 >/dev/null ||
            { echo "$FL_NAME: podman run failed" >&2; exit 2; }
        printf 'CONTAINERS_CONF=%s\nCONTAINERS_STORAGE_CONF=%s\n' "$CONTAINERS_CONF" \
            "$CONTAINERS_STORAGE_CONF" >>"$DIR/hosts/h$i/app/shared/.env"
    done
    podman image inspect -f '{{.Id}}' "localhost/$CT_ID:a" >"$root/id-a"
}

# the containers and images go before the fleet and its directory
eval "$(declare -f fl_cleanup | sed '1s/fl_cleanup/fl_cleanup_fleet/')"
fl_cleanup() {
    local rc=$? c
    if [ -n "${CT_ID:-}" ]; then
        for c in $(podman ps -a -q --filter "name=^$CT_ID-" --filter "name=^oneoff-[0-9]{8}T" 2>/dev/null); do
            podman rm -f -t 0 "$c" >/dev/null 2>&1
        done
        podman rmi -f "localhost/$CT_ID:a" "localhost/$CT_ID:b" >/dev/null 2>&1
    fi
    (exit "$rc")
    fl_cleanup_fleet
}

# ---------------------------------------------------------------------------------------------
# helpers

# ct_stage NAME FIRST LAST KEYS: hosts/NAME.yml, hosts hFIRST..hLAST; KEYS (YAML flow pairs)
# are added to defaults, with @H replaced by the host's number in each host's container
ct_stage() {
    local name=$1 i
    {
        printf 'stage: %s\ndefaults:\n  user: root\n  port: %s\n' "$name" "$PORT"
        printf '  identity: %s/client_key\n  env_file: shared/.env\n  engine: podman\n' "$DIR"
        printf '%s\n' "$4"
        printf 'hosts:\n'
        for ((i = $2; i <= $3; i++)); do
            printf '  h%s: { address: %s, app_dir: %s/hosts/h%s/app, container: %s-h%s }\n' \
                "$i" "$(host_ip "$i")" "$DIR" "$i" "$CT_ID" "$i"
        done
    } >"$DIR/app/hosts/$name.yml"
    on_exit "rm -f -- '$DIR/app/hosts/$name.yml'"
}

expect_line() { grep -qxF -- "$2" "$1" || fail_run "${1##*/}: no line '$2'"; }

# wait_procs_n ERE N SECONDS: until N processes match
wait_procs_n() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [ "$(pgrep -fc -- "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# no_oneoff_containers SECONDS: no container named oneoff-* is left (the engine removes a
# --rm container just after its end)
no_oneoff_containers() {
    local i left
    for ((i = 0; i < $1 * 5; i++)); do
        left=$(podman ps -a --format '{{.Names}}' | grep -cE '^oneoff-[0-9]{8}T') || true
        [ "$left" = 0 ] && return 0
        sleep 0.2
    done
    fail_run "containers left behind: $(podman ps -a --format '{{.Names}} {{.Status}}' | grep -E '^oneoff-[0-9]{8}T')"
}

# ---------------------------------------------------------------------------------------------
# tests

test_exec_env_user_workdir() {
    ct_stage ct 1 2 '  runtime: container'
    fl_task ct-show <<'EOF'
args: any
env: { TASKV: tv }
command: |
  echo "mode=$APP_MODE secret=$APP_SECRET extra=$EXTRA task=$TASKV"
  id -u
  pwd
  printf '%s|' "$@"; echo
  exit 3
EOF
    oo_bg show run ct-show -s ct --log-dir "$W/log" -e 'EXTRA=x y $z "q"' -- 'a b' "c'd" ''
    wait_bg 60
    expect_rc 1 "the task exits 3"
    local i id
    id=$(cat "$DIR/ctr/id-a")
    for i in 1 2; do
        expect_row "h$i" failed 3
        expect_line "$OUT" "h$i | mode=prod secret=s3cret-h$i extra=x y \$z \"q\" task=tv"
        expect_line "$OUT" "h$i | 1000"
        expect_line "$OUT" "h$i | /srv/app"
        expect_line "$OUT" "h$i | a b|c'd||"
    done
    grep -qF "\"$id\"" "$W"/log/*/run.json || fail_run "run.json does not hold the image id $id as the release"
}

test_exec_ctrl_c() {
    new_marker
    ct_stage ct 1 2 '  runtime: container'
    fl_task ct-sleep <<EOF
command: echo started; sleep $MARK
EOF
    oo_bg sleep run ct-sleep -s ct -e "EXTRA=sekrit-$MARK"
    wait_procs_n "^sleep $MARK\$" 2 40 || fail_run "the task does not run in both containers"
    local p e found=0
    for p in $(pgrep -f -- "^sleep $MARK\$"); do
        tr '\0' '\n' <"/proc/$p/environ" | grep -qxF "EXTRA=sekrit-$MARK" && found=$((found + 1))
        tr '\0' '\n' <"/proc/$p/environ" | grep -qxF "APP_MODE=prod" || fail_run "the task lacks the container's env"
    done
    [ "$found" = 2 ] || fail_run "-e's value is not in the task's environment ($found of 2)"
    for p in $(pgrep -x podman) $(pgrep -x conmon); do
        e=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
        [[ "$e" != *"sekrit-$MARK"* ]] || fail_run "a secret on an engine command line: $e"
    done
    kill -INT "$OOPID"
    WAIT_T0=$(now_ms) wait_bg 30
    expect_rc 130 "Ctrl-C"
    wait_procs_n "^sleep $MARK\$" 0 15 ||
        fail_run "the task still runs in the container 15 s after Ctrl-C: $(pgrep -fa -- "sleep $MARK")"
}

# exec_stop HOW: a task in the container stopped by HOW (timeout, lost): nothing is left
exec_stop() {
    new_marker
    ct_stage ct 1 2 '  runtime: container'
    fl_task ct-stop <<EOF
command: echo started; trap '' TERM; sleep $MARK
EOF
    if [ "$1" = timeout ]; then
        oo_bg stop run ct-stop -s ct --timeout 3s
    else
        oo_bg stop run ct-stop -s ct
    fi
    wait_procs_n "^sleep $MARK\$" 2 40 || fail_run "the task does not run in both containers"
    [ "$1" = timeout ] || bash "$FLEET" drop "$DIR" 1 2 >/dev/null 2>&1 || fail "fleet.sh drop failed"
    WAIT_T0=$(now_ms) wait_bg 40
    expect_rc 1 "$1"
    # the task ignores TERM: KILL 5 s after the watchdog saw the channel go
    wait_procs_n "^sleep $MARK\$" 0 20 ||
        fail_run "the task still runs in the container 20 s after the $1: $(pgrep -fa -- "sleep $MARK")"
}
test_exec_timeout() { exec_stop timeout; }
test_exec_lost_connection() { exec_stop lost; }

test_mixed_images() {
    ct_stage ct 1 3 '  runtime: container'
    fl_task ct-ran <<'EOF'
command: echo ran
EOF
    oo_bg mixed run ct-ran -s ct
    wait_bg 60
    expect_rc 4 "two images in one stage"
    [ "$(count_lines "$OUT" '\| ran$')" = 0 ] || fail_run "the task ran somewhere"
    grep -q "$(cut -c1-12 "$DIR/ctr/id-a")" "$OUT" "$ERR" || fail_run "the refusal does not show the image ids"
}

test_not_running() {
    ct_stage ct 1 1 '  runtime: container'
    sed -i "s/container: $CT_ID-h1/container: $CT_ID-nosuch/" "$DIR/app/hosts/ct.yml"
    fl_task ct-ran <<'EOF'
command: echo ran
EOF
    oo_bg missing run ct-ran -s ct
    wait_bg 60
    expect_rc 2 "no such container"
    grep -q "cannot inspect container $CT_ID-nosuch" "$OUT" "$ERR" || fail_run "the failure does not name the container"
}

test_image_run() {
    ct_stage ct 1 1 "  runtime: image
  image_of: $CT_ID-h1
  network_of: $CT_ID-h1"
    fl_task ct-fresh <<'EOF'
command: |
  echo "mode=$APP_MODE secret=$APP_SECRET extra=$EXTRA"
  id -u
  pwd
  [ -e /srv/app/mark ] && echo old || echo fresh
  : >/srv/app/mark
  exit 5
EOF
    oo_bg fresh run ct-fresh -s ct -e EXTRA=e1
    wait_bg 60
    expect_rc 1 "the task exits 5"
    expect_row h1 failed 5
    expect_line "$OUT" "h1 | mode=prod secret=s3cret-h1 extra=e1"
    expect_line "$OUT" "h1 | 1000"
    expect_line "$OUT" "h1 | /srv/app"
    expect_line "$OUT" "h1 | fresh"
    no_oneoff_containers 10
    # the next run is a fresh container again
    oo_bg fresh2 run ct-fresh -s ct -e EXTRA=e2
    wait_bg 60
    expect_line "$OUT" "h1 | fresh"
    no_oneoff_containers 10
}

test_image_ctrl_c() {
    new_marker
    ct_stage ct 1 2 "  runtime: image
  image_of: $CT_ID-h1"
    fl_task ct-isleep <<EOF
command: echo started; sleep $MARK
EOF
    oo_bg isleep run ct-isleep -s ct
    wait_procs_n "^sleep $MARK\$" 2 40 || fail_run "the task does not run in two fresh containers"
    [ "$(podman ps --format '{{.Names}}' | grep -cE '^oneoff-[0-9]{8}T.*-h[12]$')" = 2 ] ||
        fail_run "no container oneoff-RUN-HOST per host: $(podman ps --format '{{.Names}}')"
    kill -INT "$OOPID"
    WAIT_T0=$(now_ms) wait_bg 30
    expect_rc 130 "Ctrl-C"
    wait_procs_n "^sleep $MARK\$" 0 15 ||
        fail_run "the task still runs 15 s after Ctrl-C: $(pgrep -fa -- "sleep $MARK")"
    no_oneoff_containers 15
}

fl_main "$@"
