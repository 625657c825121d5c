#!/bin/sh
# Default in-guest test of tests/vm/run-matrix.sh (runs as /test.sh under
# busybox sh, as root, in a QEMU guest booted with memmap=512M!1G).
# Prints TAP; run-matrix.sh re-emits it on the host with the kernel version
# prefixed. Real DAX: a pmem device, ext4 and xfs mounted -o dax, and
# fs_dax:dax_pte_fault seen for the very file a MAP_SHARED mapping wrote.
#
# Needs in the guest: /usr/sbin/mkfs.ext4 and /usr/sbin/mkfs.xfs (the real
# e2fsprogs/xfsprogs binaries: busybox's own mke2fs would shadow them), and
# mmap-touch (tests/vm/mmap-touch.c) on PATH.
T=/sys/kernel/tracing
n=0
fails=0
ok() { # COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
diag() { sed 's/^/# /'; }

echo "# kernel ${KERNEL_VERSION:-$(uname -r)}"
[ -b /dev/pmem0 ]
ok $? "/dev/pmem0 is a block device"
[ -e /dev/pmem0 ] && cat /sys/block/pmem0/size 2>/dev/null | awk '{ printf "# pmem0: %d MiB\n", $1 / 2048 }'

have_tp=1
[ -e $T/events/fs_dax/dax_pte_fault/enable ] || have_tp=0
ok $((1 - have_tp)) "tracepoint fs_dax:dax_pte_fault exists in tracefs"

# dax_fs FS MKFS...: mkfs, mount -o dax, mmap a file, see its DAX faults
dax_fs() {
	fs=$1
	shift
	mnt=/mnt/$fs
	mkdir -p $mnt
	"$@" /dev/pmem0 > /tmp/mkfs.log 2>&1
	rc=$?
	ok $rc "$fs: $* /dev/pmem0"
	[ $rc -eq 0 ] || { diag < /tmp/mkfs.log; }
	dmesg -c > /dev/null
	mount -t "$fs" -o dax /dev/pmem0 $mnt 2> /tmp/mount.err
	rc=$?
	ok $rc "$fs: mount -o dax /dev/pmem0"
	dmesg > /tmp/mount.dmesg
	if [ $rc -ne 0 ]; then
		diag < /tmp/mount.err
		diag < /tmp/mount.dmesg
		skip "$fs: not mounted, no DAX checks"
		skip "$fs: not mounted, no DAX checks"
		skip "$fs: not mounted, no DAX checks"
		return
	fi
	opts=$(awk -v m=$mnt '$2 == m { print $4 }' /proc/mounts)
	echo "$opts" | grep -q dax
	ok $? "$fs: mount options show DAX ($opts)"
	grep -i dax /tmp/mount.dmesg | diag

	f=$mnt/touched
	if [ $have_tp -eq 1 ]; then
		echo 0 > $T/tracing_on
		echo > $T/trace
		echo 1 > $T/events/fs_dax/dax_pte_fault/enable
		echo 1 > $T/tracing_on
	fi
	out=$(mmap-touch $f 16 2>&1)
	ok $? "$fs: 16 pages written through MAP_SHARED and read back ($out)"
	if [ $have_tp -eq 1 ]; then
		echo 0 > $T/tracing_on
		echo 0 > $T/events/fs_dax/dax_pte_fault/enable
		ino=$(printf '0x%x' "$(stat -c %i $f)")
		hits=$(grep 'dax_pte_fault:' $T/trace | grep -c "ino $ino ")
		all=$(grep -c 'dax_pte_fault:' $T/trace)
		[ "$hits" -gt 0 ]
		ok $? "$fs: fs_dax:dax_pte_fault fired for the mapped file (ino $ino: $hits of $all events)"
		grep 'dax_pte_fault:' $T/trace | head -2 | diag
	else
		skip "$fs: no fs_dax:dax_pte_fault tracepoint"
	fi
	umount $mnt
}

if [ -b /dev/pmem0 ]; then
	dax_fs ext4 /usr/sbin/mkfs.ext4 -q -F
	dax_fs xfs /usr/sbin/mkfs.xfs -q -f -m reflink=0
else
	for _ in 1 2 3 4 5 6 7 8 9 10; do skip "no /dev/pmem0"; done
fi

for m in fuse virtiofs; do
	modprobe $m 2> /tmp/modprobe.err
	rc=$?
	[ $rc -eq 0 ] && grep -qw "$m" /proc/filesystems
	ok $? "modprobe $m: $m listed in /proc/filesystems"
	[ $rc -eq 0 ] || diag < /tmp/modprobe.err
done

# Diagnostics the probes depend on (not assertions: they differ by kernel).
for tp in lock/contention_begin lock/contention_end fuse/fuse_request_send fuse/fuse_request_end \
	syscalls/sys_enter_fallocate; do
	if [ -d $T/events/$tp ]; then echo "# tracepoint ${tp%%/*}:${tp#*/}: present"; else echo "# tracepoint ${tp%%/*}:${tp#*/}: absent"; fi
done
fuse_tps=
for d in $T/events/fuse/*/; do [ -d "$d" ] && fuse_tps="$fuse_tps $(basename "$d")"; done
echo "# fuse tracepoints:${fuse_tps:- none}"
[ -e /sys/kernel/btf/vmlinux ] && echo "# BTF: vmlinux" || echo "# BTF: none (no /sys/kernel/btf/vmlinux)"
for b in ext4 xfs fuse virtiofs; do
	if [ -e /sys/kernel/btf/$b ]; then echo "# BTF: module $b"
	elif grep -q "/$b.ko" "/lib/modules/$(uname -r)/modules.builtin" 2> /dev/null; then echo "# BTF: $b is built in (types in vmlinux)"
	else echo "# BTF: module $b has none"; fi
done

echo "1..$n"
[ $fails -eq 0 ]
