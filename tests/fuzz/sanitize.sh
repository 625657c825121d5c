#!/bin/sh
# make sanitize: the unit tests and `daxtrace report` (built with ASan and
# UBSan, in BUILD) on every seed capture, each cut at every 97th byte and
# with one byte flipped at every 89th: any sanitizer report fails.
#   tests/fuzz/sanitize.sh BUILD
set -u
cd "$(dirname "$0")/../.."
build=$1
work=$(mktemp -d /tmp/daxscope-sanitize-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fail=0 runs=0

report() { # FILE: exit 0 or 1 is an answer; anything else (a sanitizer abort) is a failure
	"$build/daxtrace" report "$1" --json > /dev/null 2> "$work/err"
	rc=$?
	runs=$((runs + 1))
	if [ $rc -gt 1 ]; then
		echo "sanitize: daxtrace report $1 exited $rc:" >&2
		head -20 "$work/err" >&2
		fail=$((fail + 1))
	fi
}

for t in "$build"/tests/test_*; do
	"$t" > "$work/out" 2>&1 || { echo "sanitize: $t failed:" >&2; tail -20 "$work/out" >&2; fail=$((fail + 1)); }
done
for seed in tests/fuzz/corpus/*.dxc; do
	size=$(stat -c %s "$seed")
	report "$seed"
	cut=0
	while [ $cut -lt "$size" ]; do
		head -c $cut "$seed" > "$work/cut.dxc"
		report "$work/cut.dxc"
		cut=$((cut + 97))
	done
	at=0
	while [ $at -lt "$size" ]; do
		cp "$seed" "$work/flip.dxc"
		printf '\377' | dd of="$work/flip.dxc" bs=1 seek=$at conv=notrunc 2> /dev/null
		report "$work/flip.dxc"
		at=$((at + 89))
	done
done
echo "sanitize: $runs reports of damaged captures, $fail failed"
[ $fail = 0 ]
