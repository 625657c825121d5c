# Sourced by guest.sh (MODE rows): the buffered-read race of the kernel notes
# on non-DAX ext4 (the pmem device mounted without -o dax), daxtrace recording:
# case A, read() and readahead racing whole-file punches with an fsync before
# each (stale pages in the hole before 5.15, when read() took no fault lock);
# case B, the same without the fsync (the punch flushes the dirty pages
# itself, under other rwsems than the fault lock). Mapped readers fault beside
# them: their faults wait on the fault lock (and show it, on 5.10). Then the
# truth table's rows on non-DAX ext4 and xfs (daxcheck --expect-clean).
# tests/vm/ext4_rows.t judges the artifacts.

# mount_plain FS: a fresh FS on the pmem device, mounted without DAX at /mnt/FS
mount_plain() {
	mkdir -p "/mnt/$1"
	case $1 in
	ext4) /sbin/e2fs-mkfs -q -t ext4 -F /dev/pmem0 ;;
	xfs) /sbin/xfs-mkfs -q -f -m reflink=0 /dev/pmem0 ;;
	esac > /tmp/mkfs.log 2>&1
	mount -t "$1" /dev/pmem0 "/mnt/$1" 2> /tmp/mount.err
	grep " /mnt/$1 " /proc/mounts > /tmp/mount || cat /tmp/mount.err /tmp/mkfs.log > /tmp/mount
	artifact "rows-$1-mount" /tmp/mount
}

mount_plain ext4
mkdir -p /mnt/ext4/a /mnt/ext4/b
start_recorder rows
$D/readrace --file /mnt/ext4/a/f --rounds "$ROWS_ROUNDS" --readers 2 --mappers 1 --syncers 1 > /tmp/case-a.json 2>&1
$D/readrace --file /mnt/ext4/b/f --rounds "$ROWS_ROUNDS" --readers 2 --mappers 1 --no-fsync > /tmp/case-b.json 2>&1
stop_recorder rows
for c in a b; do
	artifact "case-$c" "/tmp/case-$c.json"
	$D/daxtrace report /tmp/rows.dxc --json --path "/mnt/ext4/$c" > "/tmp/report-$c.json" 2> /tmp/report.err
	cat /tmp/report.err >> "/tmp/report-$c.json"
	artifact "case-$c-report" "/tmp/report-$c.json"
done
# the capture, the workloads' and the reports' JSON to the host (OUTDIR/guest/), on run-matrix.sh's disk
modprobe virtio_blk 2> /dev/null
for i in 1 2 3 4 5; do [ -b /dev/vda ] && break; sleep 1; done
[ -b /dev/vda ] && tar -cf /dev/vda -C /tmp rows.dxc case-a.json case-b.json report-a.json report-b.json && sync

# truth FS: the truth table's rows (all scenarios but fio, not in the guest) on /mnt/FS
truth() {
	scenarios=$($D/daxcheck --list | awk '$1 != "fio" { printf " --scenario %s", $1 }')
	# shellcheck disable=SC2086
	$D/daxcheck --expect-clean --json --trace /tmp/truth.trace --runs "$ROWS_TRUTH_RUNS" $scenarios "/mnt/$1" \
		> /tmp/truth.json 2> /tmp/truth.err
	echo "exit $?" >> /tmp/truth.err
	truth_artifacts "rows-$1"
}
[ "$ROWS_TRUTH_RUNS" -gt 0 ] && truth ext4
umount /mnt/ext4
if [ "$ROWS_TRUTH_RUNS" -gt 0 ]; then
	mount_plain xfs
	truth xfs
	umount /mnt/xfs
fi
. $D/afterop-rows.sh
