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

# pages 2..5 punched; the server punches at ~50 ms and replies at ~100 ms
my @schedule = ('--write-at', '70:3', '--read-at', '75:4', '--write-at', '70:9', '--write-at', '180:2');
my ($cap, $banner, $out, $rc) = record_around(
    workload => [ build() . '/race', '--file', "$mnt/racefile", '--punch', '8192:16384', @schedule ]);
is($rc, 0, 'race workload ran');
my $race = eval { decode_json($out) } or BAIL_OUT("race output is not JSON: $out");
like($banner, qr/watching:.*fallocate punches/, "banner lists what is watched: $banner");

my %lost = map { $_->{page} => 1 } grep { $_->{lost} } @{ $race->{writes} };
ok(exists $lost{3}, 'precondition: the write at 70 ms into the punch was lost (as the kernel notes measured)')
  or diag($out);
ok(!exists $lost{9}, 'precondition: the write outside the punched range survived');
ok(!exists $lost{2}, 'precondition: the write after fallocate returned survived');

my $doc = report_json($cap);
ok($doc, 'report --json parses') or BAIL_OUT('no report');
is($doc->{schema}, 'daxscope.report/2', 'schema');
is($doc->{lost_events}, 0, 'no events lost');

my $ino = $race->{ino};
check_race_findings($doc, $race, 2, 5, "$mnt/racefile");
my ($mid) = grep { $_->{page_index} == 3 } findings_for($doc, $race, 'discarded_write');
ok($mid && $mid->{t_ns} > $mid->{data_change_ns} && !$mid->{refaulted},
    'the write 70 ms into the punch: after FALLOCATE went to the server, not retried');
my ($punch) = grep { $_->{ino} == $ino && $_->{task}{tid} == $race->{punch_tid} } @{ $doc->{punches} };
ok($punch && !$punch->{holds_lock} && $punch->{data_changes_without_lock} > 0,
    'the kernel read the fault lock free while the punch changed data');
ok($punch && $punch->{cancelled_dirty_bytes} >= 4096, 'the kernel counted the dirty page the punch threw away');
my @reads = grep { !$_->{write} } findings_for($doc, $race, 'unblocked_fault');
ok((grep { $_->{page_index} == 4 && $_->{fault_tid} == $race->{reader_tid} } @reads),
    'the read through the mapping during the punch is an unblocked fault');
my $st = file_stats($doc, $race);
ok($st, 'file statistics present');
is($st->{punches}, 1, 'one punch');
ok($st->{faults_during_punch}{unblocked_read} >= 1, 'file unblocked_read count');
ok((grep { $_->{opcode} eq 'FALLOCATE' && $_->{count} >= 1 && $_->{max_ns} > 90e6 } @{ $doc->{fuse} }),
    'FUSE FALLOCATE latency recorded in the kernel histogram (>= 100 ms with the delays)');
done_testing();
