# Sourced by guest.sh (MODE virtiofs-bench): a DAX fault storm on the virtio-fs
# DAX window (faultbench: every page of an 8 MiB mapped file touched in a loop,
# the mapping dropped each pass; punches on another file at 100/s), untraced
# and under `daxtrace record` (fentry mode), alternating, BENCH_ROUNDS times.
# One line per run: "untraced|traced FAULTS_PER_SEC".
mnt=/mnt/vfs
mkdir -p $mnt
mount -t virtiofs daxfs $mnt -o dax
: > /tmp/bench
for round in $(seq 1 "$BENCH_ROUNDS"); do
	echo "untraced $($D/faultbench --dir $mnt --seconds 3 --mb 8 | sed -n 's/.*"faults_per_sec":\([0-9]*\).*/\1/p')" >> /tmp/bench
	: > /tmp/record.err
	$D/daxtrace record -o /tmp/bench.dxc 2> /tmp/record.err &
	rec=$!
	await_watching /tmp/record.err
	echo "traced $($D/faultbench --dir $mnt --seconds 3 --mb 8 | sed -n 's/.*"faults_per_sec":\([0-9]*\).*/\1/p')" >> /tmp/bench
	kill -INT $rec
	wait $rec
done
head -1 /tmp/record.err | cut -c1-60 >> /tmp/bench
artifact bench /tmp/bench
umount $mnt
