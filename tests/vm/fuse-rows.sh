# Sourced by guest.sh (MODE fuse): plain FUSE, no DAX. delayfs (its server
# sleeps 50 ms before its punch and after it) with daxtrace recording around
# FUSE_RACE_RUNS runs of the race of tests/kernel/fuse_race.t (arguments in
# FUSE_RACE_ARGS, a file per run: race1, race2, ...), then the truth table's
# rows, DAXCHECK_RUNS runs each, on delayfs (the server's log) and on
# fuse-overlayfs (under strace, as tests/truth/truth.sh runs it) when both
# binaries are in the image. tests/vm/fuse_rows.t judges the artifacts.
# The servers' files live on ext4 on /dev/pmem0 (mounted without DAX): tmpfs
# refuses O_DIRECT (before 6.6) and ZERO_RANGE, which the rows use.
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/pmem0 ] && break; sleep 1; done
/sbin/e2fs-mkfs -q -t ext4 -F /dev/pmem0 > /tmp/mkfs.log 2>&1
mkdir -p /mnt/scratch
mount -t ext4 /dev/pmem0 /mnt/scratch 2>> /tmp/mkfs.log || cat /tmp/mkfs.log
back=/mnt/scratch/back
ovl=/mnt/scratch/ovl
mnt=/mnt/delayfs
mkdir -p $back $mnt
$D/delayfs $back $mnt --delay-ms=50 --truncate-delay-ms=50 --log=/tmp/delayfs.log 2> /tmp/delayfs.err
for i in $(seq 1 100); do grep -q " $mnt " /proc/mounts && break; sleep 0.1; done
{ grep " $mnt " /proc/mounts || cat /tmp/delayfs.err; } > /tmp/mount
artifact delayfs-mount /tmp/mount

start_recorder fuse
: > /tmp/race.err
for run in $(seq 1 "$FUSE_RACE_RUNS"); do
	# shellcheck disable=SC2086
	$D/race --file "$mnt/race$run" $FUSE_RACE_ARGS > /tmp/race.json 2>> /tmp/race.err
	echo "exit $?" >> /tmp/race.err
	artifact "fuse-race$run" /tmp/race.json
done
stop_recorder fuse
artifact fuse-race-err /tmp/race.err
$D/daxtrace report /tmp/fuse.dxc --json > /tmp/report.json 2> /tmp/report.err
artifact fuse-report /tmp/report.json
$D/daxtrace report /tmp/fuse.dxc > /tmp/report.txt 2>> /tmp/report.err
artifact fuse-report-text /tmp/report.txt
artifact fuse-report-err /tmp/report.err

truth() { # NAME DAXCHECK-ARGS...: the rows of one FUSE filesystem
	name=$1
	shift
	$D/daxcheck --json --trace /tmp/truth.trace --runs "$DAXCHECK_RUNS" "$@" > /tmp/truth.json 2> /tmp/truth.err
	echo "exit $?" >> /tmp/truth.err
	truth_artifacts "$name"
}
[ "$DAXCHECK_RUNS" -gt 0 ] || exit 0
truth delayfs --server-log /tmp/delayfs.log $mnt
umount $mnt

[ -x $D/fuse-overlayfs ] && [ -x $D/strace ] || exit 0
mkdir -p $ovl/lower $ovl/upper $ovl/work /mnt/ovl
calls=fallocate,ftruncate,truncate,copy_file_range
$D/strace -f -ttt -y -qq --seccomp-bpf -e trace=$calls,writev -e inject=$calls:delay_enter=50000:delay_exit=50000 \
	-o /tmp/ovl.strace $D/fuse-overlayfs -f \
	-o lowerdir=$ovl/lower,upperdir=$ovl/upper,workdir=$ovl/work /mnt/ovl 2> /tmp/ovl.err &
for i in $(seq 1 100); do grep -q " /mnt/ovl " /proc/mounts && break; sleep 0.1; done
if grep -q " /mnt/ovl " /proc/mounts; then
	truth fuse-overlayfs --server-strace /tmp/ovl.strace /mnt/ovl
	umount /mnt/ovl
else
	artifact fuse-overlayfs-truth-err /tmp/ovl.err
fi
