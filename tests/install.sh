#!/bin/sh
# install.sh - `make install` and `make uninstall` into a scratch DESTDIR.
#
# Usage: MAKE=make O=build sh tests/install.sh   (what `make install-test`
# runs, after building the binary)
#
# Checks that every file lands where PREFIX, BINDIR, MANDIR, BASHCOMPDIR and
# ZSHCOMPDIR say, that the installed binary runs, that each man page renders
# with `man -l` and groff without a warning, that every long option of
# src/cli.c is in the man page and both completions, that the bash
# completion offers commands, options and the stage and task names of a
# project folder (the current one, or -C DIR), and that `make uninstall`
# leaves no file behind. Prints one line per check that fails and a closing
# line "install: N passed, N failed".
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
make=${MAKE:-make}
build=${O:-build}
passed=0 failed=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oneoff-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "install: FAILED: $*"
}

# The files `make install PREFIX=/opt/oneoff` must leave, under DESTDIR.
expected="opt/oneoff/bin/oneoff
opt/oneoff/share/man/man1/oneoff.1
opt/oneoff/share/man/man5/oneoff-hosts.5
opt/oneoff/share/man/man5/oneoff-tasks.5
opt/oneoff/share/bash-completion/completions/oneoff
opt/oneoff/share/zsh/site-functions/_oneoff"

# Lists the files and links under $1, relative to it, sorted.
files_under() {
    (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
}

mk() {
    "$make" --no-print-directory -s -C "$root" O="$build" "$@" >"$tmp/make.log" 2>&1 ||
        { cat "$tmp/make.log" >&2; return 1; }
}

# --- install with PREFIX ---------------------------------------------------
dest=$tmp/dest
if mk install DESTDIR="$dest" PREFIX=/opt/oneoff; then ok; else bad "make install"; fi
got=$(files_under "$dest")
want=$(printf '%s\n' "$expected" | sort)
if [ "$got" = "$want" ]; then
    ok
else
    bad "make install left:"
    printf '%s\n' "$got" | sed 's/^/    /'
    echo "  instead of:"
    printf '%s\n' "$want" | sed 's/^/    /'
fi
bin=$dest/opt/oneoff/bin/oneoff
if [ -x "$bin" ] && "$bin" --version | grep -q '^oneoff [0-9]'; then ok; else
    bad "the installed binary does not run ($bin --version)"
fi

# --- the man pages ---------------------------------------------------------
for page in "$dest"/opt/oneoff/share/man/man?/*; do
    name=${page##*/}
    out=$(MANWIDTH=80 man -l --warnings "$page" 2>&1 >"$tmp/page.txt")
    if [ -n "$out" ]; then
        bad "man -l --warnings $name:"
        printf '%s\n' "$out" | sed 's/^/    /'
    elif ! grep -q '^NAME' "$tmp/page.txt" || ! grep -q '^SEE ALSO' "$tmp/page.txt"; then
        bad "man -l $name: no NAME or SEE ALSO section"
    else
        ok
    fi
    out=$(groff -ww -z -man "$page" 2>&1)
    if [ -z "$out" ]; then ok; else
        bad "groff -ww $name:"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
    # No line of the rendered page is wider than the terminal.
    long=$(awk 'length > 80' "$tmp/page.txt")
    if [ -z "$long" ]; then ok; else bad "$name renders lines over 80 columns"; fi
done

# Every long option the program parses is documented and completed.
options=$(sed -n 's/^ *{{"\([a-z-]*\)", *[a-z_]*, *NULL.*/\1/p' \
    "$root/src/cli.c")
[ -n "$options" ] || bad "no options found in src/cli.c"
docs=" $(sed 's/\\-/-/g' "$root/docs/oneoff.1" | grep -o -- '--[a-z][a-z-]*' |
    tr '\n' ' ') "
bashcomp=" $(grep -o -- '--[a-z][a-z-]*' "$root/completions/oneoff.bash" |
    tr '\n' ' ') "
zshcomp=" $(grep -o -- '--[a-z][a-z-]*' "$root/completions/_oneoff" |
    tr '\n' ' ') "
# has LIST OPTION FILE: passes when OPTION is in LIST, the options FILE has.
has() {
    case $1 in
    *" --$2 "*) ok ;;
    *) bad "--$2 is missing from $3" ;;
    esac
}
for opt in $options; do
    has "$docs" "$opt" docs/oneoff.1
    has "$bashcomp" "$opt" completions/oneoff.bash
    has "$zshcomp" "$opt" completions/_oneoff
done

# --- the bash completion ---------------------------------------------------
proj=$tmp/project
away=$tmp/elsewhere
mkdir -p "$proj/hosts" "$proj/tasks" "$away"
for f in hosts/alpha.yml hosts/beta.yml tasks/migrate.yml tasks/report.yml \
    hosts/.hidden.yml; do
    : >"$proj/$f"
done

# Each case: the folder to complete in, the line (the cursor at its end)
# and what must be offered, in order. One bash without start-up files runs
# them all with the installed completion.
cat >"$tmp/cases" <<CASES
$proj|oneoff r|run
$proj|oneoff |run exec console promote check hosts tasks history show status logs cancel help
$proj|oneoff help c|console check cancel
$proj|oneoff console |migrate report
$proj|oneoff check --ti|
$proj|oneoff run --report-j|--report-junit
$proj|oneoff run --dr|--dry-run
$proj|oneoff hosts --st|--stage
$proj|oneoff check --pre|
$proj|oneoff run -s |alpha beta
$proj|oneoff run -s a|alpha
$proj|oneoff hosts --stage |alpha beta
$proj|oneoff run |migrate report
$proj|oneoff run migrate -s alpha |
$proj|oneoff run --output |stream grouped gather
$away|oneoff run |
$away|oneoff -C $proj run |migrate report
$away|oneoff -C $proj run -s |alpha beta
$away|oneoff run -C $proj |migrate report
$away|oneoff exec -C $proj --stage |alpha beta
CASES
# shellcheck disable=SC2016
bash --norc --noprofile -c '
    . "$1" || exit 1
    while IFS="|" read -r dir line want; do
        cd "$dir" || exit 1
        read -r -a COMP_WORDS <<<"$line"
        case $line in *" ") COMP_WORDS+=("") ;; esac
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        COMPREPLY=()
        _oneoff oneoff "${COMP_WORDS[COMP_CWORD]}" \
            "${COMP_WORDS[COMP_CWORD - 1]}"
        got="${COMPREPLY[*]}"
        if [[ $got == "$want" ]]; then
            echo ok
        else
            echo "completing \"$line\" in ${dir##*/} offered \"$got\", not \"$want\""
        fi
    done <"$2"
' complete "$dest/opt/oneoff/share/bash-completion/completions/oneoff" \
    "$tmp/cases" >"$tmp/results" 2>&1
while IFS= read -r r; do
    if [ "$r" = ok ]; then ok; else bad "$r"; fi
done <"$tmp/results"
n=$(grep -c '^ok$' "$tmp/results")
[ "$n" -eq "$(wc -l <"$tmp/cases")" ] ||
    bad "$n of $(wc -l <"$tmp/cases") completion cases passed"

# The zsh completion at least parses, where zsh is installed.
if command -v zsh >/dev/null 2>&1; then
    if zsh -n "$dest/opt/oneoff/share/zsh/site-functions/_oneoff"; then ok; else
        bad "zsh -n _oneoff"
    fi
fi

# --- uninstall -------------------------------------------------------------
if mk uninstall DESTDIR="$dest" PREFIX=/opt/oneoff; then ok; else bad "make uninstall"; fi
left=$(files_under "$dest")
if [ -z "$left" ]; then ok; else
    bad "make uninstall left:"
    printf '%s\n' "$left" | sed 's/^/    /'
fi

# --- BINDIR, MANDIR and the completion folders -----------------------------
dest2=$tmp/dest2
dirs="BINDIR=/b MANDIR=/m BASHCOMPDIR=/bc ZSHCOMPDIR=/zc"
# shellcheck disable=SC2086
if mk install DESTDIR="$dest2" $dirs; then ok; else bad "make install $dirs"; fi
got=$(files_under "$dest2")
want=$(printf '%s\n' b/oneoff m/man1/oneoff.1 m/man5/oneoff-hosts.5 \
    m/man5/oneoff-tasks.5 bc/oneoff zc/_oneoff | sort)
if [ "$got" = "$want" ]; then ok; else
    bad "make install $dirs left:"
    printf '%s\n' "$got" | sed 's/^/    /'
fi
# shellcheck disable=SC2086
mk uninstall DESTDIR="$dest2" $dirs || bad "make uninstall $dirs"
left=$(files_under "$dest2")
if [ -z "$left" ]; then ok; else bad "make uninstall $dirs left: $left"; fi

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
