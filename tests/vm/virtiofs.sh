# Sourced by guest.sh (MODE virtiofs): the virtio-fs DAX window of the host's
# virtiofsd, live. First mount: daxtrace records, and ftrace counts the
# window's functions, from before the mount to after the unmount, so that
# daxscope's counts, the kernel's (ftrace function hits, with their callers)
# and virtiofsd's (its log of the requests it served, on the host, up to the
# second mount's INIT) cover the same requests. Second mount: the truth
# table's rows, with daxcheck's own session alone.
T=/sys/kernel/tracing
[ -e $T/trace ] || T=/sys/kernel/debug/tracing
mnt=/mnt/vfs
mkdir -p $mnt
# The window's state read twice at the same call, a read of a range just
# read (mapped: nothing changes): by daxscope's CO-RE reads, in a capture of
# its own, and by an ftrace kprobe following the offsets bpftool finds in the
# guest's BTF, inode->i_sb->s_fs_info (fuse_mount)->fc->dax->nr_*.
: > /tmp/state.err
for f in /sys/kernel/btf/vmlinux /sys/kernel/btf/fuse; do # fuse is built in or a module
	[ -e $f ] && $D/bpftool btf dump file $f 2>> /tmp/state.err
done | awk '/^\[/ { keep = $2 == "STRUCT" && $3 ~ /^.(inode|super_block|fuse_mount|fuse_conn|fuse_conn_dax|iomap_iter).$/ } keep' > /tmp/btf.txt
off() { # STRUCT FIELD: the field's byte offset (said in /tmp/state.err if not found)
	awk -v s="'$1'" -v f="'$2'" '
		$2 == "STRUCT" && $3 == s { in_s = 1; next }
		in_s && /^\[/ { in_s = 0 }
		in_s && $1 == f { sub("bits_offset=", "", $3); print $3 / 8; found = 1; exit }
		END { if (!found) printf "no %s.%s in the BTF\n", s, f > "/dev/stderr" }' /tmp/btf.txt 2>> /tmp/state.err
}
# the inode of fuse_iomap_begin(inode, ...); on 7.x, of fuse_iomap_next(iter, ...): iter->inode,
# where file.c and dax.c each have one: dax.c's, by its address among the fuse_dax_ functions'
if grep -q -e '^fuse_iomap_begin$' -e '^fuse_iomap_begin ' $T/available_filter_functions; then
	at=fuse_iomap_begin inode=%di
else
	at=$(awk '$3 ~ /^fuse_dax_[a-z_]*$/ { if (!lo || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
		$3 == "fuse_iomap_next" { n[++k] = $1 }
		END { for (i = 1; i <= k; i++) if (n[i] > lo && n[i] < hi) print "0x" n[i] }' /proc/kallsyms)
	inode="+$(off iomap_iter inode)(%di)"
fi
dax="+$(off fuse_conn dax)(+$(off fuse_mount fc)(+$(off super_block s_fs_info)(+$(off inode i_sb)($inode))))"
probe="p:daxstate $at free=+$(off fuse_conn_dax nr_free_ranges)($dax):s64"
probe="$probe busy=+$(off fuse_conn_dax nr_busy_ranges)($dax):u64 ranges=+$(off fuse_conn_dax nr_ranges)($dax):u64"
echo "$probe" > $T/kprobe_events 2>> /tmp/state.err || echo "refused: $probe" >> /tmp/state.err
# The kernel's own count of alloc_dax_mapping finding no free range (NULL), in
# the main buffer beside the function tracer: a kretprobe is not skipped where
# a BPF program is (its misses are its own, in kprobe_profile).
echo 'r:daxalloc alloc_dax_mapping ret=$retval:x64' >> $T/kprobe_events 2> /tmp/daxalloc.err ||
	echo "refused: r:daxalloc alloc_dax_mapping" >> /tmp/daxalloc.err
mkdir $T/instances/state # a buffer of its own, and defined now: adding a kprobe event clears the buffers
echo 0 > $T/tracing_on
echo 16384 > $T/buffer_size_kb
echo 'fuse_setup_one_mapping fuse_send_removemapping fuse_dax_free_mem_worker' > $T/set_ftrace_filter
echo function > $T/current_tracer
[ -e $T/events/kprobes/daxalloc ] && echo 1 > $T/events/kprobes/daxalloc/enable
echo > $T/trace
$D/daxtrace record --fault-hooks=always -o /tmp/vfs.dxc 2> /tmp/record.err &
rec=$!
await_watching /tmp/record.err
$D/daxtop -b -i 0.5 > /tmp/daxtop.out 2> /tmp/daxtop.err &
top=$!
await_watching /tmp/daxtop.err
echo 1 > $T/tracing_on
mount -t virtiofs daxfs $mnt -o dax 2> /tmp/mount.err
{ grep " $mnt " /proc/mounts || cat /tmp/mount.err; dmesg | grep -i "cache len" | tail -1; } > /tmp/mount
artifact virtiofs-mount /tmp/mount

# ... read at one call, on the fresh window: a file's one range mapped by a
# read leaves free ranges above the reclaim threshold (nothing else happens),
# then read again
dd if=/dev/zero of=$mnt/state bs=4k count=1 2> /dev/null # an extending write: FUSE WRITE, no range
dd if=$mnt/state of=/dev/null bs=4k count=1 2> /dev/null
$D/daxtrace record -o /tmp/state.dxc 2> /tmp/state-record.err &
staterec=$!
await_watching /tmp/state-record.err
echo 1 > $T/instances/state/events/kprobes/daxstate/enable 2>> /tmp/state.err
dd if=$mnt/state of=/dev/null bs=4k count=1 2> /dev/null
echo 0 > $T/instances/state/events/kprobes/daxstate/enable
kill -INT $staterec
wait $staterec
{ cat /tmp/state.err; grep -o 'daxstate:.*' $T/instances/state/trace; } > /tmp/state
artifact virtiofs-state /tmp/state
$D/daxtrace report /tmp/state.dxc --json > /tmp/state.json 2>&1
artifact virtiofs-state-report /tmp/state.json

# A working set three times the window, written by four tasks at once, then read back.
mb=$((WINDOW_MB * 3 / 4))
writers=""
for i in 1 2 3 4; do
	dd if=/dev/urandom of=$mnt/w$i bs=1M count=$mb 2> /dev/null &
	writers="$writers $!"
done
wait $writers
md5sum $mnt/w1 $mnt/w2 $mnt/w3 $mnt/w4 > /tmp/md5
artifact virtiofs-md5 /tmp/md5

# Eight tasks reading eighths of one file at once: IO (not faults) wanting
# more ranges than are free, by a file that holds ranges of its own: inline
# reclaim, when the worker lags. Passes until the kernel has done one (its
# ftrace count: a removal from reclaim_one_dmap_locked outside a kworker), at
# most five. (Extending writes made the file: FUSE WRITE, no range.)
dd if=/dev/zero of=$mnt/shared bs=1M count=$((WINDOW_MB * 4)) 2> /dev/null
for pass in 1 2 3 4 5; do
	readers=""
	for q in 0 1 2 3 4 5 6 7; do
		dd if=$mnt/shared of=/dev/null bs=1M skip=$((q * WINDOW_MB / 2)) count=$((WINDOW_MB / 2)) 2> /dev/null &
		readers="$readers $!"
	done
	wait $readers
	grep ' fuse_send_removemapping <-reclaim_one_dmap_locked' $T/trace | grep -vq '^ *kworker' && break
done

# Mapped faults hammering a file punched whole, then the scheduled race, as on pmem.
$D/race --file $mnt/frag --size 16M --punch 0:16M --hammer-ms 1500 --punches 5 > /tmp/race.json 2> /tmp/race.err
echo "exit $?" >> /tmp/race.err
race_sched $mnt/sched 2>> /tmp/race.err
echo "exit $?" >> /tmp/race.err
artifact virtiofs-race /tmp/race.json
artifact virtiofs-race-sched /tmp/race-sched.json
artifact virtiofs-race-err /tmp/race.err

umount $mnt
sleep 1
echo 0 > $T/tracing_on
# Runs of each program the kernel skipped (bpftool's recursion_misses), read
# while the recorder and daxtop still have them: "recorder PID", "daxtop PID", "programs N",
# then "NAME MISSES PIDS" for each program that missed any.
$D/bpftool prog show > /tmp/progs 2>&1
{
	echo "recorder $rec"
	echo "daxtop $top"
	echo "programs $(grep -c ' name on_' /tmp/progs)"
	awk '/^[0-9]+:/ { if (m) print n, m, p; n = m = p = ""
			for (i = 1; i < NF; i++) { if ($i == "name") n = $(i + 1); if ($i == "recursion_misses") m = $(i + 1) } }
		$1 == "pids" { p = $2 }
		END { if (m) print n, m, p }' /tmp/progs
} > /tmp/progmiss
artifact virtiofs-prog-misses /tmp/progmiss
kill -INT $rec
wait $rec
artifact virtiofs-record-err /tmp/record.err
sleep 0.5 # a refresh after the unmount: daxtop's last table counts what the recorder did
kill -INT $top
wait $top
{ grep -A1 '^DAX window' /tmp/daxtop.out | tail -2; cat /tmp/daxtop.err; } > /tmp/daxtop
artifact virtiofs-daxtop /tmp/daxtop

# The kernel's own count: "COMM-PID [CPU] ... TS: FUNCTION <-CALLER". A range's
# reclaim removes its mapping from reclaim_one_dmap_locked (in a kworker: the
# worker; elsewhere: inline, by the task that needs a range).
{
	echo "setups $(grep -c ' fuse_setup_one_mapping <-' $T/trace)"
	echo "removals $(grep -c ' fuse_send_removemapping <-' $T/trace)"
	echo "worker_reclaims $(grep ' fuse_send_removemapping <-reclaim_one_dmap_locked' $T/trace | grep -c '^ *kworker')"
	echo "inline_reclaims $(grep ' fuse_send_removemapping <-reclaim_one_dmap_locked' $T/trace | grep -vc '^ *kworker')"
	echo "passes $(grep -c ' fuse_dax_free_mem_worker <-' $T/trace)"
	echo "overruns $(cat $T/per_cpu/cpu*/stats | awk '/^overrun:/ { n += $2 } END { print n + 0 }')"
	echo "callers $(grep ' fuse_send_removemapping <-' $T/trace | sed 's/.*<-//' | sort | uniq -c | tr '\n' ' ')"
	if [ -e $T/events/kprobes/daxalloc ]; then
		echo "alloc_misses $(grep -c 'daxalloc: .* ret=0x0$' $T/trace)"
		echo "alloc_probe_misses $(awk '$1 == "daxalloc" { print $3 }' $T/kprobe_profile)"
		# daxscope's stalls, from the kernel's own calls: a task's first NULL
		# return opens one, its next range (a non-NULL return, or its inline
		# reclaim's removal) ends it with the NULL returns meanwhile; open at the end: not counted
		awk 'function stall_over(t) { if (open[t]) { stalls++; misses += n[t] } open[t] = n[t] = 0 }
			!match($0, /-[0-9]+ +\[[0-9]+\]/) { next }
			{ tid = substr($0, RSTART + 1, RLENGTH - 1); sub(/ .*/, "", tid) }
			/ daxalloc: / { if ($NF == "ret=0x0") { open[tid] = 1; n[tid]++ } else stall_over(tid); next }
			/ fuse_send_removemapping <-reclaim_one_dmap_locked/ && !/^ *kworker/ { stall_over(tid) }
			END { for (t in open) left += open[t]
				printf "alloc_stalls %d\nalloc_stall_misses %d\nalloc_stalls_open %d\n", stalls, misses, left }' $T/trace
	else
		echo "alloc_misses none: $(cat /tmp/daxalloc.err)"
	fi
} > /tmp/ftrace
echo nop > $T/current_tracer
[ -e $T/events/kprobes/daxalloc ] && echo 0 > $T/events/kprobes/daxalloc/enable # an enabled event is not removed
rmdir $T/instances/state
echo > $T/kprobe_events
artifact virtiofs-ftrace /tmp/ftrace
$D/daxtrace report /tmp/vfs.dxc --json > /tmp/report.json 2> /tmp/report.err
artifact virtiofs-report /tmp/report.json
artifact virtiofs-report-err /tmp/report.err

. $D/virtiofs-verdict.sh

# The truth table's rows for virtio-fs DAX (fio is not in the guest).
[ "$VIRTIOFS_TRUTH" = 1 ] || return 0
mount -t virtiofs daxfs $mnt -o dax
scenarios=$($D/daxcheck --list | awk '$1 != "fio" { printf " --scenario %s", $1 }')
# shellcheck disable=SC2086
$D/daxcheck --expect-clean --json --trace /tmp/truth.trace --runs "$DAXCHECK_RUNS" $scenarios $mnt \
	> /tmp/truth.json 2> /tmp/truth.err
echo "exit $?" >> /tmp/truth.err
truth_artifacts virtiofs
umount $mnt
