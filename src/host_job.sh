# oneoff host script, detached runs: sent after the data prelude and before
# src/host_script.sh for `run --detach` and for `status`, `logs` and
# `cancel`. The set-up, the report and the client's "go" are the same as
# for every run; after "go" host_script.sh calls oneoff_job_main, which
# never returns.
# shellcheck shell=sh disable=SC2154 # the prelude sets every oneoff_* input
#
# With it, the prelude also holds:
#     oneoff_job       detach | status | logs | follow | cancel
#     oneoff_job_run   status, logs, cancel: the detached run's id
#     oneoff_host      the host's inventory name (history lines)
#     oneoff_job_meta  detach: the client's part of the history start line,
#                      JSON members ("stage":...,"operator":...)
#
# A detached run lives in app_dir/shared/.oneoff/runs/<run id>/:
#     out, err   the task's stdout and stderr, as written (byte for byte)
#     pid        the job's pid, which is also its process group and session
#     status     written once the task ended: "OUTCOME EXIT SIGNAL"
#                (succeeded 0 -, failed 3 -, signalled - TERM,
#                cancelled - TERM); the end line is in history.jsonl then
#     cancel     created by cancel before it signals the job
# detach appends the start line to app_dir/shared/.oneoff/history.jsonl
# (kind "detached", in the agreed format, one write), then starts the job
# in a session of its own (setsid; under `systemd-run --scope` in a unit
# oneoff-<run id> where systemd is PID 1 and the login is root, so that
# logind's clean-up of the SSH session spares it; other users need
# KillUserProcesses=no, logind's default), with stdin /dev/null, and exits
# 0 at once. The
# job inherits the task's lock (fd 9): the lock is held for its whole life.
# When the task ends the job appends the end line and writes status.
# Footprint: detach runs date, mkdir and setsid (and systemd-run); the job
# is one shell, the task's /bin/sh and one date at its end.

# oneoff_json STRING: sets oneoff_j to STRING as a JSON string; control
# characters become '?'.
oneoff_json() {
    oneoff_s=$1
    case $oneoff_s in
    *[\"\\[:cntrl:]]*) ;;
    *)
        oneoff_j="\"$oneoff_s\""
        return
        ;;
    esac
    oneoff_j=
    while [ -n "$oneoff_s" ]; do
        oneoff_c=${oneoff_s%"${oneoff_s#?}"}
        oneoff_s=${oneoff_s#?}
        case $oneoff_c in
        \" | \\) oneoff_j=$oneoff_j\\$oneoff_c ;;
        [[:cntrl:]]) oneoff_j=$oneoff_j'?' ;;
        *) oneoff_j=$oneoff_j$oneoff_c ;;
        esac
    done
    oneoff_j="\"$oneoff_j\""
}

# The job: sh -c JOB oneoff-job DIR HISTORY HOST RUN T0 COMMAND ARG...
# shellcheck disable=SC2016 # JOB expands in the job's shell
oneoff_job_text='d=$1 h=$2 n=$3 id=$4 t0=$5 c=$6
shift 6
printf "%s\n" "$$" >"$d/pid"
trap : HUP INT TERM
/bin/sh -c "$c" oneoff "$@" </dev/null
r=$?
trap - HUP INT TERM
o=failed x=$r s=null
[ "$r" != 0 ] || o=succeeded
if [ "$r" -gt 128 ]; then
o=signalled x=null
s=$(kill -l "$((r - 128))" 2>/dev/null) || s=$((r - 128))
s="\"$s\""
fi
[ ! -e "$d/cancel" ] || o=cancelled
t=$(date -u "+%s%3N %Y-%m-%dT%H:%M:%S.%3NZ")
printf "{\"v\":1,\"event\":\"end\",\"run\":\"%s\",\"host\":\"%s\",\"at\":\"%s\",\"outcome\":\"%s\",\"exit\":%s,\"signal\":%s,\"duration_ms\":%s}\n" "$id" "$n" "${t#* }" "$o" "$x" "$s" "$((${t%% *} - t0))" >>"$h"
e=$x g=${s#\"}
g=${g%\"}
[ "$e" != null ] || e=-
[ "$g" != null ] || g=-
printf "%s %s %s\n" "$o" "$e" "$g" >"$d/status"
exit "$r"'

oneoff_job_detach() {
    oneoff_d=$oneoff_job_dir/$oneoff_run_id
    PATH=$oneoff_path mkdir -p -- "$oneoff_d" ||
        oneoff_fail "cannot create $oneoff_d"
    oneoff_t=$(PATH=$oneoff_path date -u '+%s%3N %Y-%m-%dT%H:%M:%S.%3NZ')
    oneoff_json "$PWD"
    oneoff_l="{\"v\":1,\"event\":\"start\",\"run\":\"$oneoff_run_id\",\"kind\":\"detached\",\"host\":\"$oneoff_host\",$oneoff_job_meta,\"release\":$oneoff_j"
    oneoff_json "$oneoff_r"
    [ -n "$oneoff_r" ] || oneoff_j=null
    printf '%s\n' "$oneoff_l,\"revision\":$oneoff_j,\"at\":\"${oneoff_t#* }\"}" \
        >>"$oneoff_job_hist" || oneoff_fail "cannot write $oneoff_job_hist"
    set -- /bin/sh -c "$oneoff_job_text" oneoff-job "$oneoff_d" \
        "$oneoff_job_hist" "$oneoff_host" "$oneoff_run_id" "${oneoff_t%% *}" \
        "$oneoff_cmd" "$@"
    # (the system manager without polkit: root, who can write there)
    if [ -d /run/systemd/system ] && [ -w /run/systemd/system ] &&
        PATH=$oneoff_path command -v systemd-run >/dev/null 2>&1; then
        set -- systemd-run --scope --quiet --collect \
            --unit="oneoff-$oneoff_run_id" -- "$@"
    fi
    PATH=$oneoff_path setsid "$@" </dev/null >"$oneoff_d/out" 2>"$oneoff_d/err" &
    printf 'detached: run %s, output in %s\n' "$oneoff_run_id" "$oneoff_d"
    exit 0
}

# oneoff_job_state: sets oneoff_st (status line, or empty) and oneoff_pid.
oneoff_job_state() {
    oneoff_st='' oneoff_pid=''
    [ ! -f "$oneoff_d/status" ] || IFS= read -r oneoff_st <"$oneoff_d/status"
    [ ! -f "$oneoff_d/pid" ] || IFS= read -r oneoff_pid <"$oneoff_d/pid"
    case $oneoff_pid in '' | *[!0-9]*) oneoff_pid= ;; *) ;; esac
}

oneoff_job_cancel() {
    oneoff_job_state
    if [ -n "$oneoff_st" ]; then
        printf 'already ended: %s\n' "$oneoff_st"
        exit 0
    fi
    [ -n "$oneoff_pid" ] || oneoff_fail "run $oneoff_job_run has no pid yet"
    : >"$oneoff_d/cancel"
    kill -TERM "-$oneoff_pid" 2>/dev/null
    oneoff_i=0
    while [ ! -f "$oneoff_d/status" ] && [ "$oneoff_i" -lt 25 ]; do
        oneoff_pause
        oneoff_i=$((oneoff_i + 1))
    done
    if [ ! -f "$oneoff_d/status" ]; then
        kill -KILL "-$oneoff_pid" 2>/dev/null
        oneoff_pause
    fi
    if [ ! -f "$oneoff_d/status" ]; then
        # the job itself was killed before it could say so
        oneoff_t=$(PATH=$oneoff_path date -u '+%Y-%m-%dT%H:%M:%S.%3NZ')
        printf '{"v":1,"event":"end","run":"%s","host":"%s","at":"%s","outcome":"cancelled","exit":null,"signal":"KILL","duration_ms":null}\n' \
            "$oneoff_job_run" "$oneoff_host" "$oneoff_t" >>"$oneoff_job_hist"
        printf 'cancelled - KILL\n' >"$oneoff_d/status"
    fi
    oneoff_job_state
    printf 'cancelled: %s\n' "$oneoff_st"
    exit 0
}

# oneoff_job_logs: the output from its first byte, stdout to stdout and
# stderr to stderr; follow: then what comes, until the job ends.
oneoff_job_logs() {
    oneoff_job_state
    if [ "$oneoff_job" = logs ] || [ -n "$oneoff_st" ] || [ -z "$oneoff_pid" ]; then
        PATH=$oneoff_path cat -- "$oneoff_d/err" >&2
        PATH=$oneoff_path exec cat -- "$oneoff_d/out"
    fi
    PATH=$oneoff_path tail -c +1 --pid="$oneoff_pid" -f -- "$oneoff_d/err" >&2 &
    PATH=$oneoff_path tail -c +1 --pid="$oneoff_pid" -f -- "$oneoff_d/out"
    wait
    exit 0
}

oneoff_job_main() {
    oneoff_job_dir=$oneoff_app/shared/.oneoff/runs
    oneoff_job_hist=$oneoff_app/shared/.oneoff/history.jsonl
    [ "$oneoff_job" != detach ] || oneoff_job_detach "$@"
    case $oneoff_job_run in
    '' | */* | .*) oneoff_fail "not a run id: $oneoff_job_run" ;;
    *) ;;
    esac
    oneoff_d=$oneoff_job_dir/$oneoff_job_run
    [ -d "$oneoff_d" ] || oneoff_fail "no detached run $oneoff_job_run here"
    case $oneoff_job in
    cancel) oneoff_job_cancel ;;
    logs | follow) oneoff_job_logs ;;
    *) ;;
    esac
    oneoff_job_state
    if [ -n "$oneoff_st" ]; then
        printf 'finished: %s\n' "$oneoff_st"
    elif [ -n "$oneoff_pid" ] && kill -0 "$oneoff_pid" 2>/dev/null; then
        printf 'running: pid %s\n' "$oneoff_pid"
    else
        printf 'lost: the job ended without a status\n'
    fi
    exit 0
}
