# oneoff host script, container runtimes: sent after the data prelude and
# before src/host_script.sh, to hosts whose task runs in a container.
# shellcheck shell=sh disable=SC2154 # the prelude sets every oneoff_* input
#
# With it, the prelude also holds:
#     oneoff_runtime     container: in the app's running container (exec)
#                        image: in a fresh container of that one's image (run)
#     oneoff_engine      docker | podman
#     oneoff_container   the app's container (container: or image_of:)
#     oneoff_network_of  image: the container whose network the run joins
#     oneoff_ctr_name    image: the fresh container's name,
#                        oneoff-<run id>-<host>, removed however it ends
#
# Set-up (oneoff_rt_inspect, instead of entering the release): one
# `ENGINE inspect` reads the container's image id, which is the host's
# release (so the one-release rule compares image ids), its running state,
# user, working directory, the revision label of its image
# (org.opencontainers.image.revision) and, for image, its environment. The
# report then says: release (the image id), revision (the label) and
# task_sha256 none (the task file is not read inside an image).
#
# Run (oneoff_rt_run, instead of /bin/sh -c): the engine runs
#     /bin/sh -c INNER oneoff COMMAND ARG...
# in the container, as its user, in its working directory. The literal env
# (and for image the container's own env) reaches the engine as an env
# file on a here-document (fd 5, /dev/fd/5): never on a command line, never
# in a file that outlives the run. Values must be one line each.
#
# Stops. Killing `podman exec` does not stop what it started, so INNER
# carries its own watchdog: it reads the exec's standard input, which is
# the channel's (both this shell's watchdog and the engine read it: each
# sees its EOF), and the engine closes it when the channel closes or when
# the engine itself dies (measured with podman/conmon: a KILLed client
# closes it). On EOF INNER sends TERM to its process group in the
# container, then KILL five seconds later. A fresh container left behind by
# an engine that failed or was killed is removed here (rc >= 125).
# Footprint: the engine's inspect in set-up, the engine in the run; in the
# container, INNER, its watchdog and the task's /bin/sh.

# shellcheck disable=SC2016 # INNER expands in the container
oneoff_rt_inner='c=$1
shift
exec 3<&0 </dev/null
trap "" HUP INT QUIT TERM
{
while IFS= read -r x; do :; done
kill -s TERM 0
exec </dev/null
sleep 5
kill -s KILL 0
} <&3 >/dev/null 2>&1 &
d=$!
exec 3<&-
trap - QUIT
trap : HUP INT TERM
/bin/sh -c "$c" oneoff "$@"
r=$?
{ kill -s KILL "$d"; wait "$d"; } 2>/dev/null
exit "$r"'

# oneoff_rt_line: moves the first line of oneoff_v into oneoff_l.
oneoff_rt_line() {
    oneoff_l=${oneoff_v%%"$oneoff_nl"*}
    case $oneoff_v in
    *"$oneoff_nl"*) oneoff_v=${oneoff_v#*"$oneoff_nl"} ;;
    *) oneoff_v= ;;
    esac
}

oneoff_rt_inspect() {
    oneoff_f='{{.Image}}
{{.State.Running}}
{{.Config.User}}
{{.Config.WorkingDir}}
{{index .Config.Labels "org.opencontainers.image.revision"}}'
    [ "$oneoff_runtime" != image ] ||
        oneoff_f="$oneoff_f$oneoff_nl{{range .Config.Env}}{{println .}}{{end}}"
    # shellcheck disable=SC2312
    oneoff_v=$(PATH=$oneoff_path "$oneoff_engine" inspect --type container \
        --format "$oneoff_f" "$oneoff_container") ||
        oneoff_fail "$oneoff_engine cannot inspect container $oneoff_container"
    oneoff_rt_line
    oneoff_rt_image=$oneoff_l
    oneoff_rt_line
    [ "$oneoff_l" = true ] || [ "$oneoff_runtime" = image ] ||
        oneoff_fail "container $oneoff_container is not running"
    oneoff_rt_line
    oneoff_rt_user=$oneoff_l
    oneoff_rt_line
    oneoff_rt_wd=${oneoff_l:-/}
    oneoff_rt_line
    oneoff_rt_rev=$oneoff_l
    [ "$oneoff_rt_rev" != '<no value>' ] || oneoff_rt_rev=
    oneoff_rt_env=$oneoff_v
    [ -n "$oneoff_rt_image" ] ||
        oneoff_fail "$oneoff_engine gave no image for container $oneoff_container"
}

oneoff_rt_report() {
    oneoff_frame release "$oneoff_rt_image"
    oneoff_frame revision "$oneoff_rt_rev"
    oneoff_frame task_sha256 none
}

# oneoff_rt_run ARG...: runs the task; its stdin is the channel, on fd 4.
oneoff_rt_run() {
    oneoff_t=
    [ -z "$oneoff_rt_env" ] || oneoff_t=$oneoff_rt_env$oneoff_nl
    oneoff_i=0
    while [ "$oneoff_i" -lt "$oneoff_env" ]; do
        oneoff_i=$((oneoff_i + 1))
        eval "oneoff_t=\$oneoff_t\$oneoff_env_name_$oneoff_i=\$oneoff_env_value_$oneoff_i\$oneoff_nl"
    done
    if [ "$oneoff_runtime" = container ]; then
        set -- exec -i ${oneoff_rt_user:+-u "$oneoff_rt_user"} \
            -w "$oneoff_rt_wd" ${oneoff_t:+--env-file /dev/fd/5} \
            "$oneoff_container" /bin/sh -c "$oneoff_rt_inner" oneoff \
            "$oneoff_cmd" "$@"
    else
        set -- run --rm -i --name "$oneoff_ctr_name" \
            ${oneoff_rt_user:+-u "$oneoff_rt_user"} -w "$oneoff_rt_wd" \
            ${oneoff_network_of:+--network "container:$oneoff_network_of"} \
            ${oneoff_t:+--env-file /dev/fd/5} "$oneoff_rt_image" \
            /bin/sh -c "$oneoff_rt_inner" oneoff "$oneoff_cmd" "$@"
    fi
    PATH=$oneoff_path "$oneoff_engine" "$@" <&4 4<&- 5<<EOF
$oneoff_t
EOF
    oneoff_rc=$?
    [ "$oneoff_runtime" = image ] && [ "$oneoff_rc" -ge 125 ] || return 0
    if [ "$oneoff_engine" = podman ]; then
        PATH=$oneoff_path podman rm -f -t 3 "$oneoff_ctr_name"
    else
        PATH=$oneoff_path docker stop -t 3 "$oneoff_ctr_name"
    fi >/dev/null 2>&1
    return 0
}
