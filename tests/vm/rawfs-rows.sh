# Sourced by guest.sh (MODE rawfs): the race of tests/kernel/fuse_race.t
# (FUSE_RACE_ARGS, FUSE_RACE_RUNS runs) on rawfs (tests/fusefs/rawfs.c, over
# raw /dev/fuse), its files on ext4 on /dev/pmem0 (no DAX), in three modes,
# daxtrace recording them all: off (requests read from /dev/fuse, READ/WRITE
# and the page cache FUSE's), on (--passthrough=on: reads, writes and mmap
# go to the ext4 file), uring (--io-uring=on, where the kernel has FUSE over
# io_uring: requests taken through ring entries, else as off).
# Artifacts per mode M: rawfs-M-mount, rawfs-M-raceN, rawfs-M-backingN (the
# backing file's "st_dev st_ino"), rawfs-M-log (the server's clock),
# rawfs-M-err. tests/vm/fuse_rawfs.t judges them.
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/pmem0 ] && break; sleep 1; done
/sbin/e2fs-mkfs -q -t ext4 -F /dev/pmem0 > /tmp/mkfs.log 2>&1
mkdir -p /mnt/scratch
mount -t ext4 /dev/pmem0 /mnt/scratch 2>> /tmp/mkfs.log || cat /tmp/mkfs.log
# FUSE over io_uring is off until the fuse module's enable_uring is 1 (built in: writable here)
uring=/sys/module/fuse/parameters/enable_uring
modes="off on"
[ -w $uring ] && echo 1 > $uring && modes="$modes uring"
start_recorder rawfs
for mode in $modes; do
	back=/mnt/scratch/$mode
	mnt=/mnt/rawfs-$mode
	mkdir -p $back $mnt
	case $mode in
	on) opts=--passthrough=on ;;
	uring) opts=--io-uring=on ;;
	*) opts= ;;
	esac
	$D/rawfs $back $mnt $opts --delay-ms=50 --log=/tmp/rawfs-$mode.log 2> /tmp/rawfs-$mode.err &
	for i in $(seq 1 100); do grep -q " $mnt " /proc/mounts && break; sleep 0.1; done
	{ grep " $mnt " /proc/mounts || cat /tmp/rawfs-$mode.err; } > /tmp/mount
	artifact rawfs-$mode-mount /tmp/mount
	for run in $(seq 1 "$FUSE_RACE_RUNS"); do
		# shellcheck disable=SC2086
		$D/race --file "$mnt/race$run" $FUSE_RACE_ARGS > /tmp/race.json 2>> /tmp/rawfs-$mode.err
		echo "race exit $?" >> /tmp/rawfs-$mode.err
		artifact "rawfs-$mode-race$run" /tmp/race.json
		stat -c '%d %i' "$back/race$run" > /tmp/backing 2>&1
		artifact "rawfs-$mode-backing$run" /tmp/backing
	done
	umount $mnt
	wait $!
	artifact rawfs-$mode-log /tmp/rawfs-$mode.log
	artifact rawfs-$mode-err /tmp/rawfs-$mode.err
done
stop_recorder rawfs
$D/daxtrace report /tmp/rawfs.dxc --json > /tmp/report.json 2> /tmp/report.err
artifact rawfs-report /tmp/report.json
artifact rawfs-report-err /tmp/report.err
