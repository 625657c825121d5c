#!/bin/sh
# The truth table over every filesystem mountable here: delayfs (FUSE
# passthrough with the server's clock), fuse-overlayfs, ext4 and xfs on loop
# devices. One daxcheck per filesystem, rows printed as they come.
#   tests/truth/truth.sh [RUNS] [--markdown|--json]     (make truth TRUTH_RUNS=N)
# The ext4 scheduled race (start_race) runs 500 times whatever RUNS says.
# Exit status: 0 when every row met its target.
set -u
cd "$(dirname "$0")/../.."
runs=${1:-100}
format=${2:-}
build=$PWD/build
work=$(mktemp -d /tmp/daxscope-truth-XXXXXX)
status=0
mounts=""

cleanup() {
	for m in $mounts; do
		case $m in *fuse*) fusermount3 -u "$m" ;; *) umount "$m" ;; esac 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

check() { # ARGS... DIR: one daxcheck, its status folded into ours; always goes on
	"$build/daxcheck" --runs "$runs" $format "$@" 2>"$work/err" || status=1
	grep -v '^daxscope:' "$work/err" >&2
	return 0
}

wait_mount() {
	for _ in $(seq 100); do mountpoint -q "$1" && return 0; sleep 0.05; done
	echo "truth: $1 did not mount" >&2
	return 1
}

loop_fs() { # TYPE MKFS...: a 512 MiB image, loop-mounted
	img=$work/$1.img mnt=$work/$1
	mkdir -p "$mnt"
	truncate -s 512M "$img"
	shift
	"$@" "$img" >/dev/null && mount -o loop "$img" "$mnt" && mounts="$mnt $mounts"
}

mkdir -p "$work/delayfs/back" "$work/fusedelayfs" "$work/ovl/lower" "$work/ovl/upper" "$work/ovl/work" "$work/fuseovl"
"$build/delayfs" "$work/delayfs/back" "$work/fusedelayfs" --delay-ms=50 --truncate-delay-ms=50 \
	--log="$work/delayfs.log" && mounts="$work/fusedelayfs $mounts" && wait_mount "$work/fusedelayfs" &&
	check --server-log "$work/delayfs.log" "$work/fusedelayfs"

# fuse-overlayfs is multi-threaded by default (-s would make it single-threaded); it has no threaded=1
fuse-overlayfs -o "lowerdir=$work/ovl/lower,upperdir=$work/ovl/upper,workdir=$work/ovl/work" "$work/fuseovl" &&
	mounts="$work/fuseovl $mounts" && wait_mount "$work/fuseovl" &&
	check --backing "$work/ovl/upper" "$work/fuseovl"

if loop_fs ext4 mkfs.ext4 -q -F; then
	check --expect-clean "$work/ext4"
	check --expect-clean --scenario start_race --runs 500 "$work/ext4"
fi
loop_fs xfs mkfs.xfs -q -f && check --expect-clean "$work/xfs"
exit $status
