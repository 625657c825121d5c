#!/usr/bin/perl
# The stock-vs-patched FUSE pair: two kernels that differ only in the lock.
# One boot of Debian's 6.12 guest (tests/vm/run-matrix.sh 6.12 OUT
# fuse-patched): daxcheck --verdict on delayfs answering at once (as
# tests/vm/verdict_rows.t runs it), first with the kernel's FUSE, whose
# fuse_file_fallocate takes the fault lock for DAX files only, then with
# tests/vm/patches/fuse-fallocate-invalidate-lock.patch live (a livepatch
# built by tests/vm/fuse-patched.sh: FUSE is built into that kernel). What
# must hold:
# - both verdicts as tests/vm/verdict_rows.t judges every row: UNSAFE exactly
#   when the workload read back damage, SAFE only with the lock read held at
#   every data change of every attempt;
# - punch_hole, zero_range and zero_range_keep_size: stock UNSAFE or EXPOSED,
#   data changed without the lock; patched SAFE, the lock held at every change,
#   nothing damaged, nothing got through (a READ woken by the unlock, before
#   the return, comes after the FALLOCATE's reply: docs/verdict.md);
# - the operations the patch leaves alone (truncate_down in fuse_do_setattr,
#   copy_file_range) not SAFE in either: the SAFE comes from the patch, not
#   from the boot or the build.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

plan skip_all => 'needs root (apt, depmod, device nodes)' if $> != 0;
plan skip_all => 'DAXSCOPE_VM=0: VM matrix disabled' if ($ENV{DAXSCOPE_VM} // '1') eq '0';
# a few seconds a mount (about 10 attempts an operation under TCG)
local $ENV{VERDICT_SECONDS} = $ENV{VERDICT_SECONDS} // 6;
local $ENV{DAXSCOPE_VM_TIMEOUT} = 600 + 5 * 2 * $ENV{VERDICT_SECONDS};

my $out = scratch_dir();
my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', '6.12', $out, 'fuse-patched');
plan skip_all => "cannot boot a 6.12 guest or build the patch here: $stdout" if $rc == 3;
is($rc, 0, 'patch built, guest booted and finished') or stop_here($stderr);
my $art = artifacts(slurp("$out/console.log"));

my $stock = guest_verdict('6.12', 'stock', $art);
like($art->{livepatch} // '', qr/^enabled 1 transition 0$/m, 'the patch is live: enabled, its transition over')
  or diag($art->{livepatch});
like($art->{livepatch} // '', qr/'fuse_invalidate_lock': patching complete/, 'the kernel says it patched');
my $patched = guest_verdict('6.12', 'patched', $art);
stop_here('no verdict to compare') unless $stock && $patched;

for my $op (qw(punch_hole zero_range zero_range_keep_size)) {
    my ($s, $p) = ($stock->{$op}, $patched->{$op});
    like($s->{verdict}, qr/^(UNSAFE|EXPOSED)$/, "stock $op: UNSAFE or EXPOSED") or diag("$s->{why}");
    ok($s->{changes_unlocked} > 0, "stock $op: data changed without the fault lock ($s->{changes_unlocked} of $s->{changes})");
    is($p->{verdict}, 'SAFE', "patched $op: SAFE") or diag("$p->{why}; $p->{example}");
    is(encode_json($p->{findings}), '{}', "patched $op: no fault, IO, store or write-back got through");
    ok($p->{changes} > 0 && $p->{changes_unlocked} == 0,
        "patched $op: the lock held at every data change ($p->{changes} in $p->{attempts} attempts)");
    is($p->{guard}, 'invalidate_lock', "patched $op: under mapping->invalidate_lock");
    is($p->{damage}{wrong_pages} + $p->{damage}{lost_writes} + $p->{damage}{stale_reads}, 0, "patched $op: nothing damaged");
    diag(sprintf '%-21s stock %-7s %2d attempts, %d pages damaged; patched %-4s %2d attempts, %d accesses waited (longest %.1f ms)',
        $op, $s->{verdict}, $s->{attempts}, $s->{damage}{wrong_pages} + $s->{damage}{lost_writes} + $s->{damage}{stale_reads},
        $p->{verdict}, $p->{attempts}, $p->{waits}, $p->{wait_max_us} / 1000);
}
for my $op (qw(truncate_down copy_file_range)) {
    for ([ stock => $stock ], [ patched => $patched ]) {
        my ($name, $by) = @$_;
        ok($by->{$op}{verdict} ne 'SAFE' && $by->{$op}{changes_unlocked} > 0,
            "$name $op (not in the patch): not SAFE, data changed without the lock");
    }
}
done_testing();
