#!/usr/bin/perl
# ext4 holds the invalidate lock for its whole punch: no write may be
# discarded and no fault may get through on the punched pages; faults that
# hit the punch wait on the lock, and daxtrace names both tasks.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

need_kernel_bpf();
plan skip_all => 'mkfs.ext4 missing (package e2fsprogs)' unless -x '/sbin/mkfs.ext4' || -x '/usr/sbin/mkfs.ext4';

my $dir = scratch_dir();
mkdir "$dir/mnt";
system("truncate -s 512M $dir/ext4.img && mkfs.ext4 -q -F $dir/ext4.img") == 0 or BAIL_OUT('mkfs.ext4 failed');
system('mount', '-o', 'loop', "$dir/ext4.img", "$dir/mnt") == 0 or plan skip_all => 'cannot loop-mount an ext4 image here';
cleanup_later(sub { system('umount', "$dir/mnt") });

subtest 'scheduled race: nothing lost, nothing through' => sub {
    my ($cap, $banner, $out, $rc) = record_around(
        workload => [ build() . '/race', '--file', "$dir/mnt/sched", '--punch', '8192:16384',
            '--write-at', '0:3', '--read-at', '0:4', '--write-at', '30:5' ]);
    is($rc, 0, 'race workload ran');
    my $race = decode_json($out);
    # a store racing the punch's start may be ordered before it and rightly erased;
    # one made after the punch returned must survive
    my ($late) = grep { $_->{page} == 5 } @{ $race->{writes} };
    ok($late && !$late->{lost}, 'precondition: ext4 kept the write made after the punch');
    my $doc = report_json($cap);
    is($doc->{lost_events}, 0, 'no events lost');
    my $st = file_stats($doc, $race);
    ok($st && $st->{punches} == 1, 'the punch was seen');
    held_throughout($doc, $race);
    workload_faults_seen($doc, $race);
    is(scalar(grep { $_->{kind} ne 'blocked_fault' } findings_for($doc, $race)), 0,
        'no finding but blocked faults: nothing got through, nothing discarded');
};

# The kernel read the invalidate lock at each of the punch's data changes: held for write by the punch.
sub held_throughout {
    my ($doc, $race) = @_;
    my $p = race_punch($doc, $race);
    ok($p && $p->{data_changes} > 0, 'the punch\'s data changes were sampled in the kernel (' . ($p ? $p->{data_changes} : 0) . ')');
    ok($p && $p->{holds_lock}, 'ext4 held its fault lock for write at every one of them')
      or diag(explain $p);
}

subtest 'long punch hammered by faults: they wait on the invalidate lock' => sub {
    my ($cap, $banner, $out, $rc) = record_around(
        workload => [ build() . '/race', '--file', "$dir/mnt/frag", '--fragment', '--size', '64M',
            '--punch', '0:64M', '--hammer-ms', '400' ]);
    is($rc, 0, 'race workload ran');
    my $race = decode_json($out);
    my $punch_ms = ($race->{punch}{end_ns} - $race->{punch}{start_ns}) / 1e6;
    diag(sprintf 'punch took %.1f ms', $punch_ms);
    is($race->{lost_writes}, 0, 'precondition: ext4 lost no write');
    my $doc = report_json($cap);
    is($doc->{lost_events}, 0, 'no events lost');
    held_throughout($doc, $race);
    workload_faults_seen($doc, $race);
    my @blocked = findings_for($doc, $race, 'blocked_fault');
    my $st = file_stats($doc, $race);
    ok($st, 'the punched file is reported') or return;
    diag("$st->{erased_before_change} writes dirtied before the punch took its lock, erased by it (ordered before it)");
    diag(sprintf '%d blocked faults, %d lock waits, %d early faults', scalar @blocked, $st->{lock_waits}{count},
        $st->{faults_during_punch}{early});
    ok(@blocked > 0, 'faults that hit the punch were held off by the lock (blocked_fault)');
    for my $f (@blocked[ 0 .. ($#blocked < 4 ? $#blocked : 4) ]) {
        ok($f->{wait_ns} > 0, "blocked fault page $f->{page_index}: wait $f->{wait_ns} ns");
        ok($f->{fault_tid} == $race->{writer_tid} || $f->{fault_tid} == $race->{reader_tid},
            'blocked fault: the waiter is a workload thread');
        is($f->{punch_tid}, $race->{punch_tid}, 'blocked fault: held by the punching thread');
    }
    ok($st->{lock_waits}{count} >= @blocked, 'lock contention recorded for the file');
    is($st->{lock_waits}{last_holder}{tid}, $race->{punch_tid}, 'lock holder is the punching thread');
    ok($st->{lock_waits}{p99_ns} >= $st->{lock_waits}{p50_ns} && $st->{lock_waits}{max_ns} > 0,
        'lock wait percentiles are ordered');
    is(scalar(grep { $_->{kind} ne 'blocked_fault' } findings_for($doc, $race)), 0,
        'no finding but blocked faults on the punched pages');
};
done_testing();
