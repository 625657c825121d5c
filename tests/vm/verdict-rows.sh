# Sourced by guest.sh (MODE verdict): the punch-safety verdict (daxcheck
# --verdict --json --time VERDICT_SECONDS) of the filesystems this guest kernel
# can mount on its pmem device: ext4 without DAX (4 KiB blocks, and 1 KiB
# blocks, where ZERO_RANGE leaves a partly zeroed page writable before 6.15),
# ext4 and xfs mounted -o dax, and plain FUSE (delayfs, its files on ext4);
# with VERDICT_ALL=1 (make verdicts) btrfs, f2fs and NFSv4.2 over loopback
# (tests/vm/nfs-verdict.sh) too, or why not (artifact verdict-NAME-cannot: the
# kernel has no module for it, the host no mkfs).
# One artifact verdict-NAME each (the JSON), verdict-NAME-err (its stderr and
# exit status). tests/vm/verdict_rows.t judges them; tests/vm/verdicts.sh
# puts them in docs/filesystems.md.

# on_pmem NAME FS MOUNT-OPTIONS DEVICE MKFS...: a fresh FS on DEVICE at /mnt/NAME, its verdict
on_pmem() {
	name=$1 fs=$2 opts=$3 dev=$4
	shift 4
	mkdir -p "/mnt/$name"
	"$@" "$dev" > /tmp/mkfs.log 2>&1
	mount -t "$fs" ${opts:+-o "$opts"} "$dev" "/mnt/$name" 2>> /tmp/mkfs.log
	{ grep " /mnt/$name " /proc/mounts || { cat /tmp/mkfs.log; dmesg | tail -3; }; } > /tmp/mount
	artifact "verdict-$name-mount" /tmp/mount
	grep -q " /mnt/$name " /proc/mounts || return 0
	verdict "$name" "/mnt/$name"
	[ "$name" = ext4 ] || umount "/mnt/$name"
}

for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/pmem1 ] && break; sleep 1; done
# on_module NAME SOFTDEP MKFS-ARGS...: a fresh NAME (a module of this kernel's, SOFTDEP loaded
# before it where there is one: busybox's modprobe leaves soft dependencies) on the 512 MiB
# device, made with the host's mkfs.NAME, its verdict; else why not
on_module() {
	name=$1
	modprobe "$2" 2> /dev/null
	shift 2
	if [ ! -x "/sbin/$name-mkfs" ]; then
		echo "no mkfs.$name on the host that built this guest (its package is not installed)" > /tmp/cannot
	elif ! grep -qw "$name" /proc/filesystems && ! modprobe "$name" 2> /tmp/modprobe.err; then
		echo "this kernel cannot load $name: $(cat /tmp/modprobe.err)" > /tmp/cannot
	else
		on_pmem "$name" "$name" "" /dev/pmem0 "/sbin/$name-mkfs" "$@"
		return
	fi
	artifact "verdict-$name-cannot" /tmp/cannot
}
# DAXSCOPE_VERDICT_ONLY=nfs, btrfs or f2fs: that row alone (added to docs/filesystems.md by
# tests/truth/verdict-table.pl --guests-of)
case $VERDICT_ONLY in
nfs) . $D/nfs-verdict.sh; exit ;;
btrfs) on_module btrfs crc32c_generic -q -f; exit ;;
f2fs) on_module f2fs crc32_generic -q -f; exit ;;
esac
# Each DAX filesystem on its own device. On 7.3 a DAX fallocate or truncate of
# the verdict's falls asleep for good in dax_break_layout, which guest.sh's
# dax_kicker wakes (docs/verdict.md).
on_pmem xfs-dax xfs dax /dev/pmem0 /sbin/xfs-mkfs -q -f -m reflink=0
on_pmem ext4-dax ext4 dax /dev/pmem1 /sbin/e2fs-mkfs -q -t ext4 -b 4096 -F
if [ "$VERDICT_ALL" = 1 ]; then
	on_module btrfs crc32c_generic -q -f
	# f2fs's superblock checksum: crc32 through the crypto API before 7.x (f2fs_fill_super: ENOENT without it)
	on_module f2fs crc32_generic -q -f
	. $D/nfs-verdict.sh # knfsd exporting ext4 on the same device, mounted over loopback
fi
on_pmem ext4-1k ext4 "" /dev/pmem1 /sbin/e2fs-mkfs -q -t ext4 -b 1024 -F
# 4 KiB blocks on the 256 MiB device (mke2fs makes 1 KiB ones there, and DAX needs the page size);
# last: delayfs's files stay on this one
on_pmem ext4 ext4 "" /dev/pmem1 /sbin/e2fs-mkfs -q -t ext4 -b 4096 -F
mkdir -p /mnt/ext4/delayfs.back /mnt/delayfs
$D/delayfs /mnt/ext4/delayfs.back /mnt/delayfs --delay-ms=0 2> /tmp/delayfs.err
for i in $(seq 1 100); do grep -q " /mnt/delayfs " /proc/mounts && break; sleep 0.1; done
{ grep " /mnt/delayfs " /proc/mounts || cat /tmp/delayfs.err; } > /tmp/mount
artifact verdict-delayfs-mount /tmp/mount
grep -q " /mnt/delayfs " /proc/mounts && verdict delayfs /mnt/delayfs && umount /mnt/delayfs
umount /mnt/ext4
