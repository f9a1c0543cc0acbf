# bash completion for oneoff(1)                              -*- shell-script -*-
#
# Completes the commands, each command's options (as src/cli.c accepts
# them), the values of -s/--stage, --from and --to (hosts/*.yml) and the
# task of `run`, `console`, `promote` and `history` (tasks/*.yml), read
# from the project folder: the current directory, or the one given with
# -C/--directory on the line. Needs nothing but bash;
# installed as share/bash-completion/completions/oneoff.

# The option groups of src/cli.c.
_oneoff_opts_common='-h --help -C --directory'
_oneoff_opts_stage='-s --stage'
_oneoff_opts_select='-l --limit -r --role'
_oneoff_opts_dry_run='-n --dry-run'
_oneoff_opts_yes='-y --yes'
_oneoff_opts_ssh='-i --identity --ssh-config --known-hosts --host-key-policy
    --connect-timeout --max-connecting'
_oneoff_opts_run='--parallel --log-dir --report --report-junit --json
    --release'
_oneoff_opts_task='--timeout --output -e --env'
_oneoff_opts_rollout='--preflight --allow-drift --wait-lock --batch
    --max-fail'
_oneoff_opts_view='-b --gather --diff --summary -q --quiet -v --verbose
    --silent-after'
_oneoff_opts_gate='--skip-gate'
_oneoff_opts_reason='-m --reason --force'

# The options a command takes.
_oneoff_command_opts()
{
    case $1 in
    run | exec)
        echo "$_oneoff_opts_common $_oneoff_opts_stage $_oneoff_opts_select" \
            "$_oneoff_opts_dry_run $_oneoff_opts_yes $_oneoff_opts_ssh" \
            "$_oneoff_opts_run $_oneoff_opts_task $_oneoff_opts_rollout $_oneoff_opts_view" \
            "$_oneoff_opts_gate $_oneoff_opts_reason --no-stdin --detach --"
        ;;
    console)
        echo "$_oneoff_opts_common $_oneoff_opts_stage --host" \
            "$_oneoff_opts_dry_run $_oneoff_opts_yes $_oneoff_opts_ssh" \
            "$_oneoff_opts_run $_oneoff_opts_rollout $_oneoff_opts_reason --"
        ;;
    status | cancel)
        echo "$_oneoff_opts_common $_oneoff_opts_stage $_oneoff_opts_select" \
            "$_oneoff_opts_ssh"
        ;;
    logs)
        echo "$_oneoff_opts_common $_oneoff_opts_stage $_oneoff_opts_select" \
            "$_oneoff_opts_ssh --follow"
        ;;
    promote)
        echo "$_oneoff_opts_common --from --to $_oneoff_opts_dry_run" \
            "$_oneoff_opts_yes $_oneoff_opts_ssh $_oneoff_opts_run" \
            "$_oneoff_opts_task $_oneoff_opts_rollout $_oneoff_opts_view" \
            "$_oneoff_opts_gate $_oneoff_opts_reason --"
        ;;
    check)
        echo "$_oneoff_opts_common $_oneoff_opts_stage $_oneoff_opts_select" \
            "$_oneoff_opts_ssh $_oneoff_opts_run"
        ;;
    hosts)
        echo "$_oneoff_opts_common $_oneoff_opts_stage $_oneoff_opts_select" \
            "--ssh-config --fold"
        ;;
    tasks)
        echo "$_oneoff_opts_common"
        ;;
    history)
        echo "$_oneoff_opts_common $_oneoff_opts_stage $_oneoff_opts_select" \
            "$_oneoff_opts_ssh --json"
        ;;
    show)
        echo "$_oneoff_opts_common $_oneoff_opts_stage $_oneoff_opts_select" \
            "$_oneoff_opts_ssh --json"
        ;;
    esac
}

# The names of DIR/SUB/*.yml, without ".yml".
_oneoff_yml_names()
{
    local f
    for f in "$1/$2"/*.yml; do
        [[ -f $f ]] || continue
        f=${f##*/}
        f=${f%.yml}
        [[ $f == .* ]] && continue
        printf '%s\n' "$f"
    done
}

# Sets COMPREPLY to the words of $1 (newline-separated) starting with $2.
_oneoff_reply()
{
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}

# Sets COMPREPLY to the files (-f) or folders (-d) starting with $2.
_oneoff_paths()
{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen "$1" -- "$2")
}

_oneoff()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev='' dir=. cmd='' npos=0
    local i w opt_value='' dashdash=''

    # "--stage=pro": bash splits at '=' (COMP_WORDBREAKS).
    if ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        if [[ $prev == = ]]; then
            prev=${COMP_WORDS[COMP_CWORD - 2]}
        elif [[ $cur == = ]]; then
            cur=''
        fi
    fi

    # Walk the words before the cursor: the project folder, the command,
    # how many plain arguments it has, and whether "--" was seen.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $opt_value ]]; then
            [[ $w == = ]] && continue
            [[ $opt_value == dir ]] && dir=$w
            opt_value=''
            continue
        fi
        case $w in
        --)
            [[ -n $cmd ]] && dashdash=1
            ;;
        -C | --directory) opt_value=dir ;;
        -C?*) dir=${w#-C} ;;
        -s | --stage | -l | --limit | -r | --role | -i | --identity | \
            --ssh-config | --known-hosts | --host-key-policy | \
            --connect-timeout | --max-connecting | --parallel | --timeout | --log-dir | \
            --report | --report-junit | --output | -e | --env | --release | \
            --wait-lock | --batch | --max-fail | --summary | --silent-after | \
            --from | --to | -m | --reason | --host)
            opt_value=value
            ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=$w
            else
                npos=$((npos + 1))
            fi
            ;;
        esac
        [[ -n $dashdash ]] && break
    done
    [[ $dir == \~* ]] && dir=$HOME${dir#\~}

    # After "--" come the task's arguments or exec's command.
    [[ -n $dashdash ]] && return 0

    case $prev in
    -C | --directory | --log-dir)
        _oneoff_paths -d "$cur"
        return 0
        ;;
    -s | --stage | --from | --to)
        _oneoff_reply "$(_oneoff_yml_names "$dir" hosts)" "$cur"
        return 0
        ;;
    -i | --identity | --ssh-config | --known-hosts | --report | \
        --report-junit)
        _oneoff_paths -f "$cur"
        return 0
        ;;
    --output)
        _oneoff_reply $'stream\ngrouped\ngather' "$cur"
        return 0
        ;;
    --summary)
        _oneoff_reply $'auto\nfull\nshort' "$cur"
        return 0
        ;;
    --host-key-policy)
        _oneoff_reply $'strict\naccept-new' "$cur"
        return 0
        ;;
    -l | --limit | -r | --role | -e | --env | --connect-timeout | \
        --max-connecting | --parallel | --timeout | --release | --wait-lock | --batch | \
        --max-fail | --silent-after | -m | --reason | --host)
        return 0
        ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            _oneoff_reply $'-C\n-h\n--help\n--version' "$cur"
        else
            _oneoff_reply $'run\nexec\nconsole\npromote\ncheck\nhosts\ntasks\nhistory\nshow\nstatus\nlogs\ncancel\nhelp' "$cur"
        fi
        return 0
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_oneoff_command_opts "$cmd")" \
            -- "$cur")
        return 0
    fi
    if [[ $cmd == help && $npos -eq 0 ]]; then
        _oneoff_reply $'run\nexec\nconsole\npromote\ncheck\nhosts\ntasks\nhistory\nshow\nstatus\nlogs\ncancel\nhelp' "$cur"
    fi
    if [[ ($cmd == run || $cmd == promote || $cmd == history || $cmd == console) && $npos -eq 0 ]]; then
        _oneoff_reply "$(_oneoff_yml_names "$dir" tasks)" "$cur"
    fi
    return 0
}

complete -F _oneoff oneoff
