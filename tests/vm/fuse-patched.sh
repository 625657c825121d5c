# Sourced by tests/vm/run-matrix.sh (MODE fuse-patched, kernel 6.12), after it
# found the suite's kernel ($kver) and set up apt for it ($aptdir, $aptopts):
# builds tests/vm/patches/fuse-fallocate-invalidate-lock.patch for that
# kernel, out of tree, from Debian's own packages of it, and sets $patched_ko.
#
# Debian's 6.12 builds FUSE into vmlinux (CONFIG_FUSE_FS=y, CONFIG_VIRTIO_FS=y):
# no fuse.ko can take the stock one's place, so the patched functions go in
# as a livepatch (tests/vm/fuse-livepatch/, CONFIG_LIVEPATCH=y), cut out of the
# patched fs/fuse/file.c of linux-source-6.12 (the same version as the kernel).
# The build tree is linux-headers-$kver with -common and linux-kbuild: the
# kbuild's modpost and objtool need glibc 2.38 (trixie's), so both are built
# here from the same source with the host's gcc, which also compiles the
# module (Debian used gcc-14: -fmin-function-alignment, new in gcc 14, becomes
# -falign-functions; no BTF: nothing hooks the livepatch). Downloads and the
# build are cached in $cache/fuse-patched-$kver; the module is rebuilt when
# the patch, the module's source or this script change. The build's log:
# $out/fuse-patched-build.log. Skips (exit 3) where a download fails.
case $kver in 6.12.*) ;; *) echo "fuse-patched: for Debian's 6.12 (its FUSE built in), not $kver" >&2; exit 2 ;; esac
need gcc make patch xz-utils libelf-dev pkg-config
lpdir=$cache/fuse-patched-$kver
patch_file=$top/tests/vm/patches/fuse-fallocate-invalidate-lock.patch
sum=$(cat "$patch_file" "$top"/tests/vm/fuse-livepatch/* "$top/tests/vm/fuse-patched.sh" | md5sum | cut -c1-12)
patched_ko=$lpdir/build-$sum/fuse_invalidate_lock.ko
log=$out/fuse-patched-build.log
kbuild=${kver%-amd64}
headers=$lpdir/root/usr/src/linux-headers-$kver
kbuild_dir=$lpdir/root/usr/lib/linux-kbuild-$kbuild
src=$lpdir/src/linux-source-$ver
# what tests/vm/fuse-livepatch/ replaces, and the static functions of file.c they call
patched_functions="fuse_file_fallocate fuse_writeback_range fuse_sync_writes fuse_page_mkwrite
 fuse_wait_on_page_writeback fuse_page_is_writeback fuse_range_is_writeback fuse_find_writeback"

# the debs, the source of the same version as the kernel
if [ ! -e "$lpdir/.extracted" ]; then
	# shellcheck disable=SC2086
	version=$(apt-cache $aptopts show "linux-headers-$kver" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
	[ -n "$version" ] || skip "no linux-headers-$kver in $suite"
	rm -rf "$lpdir"
	mkdir -p "$lpdir/root" "$lpdir/src"
	for p in "linux-headers-$kver" "linux-headers-$kbuild-common" "linux-kbuild-$kbuild" "linux-source-$ver"; do
		# shellcheck disable=SC2086
		(cd "$aptdir/archives" && apt-get -q $aptopts download "$p=$version" >> "$out/apt-download.log" 2>&1) ||
			skip "cannot download $p=$version (see $out/apt-download.log)"
		dpkg-deb -x "$aptdir/archives/${p}_${version}_"*.deb "$lpdir/root"
	done
	tar -xJf "$lpdir/root/usr/src/linux-source-$ver.tar.xz" -C "$lpdir/src" \
		"linux-source-$ver/fs/fuse" "linux-source-$ver/scripts/mod" "linux-source-$ver/scripts/include" \
		"linux-source-$ver/include" "linux-source-$ver/tools"
	rm "$lpdir/root/usr/src/linux-source-$ver.tar.xz"
	# the headers' Makefile names the common tree by its installed path
	sed -i "s|^include /usr/src/|include $lpdir/root/usr/src/|" "$headers/Makefile"
	touch "$lpdir/.extracted"
fi

build_failed() { # WHAT: the end of the build's log, and out
	echo "fuse-patched: building $1 failed; the end of $log:" >&2
	tail -20 "$log" >&2
	exit 1
}

kmake() { # DIR TARGET...: kbuild on DIR against the headers, with the host's gcc
	m_dir=$1
	shift
	make -C "$headers" M="$m_dir" CC=gcc HOSTCC=gcc CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT= \
		CONFIG_DEBUG_INFO_BTF_MODULES= "$@"
}

# modpost and objtool for this host, in place of the kbuild's
if [ ! -e "$lpdir/.tools" ]; then
	(
		mkdir -p "$lpdir/objtool" && make -C "$src/tools/objtool" O="$lpdir/objtool" &&
			cp "$lpdir/objtool/objtool" "$kbuild_dir/tools/objtool/objtool" &&
			cd "$src/scripts/mod" &&
			gcc -o mk_elfconfig mk_elfconfig.c && gcc -c -x c /dev/null -o empty.o &&
			./mk_elfconfig < empty.o > elfconfig.h &&
			echo 'obj-m := devicetable-offsets.o' > Kbuild && kmake "$PWD" devicetable-offsets.s &&
			# scripts/Makefile.lib's sed-offsets
			sed -ne 's:^[[:space:]]*\.ascii[[:space:]]*"\(.*\)".*:\1:; /^->/{s:->#\(.*\):/* \1 */:;
				s:^->\([^ ]*\) [\$#]*\([^ ]*\) \(.*\):#define \1 \2 /* \3 */:; s:->::; p;}' \
				devicetable-offsets.s > devicetable-offsets.h &&
			gcc -O2 -I "$src/scripts/include" -o modpost modpost.c file2alias.c sumversion.c symsearch.c &&
			cp modpost "$kbuild_dir/scripts/mod/modpost"
	) > "$log" 2>&1 || build_failed "modpost and objtool"
	touch "$lpdir/.tools"
fi

if [ ! -e "$patched_ko" ]; then
	build=$lpdir/build-$sum
	rm -rf "$lpdir"/build-*
	mkdir -p "$build/fs" "$build/module"
	cp -R "$src/fs/fuse" "$build/fs/"
	cp "$top"/tests/vm/fuse-livepatch/* "$build/module/"
	{
		(cd "$build" && patch -p1 < "$patch_file") &&
			# the patched functions and the static helpers they call, with file.c's includes
			awk -v want="$patched_functions" '
			BEGIN { split(want, names); for (i in names) wanted[names[i]] = 1 }
			/^#include / { print; next }
			!body && /^struct fuse_writepage_args \{/ { body = 1 }
			!body && /^[a-z]/ && !/;$/ { n = $0; sub(/\(.*/, "", n); sub(/.*[ *]/, "", n); body = n in wanted }
			body { print }
			body && /^}/ { body = 0; print "" }' "$build/fs/fuse/file.c" > "$build/module/patched-functions.c" &&
			kmake "$build/module" FUSE_SRC="$build/fs/fuse" modules &&
			cp "$build/module/fuse_invalidate_lock.ko" "$patched_ko"
	} >> "$log" 2>&1 || build_failed "the livepatch"
fi
# Loadable by this kernel: the vermagic of its own modules, and each symbol's CRC that of the headers' Module.symvers
vermagic=$(modinfo -F vermagic "$patched_ko")
stock_vermagic=$(modinfo -F vermagic "$(find "$moddir/kernel/fs/ext4" -name 'ext4.ko*' | head -1)")
[ "$vermagic" = "$stock_vermagic" ] ||
	{ echo "fuse-patched: $patched_ko has vermagic '$vermagic', the kernel's modules '$stock_vermagic'" >&2; exit 1; }
crc_mismatch=$(modprobe --dump-modversions "$patched_ko" |
	awk 'NR == FNR { crc[$2] = $1; next } !($2 in crc) || crc[$2] != $1 { print $2 }' "$headers/Module.symvers" -)
[ -z "$crc_mismatch" ] || { echo "fuse-patched: CRCs not those of Module.symvers:" $crc_mismatch >&2; exit 1; }
