#!/bin/sh
# make soak [SOAK_SECONDS=3600] [SOAK_SAMPLE=10]: daxscope under a fault and
# punch load for a long time (not in CI). On an ext4 loop file system and a
# delayfs FUSE mount:
#  - faultbench faults one file and punches another (100/s), all along;
#  - every second a scheduled race on each: blocked faults on ext4, faults
#    that get through on delayfs (findings, without end);
#  - `daxtrace record` and `daxtop --json` watch it all.
# Every SOAK_SAMPLE s: both tools' RSS and the entries of their BPF hash maps.
# Passes when, after a warm-up (the first tenth), the second half's peaks of
# RSS and plain hash map entries are no higher than the first half's (10% and
# 4 MiB / 64 entries of slack), LRU map entries stay within their capacity
# (their growth per hour is printed), no event was lost, and `daxtrace report`
# reads the whole capture.
# Then a hostile local user's cases (issue 25: tests/kernel/user_budget.t and
# daxexport_budget.t), each attack a tenth of SOAK_SECONDS long: their budgets
# must hold then too.
set -eu
cd "$(dirname "$0")/../.."
B=build
SECS=${SOAK_SECONDS:-3600}
SAMPLE=${SOAK_SAMPLE:-10}
[ "$(id -u)" = 0 ] || { echo "soak: needs root (BPF, mounts)"; exit 1; }
work=$(mktemp -d /var/tmp/daxscope-soak.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	umount "$work/fuse" "$work/ext4" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$work/ext4" "$work/back" "$work/fuse"
truncate -s 1G "$work/ext4.img"
mkfs.ext4 -q -F "$work/ext4.img"
mount -o loop "$work/ext4.img" "$work/ext4"
"$B/delayfs" "$work/back" "$work/fuse" --delay-ms=20
for i in $(seq 50); do grep -q " $work/fuse " /proc/mounts && break; sleep 0.1; done

# A tool in the background, once it says it is watching (daxtop --json: its first object).
start_watcher() { # OUT ERR COMMAND...
	out=$1 err=$2
	shift 2
	"$@" > "$out" 2> "$err" &
	pids="$pids $!"
	last=$!
	while ! grep -q watching "$err" 2>/dev/null && ! [ -s "$out" ]; do
		kill -0 "$last" 2>/dev/null || { cat "$err"; exit 1; }
		sleep 0.1
	done
}
start_watcher /dev/null "$work/rec.err" "$B/daxtrace" record -o "$work/soak.dxc"
rec=$last
start_watcher "$work/top.json" "$work/top.err" "$B/daxtop" --json -i "$SAMPLE"
top=$last

"$B/faultbench" --dir "$work/ext4" --seconds "$SECS" --punch-hz 100 > "$work/faultbench.json" &
pids="$pids $!"
(
	end=$(($(date +%s) + SECS))
	while [ "$(date +%s)" -lt "$end" ]; do
		for fs in ext4 fuse; do
			"$B/race" --file "$work/$fs/race" --size 1M --punch 8192:16384 --write-at 5:3 --read-at 5:4 \
				--settle-ms 10 > /dev/null 2>&1 || true
		done
		sleep 1
	done
) &
pids="$pids $!"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Entries in the hash maps a process holds, through its BPF map fds (fdinfo:
# map_type, map_id, max_entries), counted in bpftool's JSON dump: "HASH LRU",
# plain hash maps (1, 5: per task or window, deleted when done: must stay
# flat) apart from LRU hash maps (9, 10: per file or lock, bounded by their
# capacity, the least recently used evicted first).
map_entries() {
	for f in /proc/"$1"/fdinfo/*; do
		awk '/^map_type:/ { t = $2 } /^map_id:/ { id = $2 }
			END { if (t == 1 || t == 5) print "hash", id; if (t == 9 || t == 10) print "lru", id }' "$f" 2>/dev/null
	done | sort -u | {
		hash=0 lru=0
		while read -r kind id; do
			# the dump's top-level elements: with BTF each entry also carries a "formatted" copy, and
			# values have fields of their own named key, so counting "key": overcounts 2-3 times
			n=$(bpftool -j map dump id "$id" 2>/dev/null |
				perl -MJSON::PP -e 'local $/; my $d = eval { decode_json(<STDIN>) }; print ref $d ? scalar @$d : 0')
			if [ "$kind" = hash ]; then hash=$((hash + n)); else lru=$((lru + n)); fi
		done
		echo "$hash $lru"
	}
}
lru_capacity() {
	for f in /proc/"$1"/fdinfo/*; do
		awk '/^map_type:/ { t = $2 } /^max_entries:/ { m = $2 } END { if (t == 9 || t == 10) print m }' "$f" 2>/dev/null
	done | awk '{ n += $1 } END { print n + 0 }'
}
capacity=$(lru_capacity "$rec")
echo "soak: $SECS s, sampling every $SAMPLE s: seconds; daxtrace record's RSS kB, hash and LRU map entries;"
echo "  daxtop's the same (LRU capacity of each: $capacity)"
start=$(date +%s)
while [ $(($(date +%s) - start)) -lt "$SECS" ]; do
	sleep "$SAMPLE"
	line="$(($(date +%s) - start)) $(rss "$rec") $(map_entries "$rec") $(rss "$top") $(map_entries "$top")"
	echo "$line" >> "$work/samples"
	echo "  $line"
done
kill -INT "$rec" "$top"
wait "$rec" || true
wait "$top" || true

status=0
awk -v secs="$SECS" -v cap="$capacity" '
	{ t[NR] = $1; for (c = 2; c <= 7; c++) v[NR, c] = $c }
	END {
		split("daxtrace-RSS-kB daxtrace-hash-entries daxtrace-LRU-entries daxtop-RSS-kB daxtop-hash-entries daxtop-LRU-entries", name, " ")
		for (c = 2; c <= 7; c++) {
			first = 0; second = 0
			for (i = 1; i <= NR; i++) {
				if (t[i] < secs / 10) continue
				if (t[i] < secs / 2) { if (v[i, c] > first) first = v[i, c] }
				else if (v[i, c] > second) second = v[i, c]
			}
			if (c == 4 || c == 7) { # bounded by their capacity: say how fast they fill
				rate = (v[NR, c] - v[1, c]) / (t[NR] - t[1] > 0 ? t[NR] - t[1] : 1) * 3600
				ok = v[NR, c] <= cap
				printf "  %-22s %d at the end, %+.0f per hour, of %d: %s\n", name[c - 1], v[NR, c], rate, cap,
					ok ? (rate > 0 ? sprintf("bounded, full after %.1f h", (cap - v[1, c]) / rate) : "flat") : "OVER"
			} else {
				slack = c == 2 || c == 5 ? 4096 : 64
				ok = second <= first * 1.10 + slack
				printf "  %-22s first half peak %d, second half peak %d: %s\n", name[c - 1], first, second, ok ? "flat" : "GROWS"
			}
			bad += !ok
		}
		exit bad != 0
	}' "$work/samples" || status=1
recorded=$(sed -n 's/.*recorded \([0-9]*\) events (\([0-9]*\) lost).*/\1 \2/p' "$work/rec.err")
echo "  daxtrace record: ${recorded:-nothing} (events, lost); $(du -m "$work/soak.dxc" | cut -f1) MiB"
[ -n "$recorded" ] && [ "${recorded#* }" = 0 ] || { echo "  events were lost, or the recorder did not finish:"; cat "$work/rec.err"; status=1; }
t0=$(date +%s)
if "$B/daxtrace" report "$work/soak.dxc" > "$work/report.txt" 2> "$work/report.err"; then
	echo "  daxtrace report: read it all in $(($(date +%s) - t0)) s: $(grep -c . "$work/report.txt") lines"
else
	echo "  daxtrace report failed:"
	cat "$work/report.err"
	status=1
fi
echo "  daxtop: $(grep -c . "$work/top.json") objects; last: $(tail -1 "$work/top.json" | cut -c1-200)"
attack=$((SECS / 10 > 8 ? SECS / 10 : 8))
echo "soak: a hostile user's cases, each attack $attack s"
DAXSCOPE_BUDGET_SECS=$attack prove tests/kernel/user_budget.t tests/kernel/daxexport_budget.t || status=1
[ "$status" = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit "$status"
