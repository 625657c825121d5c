#!/bin/sh
# make bench, a one-shot report's memory: `daxtrace report` of a capture of
# about 250 MB (corrbench -w -s series: 17 punches of 32,768 fault groups one
# after another, 1.6 M events, every page dirtied and deleted, none a finding,
# so what the report holds is the windows' evidence): peak RSS (max RSS of
# /usr/bin/time) and wall time, median and range of 3 rounds, each a process
# of its own, under the default evidence budget and under one of
# BENCH_REPORT_BUDGET (65,536: two punches' evidence) entries. Reading holds
# while the windows handed to the judge hold more than the budget, so the
# peak stays under about twice the budget whatever the capture's size.
# BENCH_BEFORE=PATH also measures another daxtrace (an older build) the same
# way, for a before/after. Needs no root: no BPF is loaded.
set -eu
cd "$(dirname "$0")/../.."
B=build
N=${BENCH_REPORT_GROUPS:-557056}
SMALL=${BENCH_REPORT_BUDGET:-65536}
work=$(mktemp -d /var/tmp/daxscope-reportmem.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

"$B/corrbench" -w "$work/series.dxc" -s series -n "$N" > /dev/null
size=$(stat -c %s "$work/series.dxc")

# Median and range of 3 rounds: "rss_med rss_min rss_max wall_med wall_min wall_max" (KiB, s).
rounds() { # DAXTRACE BUDGET
	for _ in 1 2 3; do
		/usr/bin/time -f "%M %e" -o "$work/time" "$1" report --evidence-budget "$2" "$work/series.dxc" > /dev/null
		cat "$work/time"
	done > "$work/rounds"
	echo "$(cut -d' ' -f1 "$work/rounds" | sort -n | paste -sd' ') $(cut -d' ' -f2 "$work/rounds" | sort -n | paste -sd' ')" |
		awk '{ printf "%d %d %d %.2f %.2f %.2f\n", $2, $1, $3, $5, $4, $6 }'
}

measure() { # LABEL DAXTRACE
	for budget in 1048576 "$SMALL"; do
		rounds "$2" "$budget" | awk -v l="$1" -v b="$budget" -v s="$size" '{
			printf "one-shot report (%s) of a %.0f MB capture, budget %d: peak RSS %.0f MiB (range %.0f-%.0f), %.2f s (%.2f-%.2f)\n",
				l, s / 1e6, b, $1 / 1024, $2 / 1024, $3 / 1024, $4, $5, $6 }'
	done
}

[ -z "${BENCH_BEFORE:-}" ] || measure before "$BENCH_BEFORE"
measure "$([ -n "${BENCH_BEFORE:-}" ] && echo after || echo this build)" "$B/daxtrace"
