#!/usr/bin/perl
# Real kernels with real DAX: Debian's 5.10, 6.1 and 6.12 kernels booted under
# QEMU (TCG) with a pmem device; ext4 and xfs mounted -o dax; daxtrace recorded
# around the punch/fault race inside the guest. Judged here from the guest's
# artifacts. Where this machine cannot boot a guest, each kernel is skipped
# with the reason.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

plan skip_all => 'needs root (apt, depmod, device nodes)' if $> != 0;
plan skip_all => 'DAXSCOPE_VM=0: VM matrix disabled' if ($ENV{DAXSCOPE_VM} // '1') eq '0';
my @kernels = split ' ', ($ENV{DAXSCOPE_VM_KERNELS} // '5.10 6.1 6.12');

# What each kernel must watch, as its banner names it: the checks below follow
# this table, never the banner, so a probe that stops fails instead of skipping.
my @everywhere = ('fallocate punches', 'DAX pte faults', 'DAX pmd faults', 'page-cache deletes',
    'fault/punch lock waits',    # 5.10: fentry on down_read/down_write; 5.19+: lock:contention_*
    'ext4 extent changes', 'xfs extent changes');
my @fuse_dax = ('FUSE DAX mappings', 'FUSE DAX range reclaim', 'FUSE DAX reclaim passes', 'FUSE DAX allocation stalls');
my @dax_fault_timing = ('ext4 DAX fault timing', 'xfs DAX fault timing');
my %must_watch = (
    '5.10' => [@everywhere],    # no module BTF (5.11+): no FUSE DAX, no fentry on ext4's or xfs's DAX fault
    '6.1'  => [ @everywhere, @fuse_dax, @dax_fault_timing ],
    '6.12' => [ @everywhere, @fuse_dax, @dax_fault_timing, 'FUSE requests' ],    # fuse/fuse_request_send: 6.11+
);

# Artifacts: "@@ARTIFACT name@@" ... "@@END name@@" in the console log.
sub artifacts {
    my ($log) = @_;
    my %a;
    $log =~ s/\r//g;    # the serial console ends lines with CR LF
    while ($log =~ /^\@\@ARTIFACT (\S+?)\@\@\n(.*?)^\@\@END \1\@\@/msg) { $a{$1} = $2 }
    return \%a;
}

my @matched;

# The race's punch window in the report: the kernel read the fault lock held for write at each data change.
sub held_throughout {
    my ($what, $doc, $race) = @_;
    my ($punch) = grep { $_->{ino} == $race->{ino} && $_->{task}{tid} == $race->{punch_tid} } @{ $doc->{punches} };
    ok($punch && $punch->{data_changes} > 0 && $punch->{holds_lock},
        "$what: the kernel read the fault lock held for write at each data change ("
        . ($punch ? "$punch->{data_changes} sampled, $punch->{data_changes_without_lock} without" : 'no punch') . ')');
}

# The scheduled race (a write and a read at the punch's start, a write well after it):
# the workload kept the late write, and daxtrace saw the punch hold its lock and found
# nothing but blocked faults.
sub scheduled_race {
    my ($fs, $a, $doc) = @_;
    my $race = eval { decode_json($a->{"$fs-race-sched"} // '') };
    ok($race && $race->{punch}{ret} == 0, "$fs scheduled race: ran, the punch succeeded")
      or return diag($a->{"$fs-race-err"} // '');
    my @after = grep { $_->{t_ns} > $race->{punch}{end_ns} } @{ $race->{writes} };
    ok(@after && !(grep { $_->{lost} } @after), "$fs scheduled race: no write made after the punch returned was lost ("
        . scalar(@after) . ' made)') or diag(explain $race->{writes});
    held_throughout("$fs scheduled race", $doc, $race);
    my @mine = grep { $_->{ino} == $race->{ino} } @{ $doc->{findings} };
    is(scalar(grep { $_->{kind} ne 'blocked_fault' } @mine), 0, "$fs scheduled race: no finding but blocked faults")
      or diag(explain \@mine);
}

# The wait daxscope reports for a blocked fault against the time the workload
# measured around that memory access (only accesses slower than 1 ms are kept).
# Waits under 20 ms are left out: under TCG a faulting thread descheduled for
# a timeslice (4 ms at HZ=250) around its fault handler costs milliseconds
# that are no lock's doing; the punch is made long so that waits are longer.
sub agreement {
    my ($fs, $race, $blocked) = @_;
    $blocked = [ grep { $_->{wait_ns} >= 20e6 } @$blocked ];
    my @accesses = ((map { [ $_, $race->{writer_tid} ] } @{ $race->{writes} }),
                    (map { [ $_, $race->{reader_tid} ] } @{ $race->{reads} }));
    my @pairs;
    for my $f (@$blocked) {
        my ($a) = grep { $_->[1] == $f->{fault_tid} && $_->[0]{t_ns} <= $f->{t_ns}
                         && $f->{t_ns} <= $_->[0]{t_ns} + $_->[0]{access_ns} } @accesses;
        push @pairs, [ $f->{wait_ns}, $a->[0]{access_ns} ] if $a;
    }
    push @matched, @pairs;
    my @off = grep { abs($_->[0] - $_->[1]) > 0.2 * $_->[1] } @pairs;
    is(scalar @off, 0, "$fs: each reported wait within 20% of the access time the workload measured")
      or diag(join ', ', map { sprintf '%.2f ms vs %.2f ms', $_->[0] / 1e6, $_->[1] / 1e6 } @off);
}

# The truth table's rows for a DAX filesystem (daxcheck --expect-clean in the
# guest): every scenario ran, raced, and every run was clean.
sub truth_rows {
    my ($fs, $a) = @_;
    my $rows = eval { decode_json($a->{"$fs-truth"} // '') };
    ok($rows && @$rows >= 8, "$fs-dax: daxcheck scored its scenarios") or return diag($a->{"$fs-truth-err"} // '');
    for my $r (@$rows) {
        # a run of the random mix may see no partner access inside a window under TCG: it proves nothing, but is no failure
        ok($r->{ok} && $r->{raced} > 0 && $r->{clean} == $r->{runs},
            "$fs-dax $r->{scenario}: $r->{clean} of $r->{runs} runs clean ($r->{raced} raced), $r->{blocked} blocked faults")
          or diag(explain $r);
    }
}

for my $k (@kernels) {
    subtest "kernel $k" => sub {
        my $out = scratch_dir();
        my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', $k, $out);
        plan skip_all => "cannot boot a $k guest here: $stdout" if $rc == 3;
        is($rc, 0, "guest booted and finished") or do { diag($stderr); return };
        my $a = artifacts(slurp("$out/console.log"));
        for my $m (qw(nd_pmem ext4 xfs fuse virtiofs)) {
            like($a->{modules} // '', qr/^$m ok$/m, "module $m loads");
        }
        my ($banner) = ($a->{banner} // '') =~ /^(daxscope: .*)$/m;
        ok($banner, 'probe banner printed') or return;
        diag($banner);
        my ($watching) = $banner =~ /mode[^;]*; watching: ([^;]*)/;
        my %watched = map { $_ => 1 } split /, /, $watching // '';
        my %must = map { $_ => 1 } @{ $must_watch{$k} // [] };
        ok(%must, "kernel $k has its row in the table of what must be watched") or return;
        for my $probe (@{ $must_watch{$k} }) {
            ok($watched{$probe}, "$k watches $probe");
        }
        my ($not) = $banner =~ /NOT watching: (.*)$/;
        for my $item (split /\), /, $not // '') {
            like("$item)", qr/^[^(]+ \(.+\)\)?$/, "not watched, with a reason: $item)");
        }
        for my $fs (qw(ext4 xfs)) {
            like($a->{"$fs-mount"} // '', qr/dax/, "$fs mounted with DAX");
            my $race = eval { decode_json($a->{"$fs-race"} // '') };
            my $doc = eval { decode_json($a->{"$fs-report"} // '') };
            ok($race && $doc, "$fs: workload and report present") or next;
            is($race->{lost_writes}, 0, "$fs: the workload lost no write");
            is($doc->{lost_events}, 0, "$fs: no events lost");
            my ($st) = grep { $_->{ino} == $race->{ino} } @{ $doc->{files} };
            ok($st, "$fs: the punched file is reported") or next;
            is($st->{path}, $race->{file}, "$fs: by its path");
            ok($st->{faults}{dax_pte} + $st->{faults}{dax_pmd} > 0,
                "$fs: DAX faults seen ($st->{faults}{dax_pte} pte, $st->{faults}{dax_pmd} pmd)");
            held_throughout($fs, $doc, $race);
            my @mine = grep { $_->{ino} == $race->{ino} } @{ $doc->{findings} };
            my @blocked = grep { $_->{kind} eq 'blocked_fault' } @mine;
            ok(@blocked > 0, "$fs: faults held off by the punch (" . scalar(@blocked) . ')');
            ok(!(grep { !$_->{wait_ns} || $_->{punch_tid} != $race->{punch_tid} } @blocked),
                "$fs: each with its wait time and the punching thread");
            is($st->{lock_waits}{last_holder}{tid}, $race->{punch_tid},
                "$fs: the contended lock is the file's fault/punch lock, held by the punch");
            is(scalar(grep { $_->{kind} ne 'blocked_fault' } @mine), 0, "$fs: no finding but blocked faults");
            scheduled_race($fs, $a, $doc);
            truth_rows($fs, $a);
            SKIP: {
                skip "$fs: its DAX fault handler is not timed on $k (no module BTF)", 1 unless $must{"$fs DAX fault timing"};
                agreement($fs, $race, \@blocked);
            }
        }
        SKIP: {
            skip "no DAX fault handler is timed on $k", 1 unless grep { $must{$_} } @dax_fault_timing;
            ok(@matched > 0, 'faults that waited 20 ms or more behind a punch matched to the workload\'s own timing ('
                . scalar(@matched) . ')');
        }
        @matched = ();
    };
}
done_testing();
