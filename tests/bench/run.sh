#!/bin/sh
# make bench: daxscope's overhead and throughput, as ratios against an
# untraced baseline measured in the same run. Not a test: it prints figures.
#  1. fault-heavy workload (faults on one file, punches on another) untraced
#     vs. under `daxtrace record`: slowdown (target < 3%)
#  2. stress: every fault is on the punched file, so every fault is an event:
#     events/s delivered and lost (target: none lost at 1 M page events/s)
#  3. the collector alone: `daxtrace report` on that capture: events/s, RSS
set -eu
cd "$(dirname "$0")/../.."
B=build
SECS=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-3}
work=$(mktemp -d /var/tmp/daxscope-bench.XXXXXX)
rec=""
trap 'if [ -n "$rec" ]; then kill "$rec" 2>/dev/null; fi; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
[ "$(id -u)" = 0 ] || { echo "bench: needs root (BPF)"; exit 1; }

rate() { sed -n 's/.*"faults_per_sec":\([0-9]*\).*/\1/p'; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -1; }

start_recorder() {
	"$B/daxtrace" record -o "$1" 2>"$work/rec.err" &
	rec=$!
	while ! grep -q watching "$work/rec.err" 2>/dev/null; do sleep 0.1; done
}
stop_recorder() {
	kill -INT "$rec"
	wait "$rec" || true
	rec=""
}

# Alternate untraced and traced runs so that drift hits both alike; keep the best of each.
base=0 traced=0
for i in $(seq "$ROUNDS"); do
	r=$("$B/faultbench" --dir "$work" --seconds "$SECS" | rate)
	[ "$r" -gt "$base" ] && base=$r
	start_recorder "$work/bench.dxc"
	r=$("$B/faultbench" --dir "$work" --seconds "$SECS" | rate)
	stop_recorder
	[ "$r" -gt "$traced" ] && traced=$r
done
echo "fault workload (punches on another file, 100/s): untraced $base faults/s, traced $traced faults/s"
awk -v b="$base" -v t="$traced" 'BEGIN { printf "  ratio traced/untraced %.4f: slowdown %.2f%% (target < 3%%)\n", t / b, (1 - t / b) * 100 }'

start_recorder "$work/stress.dxc"
out=$("$B/faultbench" --dir "$work" --seconds "$SECS" --punch-same --punch-hz 1000)
stop_recorder
"$B/daxtrace" report "$work/stress.dxc" --json > "$work/stress.json"
events=$(field events < "$work/stress.json")
lost=$(field lost_events < "$work/stress.json")
faults=$(echo "$out" | field faults)
secs=$(echo "$out" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')
awk -v e="$events" -v l="$lost" -v f="$faults" -v s="$secs" 'BEGIN {
	printf "stress (every fault on the punched file): %.0f page events/s delivered, %d lost, %.0f faults/s\n", e / s, l, f / s
	printf "  ratio events delivered/faults %.3f\n", e / f }'

/usr/bin/time -f "%e %M" -o "$work/time" "$B/daxtrace" report "$work/stress.dxc" --json > /dev/null
read -r wall rss < "$work/time"
awk -v e="$events" -v w="$wall" -v r="$rss" 'BEGIN {
	printf "collector: %.0f events/s correlated (report of %d events in %.2f s), RSS %.1f MiB\n", e / (w > 0 ? w : 0.01), e, w, r / 1024 }'
/usr/bin/time -f "%M" -o "$work/rtime" "$B/daxtrace" record -o "$work/rss.dxc" -d "$SECS" 2>/dev/null &
sleep 1
"$B/faultbench" --dir "$work" --seconds $((SECS - 2)) --punch-same --punch-hz 1000 > /dev/null
wait || true
awk -v r="$(cat "$work/rtime")" 'BEGIN { printf "recorder under stress: max RSS %.1f MiB\n", r / 1024 }'

tests/bench/daxtop-bench.sh
