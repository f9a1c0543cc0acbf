# oneoff host script: what every host runs, in one shell, for one run.
# shellcheck disable=SC2154 # the prelude sets every oneoff_* input
#
# oneoff sends each host a short command line and, on its standard input,
# { PRELUDE SCRIPT exit }: the line's BOOT reads that whole before any of
# it runs (script_compose_boot() in src/host_script.c says how each shell
# does), so what the client sends later (the word, the task's input) is
# left for this script's own reads:
#     oneoff_b='BOOT'; set -- 'ARG'...; if [ "$0" = sh ] &&
#         [ /proc/$$/exe -ef /bin/sh ]; then eval "$oneoff_b";
#         else exec /bin/sh -c "$oneoff_b" oneoff "$@"; fi
# (a login shell that is /bin/sh itself runs BOOT without starting
# another: one exec less on the host; its $0 stays "sh"), or with become
#     exec sudo -n -u USER -- /bin/sh -c 'BOOT' oneoff 'ARG'...
# A console's task (on a terminal) gets it all in the line instead:
#     exec [sudo -n -u USER --] /bin/sh -c 'PRELUDE SCRIPT' oneoff 'ARG'...
# SCRIPT is this file (embedded into oneoff at build time) and PRELUDE
# is data only, single-quoted assignments written by src/host_script.c:
#     oneoff_mode          run | check | history | note
#     oneoff_note          note: the line to append to the history
#     oneoff_nonce         32 hex digits, new for every run: frames the report
#     oneoff_run_id        YYYYMMDDTHHMMSSZ-xxxxxx (older ids sort first)
#     oneoff_label         what runs where, for a reader of --dry-run
#     oneoff_app_dir       the app's folder (cd -P)
#     oneoff_release       the release, relative to app_dir
#     oneoff_revision_file relative to the release
#     oneoff_env_files     N; oneoff_env_file_1..N relative to app_dir or absolute
#     oneoff_env           N; oneoff_env_name_I, oneoff_env_value_I: exported
#     oneoff_task_file     tasks/NAME.yml, its copy in the release; '' ad hoc
#     oneoff_lock          the task's name when it takes its lock, else ''
#     oneoff_lock_holder   the line written into the lock file: run ID ...
#     oneoff_lock_wait     seconds to wait for a lock held by an older run
#     oneoff_check_locks   1: report every held task lock (oneoff check)
#     oneoff_once          run: a task digest whose runs the report
#                          carries from the history ('' : none)
#     oneoff_cmd           the task's command, evaluated in a subshell
#     oneoff_hs, oneoff_he run: the history's start line but its tail, and
#                          the opening of its end line (see History)
#     oneoff_pty           1: a console, on a terminal (see Consoles)
#     oneoff_stdin         1: the task gets the client's input (see Input)
#     oneoff_runtime ...   only where the task runs in a container: then
#                          src/host_runtime.sh comes before this script
#     oneoff_job ...       only for a detached run and its queries: then
#                          src/host_job.sh comes before this script
# The task's arguments are this shell's positional parameters.
#
# Protocol, the same over SSH and for local hosts:
#   1. Set-up: enter app_dir (cd -P), check that every env file is readable,
#      source them with `set -a` (their stdout goes to stderr, so nothing
#      they print can pass for the report), enter the release (cd -P). A
#      failure prints "oneoff: ..." on stderr and exits 125.
#   2. The report on stdout, one line per frame:
#          <nonce> <key> <length> <length bytes>\n
#      A value holding newlines is sent as several frames: "<key>+" for
#      each piece followed by a newline, then "<key>" for the last piece.
#      Keys: release (absolute, resolved), revision (first line of the
#      revision file), task (the release's task file when at most 4 KiB,
#      its exact bytes) or task_sha256 (hex digest of a larger one, or
#      "none" when there is none, "unknown" when it cannot be read), lock
#      ("free", or "held " and the holder's line), locked (check: a held
#      lock, "NAME\nHOLDER"), history ("none", "read", "unreadable", or
#      "written" in note mode)
#      then hist (one line of the history file each: every line in
#      history mode, with oneoff_once the start lines naming that digest
#      and the end lines of their runs; hist_tail for a last line without
#      its newline), and last ready (empty). Lengths
#      count bytes
#      (LC_ALL=C, for the report only). Bytes outside frames are noise from
#      the login shell or from processes it left behind: the client keeps
#      them apart, and cannot be fooled by them, since they do not know the
#      nonce. Frames leave in writes of whole frames of at most 4 KiB
#      together (PIPE_BUF; bash even writes a line at a time), so a stray
#      process writing at the same moment lands between frames, never
#      inside one; the usual report is one write, one wake-up of sshd.
#   3. run: wait for the client's word on stdin. "go", followed by two
#      lines (the tail of the history's start line, and the client's clock in
#      ms since the epoch), runs the task in a subshell of this shell, in the
#      release reported; anything else, or EOF, exits 0 and runs nothing.
#      check: wait for EOF on stdin and exit 0. history: the report comes
#      right after entering app_dir (no env files, no release) and the script
#      exits 0. note: right after entering app_dir, oneoff_note (a line the
#      client composed: a promotion gate skipped by a run of the next stage)
#      is appended to the history as any line (see History), the report is
#      history "written" and ready, and the script exits 0; a line it cannot
#      append fails as a set-up does (125, no report). No process is started
#      unless shared/.oneoff is missing (one mkdir).
#
# History. Before the task starts, the client's start line is appended to
# app_dir/shared/.oneoff/history.jsonl: its head comes in the prelude, its
# tail (release, revision, time: known after the report) after "go", kept
# short since a shell reads its standard input one byte per read(2); after it
# ends, an end line: the client's opening, then "at", "outcome" (succeeded,
# failed, signalled, or interrupted when this shell was told to stop), "exit",
# "signal" and "duration_ms". The time is the client's, as in the start line:
# "at" is the client's clock at "go" plus duration_ms, which this host
# measures from "go" to the end on its own monotonic clock (/proc/uptime, 10
# ms steps; where there is none, `date` gives "at" and the host's clock
# against the client's gives the duration). Each line is one printf to a file
# opened with >> (O_APPEND), shorter than 4 KiB: one write(2), which the
# kernel never interleaves with another writer's; a task with a lock also
# writes under it. Each line is preceded by a newline (readers skip empty
# lines), so that a line torn by a crash ends there and the next one stays
# whole. A start line that cannot be written (a `become` user without write
# access to shared/.oneoff) is said on stderr and the task runs, unrecorded;
# for a `once` task, whose guarantee rests on the history, it stops the run on
# this host (exit 125). A host or a shell that dies leaves the start line
# alone: "started, never ended".
#
# Locks. With oneoff_lock, the task's lock is an flock on
# app_dir/shared/.oneoff/locks/NAME.lock held on fd 9, which the task
# inherits: it is held exactly as long as the task's processes live, and no
# stale lock file ever needs cleaning. run takes it and keeps it from the
# report on; check only tests it. When two runs want the same locks on several
# hosts at once, the older run id wins: a run that finds the lock held by a
# younger run waits for it (up to 20 s plus oneoff_lock_wait), since the
# client of the younger run refuses it as soon as one of its hosts reports a
# held lock, which closes its channels and frees its locks; a run that finds
# it held by an older run reports it held (or waits oneoff_lock_wait seconds).
# So of two runs started together one always goes on, and neither waits for
# the other for long.
#
# Stops. The task runs as a foreground child of this shell, in its process
# group; stdin is /dev/null for the task. (Not a background job: a shell
# starts those with SIGINT and SIGQUIT ignored, for good, in the task and all
# it starts.) The child is a subshell that evaluates the command, as /bin/sh
# -c would, without a second exec of the shell (and a command that is one
# plain simple command, `bin/rails db:migrate` or exec's quoted words, is run
# by this shell itself, its program this shell's child, without the subshell's
# fork: see oneoff_simple): $0 is "oneoff", the arguments are "$@", caught
# signals are back to their defaults and ignored ones stay ignored, as for
# /bin/sh -c; unlike it, the script's own variables and functions (all named
# oneoff_*) are visible. In a subshell $$ and $PPID would be this shell's and
# its parent's, so a command that says $$ or PPID (to signal itself, say) is
# run by /bin/sh -c after all. Beside it a watchdog reads the channel's stdin:
# when that reaches EOF (the client stops the task, closes the channel, or the
# connection drops) it sends TERM to the whole process group, then KILL five
# seconds later. The watchdog ignores every signal the group may get (sshd's
# SSH "signal" request is a killpg() on the group), so it outlives a TERM
# meant for the task, and a task that ignores TERM still ends. This shell
# catches TERM, INT and HUP (caught, not ignored, so the task does not inherit
# an ignored signal) to outlive them and report how the task ended: its exit
# status, or its death by signal N re-raised, so that SSH reports exit-signal.
# A process that leaves the group (setsid) is out of the watchdog's reach.
# After a stop, the watchdog's sleep may outlive this shell by up to the five
# seconds; it holds nothing.
#
# Consoles (oneoff_pty). The channel has a terminal, which is this shell's
# stdin and stdout. Until "go" it neither echoes (so the client's word does
# not come back as output) nor turns newlines into CR LF (the report's frames
# stay lines): stty -echo -onlcr at the start, stty echo onlcr after "go"; the
# word is read in canonical mode. Then the task runs in the foreground on the
# terminal, with no watchdog: HUP keeps its default, so when the connection
# goes and sshd hangs the terminal up, this shell (the session's leader) dies
# and the kernel sends HUP to the terminal's foreground job, as for any SSH
# login. This shell catches INT, QUIT, TERM and TSTP, which Ctrl-C, Ctrl-\ and
# Ctrl-Z send to the foreground group, to outlive them and report how the task
# ended. Two stty are the whole extra cost.
#
# Input (oneoff_stdin). The client sends the task's input after "go" in
# frames, "<length>\n" and that many bytes, then "0\n" at its end; EOF (or a
# lost connection) still means stop. The watchdog copies each frame (up to 1
# MiB) with one `dd bs=N count=1 iflag=fullblock` (exactly N bytes, GNU and
# busybox alike; busybox's head -c reads ahead) into a fifo that is the
# task's stdin (mkfifo, removed once both ends are open), and closes it at
# "0". If the task stops reading, one cat drains the rest. Without input
# none of this runs and the task's stdin is /dev/null.
#
# Footprint: every process started here is paid on every host. Normally this
# shell forks once (the watchdog), runs a plain simple command itself (its
# program by vfork and exec), anything else in a forked subshell, and execs
# nothing ($$ in a command adds /bin/sh); a task with a lock adds flock. Files
# and the clock (/proc/uptime) are read with `read`, with no command
# substitution; sleep, mkdir, date and sha256sum run only on rare paths, with
# the PATH this shell started with.
#
# Parts. Functions only some runs call sit between "#@part NAME" and "#@end";
# src/host_script.c sends a host only the parts its prelude asks for: task
# (a task's file), lock, held (check's held locks), history (history mode, a
# 'once' task), input. A console's script, in its command line, too.

oneoff_nl='
'
oneoff_path=$PATH

oneoff_fail() {
    oneoff_flush
    printf 'oneoff: %s\n' "$1" >&2
    exit 125
}

# oneoff_put KEY VALUE: one frame into oneoff_rep, written (oneoff_flush: at
# "ready", before an error) in pieces of whole frames of at most 4 KiB.
oneoff_rep=
oneoff_put() {
    oneoff_f="$oneoff_nonce $1 ${#2} $2$oneoff_nl"
    [ "$((${#oneoff_rep} + ${#oneoff_f}))" -le 4096 ] || oneoff_flush
    oneoff_rep=$oneoff_rep$oneoff_f
}
oneoff_flush() {
    [ -z "$oneoff_rep" ] || printf '%s' "$oneoff_rep"
    oneoff_rep=
}

# oneoff_frame KEY VALUE: the frames of one value of the report.
oneoff_frame() {
    oneoff_v=$2
    while :; do
        case $oneoff_v in
        *"$oneoff_nl"*) ;;
        *) break ;;
        esac
        oneoff_p=${oneoff_v%%"$oneoff_nl"*}
        oneoff_v=${oneoff_v#*"$oneoff_nl"}
        oneoff_put "$1+" "$oneoff_p"
    done
    oneoff_put "$1" "$oneoff_v"
    [ "$1" != ready ] || oneoff_flush
}

oneoff_pause() {
    sleep 0.2 2>/dev/null || sleep 1
}

#@part task
oneoff_report_task() {
    if [ ! -f "$oneoff_task_file" ]; then
        oneoff_frame task_sha256 none
        return
    fi
    if [ ! -r "$oneoff_task_file" ]; then
        oneoff_frame task_sha256 unknown
        return
    fi
    # A frame a line, then a digest in their place if the file is over 4 KiB
    # (dash reads a byte a syscall, 2 ms a KiB; sha256sum's start, 10 ms).
    oneoff_n=0 oneoff_l=''
    while IFS= read -r oneoff_l; do
        oneoff_n=$((oneoff_n + ${#oneoff_l} + 1))
        [ "$oneoff_n" -le 4096 ] || break
        oneoff_put task+ "$oneoff_l"
        oneoff_l=
    done <"$oneoff_task_file"
    # read leaves an unterminated last line in oneoff_l
    if [ "$((oneoff_n + ${#oneoff_l}))" -le 4096 ]; then
        oneoff_put task "$oneoff_l"
        return
    fi
    oneoff_c=
    # shellcheck disable=SC2312
    oneoff_c=$(PATH=$oneoff_path sha256sum <"$oneoff_task_file" 2>/dev/null)
    oneoff_c=${oneoff_c%% *}
    case ${#oneoff_c}:$oneoff_c in
    64:*[!0-9a-f]*) oneoff_frame task_sha256 unknown ;;
    64:*) oneoff_frame task_sha256 "$oneoff_c" ;;
    *) oneoff_frame task_sha256 unknown ;;
    esac
}
#@end

#@part lock
# oneoff_id_key ID: sets oneoff_k1 and oneoff_k2, numbers that order run
# ids by age; fails for anything that is not a run id.
oneoff_id_key() {
    case $1 in
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
    *) return 1 ;;
    esac
    oneoff_k=${1%%T*}${1#*T}
    oneoff_k1=1${oneoff_k%%Z*}
    oneoff_k2=0x${1##*-}
}

# oneoff_younger LINE: true when the holder's line names a run younger than
# this one.
oneoff_younger() {
    oneoff_id=${1#run }
    [ "$oneoff_id" != "$1" ] || return 1
    oneoff_id=${oneoff_id%% *}
    oneoff_id_key "$oneoff_run_id" || return 1
    oneoff_m1=$oneoff_k1 oneoff_m2=$oneoff_k2
    oneoff_id_key "$oneoff_id" || return 1
    [ "$((oneoff_k1 > oneoff_m1 || (oneoff_k1 == oneoff_m1 && oneoff_k2 > oneoff_m2)))" = 1 ]
}

# oneoff_lock_take: takes the lock on fd 9 for run (see Locks above).
oneoff_lock_take() {
    oneoff_yield=
    flock -n 9 && return 0
    # A new holder may not have written its line yet, and a check holds
    # the lock for an instant: look again a moment later.
    oneoff_pause
    flock -n 9 && return 0
    oneoff_h=
    IFS= read -r oneoff_h <"$oneoff_lock_file"
    if oneoff_younger "$oneoff_h"; then
        # A younger run yields once its client sees our lock elsewhere; one
        # whose task runs (holder line ends in " (running)") does not: then
        # this run does not wait either, unless told to (--wait-lock).
        oneoff_t=0
        while [ "$oneoff_t" -lt 20 ]; do
            flock -w 1 9 && return 0
            oneoff_t=$((oneoff_t + 1))
            oneoff_h=
            IFS= read -r oneoff_h <"$oneoff_lock_file"
            case $oneoff_h in *' (running)') break ;; *) ;; esac
        done
        [ "$oneoff_lock_wait" -gt 0 ] && flock -w "$oneoff_lock_wait" 9 &&
            return 0
        return 1
    fi
    [ "$oneoff_lock_wait" -gt 0 ] || return 1
    case $oneoff_h in
    *' (running)') ;;
    'run '*)
        # An older run still in its preflight may be waiting for a lock
        # this run holds on another host: waiting here could deadlock.
        # Yield: the client releases every lock and tries again.
        oneoff_id=${oneoff_h#run }
        oneoff_id=${oneoff_id%% *}
        if oneoff_id_key "$oneoff_id"; then
            oneoff_yield=1
            return 1
        fi
        ;;
    *) ;;
    esac
    flock -w "$oneoff_lock_wait" 9 && return 0
    return 1
}

oneoff_report_lock() {
    command -v flock >/dev/null 2>&1 ||
        oneoff_fail 'flock (util-linux) is not installed'
    oneoff_lock_dir=$oneoff_app/shared/.oneoff/locks
    [ -d "$oneoff_lock_dir" ] || mkdir -p -- "$oneoff_lock_dir" 2>/dev/null ||
        oneoff_fail "cannot create $oneoff_lock_dir"
    oneoff_lock_file=$oneoff_lock_dir/$oneoff_lock.lock
    { command exec 9>>"$oneoff_lock_file"; } 2>/dev/null ||
        oneoff_fail "cannot open the lock $oneoff_lock_file"
    oneoff_locked=
    if [ "$oneoff_mode" = run ]; then
        oneoff_lock_take && oneoff_locked=1
    elif [ "$oneoff_lock_wait" -gt 0 ]; then
        flock -w "$oneoff_lock_wait" 9 && oneoff_locked=1
    else
        flock -n 9 && oneoff_locked=1
    fi
    if [ -n "$oneoff_locked" ] && [ "$oneoff_mode" = run ]; then
        printf '%s\n' "$oneoff_lock_holder" >"$oneoff_lock_file"
        oneoff_frame lock free
        return
    fi
    if [ -z "$oneoff_locked" ]; then
        oneoff_h=
        IFS= read -r oneoff_h <"$oneoff_lock_file"
        if [ -n "${oneoff_yield-}" ]; then
            oneoff_frame lock "yield $oneoff_h"
        else
            oneoff_frame lock "held $oneoff_h"
        fi
    else
        oneoff_frame lock free
    fi
    exec 9>&-
}
#@end

#@part held
# oneoff_report_held: check, every task lock some process holds.
oneoff_report_held() {
    for oneoff_f in "$oneoff_app"/shared/.oneoff/locks/*.lock; do
        [ -f "$oneoff_f" ] || continue
        oneoff_n=${oneoff_f##*/}
        oneoff_n=${oneoff_n%.lock}
        case $oneoff_n in *"$oneoff_nl"*) continue ;; esac
        { command exec 8<"$oneoff_f"; } 2>/dev/null || continue
        # a shared probe: two checks at once never see each other's
        if flock -s -n 8; then
            exec 8<&-
            continue
        fi
        exec 8<&-
        oneoff_h=
        IFS= read -r oneoff_h <"$oneoff_f"
        oneoff_frame locked "$oneoff_n$oneoff_nl$oneoff_h"
    done
}
#@end

#@part history
# oneoff_report_history DIGEST: the history's lines as hist frames, all when
# DIGEST is '', else the start lines naming DIGEST and their runs' end lines.
# A line over 64 KiB is replaced by one saying so (reported as bad); a
# truncated last line is sent as it is (the client reports it).
oneoff_report_history() {
    oneoff_hist=$oneoff_app/shared/.oneoff/history.jsonl
    if [ ! -e "$oneoff_hist" ]; then
        oneoff_frame history none
        return
    fi
    if [ ! -r "$oneoff_hist" ] || [ -d "$oneoff_hist" ]; then
        oneoff_frame history unreadable
        return
    fi
    oneoff_frame history read
    oneoff_ids=' ' oneoff_l='' oneoff_k=hist
    while :; do
        # read leaves an unterminated last line in oneoff_l: hist_tail
        if ! IFS= read -r oneoff_l; then
            [ -n "$oneoff_l" ] || break
            oneoff_k=hist_tail
        fi
        if [ -n "$1" ]; then
            case $oneoff_l in
            *"\"sha256\":\"$1\""*)
                oneoff_id=${oneoff_l#*\"run\":\"}
                oneoff_ids="$oneoff_ids${oneoff_id%%\"*} "
                ;;
            *'"event":"end"'*)
                oneoff_id=${oneoff_l#*\"run\":\"}
                case $oneoff_ids in
                *" ${oneoff_id%%\"*} "*) ;;
                *) oneoff_l='' && continue ;;
                esac
                ;;
            *) oneoff_l='' && continue ;;
            esac
        fi
        [ "${#oneoff_l}" -le 65536 ] ||
            oneoff_l="(a line of ${#oneoff_l} bytes, not sent)"
        oneoff_put "$oneoff_k" "$oneoff_l"
        oneoff_l=''
    done <"$oneoff_hist"
}
#@end

# oneoff_history_add LINE: appends LINE to the history in one write, after
# a newline: a line torn by a crash never swallows the next one.
oneoff_history_add() {
    { printf '\n%s\n' "$1" >>"$oneoff_hist"; } 2>/dev/null
}

# oneoff_uptime: sets oneoff_u to the time since boot in hundredths of a
# second (/proc/uptime), or to '' where it cannot be read.
oneoff_uptime() {
    oneoff_u=
    { read -r oneoff_u _ </proc/uptime; } 2>/dev/null || oneoff_u=
    case $oneoff_u in
    [0-9]*.[0-9][0-9]) oneoff_u=${oneoff_u%.*}${oneoff_u#*.} ;;
    *) oneoff_u= ;;
    esac
    # no leading zeros: $((...)) would read them as octal
    while [ "${oneoff_u#0}" != "$oneoff_u" ] && [ "$oneoff_u" != 0 ]; do
        oneoff_u=${oneoff_u#0}
    done
}

# oneoff_iso MS: sets oneoff_at to MS (ms since the epoch, UTC) as
# YYYY-MM-DDTHH:MM:SS.mmmZ, by arithmetic alone (days to a civil date:
# the proleptic Gregorian calendar in 400-year eras, March-based years).
oneoff_iso() {
    oneoff_z=$(($1 / 86400000))
    oneoff_s=$(($1 % 86400000))
    oneoff_z=$((oneoff_z + 719468))
    oneoff_y=$((oneoff_z / 146097))
    oneoff_z=$((oneoff_z - oneoff_y * 146097)) # day of the era
    oneoff_e=$(((oneoff_z - oneoff_z / 1460 + oneoff_z / 36524 - oneoff_z / 146096) / 365))
    oneoff_y=$((oneoff_e + oneoff_y * 400))
    oneoff_z=$((oneoff_z - (365 * oneoff_e + oneoff_e / 4 - oneoff_e / 100)))
    oneoff_e=$(((5 * oneoff_z + 2) / 153)) # month, from March
    oneoff_z=$((oneoff_z - (153 * oneoff_e + 2) / 5 + 1))
    if [ "$oneoff_e" -lt 10 ]; then
        oneoff_e=$((oneoff_e + 3))
    else
        oneoff_e=$((oneoff_e - 9)) oneoff_y=$((oneoff_y + 1))
    fi
    oneoff_h=$((oneoff_s / 3600000)) oneoff_m=$((oneoff_s / 60000 % 60))
    oneoff_ms=$((oneoff_s % 1000)) oneoff_s=$((oneoff_s / 1000 % 60))
    [ "$oneoff_e" -ge 10 ] || oneoff_e=0$oneoff_e
    [ "$oneoff_z" -ge 10 ] || oneoff_z=0$oneoff_z
    [ "$oneoff_h" -ge 10 ] || oneoff_h=0$oneoff_h
    [ "$oneoff_m" -ge 10 ] || oneoff_m=0$oneoff_m
    [ "$oneoff_s" -ge 10 ] || oneoff_s=0$oneoff_s
    [ "$oneoff_ms" -ge 100 ] || oneoff_ms=0$oneoff_ms
    [ "$oneoff_ms" -ge 10 ] || oneoff_ms=0$oneoff_ms
    oneoff_at=$oneoff_y-$oneoff_e-${oneoff_z}T$oneoff_h:$oneoff_m:$oneoff_s.${oneoff_ms}Z
}

# oneoff_history_end RC: the end line of this run, from the task's status.
oneoff_history_end() {
    oneoff_sig=null oneoff_x=$1
    if [ "$1" = 0 ]; then
        oneoff_o=succeeded
    elif [ "$1" -gt 128 ] && [ "$1" -lt 160 ]; then
        oneoff_o=signalled oneoff_x=null
        case $(($1 - 128)) in
        1) oneoff_sig='"HUP"' ;; 2) oneoff_sig='"INT"' ;;
        3) oneoff_sig='"QUIT"' ;; 4) oneoff_sig='"ILL"' ;;
        6) oneoff_sig='"ABRT"' ;; 7) oneoff_sig='"BUS"' ;;
        8) oneoff_sig='"FPE"' ;; 9) oneoff_sig='"KILL"' ;;
        11) oneoff_sig='"SEGV"' ;; 13) oneoff_sig='"PIPE"' ;;
        14) oneoff_sig='"ALRM"' ;; 15) oneoff_sig='"TERM"' ;;
        *) oneoff_sig="\"$(($1 - 128))\"" ;;
        esac
    else
        oneoff_o=failed
    fi
    [ -z "${oneoff_stopped-}" ] || oneoff_o=interrupted
    oneoff_d=null oneoff_at=unknown
    oneoff_uptime
    if [ -n "$oneoff_u" ] && [ -n "$oneoff_u0" ] && [ -n "$oneoff_t0" ] &&
        [ "$oneoff_u" -ge "$oneoff_u0" ]; then
        oneoff_d=$(((oneoff_u - oneoff_u0) * 10))
        oneoff_iso $((oneoff_t0 + oneoff_d))
    else
        # no monotonic clock: this host's (one `date`; PATH set around it and
        # no redirection, so bash execs date in the substitution's child)
        oneoff_p=$PATH
        PATH=$oneoff_path
        # shellcheck disable=SC2312
        oneoff_t=$(date -u '+%s%3N %Y-%m-%dT%H:%M:%S.%3NZ')
        PATH=$oneoff_p
        oneoff_ms=${oneoff_t%% *} oneoff_at=${oneoff_t#* }
        case $oneoff_ms:$oneoff_t0 in
        *[!0-9:]* | :* | *:) ;;
        *) [ "$oneoff_ms" -lt "$oneoff_t0" ] ||
            oneoff_d=$((oneoff_ms - oneoff_t0)) ;;
        esac
        case $oneoff_at in
        2[0-9][0-9][0-9]-*Z) ;;
        *) oneoff_at=unknown ;;
        esac
    fi
    oneoff_history_add "$oneoff_he,\"at\":\"$oneoff_at\",\"outcome\":\"$oneoff_o\",\"exit\":$oneoff_x,\"signal\":$oneoff_sig,\"duration_ms\":$oneoff_d}"
}

#@part input
# oneoff_demux: the watchdog's part when the task has input (see Input).
oneoff_demux() {
    exec 4>"$oneoff_in"
    PATH=$oneoff_path rm -f -- "$oneoff_in"
    while IFS= read -r oneoff_x; do
        case $oneoff_x in
        '' | 0 | *[!0-9]*) break ;;
        *) PATH=$oneoff_path dd bs="$oneoff_x" count=1 iflag=fullblock \
            2>/dev/null >&4 && continue ;;
        esac
        exec 4>&-
        PATH=$oneoff_path cat >/dev/null
        break
    done
    exec 4>&-
}
#@end

# oneoff_simple CMD: true when CMD is one simple command that can run in this
# shell without a subshell: plain words and whole single-quoted ones (only
# letters, digits, space and / . _ - : @ % + , =), whose first word is no
# assignment, builtin that could change or end this shell, or function of it.
# Its program is then this shell's child (vfork), its builtins run here.
oneoff_simple() {
    case $1 in
    '' | *[!A-Za-z0-9\ /._:@%+,=\'-]*) return 1 ;;
    *) ;;
    esac
    oneoff_w=$1
    while :; do
        case $oneoff_w in
        *\'*\'*) oneoff_w=${oneoff_w#*\'} oneoff_w=${oneoff_w#*\'} ;;
        *\'*) return 1 ;; # a quote left open
        *) break ;;
        esac
    done
    oneoff_w=${1%% *}
    oneoff_w=${oneoff_w#\'}
    oneoff_w=${oneoff_w%\'}
    # (each line opens with a quote: the script as --dry-run prints it has
    # no line that reads like a host's output, "name | text")
    case $oneoff_w in
    '' | *=* | *\'* | oneoff_* | . | : | alias | bg | break | builtin) return 1 ;;
    'cd' | command | continue | eval | exec | exit | export | fc | fg) return 1 ;;
    'getopts' | hash | jobs | local | read | readonly | return | set) return 1 ;;
    'shift' | source | times | trap | type | ulimit | umask | unalias) return 1 ;;
    'unset' | wait) return 1 ;;
    *) return 0 ;;
    esac
}

# oneoff_under PATH: oneoff_d is PATH made absolute from app_dir (before it is
# entered: from here): neither CDPATH nor an env file's cd can move it.
oneoff_under() {
    case $1 in
    /*) oneoff_d=$1 ;;
    *) oneoff_d=$oneoff_app/$1 ;;
    esac
}

[ -z "$oneoff_pty" ] || PATH=$oneoff_path stty -echo -onlcr 2>/dev/null

# 1. set-up
oneoff_app=.
oneoff_under "$oneoff_app_dir"
cd -P -- "$oneoff_d" 2>/dev/null ||
    oneoff_fail "cannot enter app_dir $oneoff_app_dir"
oneoff_app=$PWD
if [ "$oneoff_mode" = history ]; then
    LC_ALL=C
    oneoff_report_history ''
    oneoff_frame ready ''
    exit 0
fi
if [ "$oneoff_mode" = note ]; then
    oneoff_hist=$oneoff_app/shared/.oneoff/history.jsonl
    [ -d "$oneoff_app/shared/.oneoff" ] ||
        PATH=$oneoff_path mkdir -p -- "$oneoff_app/shared/.oneoff" 2>/dev/null
    oneoff_history_add "$oneoff_note" ||
        oneoff_fail "cannot append to $oneoff_hist"
    oneoff_frame history written
    oneoff_frame ready ''
    exit 0
fi
oneoff_i=0
while [ "$oneoff_i" -lt "$oneoff_env_files" ]; do
    oneoff_i=$((oneoff_i + 1))
    eval "oneoff_f=\$oneoff_env_file_$oneoff_i"
    oneoff_under "$oneoff_f"
    [ -r "$oneoff_d" ] || oneoff_fail "env_file is not readable: $oneoff_f"
done
oneoff_i=0
while [ "$oneoff_i" -lt "$oneoff_env_files" ]; do
    oneoff_i=$((oneoff_i + 1))
    eval "oneoff_f=\$oneoff_env_file_$oneoff_i"
    oneoff_under "$oneoff_f"
    set -a
    # shellcheck disable=SC1090
    . "$oneoff_d" >&2
    set +a
done
if [ -n "${oneoff_runtime-}" ]; then
    # in a container: its image is the release (src/host_runtime.sh)
    oneoff_rt_inspect
else
    oneoff_under "$oneoff_release"
    cd -P -- "$oneoff_d" 2>/dev/null ||
        oneoff_fail "cannot enter release $oneoff_release"
fi

# 2. the report, measured in bytes and with the login PATH
oneoff_lc=${LC_ALL-} oneoff_lc_set=${LC_ALL+1} oneoff_task_path=$PATH
LC_ALL=C PATH=$oneoff_path
if [ -n "${oneoff_runtime-}" ]; then
    oneoff_rt_report
else
    oneoff_frame release "$PWD"
    oneoff_r=
    [ -f "$oneoff_revision_file" ] && [ -r "$oneoff_revision_file" ] &&
        IFS= read -r oneoff_r <"$oneoff_revision_file"
    oneoff_frame revision "$oneoff_r"
    [ -z "$oneoff_task_file" ] || oneoff_report_task
fi
[ -z "$oneoff_lock" ] || oneoff_report_lock
[ -z "$oneoff_check_locks" ] || oneoff_report_held
[ -z "$oneoff_once" ] || oneoff_report_history "$oneoff_once"
oneoff_frame ready ''
PATH=$oneoff_task_path
if [ -n "$oneoff_lc_set" ]; then LC_ALL=$oneoff_lc; else unset LC_ALL; fi

# 3. the client's word
if [ "$oneoff_mode" != run ]; then
    while IFS= read -r oneoff_x; do :; done
    exit 0
fi
IFS= read -r oneoff_x || exit 0
[ "$oneoff_x" = go ] || exit 0
IFS= read -r oneoff_x && IFS= read -r oneoff_t0 || exit 0
oneoff_hs=$oneoff_hs$oneoff_x
case $oneoff_t0 in
'' | 0* | *[!0-9]*) oneoff_t0= ;;
*) ;;
esac
oneoff_uptime
oneoff_u0=$oneoff_u
if [ -n "$oneoff_lock" ] && [ -z "$oneoff_locked" ]; then
    oneoff_fail "the lock of task '$oneoff_lock' is held; the task did not start"
fi
# an older run waiting for this lock stops: this run may no longer yield
[ -z "$oneoff_lock" ] ||
    printf '%s (running)\n' "$oneoff_lock_holder" >"$oneoff_lock_file"

# the literal env of the stage, host, task and -e, in that order
oneoff_i=0
while [ "$oneoff_i" -lt "$oneoff_env" ]; do
    oneoff_i=$((oneoff_i + 1))
    eval "oneoff_e=\$oneoff_env_name_$oneoff_i"
    case $oneoff_e in
    '' | [0-9]* | *[!A-Za-z0-9_]*) oneoff_fail "invalid env name: $oneoff_e" ;;
    *) ;;
    esac
    eval "$oneoff_e=\$oneoff_env_value_$oneoff_i"
    export "${oneoff_e?}"
done

# a detached run, or a query about one (src/host_job.sh): never returns
[ -z "${oneoff_job-}" ] || oneoff_job_main "$@"

# the task's input (see Input)
oneoff_in=/dev/null
if [ -n "$oneoff_stdin" ]; then
    oneoff_in=${TMPDIR:-/tmp}/oneoff-$oneoff_nonce-$$.in
    PATH=$oneoff_path mkfifo -m 600 -- "$oneoff_in" ||
        oneoff_fail "cannot create the fifo $oneoff_in"
fi

oneoff_stopped=
if [ -n "$oneoff_pty" ]; then
    # a console: the terminal, no watchdog (see Consoles); Ctrl-C and the
    # like are the operator's keys for the program, not a stop of the run
    PATH=$oneoff_path stty echo onlcr 2>/dev/null
    oneoff_in=/dev/stdin oneoff_dog=
    trap : INT QUIT TERM TSTP
else
    # The watchdog, its signals ignored before it exists (no window), its
    # stdin the channel's, fd 9 closed: it never holds the lock. (A
    # container's engine reads the channel too, on fd 4.)
    [ -z "${oneoff_runtime-}" ] || exec 4<&0
    exec 3<&0 </dev/null
    trap '' HUP INT QUIT TERM USR1 USR2 ALRM PIPE
    {
        [ -z "$oneoff_stdin" ] || oneoff_demux
        while IFS= read -r oneoff_x; do :; done
        kill -s TERM 0
        exec </dev/null
        PATH=$oneoff_path
        sleep 5
        kill -s KILL 0
    } <&3 >/dev/null 2>&1 9>&- &
    oneoff_dog=$!
    exec 3<&-
    trap - QUIT USR1 USR2 ALRM PIPE
    trap 'oneoff_stopped=1' HUP INT TERM
fi

# the start line, under the signals' watch: a stop from now on is noted
oneoff_hist=$oneoff_app/shared/.oneoff/history.jsonl
[ -d "$oneoff_app/shared/.oneoff" ] ||
    PATH=$oneoff_path mkdir -p -- "$oneoff_app/shared/.oneoff" 2>/dev/null
if oneoff_history_add "$oneoff_hs"; then
    :
elif [ -n "$oneoff_once" ]; then
    # `once` rests on the history: a run it cannot see would run twice
    { kill -s KILL "$oneoff_dog"; wait "$oneoff_dog"; } 2>/dev/null
    [ "$oneoff_in" = /dev/null ] || [ "$oneoff_in" = /dev/stdin ] ||
        PATH=$oneoff_path rm -f -- "$oneoff_in"
    oneoff_fail "cannot append to $oneoff_hist, which a 'once' task needs; the task did not start"
else
    printf 'oneoff: cannot append to %s: this run is not in its history\n' \
        "$oneoff_hist" >&2
fi
if [ -n "$oneoff_stopped" ]; then
    oneoff_rc=143 # stopped before it started: as if by TERM
elif [ -n "${oneoff_runtime-}" ]; then
    oneoff_rt_run "$@"
else
    # (where this shell is the login shell itself, named sh, a command that
    # says $0, ${0...} or ${#0} gets /bin/sh -c too: its $0 is "oneoff")
    # shellcheck disable=SC2016 # the command's text, not its value
    case $0:$oneoff_cmd in
    *'$$'* | *'${$}'* | *PPID* | sh:*'$0'* | sh:*'${0'* | sh:*'${#0'*)
        /bin/sh -c "$oneoff_cmd" oneoff "$@" <"$oneoff_in"
        ;;
    *)
        if oneoff_simple "$oneoff_cmd"; then
            { eval "$oneoff_cmd"; } <"$oneoff_in"
        else
            (eval "$oneoff_cmd") <"$oneoff_in"
        fi
        ;;
    esac
    oneoff_rc=$?
fi
# (reaped quietly: bash would report the job's death on stderr)
{
    kill -s KILL "$oneoff_dog"
    wait "$oneoff_dog"
} 2>/dev/null
trap - HUP INT QUIT TERM TSTP
oneoff_history_end "$oneoff_rc"
if [ "$oneoff_rc" -gt 128 ]; then
    # signals whose default action ends a process (Linux numbering)
    case $((oneoff_rc - 128)) in
    [1-9] | 1[0-6] | 2[4-7] | 29 | 3[01])
        # no core file of this shell; where ulimit has no -c, it just fails
        # shellcheck disable=SC3045
        ulimit -c 0 2>/dev/null
        kill -s "$((oneoff_rc - 128))" "$$"
        ;;
    *) ;;
    esac
fi
exit "$oneoff_rc"
