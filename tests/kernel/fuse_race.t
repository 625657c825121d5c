#!/usr/bin/perl
# Plain FUSE does not lock faults out of a punch (kernel notes): a write made
# through a MAP_SHARED mapping while the server punches is discarded. daxtrace
# must report the writes the workload itself found lost (check_race_findings),
# with both tasks, the reads that got through, and nothing outside the range.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

need_kernel_bpf();
plan skip_all => 'no FUSE (/dev/fuse)' unless -c '/dev/fuse';
plan skip_all => 'fusermount3 missing (package fuse3)' unless `sh -c 'command -v fusermount3'`;

my $mnt = mount_delayfs(50);

my ($cap, $banner, $out, $rc) =
  record_around(workload => [ build() . '/race', '--file', "$mnt/racefile", fuse_race_args() ]);
is($rc, 0, 'race workload ran');
my $race = eval { decode_json($out) } or BAIL_OUT("race output is not JSON: $out");
like($banner, qr/watching:.*fallocate punches/, "banner lists what is watched: $banner");

my $doc = report_json($cap);
ok($doc, 'report --json parses') or BAIL_OUT('no report');
is($doc->{schema}, 'daxscope.report/2', 'schema');
is($doc->{lost_events}, 0, 'no events lost');

ok(check_fuse_race($doc, $race, "$mnt/racefile"),
    'precondition: the write at 70 ms into the punch was lost (as the kernel notes measured)') or diag($out);
ok(fuse_race_read_found($doc, $race), 'the read through the mapping during the punch is an unblocked fault');
my $st = file_stats($doc, $race);
ok($st, 'file statistics present');
is($st->{punches}, 1, 'one punch');
ok($st->{faults_during_punch}{unblocked_read} >= 1, 'file unblocked_read count');
ok((grep { $_->{opcode} eq 'FALLOCATE' && $_->{count} >= 1 && $_->{max_ns} > 90e6 } @{ $doc->{fuse} }),
    'FUSE FALLOCATE latency recorded in the kernel histogram (>= 100 ms with the delays)');
done_testing();
