#!/bin/sh
# The whole test suite, as TAP through prove: unit tests, the installed tools
# and the Debian package (tests/install), real-kernel tests, and the QEMU kernel
# matrix. Tests skip, with their reason, where this machine cannot run them.
set -u
cd "$(dirname "$0")/.."
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
exec prove --exec '' --timer ${PROVE_FLAGS:-} build/tests/test_* tests/install/*.t tests/kernel/*.t tests/truth/*.t tests/fuzz/*.t $(ls tests/vm/*.t 2>/dev/null)
