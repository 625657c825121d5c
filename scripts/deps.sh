#!/bin/sh
# Install the Debian packages daxscope needs to build, run and test; a no-op
# when all are there. Needs root only when something is missing.
set -eu
packages="clang libclang-rt-14-dev llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config make gcc
libfuse3-dev liburing-dev fuse3 fuse-overlayfs gocryptfs bindfs mergerfs unionfs-fuse fuse2fs ntfs-3g strace e2fsprogs xfsprogs btrfs-progs f2fs-tools fio util-linux perl tmux libncurses-dev libyajl-dev time
libmicrohttpd-dev prometheus chromium bpftrace linux-perf build-essential debhelper help2man lintian"
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages$missing; run as root (sudo make ...) to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
