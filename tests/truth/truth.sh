#!/bin/sh
# The truth table over every filesystem mountable here: delayfs (FUSE
# passthrough with the server's clock), fuse-overlayfs (under strace: its own
# syscalls are the server's clock), ext4, xfs and btrfs (a subvolume) on loop
# devices, tmpfs, overlayfs (the kernel's), gocryptfs and bindfs where
# installed. One daxcheck per filesystem, rows printed as they come.
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
		case $m in *fuse* | */gocryptfs | */bindfs) fusermount3 -u "$m" || fusermount -u "$m" ;; *) umount "$m" ;; esac 2>/dev/null
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

# fuse-overlayfs (multi-threaded by default) under strace: the entry of its own
# fallocate, ftruncate, truncate and copy_file_range on the upper file dates
# the change (-ttt, CLOCK_REALTIME), the same thread's next writev to
# /dev/fuse its reply; each is held 50 ms before and after
# (delay_enter, delay_exit), as delayfs does, so that the race can be run: the
# upper file's own punch takes well under a millisecond here.
calls=fallocate,ftruncate,truncate,copy_file_range
strace -f -ttt -y -qq --seccomp-bpf -e trace=$calls,writev -e inject=$calls:delay_enter=50000:delay_exit=50000 \
	-o "$work/ovl.strace" fuse-overlayfs -f \
	-o "lowerdir=$work/ovl/lower,upperdir=$work/ovl/upper,workdir=$work/ovl/work" "$work/fuseovl" 2>/dev/null &
wait_mount "$work/fuseovl" && mounts="$work/fuseovl $mounts" &&
	check --server-strace "$work/ovl.strace" "$work/fuseovl"

if loop_fs ext4 mkfs.ext4 -q -F; then
	check --expect-clean "$work/ext4"
	check --expect-clean --scenario start_race --runs 500 "$work/ext4"
fi
loop_fs xfs mkfs.xfs -q -f && check --expect-clean "$work/xfs"
# a subvolume: its files' st_dev is the subvolume's own, not the superblock's
loop_fs btrfs mkfs.btrfs -q -f && btrfs -q subvolume create "$work/btrfs/sub" && check --expect-clean "$work/btrfs/sub"
mkdir -p "$work/tmpfs" "$work/kovl/lower" "$work/kovl/upper" "$work/kovl/work" "$work/kovl/mnt"
mount -t tmpfs tmpfs "$work/tmpfs" && mounts="$work/tmpfs $mounts" && check --expect-clean "$work/tmpfs"
mount -t overlay overlay -o "lowerdir=$work/kovl/lower,upperdir=$work/kovl/upper,workdir=$work/kovl/work" \
	"$work/kovl/mnt" && mounts="$work/kovl/mnt $mounts" && check --expect-clean "$work/kovl/mnt"
# gocryptfs answers COPY_FILE_RANGE with an error: the kernel copies through the page cache itself
if command -v gocryptfs >/dev/null; then
	mkdir -p "$work/gocryptfs.cipher" "$work/gocryptfs"
	gocryptfs -q -init -extpass "echo truth" "$work/gocryptfs.cipher" >/dev/null 2>&1 &&
		gocryptfs -q -extpass "echo truth" "$work/gocryptfs.cipher" "$work/gocryptfs" &&
		mounts="$work/gocryptfs $mounts" && check --expect-clean "$work/gocryptfs"
fi
if command -v bindfs >/dev/null; then
	mkdir -p "$work/bindfs.src" "$work/bindfs"
	bindfs "$work/bindfs.src" "$work/bindfs" && mounts="$work/bindfs $mounts" && check --expect-clean "$work/bindfs"
fi
exit $status
