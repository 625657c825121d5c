#!/bin/sh
# Boots Debian's own kernels under QEMU (TCG: no KVM needed) with a pmem DAX
# device (Debian's QEMU), or with a virtio-fs DAX window (the QEMU and
# virtiofsd of ../shared/vmm, sharing OUTDIR/share), runs tests/vm/guest.sh
# inside, and prints what the guest printed on its serial console. Used by
# tests/vm/matrix.t, which judges the results.
#
#   tests/vm/run-matrix.sh KERNEL OUTDIR [pmem|rows|fuse|rawfs|verdict|fuse-patched|virtiofs|virtiofs-bench|virtiofs-model]
#   KERNEL: 5.10 | 6.1 | 6.12 | 7.3
#
# rows: the pmem device without DAX, the buffered-read race rows of
# tests/vm/ext4-rows.sh (ROWS_ROUNDS rounds, default 120) and the truth table's
# non-DAX ext4 and xfs rows (ROWS_TRUTH_RUNS runs, default 2; 0: none).
# virtiofs: the window is DAXSCOPE_DAX_WINDOW_MB (default 32) MiB; virtiofsd's
# debug log is OUTDIR/virtiofsd.log (every request it served); the truth
# table's rows run on a last mount unless DAXSCOPE_VIRTIOFS_TRUTH=0; before
# them, daxcheck --verdict (VERDICT_SECONDS) with DAX and without, a mount each
# (tests/vm/virtiofs-verdict.sh).
# virtiofs-bench: a DAX fault storm untraced and traced, BENCH_ROUNDS (3) times.
# virtiofs-model: one device a window size of DAXSCOPE_DAX_WINDOWS_MB ("8 16
# 32 64"; tag daxfsN, share OUTDIR/shareN, log OUTDIR/virtiofsdN.log), one
# workload on each (tests/vm/model.sh; DAXSCOPE_MODEL_WORKLOAD: single, tasks,
# files or program), daxtrace recording them all; DAXSCOPE_MODEL_KEEP_CAPTURE=1 leaves the
# capture in OUTDIR/shareN/model.dxc, N the first window.
# DAXSCOPE_VMM_QEMU: another QEMU for the virtio-fs modes (tests/vm/vmm_crash.t:
# one that crashes, for the boot once more after a crash of the VMM's).
# DAXSCOPE_DENY_FENTRY=1: fentry/fexit refused in the guest (build/denyfentry,
# a BPF LSM program), as on a host whose policy forbids them: tracepoint mode.
# OUTDIR/config: the kernel's config.
# fuse: plain FUSE, no DAX (tests/vm/fuse-rows.sh): the race of
# tests/kernel/fuse_race.t on delayfs, FUSE_RACE_RUNS (3) times with
# FUSE_RACE_ARGS, then the truth table's delayfs and fuse-overlayfs rows.
# rawfs: the same race on rawfs, over /dev/fuse, with FUSE passthrough, and
# over io_uring where the kernel has it (tests/vm/rawfs-rows.sh),
# FUSE_RACE_RUNS times each.
# verdict: daxcheck --verdict, VERDICT_SECONDS (10) each, on non-DAX ext4 (4 KiB
# and 1 KiB blocks), ext4-dax, xfs-dax and delayfs (tests/vm/verdict-rows.sh);
# DAXSCOPE_VERDICT_ALL=1 (make verdicts): btrfs and f2fs too, with the host's
# mkfs (btrfs-progs, f2fs-tools: installed here if missing), and NFSv4.2 over
# loopback (knfsd and the client in the guest: tests/vm/nfs-verdict.sh); with
# DAXSCOPE_VERDICT_ONLY=nfs, btrfs or f2fs too, that row alone (docs/verdict.md: added to
# docs/filesystems.md by tests/truth/verdict-table.pl --guests-of OLD.md INDEX).
# fuse-patched (6.12): daxcheck --verdict on delayfs with the kernel's FUSE,
# then with tests/vm/patches/fuse-fallocate-invalidate-lock.patch live
# (tests/vm/fuse-patched.sh builds it; tests/vm/fuse-patched-rows.sh).
#
# Exit 0: OUTDIR/console.log holds the guest's output. Exit 3: this machine
# cannot run the VM (the reason is on stdout, one line). Other: failure.
# Downloads and built trees are cached in $DAXSCOPE_VM_CACHE
# (default /var/cache/daxscope-vm), outside the work tree.
set -eu
ver=$1
out=$2
mode=${3:-pmem}
case $mode in
pmem | rows | fuse | rawfs | verdict | fuse-patched | virtiofs | virtiofs-bench | virtiofs-model) ;;
*) echo "unknown mode $mode (pmem, rows, fuse, rawfs, verdict, fuse-patched, virtiofs, virtiofs-bench, virtiofs-model)" >&2; exit 2 ;;
esac
window_mb=${DAXSCOPE_DAX_WINDOW_MB:-32}
windows_mb=${DAXSCOPE_DAX_WINDOWS_MB:-8 16 32 64}
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${DAXSCOPE_VM_CACHE:-/var/cache/daxscope-vm}
mkdir -p "$cache" "$out"

skip() { echo "$*"; exit 3; }

case "$ver" in
5.10) suite=bullseye ;;
6.1) suite=bookworm ;;
6.12) suite=trixie ;;
7.3) suite=trixie-backports ;;
*) echo "unknown kernel $ver (5.10, 6.1, 6.12, 7.3)" >&2; exit 2 ;;
esac

# try_install PACKAGES...: false (apt's output in OUTDIR/apt.log) where one is missing and cannot be installed
try_install() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing > "$out/apt.log" 2>&1
}
need() { try_install "$@" || skip "cannot install$missing (see $out/apt.log)"; }
need qemu-system-x86 busybox-static xfsprogs e2fsprogs cpio kmod
case $mode in virtiofs*) need libfuse3-3 ;; esac
# the guest says which of these filesystems it could not check, and why
verdict_all=${DAXSCOPE_VERDICT_ALL:-0}
[ "$mode" = verdict ] && [ "$verdict_all" = 1 ] && { try_install btrfs-progs || true; try_install f2fs-tools || true; }
[ -e /dev/kvm ] || true # TCG needs no KVM; the nested KVM here cannot boot stock kernels anyway

# The machine's own Debian mirror, from its apt configuration (never a fixed host).
mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk '/^URIs:/ { uri = $2 } /^Suites:/ { if ($0 !~ /-security/) s = 1 }
		     /^$/ { if (uri && s) { print uri; exit } uri = ""; s = 0 }
		     END { if (uri && s) print uri }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $3 !~ /-security/ { u = $2; if (u ~ /^\[/) u = $3; print u }'
}
uri=$(mirror | grep -v -e '^$' | head -1)
[ -n "$uri" ] || skip "no Debian mirror found in the apt configuration"

# apt with a state of its own for the suite: nothing of the host's apt changes.
aptdir=$cache/apt-$suite
aptopts="-o Dir::Etc::sourcelist=$aptdir/sources.list -o Dir::Etc::sourceparts=/nonexistent
 -o Dir::State::Lists=$aptdir/lists -o Dir::Cache=$aptdir -o Dir::Cache::archives=$aptdir/archives
 -o Debug::NoLocking=1"
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial"
echo "deb $uri $suite main" > "$aptdir/sources.list"
if [ -z "$(find "$aptdir/lists" -name '*Packages*' -mtime -7 2>/dev/null | head -1)" ]; then
	# shellcheck disable=SC2086
	apt-get -q $aptopts update > "$out/apt-update.log" 2>&1 || skip "apt cannot reach $suite (see $out/apt-update.log)"
fi
# shellcheck disable=SC2086
pkg=$(apt-cache $aptopts depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$pkg" ] || skip "no linux-image-amd64 in $suite"
kver=${pkg#linux-image-}
# a backports suite moves on to newer kernels: the matrix's table is per version
case $kver in "$ver".*) ;; *) echo "$suite's kernel is now $kver, not $ver: tests/vm needs its row" >&2; exit 1 ;; esac
tree=$cache/kernel-$kver
if [ ! -e "$tree/.extracted" ]; then
	# From 7.x the image is a meta package: the kernel and its config are in
	# linux-binary (usr/lib/modules/VERSION/vmlinuz), the modules in linux-modules.
	# shellcheck disable=SC2086
	if apt-cache $aptopts depends "$pkg" 2>/dev/null | grep -q "Depends: linux-binary-$kver\$"; then
		debs="linux-binary-unsigned-$kver|linux-binary-$kver linux-modules-$kver linux-base-$kver"
	else
		debs="$pkg-unsigned|$pkg"
	fi
	rm -rf "$tree"
	mkdir -p "$tree"
	for alternatives in $debs; do
		deb=""
		for candidate in $(echo "$alternatives" | tr '|' ' '); do
			# shellcheck disable=SC2086
			(cd "$aptdir/archives" && apt-get -q $aptopts download "$candidate" > "$out/apt-download.log" 2>&1) || continue
			deb=$(ls "$aptdir/archives/${candidate}_"*.deb 2>/dev/null | head -1)
			break
		done
		[ -n "$deb" ] || skip "cannot download $alternatives (see $out/apt-download.log)"
		dpkg-deb -x "$deb" "$tree"
	done
	# trixie ships modules under /usr (merged /usr)
	[ -d "$tree/lib/modules" ] || ln -s usr/lib "$tree/lib"
	depmod -b "$tree" "$kver"
	touch "$tree/.extracted"
fi
moddir=$tree/lib/modules/$kver
[ "$mode" = fuse-patched ] && . "$top/tests/vm/fuse-patched.sh"
# 7.x: in linux-binary, named vmlinuz.unsigned in its unsigned form
for vmlinuz in "$tree/boot/vmlinuz-$kver" "$moddir/vmlinuz" "$moddir/vmlinuz.unsigned"; do
	[ -e "$vmlinuz" ] && break
done

# ---- initramfs ----
stage=$out/initramfs
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/sbin" "$stage/lib/modules/$kver" "$stage/proc" "$stage/sys" "$stage/dev" \
	"$stage/tmp" "$stage/mnt" "$stage/etc" "$stage/daxscope"
cp /bin/busybox "$stage/bin/busybox"
for applet in $("$stage/bin/busybox" --list); do
	[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done

# modules with their dependencies, through modules.dep
add_module() {
	path=$(awk -F: -v m="/$1.ko" 'index($1, m) == length($1) - length(m) + 1 || index($1, m".xz") || index($1, m".zst") { print $0; exit }' "$moddir/modules.dep")
	[ -n "$path" ] || return 0
	for f in ${path%%:*} ${path#*:}; do
		[ -e "$stage/lib/modules/$kver/$f" ] && continue
		mkdir -p "$stage/lib/modules/$kver/$(dirname "$f")"
		cp "$moddir/$f" "$stage/lib/modules/$kver/$f"
	done
}
for m in libnvdimm nd_pmem nd_e820 nd_btt dax ext4 xfs fuse virtiofs virtio_fs virtio_pci virtio_blk crc32c_generic libcrc32c; do
	add_module "$m"
done
[ "$mode" = verdict ] && [ "$verdict_all" = 1 ] && for m in btrfs f2fs crc32_generic nfsd nfsv4; do add_module "$m"; done
cp "$moddir"/modules.order "$moddir"/modules.builtin* "$stage/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$stage" "$kver"

# binaries with their shared libraries (busybox's mke2fs shadows e2fsprogs': own names)
add_binary() { # SRC DEST
	cp "$1" "$stage$2"
	for lib in $(ldd "$1" 2>/dev/null | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'); do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}
add_binary "$(command -v mke2fs)" /sbin/e2fs-mkfs
add_binary "$(command -v mkfs.xfs)" /sbin/xfs-mkfs
for b in daxtrace daxtop daxexport daxcheck race readrace mapstore delayfs rawfs faultbench denyfentry; do
	add_binary "$top/build/$b" "/daxscope/$b"
done
if [ "$mode" = verdict ] && [ "$verdict_all" = 1 ]; then # where the host has them (tests/vm/verdict-rows.sh says if not)
	for fs in btrfs f2fs; do
		command -v "mkfs.$fs" > /dev/null && add_binary "$(command -v "mkfs.$fs")" "/sbin/$fs-mkfs"
	done
fi
add_binary "$(command -v bpftool)" /daxscope/bpftool # offsets from the guest's BTF, for ftrace's own reads
[ "$mode" = fuse-patched ] && cp "$patched_ko" "$stage/daxscope/"
if [ "$mode" = fuse ]; then # the truth table's fuse-overlayfs rows, where the host has them (scripts/deps.sh)
	for b in fuse-overlayfs strace; do
		command -v "$b" > /dev/null && add_binary "$(command -v "$b")" "/daxscope/$b"
	done
fi
cp "$top/tests/vm/guest.sh" "$top/tests/vm/virtiofs.sh" "$top/tests/vm/bench.sh" "$top/tests/vm/model.sh" \
	"$top/tests/vm/fuse-rows.sh" "$top/tests/vm/ext4-rows.sh" "$top/tests/vm/afterop-rows.sh" \
	"$top/tests/vm/verdict-rows.sh" "$top/tests/vm/rawfs-rows.sh" "$top/tests/vm/virtiofs-verdict.sh" \
	"$top/tests/vm/fuse-patched-rows.sh" "$top/tests/vm/nfs-verdict.sh" "$stage/daxscope/"
# the guest sees no host environment
printf 'DAXCHECK_RUNS=%s\nMODE=%s\nWINDOW_MB=%s\nWINDOWS_MB="%s"\nBENCH_ROUNDS=%s\nVIRTIOFS_TRUTH=%s\n' \
	"${DAXCHECK_RUNS:-3}" "$mode" "$window_mb" "$windows_mb" "${BENCH_ROUNDS:-3}" "${DAXSCOPE_VIRTIOFS_TRUTH:-1}" \
	> "$stage/daxscope/env"
printf 'FUSE_RACE_RUNS=%s\nFUSE_RACE_ARGS="%s"\n' "${FUSE_RACE_RUNS:-3}" "${FUSE_RACE_ARGS:-}" >> "$stage/daxscope/env"
printf 'VIRTIOFS_DAX_VERDICT=%s\n' "${DAXSCOPE_VIRTIOFS_DAX_VERDICT:-1}" >> "$stage/daxscope/env"
printf 'ROWS_ROUNDS=%s\nROWS_TRUTH_RUNS=%s\n' "${ROWS_ROUNDS:-120}" "${ROWS_TRUTH_RUNS:-2}" >> "$stage/daxscope/env"
printf 'MODEL_WORKLOAD=%s\nMODEL_KEEP_CAPTURE=%s\n' "${DAXSCOPE_MODEL_WORKLOAD:-single}" "${DAXSCOPE_MODEL_KEEP_CAPTURE:-0}" \
	>> "$stage/daxscope/env"
printf 'DENY_FENTRY=%s\n' "${DAXSCOPE_DENY_FENTRY:-0}" >> "$stage/daxscope/env"
printf 'VERDICT_SECONDS=%s\nVERDICT_ALL=%s\n' "${VERDICT_SECONDS:-10}" "$verdict_all" >> "$stage/daxscope/env"
printf 'VERDICT_ONLY=%s\n' "${DAXSCOPE_VERDICT_ONLY:-}" >> "$stage/daxscope/env"
# the kernel's own config, for the matrix's table of features
cp "$(ls "$tree/boot/config-$kver" "$moddir/config" 2>/dev/null | head -1)" "$out/config"
cat > "$stage/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /sys/kernel/tracing /sys/fs/bpf
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || mount -t debugfs nodev /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
echo "@@DAXSCOPE-GUEST-BEGIN@@ $(uname -r)"
sh /daxscope/guest.sh 2>&1
[ -n "$(ls /tmp/asleep 2> /dev/null)" ] && sleep 3 # the kicker's last look at a sleeper (tests/vm/guest.sh dax_kicker)
[ -s /tmp/dax-kicks ] && { echo "@@ARTIFACT dax-kicks@@"; cat /tmp/dax-kicks; echo "@@END dax-kicks@@"; }
echo "@@DAXSCOPE-GUEST-END@@"
poweroff -f
INIT
chmod +x "$stage/init"
(cd "$stage" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$out/initramfs.gz"

# ---- boot ----
# One host thread for both vCPUs: multi-threaded TCG lets a vCPU run code the
# other has just patched (static keys, BPF trampolines) before the patch is
# complete, and the guest dies on "Oops: int3". Toggling tracepoints on a busy
# 6.12 guest crashed 4 boots in 4 that way, and 1 plain boot in 164.
# no_timer_check: early boot waits a few ticks for the IO-APIC timer, and a
# guest the host starves of CPU misses them and panics ("IO-APIC + timer
# doesn't work!", twice in a 6.12 guest at idle priority beside a CI run).
qemu=qemu-system-x86_64
machine="-accel tcg,thread=single -cpu max -smp 2 -m 2G"
boot_args="console=ttyS0 panic=-1 quiet loglevel=3 no_timer_check" # every guest's; the pmem guests add their memmap
append="$boot_args memmap=512M!1G"
# verdict: a second pmem device (/dev/pmem1), apart from the first, for the second DAX filesystem
# (tests/vm/verdict-rows.sh: on 7.3 a DAX page of the first one's keeps a reference)
[ "$mode" = verdict ] && append="$append memmap=256M!1664M"
case $mode in virtiofs*)
	vmm=$top/../shared/vmm
	[ -x "$vmm/bin/qemu-system-x86_64" ] || skip "no virtio-fs DAX VMM in $vmm (../shared beside the clone)"
	# virtiofsd writes its pid file beside its own binary: run copies from the cache
	mkdir -p "$cache/vmm"
	cp -u -R "$vmm/bin" "$vmm/bios" "$cache/vmm/"
	missing=$(ldd "$cache/vmm/bin/qemu-system-x86_64" "$cache/vmm/bin/virtiofsd" | awk '/not found/ { print $1 }' | sort -u)
	if [ -n "$missing" ]; then
		echo "the VMM's binaries lack $(echo $missing): rebuilding them with $vmm/build.sh (about 8 min)" >&2
		"$vmm/build.sh" "$cache/vmm-built" > "$out/vmm-build.log" 2>&1 ||
			{ echo "rebuilding the VMM failed (see $out/vmm-build.log)" >&2; exit 1; }
		cp -R "$cache/vmm-built/." "$cache/vmm/bin/"
	fi
	qemu=${DAXSCOPE_VMM_QEMU:-$cache/vmm/bin/qemu-system-x86_64}
	# -cpu max hangs 6.1 at boot on this QEMU's TCG (5-level paging); vhost-user needs shared memory
	machine="-L $cache/vmm/bios -nic none -accel tcg,thread=single -cpu qemu64 -smp 2 -m 2G
	 -object memory-backend-memfd,id=mem,size=2G,share=on -numa node,memdev=mem"
	virtiofsds=""
	trap 'kill $virtiofsds 2>/dev/null || true' EXIT
	machine_without_fs=$machine
	# virtio_fs SUFFIX MB: a virtiofsd sharing OUTDIR/shareSUFFIX (its log OUTDIR/virtiofsdSUFFIX.log)
	# for the device tagged daxfsSUFFIX, a window of MB MiB
	virtio_fs() {
		rm -rf "$out/share$1"
		mkdir -p "$out/share$1"
		rm -f "$out/vfs$1.sock"
		"$cache/vmm/bin/virtiofsd" --socket-path="$out/vfs$1.sock" -o source="$out/share$1" -o cache=always -d \
			2> "$out/virtiofsd$1.log" &
		virtiofsds="$virtiofsds $!"
		for i in $(seq 50); do [ -S "$out/vfs$1.sock" ] && break; sleep 0.1; done
		[ -S "$out/vfs$1.sock" ] || { echo "virtiofsd did not start:" >&2; cat "$out/virtiofsd$1.log" >&2; exit 1; }
		machine="$machine -chardev socket,id=char$1,path=$out/vfs$1.sock
		 -device vhost-user-fs-pci,chardev=char$1,tag=daxfs$1,cache-size=$2M"
	}
	# start_virtiofsds: fresh daemons on empty shares, before each boot
	start_virtiofsds() {
		kill $virtiofsds 2> /dev/null || true
		wait $virtiofsds 2> /dev/null || true
		virtiofsds=""
		machine=$machine_without_fs
		if [ "$mode" = virtiofs-model ]; then
			for mb in $windows_mb; do
				virtio_fs "$mb" "$mb"
			done
		else
			virtio_fs "" "$window_mb"
		fi
	}
	if [ "$mode" = virtiofs-model ]; then
		for mb in $windows_mb; do
			[ $((mb & (mb - 1))) = 0 ] || { echo "cache-size $mb MiB: QEMU takes powers of two only" >&2; exit 2; }
		done
	fi
	start_virtiofsds
	append="$boot_args"
	;;
esac
# tracepoint mode's BPF LSM program needs "bpf" among the LSMs: 5.10's CONFIG_LSM lacks it
if [ "${DAXSCOPE_DENY_FENTRY:-0}" = 1 ]; then
	lsm=$(sed -n 's/^CONFIG_LSM="\(.*\)"$/\1/p' "$out/config")
	case ",$lsm," in *,bpf,*) ;; *) append="$append lsm=${lsm:+$lsm,}bpf" ;; esac
fi
command -v "$qemu" > /dev/null || skip "qemu-system-x86_64 missing"
# rows: a disk the guest writes a tar of its captures and reports to (tests/vm/ext4-rows.sh), too
# large for the console; unpacked into OUTDIR/guest to look into a row's events on the host
if [ "$mode" = rows ]; then
	rm -f "$out/guest-files.img"
	truncate -s 1G "$out/guest-files.img"
	machine="$machine -drive file=$out/guest-files.img,format=raw,if=virtio"
fi
boot() {
	qemu_rc=0
	dmesg_seen=$(dmesg 2> /dev/null | wc -l)
	# shellcheck disable=SC2086
	timeout "${DAXSCOPE_VM_TIMEOUT:-420}" "$qemu" $machine \
		-kernel "$vmlinuz" -initrd "$out/initramfs.gz" -append "$append" \
		-nographic -no-reboot > "$out/console.log" 2>&1 || qemu_rc=$?
}
boot
# The shared VMM's QEMU segfaults now and then under a busy DAX window (host
# dmesg: qemu-system-x86 segfault, the same instruction each time): a crash of
# the host's VMM, not of the guest. timeout(1) answers 128+N when QEMU died of
# signal N (124 when it ran out of time): boot that guest once more, on fresh
# virtiofsds and shares, and say so (matrix.t passes the line on).
if [ -n "${virtiofsds:-}" ] && [ "$qemu_rc" -gt 128 ] && ! grep -q "@@DAXSCOPE-GUEST-END@@" "$out/console.log"; then
	mv "$out/console.log" "$out/console-vmm-crash.log"
	crash=$(dmesg 2> /dev/null | tail -n +$((dmesg_seen + 1)) | grep -m1 'qemu-system' | sed 's/^\[[^]]*\] //')
	echo "the shared VMM's QEMU died of signal $((qemu_rc - 128))${crash:+ ($crash)}, its console in" \
		"$out/console-vmm-crash.log: booting the guest once more" >&2
	start_virtiofsds
	boot
fi
if [ "$mode" = rows ]; then
	mkdir -p "$out/guest"
	tar -xf "$out/guest-files.img" -C "$out/guest" 2> /dev/null || true
	rm -f "$out/guest-files.img"
fi
grep -q "@@DAXSCOPE-GUEST-END@@" "$out/console.log" && exit 0
# The first lines of the guest kernel's oops (what it hit, where, the call
# trace), else the end of its console.
echo "guest did not finish; its console:" >&2
# a guard's artifact hang first (guest.sh: bounded, watch_pid), then the kernel's oops or the console's end
tr -d '\r' < "$out/console.log" | sed -n '/^@@ARTIFACT hang@@/,/^@@END hang@@/p' | head -150 >&2
tr -d '\r' < "$out/console.log" | awk '/BUG:|Oops:|general protection|kernel BUG|Kernel panic/ && !n { n = 1 }
	n && n++ <= 45' | grep . >&2 || tail -30 "$out/console.log" >&2
exit 1
