#!/bin/sh
# The punch-safety verdicts of the QEMU guests, SECONDS each, two boots a
# kernel: non-DAX ext4 with 4 KiB and 1 KiB blocks, ext4-dax and xfs-dax on
# pmem, delayfs, btrfs, f2fs and NFSv4.2 over loopback (tests/vm/verdict-rows.sh); virtio-fs with DAX and without,
# after the window's own checks (tests/vm/virtiofs-verdict.sh). Their JSON kept in
# build/verdicts/guest/ and listed in its index for tests/truth/verdict-table.pl.
#   tests/vm/verdicts.sh [SECONDS] [KERNELS]      (make verdicts runs it)
# Exit status: 0 every kernel's verdicts came; 1 one did not (it says which).
set -u
cd "$(dirname "$0")/../.."
seconds=${1:-20}
kernels=${2:-5.10 6.1 6.12 7.3}
json=$PWD/build/verdicts/guest
out=$(mktemp -d /tmp/daxscope-vmverdicts-XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM
mkdir -p "$json"
rm -f "$json"/*.json "$json/index"
rc=0
for k in $kernels; do
	for mode in verdict virtiofs; do
		VERDICT_SECONDS=$seconds DAXSCOPE_VM_TIMEOUT=$((600 + seconds * 16)) DAXSCOPE_VIRTIOFS_TRUTH=0 DAXSCOPE_VERDICT_ALL=1 \
			tests/vm/run-matrix.sh "$k" "$out/$k-$mode" $mode > "$out/why" 2> "$out/err"
		case $? in
		0) ;;
		3) echo "verdicts: cannot boot a $k $mode guest here: $(cat "$out/why")" >&2; rc=1; continue ;;
		*) echo "verdicts: the $k $mode guest failed: $(cat "$out/err")" >&2; rc=1; continue ;;
		esac
		tests/vm/verdict-artifacts.pl "$k" "$json" < "$out/$k-$mode/console.log" >> "$json/index" || rc=1
	done
done
[ -s "$json/index" ] || rc=1
exit $rc
