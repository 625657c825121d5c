#!/bin/sh
# daxtop's own cost with 10 000 watched files: each of 10 000 small files on
# the root filesystem is punched once while daxtop runs (so each has a row
# and kernel counters), then `daxtop -b -i 1 -n 10` is measured: CPU time
# (utime + stime, /proc/PID/stat) over the whole run, which includes taking
# in the 10 000 punches, and over the steady intervals after them.
# Target: under 2% of one CPU at the default 1 s interval. The full screen
# (in tmux, as an operator runs it) is measured too when tmux is there.
# daxtop runs with --path on the scratch directory, so that what other
# programs do on other filesystems meanwhile (tests, races) is not counted;
# BENCH_TOP_ARGS="" measures it watching the whole system instead.
set -eu
cd "$(dirname "$0")/../.."
FILES=${BENCH_FILES:-10000}
N=${BENCH_TOP_INTERVALS:-10}
work=$(mktemp -d /var/tmp/daxtop-bench.XXXXXX)
ARGS=${BENCH_TOP_ARGS---path $work}
top=""
trap 'if [ -n "$top" ]; then kill "$top" 2>/dev/null || true; fi; tmux -L daxtop-bench kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
[ -z "${BENCH_KEEP:-}" ] || trap - EXIT
trap 'exit 1' INT TERM
[ "$(id -u)" = 0 ] || { echo "daxtop bench: needs root (BPF)"; exit 1; }
[ -x build/daxtop ] || { echo "daxtop bench: build/daxtop missing (make)"; exit 1; }

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
now() { awk '{ print $1 }' /proc/uptime; }
pct() { awk -v t="$1" -v s="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz / s * 100 }'; }

# FILES files of 8 KiB, each punched once (its first page) with fallocate(2)
punch_files() {
	rm -f "$work"/f*
	perl -e '
	use Config;
	my %nr = (x86_64 => 285, aarch64 => 47);
	my ($arch) = $Config{archname} =~ /^([^-]+)/;
	my $fallocate = $nr{$arch} or die "no fallocate syscall number for $arch\n";
	my ($dir, $n) = @ARGV;
	for my $i (1 .. $n) {
		open(my $fh, "+>", "$dir/f$i") or die "$dir/f$i: $!";
		syswrite($fh, "x" x 8192);
		# FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, offset 0, 4096 bytes
		syscall($fallocate, fileno($fh), 3, 0, 4096) == 0 or die "fallocate: $!";
	}' "$work" "$FILES"
}

# batch: the figure the bench reports
build/daxtop -b -i 1 -n "$N" $ARGS > "$work/out" 2>"$work/err" &
top=$!
while ! grep -q watching "$work/err" 2>/dev/null; do
	kill -0 "$top" 2>/dev/null || { cat "$work/err"; exit 1; }
	sleep 0.05
done
start=$(now)
punch_files
sleep 2 # two refreshes: the punches are correlated, rows and counters exist
t0=$(ticks "$top") s0=$(now)
sleep $((N - 4))
t1=$(ticks "$top") s1=$(now)
wait "$top"
top=""
shown=$(sed -n 's/^daxtop - .*, \([0-9]*\) files.*/\1/p' "$work/out" | tail -1)
named=$(awk -v d="$work/f" '/^daxtop - / { r = 0 } index($0, d) == 1 { r++ } END { print r + 0 }' "$work/out")
steady=$(pct $((t1 - t0)) "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')")
echo "daxtop: $FILES files, $steady% of one CPU at 1 s interval"
echo "  (daxtop -b -i 1 -n $N $ARGS: steady intervals after the punches; target < 2%; last table: $shown files, $named of them by path)"

# the same through /usr/bin/time: the whole run, including taking in the punches
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f "%U %S %e" -o "$work/time" build/daxtop -b -i 1 -n "$N" $ARGS > /dev/null 2>"$work/err" &
	while ! grep -q watching "$work/err" 2>/dev/null; do sleep 0.05; done
	punch_files
	wait
	awk '{ printf "daxtop: %s files, whole run %.2f%% of one CPU (%.2f s user + %.2f s system in %.1f s, intake of the punches included)\n", n, ($1 + $2) / $3 * 100, $1, $2, $3 }' n="$FILES" "$work/time"
fi

# the full screen, 160x50, as an operator keeps it open
if command -v tmux > /dev/null; then
	tmux -L daxtop-bench new-session -d -x 160 -y 50 "exec build/daxtop $ARGS 2>$work/screen.err"
	top=$(tmux -L daxtop-bench list-panes -F '#{pane_pid}')
	sleep 1
	punch_files
	sleep 2
	t0=$(ticks "$top") s0=$(now)
	sleep $((N - 4))
	t1=$(ticks "$top") s1=$(now)
	tmux -L daxtop-bench kill-server
	top=""
	echo "daxtop screen: $FILES files, $(pct $((t1 - t0)) "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')")% of one CPU at 1 s interval (160x50 in tmux)"
fi
