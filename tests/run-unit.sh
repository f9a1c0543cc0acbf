#!/bin/sh
# Runs each cmocka unit-test program and prints one closing line.
# Usage: tests/run-unit.sh PROGRAM...
passed=0 failed=0 failed_progs=""
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    n=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p')
    [ -n "$n" ] || n=0
    passed=$((passed + n))
    if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out"
        f=$rc; [ "$f" -gt 0 ] || f=1
        failed=$((failed + f))
        failed_progs="$failed_progs ${t##*/}"
    else
        echo "unit: ${t##*/}: $n passed"
    fi
done
[ -z "$failed_progs" ] || echo "unit: failing:$failed_progs"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
