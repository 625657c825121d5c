# Sourced by virtiofs.sh (MODE virtiofs), after the window's own checks: the
# punch-safety verdict (daxcheck --verdict, VERDICT_SECONDS) of the same
# virtio-fs share mounted with DAX (artifact verdict-virtiofs-dax) and without
# (verdict-virtiofs), each on a mount of its own, with its mount line
# (verdict-NAME-mount). tests/vm/matrix.t judges them; tests/vm/verdicts.sh
# puts them in docs/filesystems.md.

# verdict_mount NAME OPTIONS...: the share at $mnt with the first OPTIONS the
# kernel takes ("-": none), its verdict in a scratch directory there
verdict_mount() {
	name=$1
	shift
	: > /tmp/mount.err
	for opts in "$@"; do
		[ "$opts" = - ] && opts=""
		mount -t virtiofs daxfs "$mnt" ${opts:+-o "$opts"} 2>> /tmp/mount.err && break
	done
	{ grep " $mnt " /proc/mounts || cat /tmp/mount.err; } > /tmp/mount
	artifact "verdict-$name-mount" /tmp/mount
	grep -q " $mnt " /proc/mounts || return 0
	mkdir -p "$mnt/verdict"
	verdict "$name" "$mnt/verdict"
	rmdir "$mnt/verdict"
	umount "$mnt"
}

# dax=always and dax=never came in 5.17 (FUSE_DAX_INODE modes); before, "dax" or nothing.
# On 6.1 a DAX file's last release can deadlock its eviction (matrix.t: the truth rows).
# VIRTIOFS_DAX_VERDICT=0 (DAXSCOPE_VIRTIOFS_DAX_VERDICT on the host) leaves it out (matrix.t says why).
case $(uname -r) in
6.1.*) echo "virtio-fs DAX verdict skipped on $(uname -r): the eviction deadlock of tests/vm/matrix.t" ;;
*) if [ "${VIRTIOFS_DAX_VERDICT:-1}" = 1 ]; then verdict_mount virtiofs-dax dax=always dax; fi ;;
esac
verdict_mount virtiofs dax=never -
