# Sourced by guest.sh (MODE virtiofs-model): the cache-size model checked
# against the kernel. One virtio-fs device a window size (tag daxfsN for
# WINDOWS_MB's N MiB); the same single-task workload on each in turn, with
# daxtrace recording throughout: every window's SETUPMAPPINGs (virtiofsd's
# log, on the host) against what its own model predicts, and against what the
# largest window's model predicts for every smaller size.

# Files made by extending writes (FUSE WRITE: no range), then read, written in
# place and fault-read through mappings, three times: 28 ranges in all.
workload() {
	dd if=/dev/zero of="$1/a" bs=1M count=32 2> /dev/null
	dd if=/dev/zero of="$1/b" bs=1M count=16 2> /dev/null
	for pass in 1 2 3; do
		dd if="$1/a" of=/dev/null bs=1M 2> /dev/null
		dd if=/dev/urandom of="$1/b" bs=1M count=16 conv=notrunc 2> /dev/null
		$D/faultbench --dir "$1" --passes 20 --mb 8 --punch-hz 1 > /dev/null
		dd if="$1/b" of=/dev/null bs=1M 2> /dev/null
	done
}

$D/daxtrace record -o /tmp/model.dxc 2> /tmp/record.err &
rec=$!
await_watching /tmp/record.err
: > /tmp/mounts
for mb in $WINDOWS_MB; do
	mnt=/mnt/m$mb
	mkdir -p "$mnt"
	if mount -t virtiofs "daxfs$mb" "$mnt" -o dax 2> /tmp/mount.err; then
		echo "$mb $(stat -c %d "$mnt")" >> /tmp/mounts
		workload "$mnt"
		umount "$mnt"
	else
		echo "$mb failed: $(cat /tmp/mount.err)" >> /tmp/mounts
	fi
done
sleep 1
kill -INT $rec
wait $rec
artifact model-mounts /tmp/mounts
artifact model-record-err /tmp/record.err
$D/daxtrace report /tmp/model.dxc --json > /tmp/report.json 2> /tmp/report.err
artifact model-report /tmp/report.json
artifact model-report-err /tmp/report.err
$D/daxtrace report /tmp/model.dxc 2>&1 | grep -A40 '^DAX window' > /tmp/report.txt
artifact model-report-text /tmp/report.txt
