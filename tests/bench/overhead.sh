#!/bin/sh
# make bench, section 1: what tracing costs a fault-heavy workload, for
# daxtrace and its peers in the same run, resolved to about 1% (docs/bench.md).
# faultbench (faults on one file, punches on another; and --punch-same, every
# fault on the punched file) runs BENCH_OVERHEAD_SECONDS at a time, untraced
# (U) and under each tracer (T), in rounds of U T1 U T2 U ... U, the tracers
# in an order rotated each round. Each traced run is paired with the mean of
# the untraced runs on either side, so linear drift cancels; a tracer is
# started before its run, once attached, and stopped after it, so the
# untraced runs run untraced. Per tracer and workload: the slowdown, one minus
# the median ratio of faults/s, and the ratio of CPU time per fault
# (workload plus tracer, over the same window), each with a 95% bootstrap
# interval (pairstat). BENCH_OVERHEAD_TRACERS picks tracers (default: all).
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
B=build
ROUNDS=${BENCH_OVERHEAD_ROUNDS:-20}
SECS=${BENCH_OVERHEAD_SECONDS:-1}
TRACERS=${BENCH_OVERHEAD_TRACERS:-daxtrace daxtrace_always hookfloor bpftrace perf_record perf_lock_record perf_lock_contention}
WORKLOADS="default punch-same"
work=$(mktemp -d /var/tmp/daxscope-overhead.XXXXXX)
rec=""
trap 'if [ -n "$rec" ]; then kill "$rec" 2>/dev/null; fi; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
[ "$(id -u)" = 0 ] || { echo "overhead: needs root (BPF)"; exit 1; }
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
mkdir "$work/fb"

label() {
	case $1 in
	daxtrace) echo "daxtrace record" ;;
	daxtrace_always) echo "daxtrace record --fault-hooks=always" ;;
	hookfloor) echo "hooks alone (hookfloor)" ;;
	bpftrace) echo "bpftrace peer.bt" ;;
	perf_record) echo "perf record -a" ;;
	perf_lock_record) echo "perf lock record -a" ;;
	perf_lock_contention) echo "perf lock contention -b -a" ;;
	*) echo "overhead: no tracer $1 (BENCH_OVERHEAD_TRACERS)" >&2; exit 1 ;;
	esac
}

# The tracepoints a tracer (PID) has attached BPF programs to, one
# "raw_tracepoint NAME" or "tracepoint NAME" a program.
attached() { bpftool perf show | awk -v pid="$1" '$1 == "pid" && $2 == pid && $7 ~ /tracepoint$/ { print $7, $8 }'; }
category() { basename "$(dirname /sys/kernel/tracing/events/*/"$1")"; }

# Each tracer: start_NAME OUT starts it on the scratch file OUT and sets $rec once attached.
start_daxtrace() { start_tracer "$1.log" says_watching "$B/daxtrace" record -o "$1"; }
start_daxtrace_always() { start_tracer "$1.log" says_watching "$B/daxtrace" record --fault-hooks=always -o "$1"; }

# What daxtrace attaches on this kernel, fault hooks included (on demand, they
# come later): the floor and the peers attach there too.
start_daxtrace_always "$work/discover.dxc"
daxtrace_hooks=$(attached "$rec")
mode=$(grep -o '[a-z]* mode' "$work/discover.dxc.log" | head -1)
stop_tracer
floor_hooks=$(echo "$daxtrace_hooks" | while read -r kind name; do
	if [ "$kind" = tracepoint ]; then echo "$(category "$name"):$name"; else echo "$name"; fi
done)
daxtrace_tracepoints=$(echo "$daxtrace_hooks" | awk '{ print $2 }' | sort -u)
perf_events=$(for name in $daxtrace_tracepoints; do echo "$(category "$name"):$name"; done | paste -sd, -)

# shellcheck disable=SC2086 # one argument a hook
start_hookfloor() { start_tracer "$1.log" says_watching "$B/hookfloor" $floor_hooks; }
# bpftrace says "Attaching N probes" before it attaches them: wait for all N.
bpftrace_attached() {
	want=$(sed -n 's/^Attaching \([0-9]*\) probe.*/\1/p' "$1")
	[ -n "$want" ] && [ "$(attached "$rec" | wc -l)" -ge "$want" ]
}
start_bpftrace() { start_tracer "$1.log" bpftrace_attached bpftrace tests/bench/peer.bt; }
# perf with -D (a delay, here 1 ms) says when its events are enabled.
perf_enabled() { grep -q "Events enabled" "$1"; }
start_perf_record() { start_tracer "$1.log" perf_enabled perf record -a -D 1 -e "$perf_events" -o "$1"; }
start_perf_lock_record() { start_tracer "$1.log" perf_enabled perf lock record -a -D 1 -o "$1"; }
# perf lock contention -b says nothing until it ends: wait until it holds two BPF
# links (contention_begin, _end), which the fdinfo of their fds tells.
two_links() { [ "$(grep -ls '^link_type:' /proc/"$rec"/fdinfo/* | wc -l)" -ge 2 ]; }
start_perf_lock_contention() { start_tracer "$1.log" two_links perf lock contention -b -a; }

# Why a tracer cannot run here, if it cannot; then it gets a row saying so.
unavailable() {
	case $1 in
	bpftrace | perf_*)
		tool=${1%%_*}
		command -v "$tool" > /dev/null || { echo "$tool not installed (scripts/deps.sh installs it)"; return; }
		;;
	esac
	if [ "$1" = perf_lock_contention ] && ! perf lock contention -b -a -- true > "$work/probe.log" 2>&1; then
		reason=$(sed -n 's/^ *Error: *//p' "$work/probe.log" | head -1)
		echo "not supported by this perf: ${reason:-$(grep -v '^ *$' "$work/probe.log" | tail -1)}"
	fi
}

# One faultbench run, with the tracer PID watched if given: "FAULTS_PER_SEC CPU_SECONDS_PER_FAULT".
measure() { # WORKLOAD [PID]
	same=""
	[ "$1" = punch-same ] && same=yes
	"$B/faultbench" --dir "$work/fb" --seconds "$SECS" ${same:+--punch-same} ${2:+--watch-pid "$2"} > "$work/run.json" || return 1
	awk -F'[{}:,"]+' '{
		for (i = 2; i < NF; i += 2) v[$i] = $(i + 1)
		printf "%s %.6e\n", v["faults_per_sec"], (v["cpu_seconds"] + v["watched_cpu_seconds"]) / v["faults"] }' "$work/run.json"
}

# The words after the first N-1 (mod their count), then those.
rotate() { # N WORD...
	n=$(($1 - 1))
	shift
	[ $# -gt 0 ] || return 0
	n=$((n % $#))
	while [ "$n" -gt 0 ]; do
		first=$1
		shift
		set -- "$@" "$first"
		n=$((n - 1))
	done
	echo "$@"
}

running=""
for t in $TRACERS; do
	label "$t" > /dev/null
	why=$(unavailable "$t")
	if [ -n "$why" ]; then echo "$why" > "$work/$t.why"; else running="$running $t"; fi
done

# A tracer that fails leaves the rounds with its reason; the others go on.
give_up() { # TRACER REASON
	echo "$2" > "$work/$1.why"
	running=$(echo "$running" | tr ' ' '\n' | grep -vx "$1" | paste -sd' ' -)
}

started=$(date +%s)
for round in $(seq "$ROUNDS"); do
	for w in $WORKLOADS; do
		# shellcheck disable=SC2086
		order=$(rotate "$round" $running)
		before=$(measure "$w")
		echo "$before" >> "$work/untraced.$w"
		for t in $order; do
			if ! "start_$t" "$work/$t.out" 2> "$work/start.err"; then
				give_up "$t" "failed to start in round $round: $(grep -v '^ *$' "$work/start.err" | tail -1)"
				continue
			fi
			traced=$(measure "$w" "$rec" 2> "$work/run.err") && kill -0 "$rec" 2>/dev/null && alive=yes || alive=""
			stop_tracer
			rm -f "$work/$t.out" "$work/$t.out.old"
			if [ -z "$alive" ]; then
				give_up "$t" "ended during round $round, exit status $tracer_status; last said: $(grep -v '^ *$' "$work/$t.out.log" | tail -1 | cut -c1-100)"
				continue
			fi
			after=$(measure "$w")
			echo "$after" >> "$work/untraced.$w"
			echo "$traced $before $after" |
				awk -v pairs="$work/pairs.$t.$w" '{ print $1, ($3 + $5) / 2 >> (pairs ".rate"); print $2, ($4 + $6) / 2 >> (pairs ".cpu") }'
			before=$after
		done
	done
	echo "overhead: round $round of $ROUNDS done, $(($(date +%s) - started)) s" >&2
done

# The table: per tracer and workload, the medians of the paired ratios and their 95% intervals.
echo "overhead: faultbench ${SECS} s a run, $ROUNDS rounds of U T1 U T2 ... U (tracers rotated), daxtrace in $mode"
[ "$ROUNDS" -ge 10 ] || echo "  only $ROUNDS rounds: a bootstrap interval of so few pairs is narrower than the truth"
echo "  slowdown: 1 - median of paired faults/s ratios; CPU/fault: median of paired ratios of (workload + tracer CPU) per fault; [95% bootstrap interval]"
printf '  %-38s %-10s %-26s %-26s %s\n' tracer workload "slowdown % [95% CI]" "CPU/fault ratio [95% CI]" rounds
for w in $WORKLOADS; do
	# the baseline's own figures: its runs against 1, for their median and interval
	awk '{ print $1, 1 }' "$work/untraced.$w" | "$B/pairstat" > "$work/base.rate"
	awk '{ print $2 * 1e9, 1 }' "$work/untraced.$w" | "$B/pairstat" > "$work/base.cpu"
	read -r rate rate_lo rate_hi n < "$work/base.rate"
	read -r cpu cpu_lo cpu_hi n < "$work/base.cpu"
	printf '  %-38s %-10s %-26s %-26s %s\n' untraced "$w" \
		"$(printf '%.0f/s [%.0f, %.0f]' "$rate" "$rate_lo" "$rate_hi")" \
		"$(printf '%.0f ns [%.0f, %.0f]' "$cpu" "$cpu_lo" "$cpu_hi")" "$n runs"
	echo "overhead-json: {\"tracer\":\"untraced\",\"workload\":\"$w\",\"runs\":$n,\"faults_per_sec\":[$rate,$rate_lo,$rate_hi],\"cpu_ns_per_fault\":[$cpu,$cpu_lo,$cpu_hi]}" >> "$work/json"
	for t in $TRACERS; do
		pairs=$work/pairs.$t.$w
		why=""
		[ -f "$work/$t.why" ] && why=$(cat "$work/$t.why")
		if [ ! -s "$pairs.rate" ]; then
			printf '  %-38s %-10s %s\n' "$(label "$t")" "$w" "not measured: ${why:-no round ran}"
			echo "overhead-json: {\"tracer\":\"$(label "$t")\",\"workload\":\"$w\",\"rounds\":0}" >> "$work/json"
			continue
		fi
		"$B/pairstat" < "$pairs.rate" > "$pairs.rate.stat"
		"$B/pairstat" < "$pairs.cpu" > "$pairs.cpu.stat"
		read -r rate rate_lo rate_hi n < "$pairs.rate.stat"
		read -r cpu cpu_lo cpu_hi n < "$pairs.cpu.stat"
		printf '  %-38s %-10s %-26s %-26s %s%s\n' "$(label "$t")" "$w" \
			"$(awk -v m="$rate" -v l="$rate_lo" -v h="$rate_hi" 'BEGIN { printf "%5.1f [%5.1f, %5.1f]", (1 - m) * 100, (1 - h) * 100, (1 - l) * 100 }')" \
			"$(printf '%.3f [%.3f, %.3f]' "$cpu" "$cpu_lo" "$cpu_hi")" "$n" "${why:+ (then $why)}"
		awk -v t="$(label "$t")" -v w="$w" -v n="$n" -v m="$rate" -v l="$rate_lo" -v h="$rate_hi" \
		    -v c="$cpu" -v cl="$cpu_lo" -v ch="$cpu_hi" 'BEGIN {
			printf "overhead-json: {\"tracer\":\"%s\",\"workload\":\"%s\",\"rounds\":%d,\"slowdown\":[%.4f,%.4f,%.4f],\"cpu_per_fault_ratio\":[%.4f,%.4f,%.4f]}\n",
				t, w, n, 1 - m, 1 - h, 1 - l, c, cl, ch }' >> "$work/json"
	done
done

# What the floor and the peers attach, against daxtrace.
echo "  daxtrace --fault-hooks=always attaches $(echo "$daxtrace_hooks" | wc -l) programs on $(echo "$daxtrace_tracepoints" | wc -w) tracepoints (fentry ones not counted; on demand, the per-fault ones only while punches run on mapped files); hookfloor an empty program on each of the same"
bt=$(sed -n 's/^tracepoint:[a-z_0-9]*:\([a-z_0-9]*\).*/\1/p' tests/bench/peer.bt | sort -u)
differ=$(printf '%s\n%s\n' "$daxtrace_tracepoints" "$bt" | sort | uniq -u | paste -sd' ' -)
echo "  peer.bt counts $(echo "$bt" | wc -l) tracepoints${differ:+; differs from daxtrace on: $differ}; perf record -a records daxtrace's"
cat "$work/json"
