#!/usr/bin/perl
# Plain FUSE on Debian's 5.10, 6.1, 6.12 and 7.3 kernels (QEMU, TCG; no DAX): the
# race of tests/kernel/fuse_race.t on delayfs, recorded by daxtrace in the
# guest (tests/vm/fuse-rows.sh). FUSE lets the store through on every one of
# them and the workload itself finds it lost; daxscope must report it on
# each, whatever dates the server's change there (the request tracepoint on
# 6.12, fentry on the request's queueing on 6.1, the server's read of
# /dev/fuse on 5.10). Then the truth table's delayfs and fuse-overlayfs rows,
# DAXCHECK_RUNS (1: the short form; more for a longer one) runs each. Where the
# matrix runs a kernel in tracepoint mode too (fentry refused), again so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Daxscope::Kernels qw(@kernels %watched);
use JSON::PP;
use Test::More;

plan skip_all => 'needs root (apt, depmod, device nodes)' if $> != 0;
plan skip_all => 'DAXSCOPE_VM=0: VM matrix disabled' if ($ENV{DAXSCOPE_VM} // '1') eq '0';
my @boot = split ' ', ($ENV{DAXSCOPE_VM_KERNELS} // join ' ', @kernels);
# The store is lost in most runs, not all: under TCG on 6.12 a store fell after the
# delete (and survived) in 2 of 3 runs once; each run is judged write by write anyway.
my $runs = 5;

# What dates a FUSE data change on each kernel and mode, as the banner names it.
my %dated_by = (
    fentry => {
        '5.10' => "FUSE requests at the server's reads of /dev/fuse",    # no fuse tracepoints, no module BTF
        '6.1'  => 'FUSE requests',    # fentry on queue_request_and_unlock (module BTF)
        '6.12' => 'FUSE requests',    # tp_btf fuse_request_send and _end (6.11+)
        '7.3'  => 'FUSE requests',
    },
    tracepoint => { '5.10' => "FUSE requests at the server's reads of /dev/fuse", '7.3' => 'FUSE requests' },
);

# Read faults served by fault-around are seen at fexit of filemap_map_pages:
# its VM_FAULT_NOPAGE from 5.12, and before (void there) the faulting page's
# pte read under the pte lock; without fexit at the mm_filemap_map_pages
# tracepoint or through the VMA (bpf_find_vma, 5.17+). What sees them, as
# the banner names it; undef: nothing (5.10 without fentry), and the windows
# say so (reads_unwatched).
my %fault_around_by = (
    fentry => {
        '5.10' => "fault-around read faults (the faulting page's pte)",    # fexit that reads no return
        '6.1'  => 'page-cache read faults',
        '6.12' => 'page-cache read faults',
        '7.3'  => 'page-cache read faults',
    },
    tracepoint => { '5.10' => undef, '7.3' => 'page-cache read faults' },
);

# The scenarios whose true events include read faults: where no hook sees
# those, the misses they leave are the ones the windows declared.
my %reads_fault = map { $_ => 1 } qw(mapped_read start_race mix);

# The truth table's rows of one FUSE filesystem, as daxcheck scored them in the guest.
# READS_HIDDEN: no hook sees read faults here; a row that missed only what the
# windows of every run declared unseen (reads_unwatched), with no FP, passes.
sub truth_rows {
    my ($fs, $a, $reads_hidden) = @_;
    my $rows = eval { decode_json($a->{"$fs-truth"} // '') };
    ok($rows && @$rows, "$fs: daxcheck scored its scenarios") or return diag($a->{"$fs-truth-err"} // 'no rows');
    unlike($a->{"$fs-truth-err"} // '', qr/^exit 2$/m, "$fs: every scenario ran or was skipped with its reason")
      or diag($a->{"$fs-truth-err"});
    for my $r (@$rows) {
        my $text = sprintf '%s %s: %d of %d raced (%d run again), %d true, %d reported, FP %d, FN %d, undated %d (%s)',
            $fs, $r->{scenario}, @$r{qw(raced runs rerun true_events reported fp fn undated)}, $r->{target};
        if ($reads_hidden && !$r->{ok} && $reads_fault{ $r->{scenario} }) {
            ok($r->{raced} + $r->{rerun} == $r->{runs} && !$r->{fp} && !$r->{undated}
                && $r->{reads_unwatched} == $r->{runs}, "$text: its misses are the reads its windows say go unseen")
              or diag(truth_trace($a, $fs, $r));
        } else {
            ok($r->{ok}, $text) or diag(truth_trace($a, $fs, $r));
        }
    }
}

# The race and the rows on kernel K in MODE (fentry, or tracepoint: fentry refused in the guest).
sub plain_fuse {
    my ($k, $mode) = @_;
    my $out = scratch_dir();
    local $ENV{DAXSCOPE_DENY_FENTRY} = $mode eq 'tracepoint' ? 1 : 0;
    local $ENV{FUSE_RACE_ARGS} = join ' ', fuse_race_args();
    local $ENV{FUSE_RACE_RUNS} = $runs;
    local $ENV{DAXCHECK_RUNS} = $ENV{DAXCHECK_RUNS} // 1;
    my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', $k, $out, 'fuse');
    plan skip_all => "cannot boot a $k guest here: $stdout" if $rc == 3;
    is($rc, 0, 'guest booted and finished') or return diag($stderr);
    my $a = artifacts(slurp("$out/console.log"));
    like($a->{modules} // '', qr/^fuse ok$/m, 'module fuse loads');
    my ($banner) = ($a->{banner} // '') =~ /^(daxscope: .*)$/m;
    my ($watching) = ($banner // '') =~ /; watching: ([^;]*)/;
    my $dated_by = $dated_by{$mode}{$k};
    ok((grep { $_ eq $dated_by } split /, /, $watching // ''), "$k dates FUSE data changes by: $dated_by")
      or diag($banner);
    my $around_by = $fault_around_by{$mode}{$k};
    if ($around_by) {
        ok((grep { $_ eq $around_by } split /, /, $watching // ''), "$k sees fault-around read faults by: $around_by")
          or diag($banner);
    } else {
        like($banner // '', qr/NOT watching: .*page-cache read faults \(/, "$k: the banner says page-cache read faults go unseen");
    }
    like($a->{'delayfs-mount'} // '', qr/ fuse/, 'delayfs mounted') or return;
    my $doc = eval { decode_json($a->{'fuse-report'} // '') };
    ok($doc, 'the report parses') or return diag($a->{'fuse-report-err'} // '');
    is($doc->{lost_events}, 0, 'no events lost');
    unlike($a->{'fuse-report-text'} // '', qr/could not be dated/, 'no window undated');
    my ($lost, $reported) = (0, 0);
    for my $n (1 .. $runs) {
        my $race = eval { decode_json($a->{"fuse-race$n"} // '') };
        ok($race, "race $n ran") or return diag($a->{'fuse-race-err'} // '');
        subtest "race $n" => sub { check_fuse_race($doc, $race, "/mnt/delayfs/race$n") };
        # runs, not findings: a run may hold two unblocked faults on page 3 (ci57: "reported in 6 of 5")
        my $lost_here = (grep { $_->{lost} && $_->{page} == 3 } @{ $race->{writes} }) ? 1 : 0;
        $lost += $lost_here;
        $reported += $lost_here && (grep { $_->{page_index} == 3 } findings_for($doc, $race, 'discarded_write'))
          && (grep { $_->{page_index} == 3 } findings_for($doc, $race, 'unblocked_fault')) ? 1 : 0;
        if ($around_by) {
            check_fuse_race_read($doc, $race, "race $n");
        } else {
            my @w = grep { $_->{path} eq "/mnt/delayfs/race$n" } @{ $doc->{punches} };
            ok(@w && !(grep { !$_->{reads_unwatched} } @w), "race $n: the load of page 4 is unseen here, and its window says so");
        }
    }
    ok($lost > 0, "FUSE lost the store at 70 ms ($lost of $runs runs): the race proves something");
    is($reported, $lost, "each lost store reported as unblocked_fault + discarded_write on its page");
    diag("$k plain FUSE: the store at 70 ms lost in $lost of $runs runs; unblocked_fault + discarded_write on its page in $reported");
    truth_rows('delayfs', $a, !$around_by);
    SKIP: {
        skip 'fuse-overlayfs or strace not on this host (scripts/deps.sh installs them)', 1
          unless $a->{'fuse-overlayfs-truth'} || $a->{'fuse-overlayfs-truth-err'};
        truth_rows('fuse-overlayfs', $a, !$around_by);
    }
}

for my $k (@boot) {
    subtest "kernel $k, plain FUSE" => sub { plain_fuse($k, 'fentry') };
    subtest "kernel $k, plain FUSE, tracepoint mode" => sub { plain_fuse($k, 'tracepoint') } if $watched{tracepoint}{$k};
}
done_testing();
