#!/usr/bin/env bash
# bench.sh - oneoff against a parallel OpenSSH baseline on a loopback fleet.
#
# Starts 200 sshd hosts on 127.0.0.11..210 (tests/fleet.sh), then measures,
# as medians of REPS runs (default 3):
#   true on 10, 50, 100, 200 hosts   oneoff exec -- true
#   seq on 20 hosts                  oneoff exec -- seq 1 200000 (1.3 MB/host)
#   1000 hosts                       200 addresses, each listed 5 times
# with wall time, the client's CPU (user+sys) and peak RSS, beside
# `xargs -P 64 ssh` with ControlMaster off and KexAlgorithms
# curve25519-sha256 (the key exchange libssh uses). Output lines are
# checked: every host's lines must arrive whole and complete.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
ONEOFF=${ONEOFF:-$ROOT/build/oneoff}
REPS=${REPS:-3}
PAR=64
FLEET=$(mktemp -d /tmp/oneoff-bench.XXXXXX)
TIME=/usr/bin/time

cleanup() {
    bash "$ROOT/tests/fleet.sh" down "$FLEET" >/dev/null 2>&1 || true
    rm -rf "$FLEET"
}
trap cleanup EXIT

bash "$ROOT/tests/fleet.sh" up "$FLEET" 200 bench >/dev/null
PORT=$(cat "$FLEET/port")
APP=$FLEET/app
mkdir -p "$APP/tasks"

# inventory NAME N [COPIES]: the first N hosts, each listed COPIES times
inventory() {
    local name=$1 n=$2 copies=${3:-1} i c
    {
        printf 'stage: %s\ndefaults:\n  user: root\n  port: %s\n' "$name" "$PORT"
        printf '  identity: %s/client_key\n  env_file: shared/.env\nhosts:\n' "$FLEET"
        for c in $(seq 1 "$copies"); do
            for i in $(seq 1 "$n"); do
                printf '  h%s-%s: { address: 127.0.0.%s, app_dir: %s/hosts/h%s/app }\n' \
                    "$i" "$c" $((10 + i)) "$FLEET" "$i"
            done
        done
    } >"$APP/hosts/$name.yml"
}

for n in 10 20 50 100 200; do inventory "n$n" "$n"; done
inventory n1000 200 5

SSHCFG=$FLEET/bench_ssh_config
{ printf 'Host *\n    KexAlgorithms curve25519-sha256\n'; cat "$FLEET/ssh_config"; } >"$SSHCFG"

# measure OUTFILE CMD...: prints "wall cpu maxrss_kb"
measure() {
    local out=$1; shift
    "$TIME" -f '%e %U %S %M' -o "$FLEET/time.out" "$@" >"$out" 2>"$out.err" || true
    awk '{printf "%.2f %.2f %d\n", $1, $2 + $3, $4}' "$FLEET/time.out"
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR + 1) / 2)]}'; }

oneoff_run() { # N CMD...
    local n=$1; shift
    measure "$FLEET/o.out" "$ONEOFF" -C "$APP" exec -s "n$n" \
        --known-hosts "$FLEET/known_hosts" -- "$@"
}

ssh_run() { # N CMD...: xargs starts one ssh per host, PAR at a time
    local n=$1; shift
    seq 1 "$n" | sed 's/^/h/' >"$FLEET/hostlist"
    measure "$FLEET/s.out" xargs -a "$FLEET/hostlist" -P "$PAR" -I{} \
        ssh -F "$SSHCFG" -o ControlMaster=no {} "$@"
}

printf '%-24s %8s %8s %9s   %8s %8s   %s\n' case "wall s" "cpu s" "rss MB" \
    "ssh wall" "ssh cpu" "oneoff/ssh wall"
row() { # label n cmd...
    local label=$1 n=$2; shift 2
    local w=() c=() m=() sw=() sc=() r
    for r in $(seq 1 "$REPS"); do
        read -r a b d < <(oneoff_run "$n" "$@")
        w+=("$a"); c+=("$b"); m+=("$d")
        check_ok "$n" "$@"
        read -r a b d < <(ssh_run "$n" "$@")
        sw+=("$a"); sc+=("$b")
    done
    local mw mc mm msw msc
    mw=$(printf '%s\n' "${w[@]}" | median); mc=$(printf '%s\n' "${c[@]}" | median)
    mm=$(printf '%s\n' "${m[@]}" | median)
    msw=$(printf '%s\n' "${sw[@]}" | median); msc=$(printf '%s\n' "${sc[@]}" | median)
    awk -v l="$label" -v w="$mw" -v c="$mc" -v m="$mm" -v sw="$msw" \
        -v sc="$msc" -v n="$n" 'BEGIN {
        printf "%-24s %8s %8s %9.1f   %8s %8s   %.2fx  (%.2f ms cpu/host)\n",
            l, w, c, m / 1024, sw, sc, w / sw, c * 1000 / n }'
}

check_ok() { # n cmd...: every host ok, and for seq every line intact
    local n=$1; shift
    grep -q "^$n ok, 0 failed, 0 unreachable" "$FLEET/o.out" || {
        echo "bench: oneoff did not succeed on $n hosts:" >&2
        tail -n 5 "$FLEET/o.out" "$FLEET/o.out.err" >&2
        exit 1
    }
    if [ "$1" = seq ]; then
        local want=$(( $3 * n )) got
        got=$(grep -cE '^h[0-9]+-1 +\| [0-9]+$' "$FLEET/o.out")
        [ "$got" = "$want" ] || { echo "bench: $got of $want lines intact" >&2; exit 1; }
        # each host's lines in order and complete: sum per host = n(n+1)/2
        awk -F' [|] ' '/^h[0-9]+-1 +\| [0-9]+$/ {split($1, a, " "); s[a[1]] += $2}
            END {for (h in s) if (s[h] != '"$(( $3 * ($3 + 1) / 2 ))"') {print "bad sum " h; exit 1}}' \
            "$FLEET/o.out"
    fi
}

for n in 10 50 100 200; do row "true, $n hosts" "$n" true; done
row "seq 1 200000, 20 hosts" 20 seq 1 200000

read -r a b d < <(measure "$FLEET/o.out" "$ONEOFF" -C "$APP" exec -s n1000 \
    --known-hosts "$FLEET/known_hosts" -- true)
ok=$(grep -oE '^[0-9]+ ok' "$FLEET/o.out" | cut -d' ' -f1)
awk -v w="$a" -v c="$b" -v m="$d" -v ok="${ok:-0}" 'BEGIN {
    printf "%-24s %8s %8s %9.1f   %s of 1000 hosts ok (default settings)\n",
        "true, 1000 hosts", w, c, m / 1024, ok }'
