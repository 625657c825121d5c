# Sourced by ext4-rows.sh (MODE rows): a store through a page-table entry an
# operation left writable (tests/workload/mapstore.c), on non-DAX ext4 with
# 1 KiB blocks on the pmem device, ZERO_RANGE and PUNCH_HOLE of the second
# half of each page, daxtrace recording. tests/vm/ext4_rows.t judges the
# artifacts: before 6.15's fix (and its backport to Debian's 6.12) every
# zeroed page loses the store, and each such page has its finding.
mkdir -p /mnt/ext4k
/sbin/e2fs-mkfs -q -t ext4 -b 1024 -F /dev/pmem0 > /tmp/mkfs.log 2>&1
mount -t ext4 /dev/pmem0 /mnt/ext4k 2> /tmp/mount.err
{ grep " /mnt/ext4k " /proc/mounts && stat -f -c 'block size %S' /mnt/ext4k; } > /tmp/mount || cat /tmp/mount.err /tmp/mkfs.log > /tmp/mount
artifact afterop-mount /tmp/mount
mkdir -p /mnt/ext4k/zero /mnt/ext4k/punch
start_recorder afterop
for op in zero punch; do
	$D/mapstore --file "/mnt/ext4k/$op/f" --pages 8 --op $op > "/tmp/afterop-$op.json" 2>&1
done
stop_recorder afterop
for op in zero punch; do
	artifact "afterop-$op" "/tmp/afterop-$op.json"
done
# the files by inode (the workload's JSON): a punch too short-lived for the recorder to name its file
$D/daxtrace report /tmp/afterop.dxc --json > /tmp/afterop-report.json 2>&1
artifact afterop-report /tmp/afterop-report.json
umount /mnt/ext4k
