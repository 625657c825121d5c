#!/bin/bash
# Boots Debian's own kernels under QEMU (TCG: no KVM needed) with a pmem DAX
# device (memmap=512M!1G), runs a test script inside and brings its TAP output
# back: one TAP stream on stdout, each guest test renumbered and its
# description prefixed with the kernel version ("ok 7 - [6.1] ext4: ...").
#
#   tests/vm/run-matrix.sh [--kernels "5.10 6.1 6.12"] [--cache DIR]
#                          [--guest-bin FILE]... [--guest-test SCRIPT]
#                          [--timeout SECONDS] [--log-dir DIR]
#   prove tests/vm/run-matrix.sh
#
# Kernels: 5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie): the newest
# linux-image-*-amd64-unsigned of that suite (else the signed image), fetched
# with apt from the mirror this machine's apt is configured with, under an
# apt state of its own in the cache; nothing of the host's apt state changes.
# --cache (default /var/cache/daxscope-vm, or $DAXSCOPE_VM_CACHE): .deb files,
# extracted kernel trees, the built mmap-touch helper, console logs (logs/).
# --guest-bin: copied to /bin of the guest with its shared libraries.
# --guest-test: shell script run as /test.sh (default tests/vm/guest-smoke.sh);
# it must print TAP. In the guest: /usr/sbin/mkfs.ext4, /usr/sbin/mkfs.xfs
# (the real ones; busybox's mke2fs would shadow them), mmap-touch, busybox,
# KERNEL_VERSION exported, tracefs, bpffs and debugfs mounted.
# A kernel that cannot be fetched, or a machine that cannot run QEMU, gives
# "ok N # SKIP reason" lines; a guest that times out or crashes gives "not ok"
# with the tail of its console. Exit status 1 when any test failed.
#
# Legacy form, used by tests/vm/matrix.t:
#   tests/vm/run-matrix.sh KERNEL OUTDIR
# runs tests/vm/guest.sh with build/{daxtrace,race,delayfs} (also reachable as
# /daxscope/*) and leaves the console in OUTDIR/console.log. Exit 0: guest
# finished; 3: this machine cannot run the VM (reason on stdout); other: failure.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${DAXSCOPE_VM_CACHE:-/var/cache/daxscope-vm}
kernels="5.10 6.1 6.12"
guest_bins=()
guest_test=$top/tests/vm/guest-smoke.sh
timeout_s=${DAXSCOPE_VM_TIMEOUT:-300}
logdir=
legacy_out=

usage() { sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2; exit 2; }
if [ $# -eq 2 ] && [ "${1#-}" = "$1" ]; then
	kernels=$1
	legacy_out=$2
	guest_test=$top/tests/vm/guest.sh
	guest_bins=("$top/build/daxtrace" "$top/build/race" "$top/build/delayfs")
	timeout_s=${DAXSCOPE_VM_TIMEOUT:-420}
	mkdir -p "$legacy_out"
else
	while [ $# -gt 0 ]; do
		case $1 in
		--kernels) kernels=$2; shift 2 ;;
		--cache) cache=$2; shift 2 ;;
		--guest-bin) guest_bins+=("$2"); shift 2 ;;
		--guest-test) guest_test=$2; shift 2 ;;
		--timeout) timeout_s=$2; shift 2 ;;
		--log-dir) logdir=$2; shift 2 ;;
		-h | --help) usage ;;
		*) echo "unknown argument: $1" >&2; usage ;;
		esac
	done
fi
logdir=${logdir:-$cache/logs}

# ---------------------------------------------------------------- TAP out
tapn=0
failed=0
emit() { # "ok"|"not ok" DESCRIPTION-WITH-DIRECTIVE
	tapn=$((tapn + 1))
	echo "$1 $tapn$2"
	[ "$1" = ok ] || failed=$((failed + 1))
}
diag() { sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' | tr -d '\000-\010\013-\037\177' | sed 's/^/# /'; }
note() { echo "# $*"; }

# ------------------------------------------------------- host preparation
# Every tool this needs, installed from Debian when missing (fresh CI machine).
host_problem=
need_pkgs() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		host_problem="missing packages$missing (and not root to install them)"
		return 1
	fi
	note "installing$missing"
	mkdir -p "$logdir"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing > "$logdir/apt-install.log" 2>&1; then
		# the package lists may be stale on a fresh machine
		apt-get update -q >> "$logdir/apt-install.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing \
			>> "$logdir/apt-install.log" 2>&1 || {
			host_problem="cannot install$missing (see $logdir/apt-install.log)"
			return 1
		}
	fi
}

# The machine's own Debian mirror URIs, from its apt configuration (never a
# fixed host): deb entries of a Debian suite (not -security) with main.
mirror_uris() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk 'function flush() { if (uri != "" && deb && main && suite) print uri; uri = ""; deb = 0; main = 0; suite = 0; off = 0 }
		     /^[ \t]*#/ { next }
		     /^[ \t]*$/ { flush(); next }
		     tolower($1) == "types:" && / deb( |$)/ { deb = 1 }
		     tolower($1) == "uris:" { uri = $2 }
		     tolower($1) == "components:" && / main( |$)/ { main = 1 }
		     tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i !~ /-security$/ && $i ~ /^(buster|bullseye|bookworm|trixie|forky|sid|stable|testing|unstable|oldstable)/) suite = 1 }
		     tolower($1) == "enabled:" && tolower($2) == "no" { deb = 0 }
		     END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
		     uri = $i; suite = $(i + 1); main = 0
		     for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
		     if (main && suite !~ /-security$/ && suite ~ /^(buster|bullseye|bookworm|trixie|forky|sid|stable|testing|unstable|oldstable)/) print uri }' "$f"
	done
}

suite_of() {
	case $1 in
	5.10) echo bullseye ;;
	6.1) echo bookworm ;;
	6.12) echo trixie ;;
	*) return 1 ;;
	esac
}

# fetch_kernel VER: sets kver/tree, or returns 1 with $why set.
# The apt state is refreshed when older than a day; if the mirror cannot be
# reached, the last kernel tree fetched for the suite is used.
fetch_kernel() {
	local ver=$1 suite aptdir aptopts uri pkg cand deb fname
	why=
	suite=$(suite_of "$ver") || { why="unknown kernel $ver (known: 5.10 6.1 6.12)"; return 1; }
	aptdir=$cache/apt-$suite
	mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$aptdir/cache" "$logdir"
	aptopts=(-o "Dir::Etc::sourcelist=$aptdir/sources.list" -o "Dir::Etc::sourceparts=-"
		-o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache"
		-o "Dir::Cache::archives=$aptdir/archives" -o "Debug::NoLocking=1"
		-o "APT::Get::List-Cleanup=0")
	if [ -z "$(find "$aptdir/updated" -mmin -1440 2> /dev/null)" ]; then
		: > "$logdir/apt-update-$suite.log"
		for uri in $(mirror_uris | awk '!seen[$0]++'); do
			echo "deb $uri $suite main" > "$aptdir/sources.list"
			if apt-get -q "${aptopts[@]}" update >> "$logdir/apt-update-$suite.log" 2>&1 &&
				ls "$aptdir/lists/"*"_dists_${suite}_main_binary-amd64_Packages"* > /dev/null 2>&1; then
				touch "$aptdir/updated"
				break
			fi
		done
	fi
	# The image the suite's linux-image-amd64 points at: the suite's newest.
	pkg=$(apt-cache "${aptopts[@]}" depends linux-image-amd64 2> /dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		if [ -s "$cache/current-$suite" ] && [ -e "$cache/kernel-$(cat "$cache/current-$suite")/.extracted" ]; then
			kver=$(cat "$cache/current-$suite")
			tree=$cache/kernel-$kver
			note "[$ver] $suite package lists unavailable (see $logdir/apt-update-$suite.log); using cached $kver"
			return 0
		fi
		why="no linux-image-amd64 in $suite from this machine's mirror (see $logdir/apt-update-$suite.log)"
		return 1
	fi
	kver=${pkg#linux-image-}
	kver=${kver%-unsigned}
	tree=$cache/kernel-$kver
	if [ ! -e "$tree/.extracted" ]; then
		deb=
		for cand in "linux-image-$kver-unsigned" "linux-image-$kver"; do
			fname=$(apt-cache "${aptopts[@]}" show --no-all-versions "$cand" 2> /dev/null | awk '/^Filename:/ { print $2; exit }')
			[ -n "$fname" ] || continue
			deb=$aptdir/archives/${fname##*/}
			if [ ! -s "$deb" ]; then
				note "[$ver] downloading $cand"
				(cd "$aptdir/archives" && apt-get -q "${aptopts[@]}" download "$cand") > "$logdir/apt-download-$suite.log" 2>&1 ||
					{ why="cannot download $cand (see $logdir/apt-download-$suite.log)"; return 1; }
				# apt-get download names the file NAME_VERSION_ARCH.deb (epoch ':' escaped)
				[ -s "$deb" ] || deb=$(ls -t "$aptdir/archives/${cand}"_*.deb 2> /dev/null | head -1)
			fi
			break
		done
		[ -n "$deb" ] && [ -s "$deb" ] || { why="no linux-image-$kver(-unsigned) package in $suite"; return 1; }
		note "[$ver] extracting $(basename "$deb") ($(du -m "$deb" | cut -f1) MiB)"
		rm -rf "$tree" "$tree.tmp"
		mkdir -p "$tree.tmp"
		dpkg-deb -x "$deb" "$tree.tmp" || { why="dpkg-deb -x $deb failed"; return 1; }
		# merged /usr (trixie): modules under usr/lib/modules; depmod -b wants lib/modules
		[ -d "$tree.tmp/lib/modules" ] || ln -s usr/lib "$tree.tmp/lib"
		depmod -b "$tree.tmp" "$kver" || { why="depmod -b failed for $kver"; return 1; }
		touch "$tree.tmp/.extracted"
		mv "$tree.tmp" "$tree"
	fi
	echo "$kver" > "$cache/current-$suite"
	return 0
}

# ------------------------------------------------------------- initramfs
# Modules the guest loads (with everything modules.dep and softdeps pull in).
MODULES="libnvdimm nd_e820 nd_pmem dax crc16 mbcache jbd2 crc32c_generic ext4 libcrc32c xfs fuse virtiofs"

add_file() { # SRC DEST-IN-STAGE
	mkdir -p "$stage$(dirname "$2")"
	cp -L "$1" "$stage$2"
}
add_binary() { # SRC DEST: the binary, its shared libraries and the loader
	add_file "$1" "$2" || return 1
	local lib
	for lib in $(ldd "$1" 2> /dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$stage$lib" ] || add_file "$lib" "$lib"
	done
}

build_initramfs() { # VER -> $work/initramfs.gz, or return 1 with $why
	local ver=$1 m line f dst moddir=$tree/lib/modules/$kver b
	stage=$work/root
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,lib/modules/$kver,proc,sys,dev,tmp,mnt,etc,run}
	cp /bin/busybox "$stage/bin/busybox"
	for b in $("$stage/bin/busybox" --list); do
		[ -e "$stage/bin/$b" ] || ln -s busybox "$stage/bin/$b"
	done
	for m in $MODULES; do
		modprobe -d "$tree" -S "$kver" --show-depends "$m" > "$work/dep" 2> /dev/null ||
			{ note "[$ver] module $m: not in this kernel"; continue; }
		while read -r line; do
			case $line in insmod\ *) ;; *) continue ;; esac
			f=${line#insmod }
			f=${f%% *}
			dst=/lib/modules/$kver/${f#"$moddir"/}
			case $f in
			*.ko.xz) dst=${dst%.xz}; [ -e "$stage$dst" ] || { mkdir -p "$stage${dst%/*}"; xz -dc "$f" > "$stage$dst"; } ;;
			*.ko.zst) dst=${dst%.zst}; [ -e "$stage$dst" ] || { mkdir -p "$stage${dst%/*}"; zstd -qdc "$f" > "$stage$dst"; } ;;
			*.ko.gz) dst=${dst%.gz}; [ -e "$stage$dst" ] || { mkdir -p "$stage${dst%/*}"; gzip -dc "$f" > "$stage$dst"; } ;;
			*) [ -e "$stage$dst" ] || add_file "$f" "$dst" ;;
			esac
		done < "$work/dep"
	done
	cp "$moddir"/modules.order "$moddir"/modules.builtin* "$stage/lib/modules/$kver/" 2> /dev/null
	depmod -b "$stage" "$kver" || { why="depmod on the initramfs failed"; return 1; }

	# the real mkfs binaries, by paths of their own (busybox has mke2fs too)
	add_binary "$(command -v mke2fs)" /usr/sbin/mkfs.ext4 || { why="mke2fs missing"; return 1; }
	add_binary "$(command -v mkfs.xfs)" /usr/sbin/mkfs.xfs || { why="mkfs.xfs missing"; return 1; }
	ln -s ../usr/sbin/mkfs.ext4 "$stage/sbin/e2fs-mkfs"
	ln -s ../usr/sbin/mkfs.xfs "$stage/sbin/xfs-mkfs"
	[ -e /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$stage/etc/"
	add_binary "$helper" /bin/mmap-touch
	for b in "${guest_bins[@]}"; do
		add_binary "$b" "/bin/$(basename "$b")" || { why="--guest-bin $b: cannot copy"; return 1; }
	done
	ln -s bin "$stage/daxscope" # where tests/vm/guest.sh looks for its binaries
	cp "$guest_test" "$stage/test.sh" && chmod +x "$stage/test.sh"

	cat > "$stage/init" << INIT
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export KERNEL_VERSION=\$(uname -r)
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null
mkdir -p /sys/kernel/tracing /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2> /dev/null
mount -t bpf bpf /sys/fs/bpf
dmesg -n 1
for m in $MODULES; do
	grep -q "^\$m " /proc/modules || modprobe \$m 2> /tmp/modprobe.err ||
		{ [ -d /sys/module/\$m ] || echo "init: modprobe \$m: \$(cat /tmp/modprobe.err)"; }
done > /tmp/init.log
for i in \$(seq 1 100); do [ -b /dev/pmem0 ] && break; sleep 0.1; done
echo "@@DAXSCOPE-TAP-BEGIN@@ \$KERNEL_VERSION"
sed 's/^/# /' /tmp/init.log
cd /tmp
sh /test.sh 2>&1
echo "@@DAXSCOPE-TAP-END@@ rc=\$?"
sync
poweroff -f
INIT
	chmod +x "$stage/init"
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz" ||
		{ why="cpio/gzip of the initramfs failed"; return 1; }
}

# ------------------------------------------------------------------ boot
boot() { # VER LOG -> rc of timeout(1)
	timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2G \
		-kernel "$tree/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
		-append "console=ttyS0 memmap=512M!1G panic=-1 quiet loglevel=3" \
		-nographic -no-reboot -monitor none -serial stdio < /dev/null > "$2" 2>&1
}

# Re-emit the guest's TAP between the markers, renumbered, tagged [VER].
relay_tap() { # VER LOG
	local ver=$1 line status desc plan="" count=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"ok "* | "ok" | "not ok"*)
			if [ "${line#not ok}" != "$line" ]; then status="not ok"; desc=${line#not ok}; else status=ok; desc=${line#ok}; fi
			count=$((count + 1))
			desc=$(echo "$desc" | sed -E 's/^ *[0-9]+//; s/^ *-? *//')
			case $desc in
			"#"*) emit "$status" " [$ver] $desc" ;; # directive only ("# SKIP x")
			*) emit "$status" " - [$ver] $desc" ;;
			esac
			[ "${desc#*# [Tt][Oo][Dd][Oo]}" != "$desc" ] && [ "$status" = "not ok" ] && failed=$((failed - 1))
			;;
		1..*) plan=${line#1..} ;;
		"Bail out!"*) echo "# [$ver] guest: $line" ;;
		"#"*) echo "# [$ver]${line#\#}" ;;
		"") ;;
		*) echo "# [$ver] | $line" ;;
		esac
	done < <(sed -n '/@@DAXSCOPE-TAP-BEGIN@@/,/@@DAXSCOPE-TAP-END@@/p' "$2" | sed '1d;$d')
	guest_plan=$plan
	guest_count=$count
}

run_kernel() { # VER
	local ver=$1 t0 t1 rc log secs pl reason
	t0=$(date +%s.%N)
	if [ -n "$host_problem" ]; then
		emit ok " # SKIP [$ver] $host_problem"
		return
	fi
	if ! fetch_kernel "$ver"; then
		[ -n "$legacy_out" ] && { echo "$why"; exit 3; }
		emit ok " # SKIP [$ver] $why"
		return
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/daxscope-vm.XXXXXX")
	if ! build_initramfs "$ver"; then
		emit "not ok" " - [$ver] initramfs for $kver built: $why"
		rm -rf "$work"
		[ -n "$legacy_out" ] && { echo "$why" >&2; exit 1; }
		return
	fi
	log=$logdir/console-$ver.log
	[ -n "$legacy_out" ] && log=$legacy_out/console.log
	t1=$(date +%s.%N)
	boot "$ver" "$log"
	rc=$?
	secs=$(echo "$(date +%s.%N) $t1" | awk '{ printf "%.1f", $1 - $2 }')
	note "[$ver] $kver: prepared in $(echo "$t1 $t0" | awk '{ printf "%.1f", $1 - $2 }') s, booted and tested in $secs s (console: $log)"
	rm -rf "$work"
	if [ -n "$legacy_out" ]; then
		grep -q "@@DAXSCOPE-TAP-END@@" "$log" && return 0
		{ echo "guest did not finish (rc $rc); console tail:"; tail -30 "$log"; } >&2
		return 1
	fi
	relay_tap "$ver" "$log"
	if ! grep -q "@@DAXSCOPE-TAP-END@@" "$log"; then
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then reason="timed out after ${timeout_s} s"; else reason="qemu exited $rc before the test finished"; fi
		grep -q "@@DAXSCOPE-TAP-BEGIN@@" "$log" || reason="$reason (test never started)"
		emit "not ok" " - [$ver] guest $kver ran its test to the end: $reason"
		echo "# [$ver] console tail ($log):"
		tail -25 "$log" | diag
		return
	fi
	emit ok " - [$ver] guest $kver booted, ran its test and powered off (${secs} s)"
	pl=${guest_plan%% *}
	if [ -z "$guest_plan" ]; then
		emit "not ok" " - [$ver] guest test printed a TAP plan"
	elif [ "$pl" = 0 ] && [ "$guest_count" = 0 ]; then
		reason=$(echo "$guest_plan" | sed -n 's/.*# *[Ss][Kk][Ii][Pp] *//p')
		emit ok " # SKIP [$ver] guest test skipped: ${reason:-no reason given}"
	elif [ "$pl" != "$guest_count" ]; then
		emit "not ok" " - [$ver] guest test ran $guest_count of $pl planned tests"
	fi
}

# ------------------------------------------------------------------ main
mkdir -p "$cache" "$logdir" 2> /dev/null || {
	[ -n "$legacy_out" ] && { echo "cannot create $cache"; exit 3; }
	echo "1..0 # SKIP cannot create the cache dir $cache"
	exit 0
}
[ -f "$guest_test" ] || { echo "--guest-test $guest_test: no such file" >&2; exit 2; }
for b in "${guest_bins[@]}"; do
	[ -f "$b" ] || {
		[ -n "$legacy_out" ] && { echo "$b not built"; exit 3; }
		echo "--guest-bin $b: no such file" >&2
		exit 2
	}
done

need_pkgs qemu-system-x86 busybox-static e2fsprogs xfsprogs cpio kmod xz-utils zstd gzip gcc libc6-dev coreutils
if [ -z "$host_problem" ]; then
	command -v qemu-system-x86_64 > /dev/null || host_problem="qemu-system-x86_64 not found"
fi
# the mmap helper, built static once per source change
helper=$cache/bin/mmap-touch
if [ -z "$host_problem" ] && { [ ! -x "$helper" ] || [ "$top/tests/vm/mmap-touch.c" -nt "$helper" ]; }; then
	mkdir -p "$cache/bin"
	gcc -static -O2 -Wall -o "$helper.tmp" "$top/tests/vm/mmap-touch.c" 2> "$logdir/mmap-touch.log" &&
		mv "$helper.tmp" "$helper" || host_problem="cannot build mmap-touch (see $logdir/mmap-touch.log)"
fi
if [ -z "$host_problem" ]; then
	qemu-system-x86_64 --version > /dev/null 2>&1 && qemu-system-x86_64 -accel help 2> /dev/null | grep -qx tcg ||
		host_problem="qemu-system-x86_64 cannot run here, or has no TCG"
fi

if [ -n "$legacy_out" ]; then
	[ -n "$host_problem" ] && { echo "$host_problem"; exit 3; }
	run_kernel "$kernels"
	exit $?
fi

note "cache $cache, logs $logdir, timeout ${timeout_s} s per kernel, guest test $guest_test"
for ver in $kernels; do
	run_kernel "$ver"
done
echo "1..$tapn"
[ "$failed" -eq 0 ]
