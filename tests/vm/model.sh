# Sourced by guest.sh (MODE virtiofs-model): the cache-size model checked
# against the kernel. One virtio-fs device a window size (tag daxfsN for
# WINDOWS_MB's N MiB); the same workload (MODEL_WORKLOAD, default single) on
# each in turn, with daxtrace recording throughout: every window's
# SETUPMAPPINGs (virtiofsd's log, on the host) against what its own model
# predicts, and against what the largest window's model predicts for every
# smaller size. MODEL_KEEP_CAPTURE=1 leaves the capture in the first
# window's share (model.dxc), for replays on the host (tests/vm/calibrate.sh).
# daxexport serves the same windows live beside it: its metrics once the
# workloads are done.

# single: files made by extending writes (FUSE WRITE: no range), then read,
# written in place and fault-read through mappings, three times: 28 ranges.
workload_single() {
	dd if=/dev/zero of="$1/a" bs=1M count=32 2> /dev/null
	dd if=/dev/zero of="$1/b" bs=1M count=16 2> /dev/null
	for pass in 1 2 3; do
		dd if="$1/a" of=/dev/null bs=1M 2> /dev/null
		dd if=/dev/urandom of="$1/b" bs=1M count=16 conv=notrunc 2> /dev/null
		$D/faultbench --dir "$1" --passes 20 --mb 8 --punch-hz 1 > /dev/null
		dd if="$1/b" of=/dev/null bs=1M 2> /dev/null
	done
}

# tasks: two tasks fault-read their own 8 MiB file through mappings while two
# read 1 MiB blocks of a shared 32 MiB file at scattered offsets (IO, which
# reclaims inline when no range is free): 24 ranges, four tasks at once.
workload_tasks() {
	dd if=/dev/zero of="$1/shared" bs=1M count=32 2> /dev/null
	tasks=""
	for t in 1 2; do
		mkdir -p "$1/f$t"
		$D/faultbench --dir "$1/f$t" --passes 15 --mb 8 --punch-hz 1 > /dev/null &
		tasks="$tasks $!"
	done
	for t in 1 2; do
		for j in $(seq 1 120); do
			dd if="$1/shared" of=/dev/null bs=1M count=1 skip=$(((j * 7 + t * 5) % 32)) 2> /dev/null
		done &
		tasks="$tasks $!"
	done
	wait $tasks # not the recorder
}

# files: many small files made, read, deleted and made again: each round
# three 4 MiB files (6 ranges) whose ranges go back to the window when their
# inodes are evicted.
workload_files() {
	for round in $(seq 1 20); do
		for f in 1 2 3; do
			dd if=/dev/zero of="$1/r$f" bs=1M count=4 2> /dev/null
			dd if="$1/r$f" of=/dev/null bs=1M 2> /dev/null
		done
		rm "$1"/r1 "$1"/r2 "$1"/r3
	done
}

# program: a real program's work, as a container's image layer would have:
# busybox tar unpacks the guest's own binaries, libraries and modules onto
# the mount (every file a range at least), the busybox unpacked there (so
# its text faults through the window) checksums every file back (IO), and
# the tree is deleted (eviction), three times.
workload_program() {
	[ -s /tmp/tree.tar ] || tar -C / -cf /tmp/tree.tar bin daxscope lib
	for round in 1 2 3; do
		mkdir "$1/t"
		tar -C "$1/t" -xf /tmp/tree.tar
		find "$1/t" -type f -exec "$1/t/bin/busybox" sha256sum {} + > /dev/null
		rm -r "$1/t"
	done
}

$D/daxtrace record -o /tmp/model.dxc 2> /tmp/record.err &
rec=$!
await_watching /tmp/record.err
ip link set lo up
$D/daxexport -i 0.5 2> /tmp/export.err &
exporter=$!
await_watching /tmp/export.err
: > /tmp/mounts
for mb in $WINDOWS_MB; do
	mnt=/mnt/m$mb
	mkdir -p "$mnt"
	if mount -t virtiofs "daxfs$mb" "$mnt" -o dax 2> /tmp/mount.err; then
		echo "$mb $(stat -c %d "$mnt")" >> /tmp/mounts
		"workload_${MODEL_WORKLOAD:-single}" "$mnt"
		umount "$mnt"
	else
		echo "$mb failed: $(cat /tmp/mount.err)" >> /tmp/mounts
	fi
done
sleep 1
kill -INT $rec
wait $rec
sleep 1 # the uses held for the worker's passes after them are replayed a second on
wget -q -O /tmp/metrics http://127.0.0.1:9477/metrics 2>> /tmp/export.err || echo "wget: exit $?" >> /tmp/export.err
kill -INT $exporter
wait $exporter
artifact model-metrics /tmp/metrics
artifact model-export-err /tmp/export.err
artifact model-mounts /tmp/mounts
if [ "$MODEL_KEEP_CAPTURE" = 1 ]; then # not DAX: after the recording, through FUSE
	first=${WINDOWS_MB%% *}
	mkdir -p /mnt/keep
	mount -t virtiofs "daxfs$first" /mnt/keep -o dax=never 2> /dev/null || mount -t virtiofs "daxfs$first" /mnt/keep
	cp /tmp/model.dxc /mnt/keep/model.dxc
	umount /mnt/keep
fi
artifact model-record-err /tmp/record.err
$D/daxtrace report /tmp/model.dxc --json > /tmp/report.json 2> /tmp/report.err
artifact model-report /tmp/report.json
artifact model-report-err /tmp/report.err
$D/daxtrace report /tmp/model.dxc 2>&1 | grep -A40 '^DAX window' > /tmp/report.txt
artifact model-report-text /tmp/report.txt
