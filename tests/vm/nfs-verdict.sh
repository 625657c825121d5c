# Sourced by tests/vm/verdict-rows.sh (VERDICT_ALL=1, make verdicts): NFSv4.2
# over loopback. knfsd in this guest exports non-DAX ext4 on the 512 MiB pmem
# device, NFSv4 only, with nothing from nfs-utils: a v4-only server needs no
# rpcbind (its listener is anonymous) and no lockd, and the export caches
# rpc.mountd would fill on upcalls are written by hand (the client's address,
# the export's fsid 0 as the v4 root, the export). The client mounts it over
# 127.0.0.1 with -o vers=4.2 (busybox mount passes the options as text, with
# addr=). Artifacts: verdict-nfs (daxcheck --verdict JSON), verdict-nfs-err,
# verdict-nfs-mount, verdict-nfs-ops (the client's per-operation RPC counts
# from /proc/self/mountstats: DEALLOCATE, ALLOCATE, ZERO_RANGE (7.x), COPY,
# CLONE sent to the server), or verdict-nfs-cannot (why the guest could not
# check it).

# nfs_cannot WHY...: the artifact that says why there is no NFS row
nfs_cannot() {
	echo "$*" > /tmp/cannot
	artifact verdict-nfs-cannot /tmp/cannot
}

# nfs_server EXPORT: knfsd serving EXPORT as the NFSv4 root (fsid 0) to 127.0.0.1
nfs_server() {
	nfsd=/proc/fs/nfsd
	mount -t nfsd nfsd $nfsd || return 1
	# before the listener: versions and grace time are fixed once it exists. The grace period
	# (OPEN answered NFS4ERR_GRACE) is 10 s, the least, and waited out: no client has state to
	# reclaim, but ending it at once (v4_end_grace) works on 5.10 only; Debian's 6.1 and later
	# refuse it without client tracking (nfsd4_force_end_grace), which needs nfsdcld or a
	# recovery directory: none here
	echo "-2 -3 +4 +4.1 +4.2" > $nfsd/versions &&
		echo 10 > $nfsd/nfsv4gracetime &&
		echo "tcp 2049" > $nfsd/portlist &&
		echo 4 > $nfsd/threads || return 1
	echo Y > $nfsd/v4_end_grace 2> /dev/null
	for i in $(seq 1 300); do [ "$(cat $nfsd/v4_end_grace)" = Y ] && break; sleep 0.1; done
	# what rpc.mountd would answer (net/sunrpc/svcauth_unix.c ip_map_parse, fs/nfsd/export.c
	# expkey_parse and svc_export_parse): class address expiry domain; domain fsidtype(1:
	# FSID_NUM) fsid expiry path; domain path expiry flags anonuid anongid fsid. Flags from
	# include/uapi/linux/nfsd/export.h: NFSEXP_INSECURE_PORT 0x2 | NFSEXP_NOSUBTREECHECK
	# 0x400 | NFSEXP_FSID 0x2000 (rw, no root squash, sync).
	forever=2147483647
	echo "nfsd 127.0.0.1 $forever daxscope" > /proc/net/rpc/auth.unix.ip/channel &&
		echo "daxscope 1 \\x00000000 $forever $1" > /proc/net/rpc/nfsd.fh/channel &&
		echo "daxscope $1 $forever $((0x2 | 0x400 | 0x2000)) 65534 65534 0" > /proc/net/rpc/nfsd.export/channel
}

nfs_verdict() {
	for m in nfsd nfsv4; do # the kernel's modprobe (/sbin/modprobe) is not in this guest: load them here
		modprobe "$m" 2> /tmp/modprobe.err || {
			nfs_cannot "this kernel cannot load $m: $(cat /tmp/modprobe.err)"
			return
		}
	done
	ifconfig lo 127.0.0.1 up
	mkdir -p /mnt/nfs.export /mnt/nfs
	{
		/sbin/e2fs-mkfs -q -t ext4 -b 4096 -F /dev/pmem0 && mount -t ext4 /dev/pmem0 /mnt/nfs.export &&
			nfs_server /mnt/nfs.export &&
			mount -t nfs4 -o vers=4.2,clientaddr=127.0.0.1 127.0.0.1:/ /mnt/nfs
	} > /tmp/nfs.log 2>&1
	{ grep " /mnt/nfs " /proc/mounts || { cat /tmp/nfs.log; dmesg | tail -5; }; } > /tmp/mount
	artifact verdict-nfs-mount /tmp/mount
	if grep -q " /mnt/nfs " /proc/mounts; then
		verdict nfs /mnt/nfs
		grep -E "^[[:space:]]+(DEALLOCATE|ALLOCATE|ZERO_RANGE|COPY|CLONE):" /proc/self/mountstats > /tmp/nfs-ops
		artifact verdict-nfs-ops /tmp/nfs-ops
		umount /mnt/nfs
	fi
	echo 0 > /proc/fs/nfsd/threads 2> /dev/null
	umount /proc/fs/nfsd /mnt/nfs.export 2> /dev/null
}
nfs_verdict
