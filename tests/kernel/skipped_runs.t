#!/usr/bin/perl
# Runs of a program the kernel skips (its recursion guard, recursion_misses):
# read back as the kernel counts them, and a capture says how many of
# daxscope's own were skipped (none here) rather than nothing at all.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

need_kernel_bpf();

# Real skips: the program on signal:signal_generate is skipped each time another
# tracepoint program sends a signal (tests/kernel/skiprun.bpf.c).
SKIP: {
    skip 'tracepoint programs\' skipped runs are counted from 6.7', 5 unless kernel_at_least(6, 7);
    skip 'no signal:signal_generate tracepoint', 5 unless -d '/sys/kernel/tracing/events/signal/signal_generate';
    my ($rc, $out, $err) = run_cmd(build() . '/skiprun', 25);
    is($rc, 0, 'skiprun ran') or diag($err);
    my %got = $out =~ /(\w+) (\d+)/g;
    is($got{sent}, 25, 'a signal sent from inside a tracepoint program at each of 25 getppid calls');
    is($got{seen}, 0, 'the program on signal_generate never ran for them');
    is($got{skipped}, 25, 'dx_prog_skipped_runs: the 25 runs the kernel skipped, as it counted them');
    is($got{sender_skipped}, 0, 'and none of the sender\'s');
}

# daxscope's own programs: read from the kernel, 0 here, never left out.
my $dir = scratch_dir();
my ($cap, $banner, undef, $race_rc) = record_around(
    workload => [ build() . '/race', '--file', "$dir/f", '--punch', '8192:16384', '--write-at', '0:3' ]);
is($race_rc, 0, 'workload ran');
my $doc = report_json($cap);
my ($text_rc, $text) = run_cmd(build() . '/daxtrace', 'report', $cap);
if (kernel_at_least(5, 12)) {
    # a preemptible kernel may really skip some (a task preempted inside a program): then they are listed
    my $skipped = $doc->{skipped_runs};
    ok(defined $skipped && $skipped =~ /^\d+$/, "this kernel counts skipped runs: daxscope's read (" . ($skipped // 'null') . ')');
    my $listed = 0;
    $listed += $_ for values %{ $doc->{skipped_runs_by_program} // {} };
    is($listed, $skipped, 'the programs listed add up to it');
    is(!!$doc->{complete}, !$skipped, $skipped ? 'the capture is not complete' : 'the capture is complete');
    like($text, $skipped ? qr/WARNING.*skipped/i : qr/\A(?!.*not counted by this kernel)/s, 'the text report agrees');
} else {
    ok(exists $doc->{skipped_runs} && !defined $doc->{skipped_runs}, 'before 5.12: skipped runs not counted (null)');
    like($text, qr/not counted by this kernel/, 'and the text says so');
}
done_testing();
