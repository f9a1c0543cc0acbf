#!/bin/sh
# smoke.sh - a short libFuzzer run of every fuzz target, for `make check`.
#
# Usage: tests/fuzz/smoke.sh DIR
#
# For each tests/fuzz/fuzz_NAME.c, runs DIR/fuzz_NAME over a scratch copy of
# tests/fuzz/corpus/NAME (the repository's corpus is never written to) with
# tests/fuzz/NAME.dict, or tests/fuzz/yaml.dict when there is none, for
# FUZZ_SECONDS seconds (default 10). A crash, leak,
# timeout or out-of-memory fails the run; its reproducer is kept as
# DIR/artifacts/fuzz_NAME-KIND-SHA1 and named in the output. Replay one with
# DIR/fuzz_NAME FILE. Prints one line per target and a closing line
# "fuzz: N passed, N failed".
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-10}
case $seconds in
'' | *[!0-9]*)
    echo "fuzz: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 2
    ;;
esac
artifacts=$dir/artifacts

# Undefined behaviour only prints a warning unless told to stop; make it a
# crash that libFuzzer records. Respect settings from the caller.
: "${UBSAN_OPTIONS:=halt_on_error=1:print_stacktrace=1}"
export UBSAN_OPTIONS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oneoff-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0 failed=0 failed_names=""
for src in "$here"/fuzz_*.c; do
    [ -f "$src" ] || continue
    name=${src##*/}
    name=${name%.c}
    bin=$dir/$name
    corpus=$here/corpus/${name#fuzz_}
    dict=$here/${name#fuzz_}.dict
    [ -f "$dict" ] || dict=$here/yaml.dict
    work=$tmp/$name
    log=$work/log

    if [ ! -x "$bin" ]; then
        echo "fuzz: $name: FAILED: no fuzzer $bin (run make fuzz)"
        failed=$((failed + 1))
        failed_names="$failed_names $name"
        continue
    fi
    mkdir -p "$work/corpus" "$artifacts" || exit 1
    if [ -d "$corpus" ]; then
        cp -R "$corpus/." "$work/corpus/" || exit 1
    fi
    seeds=$(find "$work/corpus" -type f | wc -l | tr -d ' ')

    "$bin" -dict="$dict" -max_len=65536 -timeout=5 -rss_limit_mb=1024 \
        -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" "$work/corpus" >"$log" 2>&1
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' \
        "$log" | tail -n 1)
    [ -n "$execs" ] ||
        execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    [ -n "$execs" ] ||
        execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=0
    inputs=$(find "$work/corpus" -type f | wc -l | tr -d ' ')
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
        tail -n 1)

    if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
        echo "fuzz: $name: $execs executions in ${seconds}s, corpus $seeds -> $inputs inputs, ok"
        passed=$((passed + 1))
        continue
    fi

    failed=$((failed + 1))
    failed_names="$failed_names $name"
    # The sanitizer or libFuzzer report, without the progress lines.
    first=$(grep -n -E '^==[0-9]+==|runtime error|^ALARM|ERROR: libFuzzer' \
        "$log" | head -n 1 | cut -d: -f1)
    if [ -n "$first" ]; then
        sed -n "$first,\$p" "$log" | grep -v '^#[0-9]' >&2
    else
        tail -n 20 "$log" >&2
    fi
    if [ -n "$artifact" ]; then
        kind=${artifact##*/}
        kind=${kind#"$name"-}
        kind=${kind%%-*}
        [ "$kind" != slow ] || kind=slow-unit
        echo "fuzz: $name: FAILED ($kind) after $execs executions: $artifact"
    else
        echo "fuzz: $name: FAILED (exit $rc) after $execs executions"
    fi
done

[ "$passed" -gt 0 ] || [ "$failed" -gt 0 ] ||
    echo "fuzz: no fuzz targets (tests/fuzz/fuzz_*.c)"
[ -z "$failed_names" ] || echo "fuzz: failing:$failed_names"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
