#!/bin/sh
# The punch-safety verdict (daxcheck --verdict) of every filesystem this host
# can mount: ext4, xfs, btrfs on loop devices, tmpfs, overlayfs (the kernel's),
# delayfs (FUSE passthrough, a fast server and a slow one), and the FUSE
# filesystems of Debian packages installed here (fuse-overlayfs, bindfs,
# gocryptfs, mergerfs, unionfs-fuse, fuse2fs, ntfs-3g). Each verdict's JSON is
# kept, and the table is made from them alone (verdict-table.pl), so that it
# says what the tool said.
#   tests/truth/verdicts.sh [SECONDS] [OUT.md]      (make verdicts: docs/filesystems.md)
set -u
cd "$(dirname "$0")/../.."
seconds=${1:-60}
out=${2:-build/verdicts/filesystems.md}
build=$PWD/build
work=$(mktemp -d /tmp/daxscope-verdicts-XXXXXX)
json=$build/verdicts
mounts=""
mkdir -p "$json"
rm -f "$json"/*.json "$json/index"

cleanup() {
	for m in $mounts; do
		mountpoint -q "$m" || continue
		case $(stat -f -c %T "$m") in fuseblk | fuse) fusermount3 -u "$m" ;; *) umount "$m" ;; esac 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_mount() {
	for _ in $(seq 100); do mountpoint -q "$1" && return 0; sleep 0.05; done
	echo "verdicts: $1 did not mount" >&2
	return 1
}

# NAME VERSION HOW DIR: one verdict; HOW is how the table says to mount it
verdict() {
	"$build/daxcheck" --verdict --json --time "$seconds" "$4" >"$json/$1.json" 2>"$work/err"
	rc=$?
	grep -v '^daxscope:' "$work/err" >&2
	[ "$rc" -le 3 ] && [ "$rc" -ne 2 ] && printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$json/$1.json" >>"$json/index"
	return 0
}

pkg() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }

loop_fs() { # TYPE MKFS...: a 512 MiB image, loop-mounted
	img=$work/$1.img mnt=$work/$1
	mkdir -p "$mnt"
	truncate -s 512M "$img"
	shift
	"$@" "$img" >/dev/null 2>&1 && mount -o loop "$img" "$mnt" && mounts="$mnt $mounts"
}

kernel=$(uname -r)
loop_fs ext4 mkfs.ext4 -q -F && verdict ext4 "kernel $kernel" 'mkfs.ext4 on a loop device' "$work/ext4"
loop_fs xfs mkfs.xfs -q -f && verdict xfs "kernel $kernel, xfsprogs $(pkg xfsprogs)" 'mkfs.xfs (reflink on)' "$work/xfs"
loop_fs btrfs mkfs.btrfs -q -f && verdict btrfs "kernel $kernel, btrfs-progs $(pkg btrfs-progs)" \
	'mkfs.btrfs on a loop device' "$work/btrfs"
mkdir -p "$work/tmpfs" "$work/kovl/lower" "$work/kovl/upper" "$work/kovl/work" "$work/kovl/mnt"
mount -t tmpfs tmpfs "$work/tmpfs" && mounts="$work/tmpfs $mounts" &&
	verdict tmpfs "kernel $kernel" 'mount -t tmpfs' "$work/tmpfs"
mount -t overlay overlay -o "lowerdir=$work/kovl/lower,upperdir=$work/kovl/upper,workdir=$work/kovl/work" \
	"$work/kovl/mnt" && mounts="$work/kovl/mnt $mounts" &&
	verdict overlayfs "kernel $kernel" "mount -t overlay, upper on $(findmnt -n -o FSTYPE -T "$work")" "$work/kovl/mnt"
for delay in 0 20; do
	mkdir -p "$work/delayfs$delay.back" "$work/delayfs$delay"
	"$build/delayfs" "$work/delayfs$delay.back" "$work/delayfs$delay" --delay-ms=$delay &&
		mounts="$work/delayfs$delay $mounts" && wait_mount "$work/delayfs$delay" &&
		verdict "delayfs-$delay" "tests/fusefs/delayfs.c, libfuse $(pkg fuse3)" \
			"delayfs --delay-ms=$delay" "$work/delayfs$delay"
done
# NAME VERSION HOW DIR MOUNT...: a FUSE filesystem's verdict, where its package is
# installed (MOUNT's command) and it mounts on DIR
fuse_verdict() {
	name=$1 version=$2 how=$3 dir=$4
	shift 4
	command -v "$1" >/dev/null || return 0
	mkdir -p "$dir"
	"$@" && mounts="$dir $mounts" && wait_mount "$dir" && verdict "$name" "$version" "$how" "$dir"
}
mkdir -p "$work/fovl/lower" "$work/fovl/upper" "$work/fovl/work"
fuse_verdict fuse-overlayfs "fuse-overlayfs $(pkg fuse-overlayfs)" 'fuse-overlayfs, no options' "$work/fovl/mnt" \
	fuse-overlayfs -o "lowerdir=$work/fovl/lower,upperdir=$work/fovl/upper,workdir=$work/fovl/work" "$work/fovl/mnt"
mkdir -p "$work/bindfs.src"
fuse_verdict bindfs "bindfs $(pkg bindfs)" 'bindfs SRC DIR' "$work/bindfs" bindfs "$work/bindfs.src" "$work/bindfs"
mkdir -p "$work/gocryptfs.cipher"
gocryptfs -q -init -extpass "echo verdict" "$work/gocryptfs.cipher" >/dev/null 2>&1
fuse_verdict gocryptfs "gocryptfs $(pkg gocryptfs)" 'gocryptfs -init, then mount' "$work/gocryptfs" \
	gocryptfs -q -extpass "echo verdict" "$work/gocryptfs.cipher" "$work/gocryptfs"
# mergerfs pools the disks of home servers and NASes; it passes fallocate and
# copy_file_range to the branch's file
mkdir -p "$work/mergerfs.1" "$work/mergerfs.2"
fuse_verdict mergerfs "mergerfs $(pkg mergerfs)" 'mergerfs BRANCH1:BRANCH2 DIR, default options' "$work/mergerfs" \
	mergerfs "$work/mergerfs.1:$work/mergerfs.2" "$work/mergerfs"
# unionfs-fuse: copy-on-write over a read-only root (live systems, read-only Raspberry Pis)
mkdir -p "$work/unionfs.rw" "$work/unionfs.ro"
fuse_verdict unionfs-fuse "unionfs-fuse $(pkg unionfs-fuse)" 'unionfs -o cow RW=RW:RO=RO DIR' "$work/unionfs" \
	unionfs -o cow "$work/unionfs.rw=RW:$work/unionfs.ro=RO" "$work/unionfs"
# fuse2fs: ext4 images without the kernel's driver (e2fsprogs; rescue, unprivileged
# mounts), the same on-disk ext4 the kernel punches SAFE
truncate -s 512M "$work/fuse2fs.img" && mkfs.ext4 -q -F "$work/fuse2fs.img" &&
	fuse_verdict fuse2fs "fuse2fs $(pkg fuse2fs)" 'mkfs.ext4 on an image, fuse2fs IMAGE DIR' "$work/fuse2fs" \
		fuse2fs "$work/fuse2fs.img" "$work/fuse2fs"
# ntfs-3g: Windows disks and USB drives, a loop device as a disk would be (fuseblk)
truncate -s 512M "$work/ntfs.img" && command -v mkntfs >/dev/null && mkntfs -q -F -f "$work/ntfs.img" >/dev/null 2>&1 &&
	fuse_verdict ntfs-3g "ntfs-3g $(pkg ntfs-3g)" 'mkntfs on an image, mount -t ntfs-3g -o loop' "$work/ntfs" \
		mount -t ntfs-3g -o loop "$work/ntfs.img" "$work/ntfs"
mkdir -p "$(dirname "$out")"
tests/truth/verdict-table.pl "$json/index" "$seconds" >"$out"
