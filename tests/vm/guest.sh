#!/bin/sh
# Runs inside the QEMU guest (busybox sh, as root): real DAX on /dev/pmem0,
# ext4 and xfs, daxtrace around the punch/fault race (MODE pmem); or a
# virtio-fs DAX window (MODE virtiofs): a working set larger than the window,
# mapped faults, punches, daxtrace recording throughout, ftrace counting the
# window's functions beside it. Prints artifacts on the console between
# markers; tests/vm/matrix.t judges them on the host.
D=/daxscope
. $D/env
artifact() { # NAME FILE
	echo "@@ARTIFACT $1@@"
	cat "$2"
	echo "@@END $1@@"
}
# truth_artifacts NAME: daxcheck's rows (/tmp/truth.json), its errors and
# exit status (/tmp/truth.err) and, unless it exited 0 (every row met its
# target), its --trace (/tmp/truth.trace) but the blocked faults: what it
# judged, or where it hung, for the test to show
truth_artifacts() {
	artifact "$1-truth" /tmp/truth.json
	artifact "$1-truth-err" /tmp/truth.err
	grep -qx 'exit 0' /tmp/truth.err && return 0
	grep -v '^daxscope: blocked,' /tmp/truth.trace > /tmp/truth.trace.rest
	artifact "$1-truth-trace" /tmp/truth.trace.rest
}
# verdict NAME DIR: daxcheck --verdict --json --time VERDICT_SECONDS on the
# filesystem at DIR; its progress lines and exit status stream to the console
# as they come (artifact verdict-NAME-err), then its JSON (artifact verdict-NAME)
verdict() {
	echo "@@ARTIFACT verdict-$1-err@@"
	{
		$D/daxcheck --verdict --json --time "$VERDICT_SECONDS" "$2" > /tmp/verdict.json
		echo "exit $?" >&2
	} 2>&1 | tr '\r' '\n' | grep -v -e '^daxscope:' -e '^$'
	echo "@@END verdict-$1-err@@"
	artifact "verdict-$1" /tmp/verdict.json
}
# bounded SECS OUT ERR CMD...: CMD, its stdout in OUT, its stderr in ERR, then
# "exit STATUS" in ERR. Past SECS what it waits on (its threads' kernel
# stacks, the blocked tasks' (sysrq w), the kernel's last lines) goes to the
# console at once as artifact "hang", and it is killed (or left, if it cannot
# die): a hang leaves evidence, not only the host's timeout of the whole guest
# (7.3 tracepoint mode: once in ~5 boots in daxcheck, none in 50 since; once in
# ci39 of stop 32, after the xfs mount, in the race or its recording).
bounded() {
	b_secs=$1 b_out=$2 b_err=$3
	shift 3
	"$@" > "$b_out" 2> "$b_err" &
	b_pid=$!
	if ! watch_pid "$b_secs" $b_pid "$*"; then
		echo "exit: killed after $b_secs s (artifact hang)" >> "$b_err"
		return 1
	fi
	wait $b_pid
	echo "exit $?" >> "$b_err"
}
# watch_pid SECS PID WHAT: waits up to SECS for PID to end; past that, the
# artifact hang holds its threads' states, syscalls and kernel stacks and the
# blocked tasks (sysrq w), and PID is killed: false.
watch_pid() {
	w_ticks=$(($1 * 10))
	while kill -0 "$2" 2>/dev/null && [ $w_ticks -gt 0 ]; do
		sleep 0.1
		w_ticks=$((w_ticks - 1))
	done
	kill -0 "$2" 2>/dev/null || return 0
	{
		echo "still running after $1 s: $3"
		for t in /proc/$2/task/*; do
			echo "$t $(cat "$t/comm") state $(cut -d' ' -f3 "$t/stat") syscall $(cat "$t/syscall")"
			cat "$t/stack"
		done
		echo w > /proc/sysrq-trigger
		dmesg | tail -150
	} > /tmp/hang 2>&1
	artifact hang /tmp/hang
	kill -9 "$2"
	return 1
}
# Waits up to 30 s for a daxscope tool's banner in FILE; false if it never came.
# Empty FILE before starting the tool: the banner of an earlier run left in it
# would pass at once, before the tool has opened it (seen on 5.10 under load).
await_watching() { # FILE
	for i in $(seq 1 300); do grep -q watching "$1" && return 0; sleep 0.1; done
	return 1
}
# start_recorder NAME: daxtrace record --fault-hooks=always into /tmp/NAME.dxc, its
# stderr in /tmp/NAME-record.err, once it says it is watching (or says it was not)
start_recorder() {
	: > "/tmp/$1-record.err"
	$D/daxtrace record --fault-hooks=always -o "/tmp/$1.dxc" 2> "/tmp/$1-record.err" &
	rec=$!
	await_watching "/tmp/$1-record.err" || echo "the recorder was not watching 30 s after its start" >> "/tmp/$1-record.err"
}
# stop_recorder NAME: a second for the last events, then its end; its stderr as artifact NAME-record-err
stop_recorder() {
	sleep 1
	kill -INT $rec
	watch_pid 60 $rec "daxtrace record, after SIGINT" ||
		echo "the recorder had not ended 60 s after SIGINT (artifact hang)" >> "/tmp/$1-record.err"
	wait $rec
	artifact "$1-record-err" "/tmp/$1-record.err"
}

# race_sched FILE: the scheduled race, pages 2-5 punched: a store to page 3 at
# its start, a load of page 4, a store to page 5 a second in; JSON in /tmp/race-sched.json
race_sched() {
	$D/race --file "$1" --punch 8192:16384 --write-at 0:3 --read-at 0:4 --write-at 1000:5 > /tmp/race-sched.json
}

for m in nd_e820 nd_pmem crc32c_generic ext4 xfs fuse virtio_pci virtiofs; do
	if modprobe "$m" 2>/tmp/modprobe.err; then echo "$m ok"; else echo "$m failed: $(cat /tmp/modprobe.err)"; fi
done > /tmp/modules
dmesg | grep -i -e "unknown symbol" -e "disagrees" >> /tmp/modules
artifact modules /tmp/modules

# dax_kicker: a DAX layout break (dax_break_layout, under a punch or a
# truncate) asleep 10 s in FS_wait_dax_page is woken: SIGSTOP and SIGCONT to
# its process, which restarts the syscall (its break unmaps the range again),
# every 10 s until it has left. 7.3 leaves such breaks asleep for good
# (docs/verdict.md: every verdict boot with DAX). Each sleep it woke, once
# over, is a line of /tmp/dax-kicks (the init's artifact dax-kicks), judged
# by dax_kicks_ok; one not over is the bound's (bounded) or the guest's hang.
dax_kicker() {
	mkdir -p /tmp/asleep
	while :; do
		sleep 2
		now=$(cut -d. -f1 /proc/uptime)
		: > /tmp/asleep.now
		for s in $(grep -l wait_dax_page /proc/[0-9]*/task/[0-9]*/stack 2> /dev/null); do
			t=${s%/stack} && tid=${t##*/} && p=${t#/proc/} && pid=${p%%/*}
			echo "$tid" >> /tmp/asleep.now
			# FIRST LAST-KICK KICKS FUNCTION COMM
			[ -f "/tmp/asleep/$tid" ] ||
				echo "$now $now 0 $(grep -o '[a-z0-9_]*wait_dax_page' "$s" | head -1) $(cat "$t/comm")" > "/tmp/asleep/$tid"
			read -r first last kicks fn comm < "/tmp/asleep/$tid"
			[ $((now - last)) -ge 10 ] || continue
			kill -STOP "$pid" && sleep 1 && kill -CONT "$pid"
			echo "$first $now $((kicks + 1)) $fn $comm" > "/tmp/asleep/$tid"
		done
		for f in /tmp/asleep/*; do
			[ -f "$f" ] && ! grep -qx "${f##*/}" /tmp/asleep.now || continue
			read -r first last kicks fn comm < "$f"
			[ "$kicks" -gt 0 ] && echo "$comm ${f##*/}: $fn for $((now - first)) s, woken ${kicks}x, then left it" >> /tmp/dax-kicks
			rm -f "$f"
		done
	done
}
dax_kicker &

# tracepoint mode: fentry/fexit refused from here on, as a host's policy may
if [ "$DENY_FENTRY" = 1 ]; then
	$D/denyfentry > /tmp/deny 2>&1 &
	for i in $(seq 1 100); do grep -q -e denying -e cannot /tmp/deny && break; sleep 0.1; done
	artifact deny /tmp/deny
fi
$D/daxtrace -d 1 > /dev/null 2> /tmp/banner
artifact banner /tmp/banner
DAXSCOPE_DEBUG=1 $D/daxtrace -d 1 2>&1 | grep -B2 -A3 -e "failed to load" -e "processed [0-9]* insns" | tail -40 > /tmp/refused
artifact refused /tmp/refused
case $MODE in
virtiofs) . $D/virtiofs.sh; exit ;;
virtiofs-bench) . $D/bench.sh; exit ;;
virtiofs-model) . $D/model.sh; exit ;;
fuse) . $D/fuse-rows.sh; exit ;;
rawfs) . $D/rawfs-rows.sh; exit ;;
esac
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/pmem0 ] && break; sleep 1; done
ls -l /dev/pmem0 > /tmp/pmem 2>&1
artifact pmem /tmp/pmem
[ "$MODE" = rows ] && { . $D/ext4-rows.sh; exit; }
[ "$MODE" = verdict ] && { . $D/verdict-rows.sh; exit; }
[ "$MODE" = fuse-patched ] && { . $D/fuse-patched-rows.sh; exit; }

# record FS: daxtrace record around the race on a DAX mount of FS
record() {
	fs=$1
	mnt=/mnt/$fs
	mkdir -p "$mnt"
	case $fs in
	ext4) /sbin/e2fs-mkfs -q -t ext4 -F /dev/pmem0 ;;
	xfs) /sbin/xfs-mkfs -q -f -m reflink=0 /dev/pmem0 ;;
	esac > /tmp/mkfs.log 2>&1
	mount -t "$fs" -o dax /dev/pmem0 "$mnt" 2> /tmp/mount.err
	grep " $mnt " /proc/mounts > /tmp/mount || cat /tmp/mount.err /tmp/mkfs.log > /tmp/mount
	dmesg | grep -i dax | tail -3 >> /tmp/mount
	artifact "$fs-mount" /tmp/mount
	start_recorder "$fs"
	bounded 120 /tmp/race.json /tmp/race.err $D/race --file "$mnt/frag" --fragment --size 32M --punch 0:32M --hammer-ms 1500
	bounded 60 /dev/null /tmp/race-sched.err race_sched "$mnt/sched"
	cat /tmp/race-sched.err >> /tmp/race.err
	stop_recorder "$fs"
	artifact "$fs-race" /tmp/race.json
	artifact "$fs-race-sched" /tmp/race-sched.json
	artifact "$fs-race-err" /tmp/race.err
	$D/daxtrace report /tmp/$fs.dxc --json > /tmp/report.json 2> /tmp/report.err
	artifact "$fs-report" /tmp/report.json
	# the truth table's rows for this DAX filesystem (fio is not in the guest)
	scenarios=$($D/daxcheck --list | awk '$1 != "fio" { printf " --scenario %s", $1 }')
	# shellcheck disable=SC2086
	bounded 150 /tmp/truth.json /tmp/truth.err $D/daxcheck --expect-clean --json --trace /tmp/truth.trace \
		--runs "$DAXCHECK_RUNS" $scenarios "$mnt"
	truth_artifacts "$fs"
	umount "$mnt"
}
record ext4
record xfs
# tracepoint mode: a punch of a mapped page-cache file (ext4 without DAX); where
# no hook sees filemap_fault's and fault-around's read faults its window says so
if [ "$DENY_FENTRY" = 1 ]; then
	/sbin/e2fs-mkfs -q -t ext4 -F /dev/pmem0 > /tmp/mkfs.log 2>&1
	mount -t ext4 /dev/pmem0 /mnt/ext4 2>> /tmp/mkfs.log || cat /tmp/mkfs.log
	start_recorder pagecache
	race_sched /mnt/ext4/sched 2> /tmp/race.err
	echo "exit $?" >> /tmp/race.err
	stop_recorder pagecache
	artifact pagecache-race-err /tmp/race.err
	$D/daxtrace report --json /tmp/pagecache.dxc > /tmp/report.json 2> /tmp/report.err
	artifact pagecache-report /tmp/report.json
	$D/daxtrace report /tmp/pagecache.dxc > /tmp/report.txt 2>&1
	artifact pagecache-report-text /tmp/report.txt
	umount /mnt/ext4
fi
