#!/bin/sh
# The whole test suite, as TAP through prove: unit tests, the installed tools
# and the Debian package (tests/install), real-kernel tests, and the QEMU kernel
# matrix. Tests skip, with their reason, where this machine cannot run them.
# On failure the failed checks are recalled at the end, above prove's own
# last lines again: a CI that keeps only the tail of a long run still shows them.
set -u
cd "$(dirname "$0")/.."
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
log=$(mktemp /tmp/daxscope-test.XXXXXX)
trap 'rm -f "$log" "$log.rc"' EXIT
# prove runs each file itself: one without its execute bit would stop the whole run
noexec=$(find tests -name '*.t' ! -perm -u+x | sort)
{
	prove --exec '' --timer ${PROVE_FLAGS:-} build/tests/test_* $(ls tests/install/*.t tests/kernel/*.t \
		tests/truth/*.t tests/fuzz/*.t tests/vm/*.t 2>/dev/null | grep -vxF "${noexec:-/}")
	echo $? > "$log.rc"
} 2>&1 | tee "$log"
rc=$(cat "$log.rc")
for t in $noexec; do
	echo "$t: not executable, not run (git update-index --chmod=+x $t)"
	rc=1
done
if [ "$rc" -ne 0 ]; then
	echo
	echo "The failed checks, again:"
	grep -B2 -A6 "^ *#   Failed test" "$log" | cut -c1-300 | head -150
	echo
	sed -n '/^Test Summary Report/,$p' "$log"
fi
exit "$rc"
