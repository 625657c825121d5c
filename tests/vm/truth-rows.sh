#!/bin/sh
# The truth table's DAX rows: daxcheck --expect-clean on ext4 and xfs mounted
# -o dax in a guest kernel under QEMU (tests/vm/run-matrix.sh), RUNS runs of
# every scenario but fio (not in the guest). Rows as daxcheck prints them.
#   tests/vm/truth-rows.sh [RUNS] [KERNEL]      (make truth runs it)
# Exit status: 0 every row met its target; 1 one did not, or no row came.
set -u
cd "$(dirname "$0")/../.."
runs=${1:-100}
kernel=${2:-6.12}
out=$(mktemp -d /tmp/daxscope-vmtruth-XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM

DAXCHECK_RUNS=$runs DAXSCOPE_VM_TIMEOUT=$((600 + runs * 40)) tests/vm/run-matrix.sh "$kernel" "$out" > "$out/why"
case $? in
0) ;;
3) echo "truth: no DAX rows: cannot boot a $kernel guest here: $(cat "$out/why")" >&2; exit 1 ;;
*) echo "truth: the $kernel guest failed (tests/vm/run-matrix.sh)" >&2; exit 1 ;;
esac
tr -d '\r' < "$out/console.log" | perl -MJSON::PP -e '
	local $/; my $log = <STDIN>; my $ok = 1; my $rows = 0;
	printf "%-16s %-15s %5s %5s %5s %8s %7s\n", qw(scenario fs runs raced clean reported blocked);
	for my $fs (qw(ext4 xfs)) {
		my ($json) = $log =~ /^\@\@ARTIFACT $fs-truth\@\@\n(.*?)^\@\@END $fs-truth\@\@/ms;
		my $r = eval { decode_json($json // "") } or do { print STDERR "truth: no rows for $fs-dax\n"; $ok = 0; next };
		for (@$r) {
			printf "%-16s %-15s %5d %5d %5d %8d %7d  %s %s\n", $_->{scenario}, "$fs-dax",
				@$_{qw(runs raced clean reported blocked)}, $_->{ok} ? "ok" : "MISSED", $_->{target};
			$ok &&= $_->{ok};
			$rows++;
		}
	}
	exit($ok && $rows ? 0 : 1);'
