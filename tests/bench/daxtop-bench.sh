#!/bin/sh
# daxtop's own cost with 10 000 watched files: each of 10 000 files is punched
# once (so each has a row), while daxtop refreshes every second; its CPU time
# is read from /proc. Target: under 2% of one CPU at the default interval.
# Measured for the full screen (in tmux, as an operator runs it) and for -b,
# which formats every row every second.
set -eu
cd "$(dirname "$0")/../.."
FILES=${BENCH_FILES:-10000}
SECS=${BENCH_TOP_SECONDS:-10}
work=$(mktemp -d /var/tmp/daxtop-bench.XXXXXX)
top=""
trap 'if [ -n "$top" ]; then kill "$top" 2>/dev/null; fi; rm -rf "$work"' EXIT

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

punch_files() {
	perl -e '
	use Config;
	my %nr = (x86_64 => 285, aarch64 => 47);
	my ($arch) = $Config{archname} =~ /^([^-]+)/;
	my $fallocate = $nr{$arch} or die "no fallocate syscall number for $arch\n";
	my ($dir, $n) = @ARGV;
	for my $i (1 .. $n) {
		open(my $fh, "+>", "$dir/f$i") or die "$dir/f$i: $!";
		syswrite($fh, "x" x 8192);
		syscall($fallocate, fileno($fh), 3, 0, 4096) == 0 or die "fallocate: $!";
	}' "$work" "$FILES"
}

# cpu_of PID LABEL: CPU share over SECS seconds, after the punches have been correlated
cpu_of() {
	sleep 3
	before=$(ticks "$1")
	sleep "$SECS"
	after=$(ticks "$1")
	awk -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" -v s="$SECS" -v n="$FILES" -v l="$2" 'BEGIN {
		printf "daxtop %s: %d watched files, %.2f%% of one CPU at 1 s interval (target < 2%%)\n", l, n, (a - b) / hz / s * 100 }'
}

if command -v tmux > /dev/null; then
	tmux -L daxtop-bench new-session -d -x 160 -y 50 "exec build/daxtop 2>$work/screen.err"
	top=$(tmux -L daxtop-bench list-panes -F '#{pane_pid}')
	sleep 1
	punch_files
	cpu_of "$top" "screen"
	tmux -L daxtop-bench kill-server
	rm -f "$work"/f*
fi
build/daxtop -b -i 1 > /dev/null 2>"$work/err" &
top=$!
while ! grep -q watching "$work/err" 2>/dev/null; do sleep 0.1; done
punch_files
cpu_of "$top" "-b"
kill "$top"
top=""
