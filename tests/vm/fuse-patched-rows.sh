# Sourced by guest.sh (MODE fuse-patched): the stock-vs-patched FUSE pair. The
# punch-safety verdict (daxcheck --verdict, VERDICT_SECONDS) of delayfs
# answering at once, its files on ext4 on /dev/pmem0 (as tests/vm/verdict-rows.sh
# runs it), first with the kernel's own FUSE (artifact verdict-stock), then
# with tests/vm/patches/fuse-fallocate-invalidate-lock.patch live
# ($D/fuse_invalidate_lock.ko, a livepatch: this kernel's FUSE is built in) on
# a new mount of the same server (verdict-patched). The livepatch's load, its
# transition and the kernel's lines about it: artifact livepatch.
# tests/vm/fuse_patched.t judges them.
/sbin/e2fs-mkfs -q -t ext4 -b 4096 -F /dev/pmem0 > /tmp/mkfs.log 2>&1
mkdir -p /mnt/scratch /mnt/delayfs
mount -t ext4 /dev/pmem0 /mnt/scratch 2>> /tmp/mkfs.log || cat /tmp/mkfs.log
mkdir -p /mnt/scratch/back

# delayfs_verdict NAME: delayfs at /mnt/delayfs, its verdict, unmounted
delayfs_verdict() {
	$D/delayfs /mnt/scratch/back /mnt/delayfs --delay-ms=0 2> /tmp/delayfs.err
	for i in $(seq 1 100); do grep -q " /mnt/delayfs " /proc/mounts && break; sleep 0.1; done
	{ grep " /mnt/delayfs " /proc/mounts || cat /tmp/delayfs.err; } > /tmp/mount
	artifact "verdict-$1-mount" /tmp/mount
	grep -q " /mnt/delayfs " /proc/mounts || return 0
	verdict "$1" /mnt/delayfs
	umount /mnt/delayfs
}

delayfs_verdict stock
lp=/sys/kernel/livepatch/fuse_invalidate_lock
{
	insmod $D/fuse_invalidate_lock.ko && echo "insmod ok"
	# the patch is whole once no task runs the old functions (a few seconds at most here)
	for i in $(seq 1 300); do [ "$(cat $lp/transition 2>/dev/null)" = 0 ] && break; sleep 0.1; done
	echo "enabled $(cat $lp/enabled 2>&1) transition $(cat $lp/transition 2>&1)"
	dmesg | grep -i -e fuse_invalidate_lock -e livepatch
} > /tmp/livepatch 2>&1
artifact livepatch /tmp/livepatch
grep -q "enabled 1 transition 0" /tmp/livepatch && delayfs_verdict patched
umount /mnt/scratch
