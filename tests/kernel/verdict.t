#!/usr/bin/perl
# daxcheck --verdict on this host's filesystems: ext4 and xfs must come out
# SAFE for every operation they support (the lock read held at each data
# change, nothing damaged); plain FUSE holds no fault lock across its punch
# (fs/fuse/file.c: fuse_file_fallocate takes invalidate_lock only for DAX),
# so delayfs, even answering at once, must never be SAFE; each verdict must
# agree with the workload's own read-back. So must two FUSE filesystems of
# Debian packages that keep real data: mergerfs, which passes punch, zero range
# and copy_file_range on to a branch's file (whose own filesystem locks the
# branch's inode, not the FUSE inode faults take), and fuse2fs, the ext4 that
# the kernel's driver punches SAFE. A few seconds per filesystem: the long
# sweep is `make verdicts` (tests/truth/verdicts.sh).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

need_kernel_bpf();
my $daxcheck = build() . '/daxcheck';
BAIL_OUT('build/daxcheck missing: the build is incomplete') unless -x $daxcheck;
my $seconds = $ENV{VERDICT_SECONDS} // 5;

my ($rc) = run_cmd($daxcheck, '--verdict', '--time', '0', '/');
is($rc, 2, 'a --time of 0 is refused');
my ($err);
($rc, undef, $err) = run_cmd($daxcheck, '--verdict', '--runs', '3', '/');
ok($rc == 2 && $err =~ /--runs is for the truth table/, 'an option of the truth table is refused with --verdict');
($rc, undef, $err) = run_cmd($daxcheck, '--trace', '/nonexistent/trace', '/');
ok($rc == 2 && $err =~ m{--trace /nonexistent/trace: No such file or directory}, 'a --trace file that cannot be written is refused, named');

sub verdict {
    my ($what, $dir) = @_;
    my ($rc, $out, $err) = run_cmd($daxcheck, '--verdict', '--json', '--time', $seconds, $dir);
    my $doc = eval { decode_json($out) } or BAIL_OUT("$what: no JSON ($rc): $err");
    is($doc->{schema}, 'daxscope.verdict/1', "$what: schema");
    like($err, qr/daxcheck: punch_hole\s+\S.*attempts/, "$what: a progress line per operation");
    diag(sprintf '%-8s %-21s %-15s %3d attempts, lock held at %d/%d, %d waited, damage %d/%d/%d',
        $what, @$_{qw(op verdict attempts)}, $_->{changes} - $_->{changes_unlocked}, @$_{qw(changes waits)},
        @{ $_->{damage} }{qw(wrong_pages lost_writes stale_reads)}) for @{ $doc->{ops} };
    opendir(my $d, $dir) or die;
    is_deeply([grep { /^\.daxcheck-verdict/ } readdir $d], [], "$what: no scratch file left");
    my %by = map { $_->{op} => $_ } @{ $doc->{ops} };
    judge_verdict_rows($what, $doc);
    return ($rc, \%by, $doc);
}

sub loop_mount {
    my ($type, @mkfs) = @_;
    my $dir = scratch_dir();
    mkdir "$dir/mnt";
    system("truncate -s 512M $dir/$type.img") == 0 && system(@mkfs, "$dir/$type.img") == 0 or return;
    system('mount', '-o', 'loop', "$dir/$type.img", "$dir/mnt") == 0 or return;
    cleanup_later(sub { system('umount', "$dir/mnt") });
    return "$dir/mnt";
}

my %supported = (
    ext4 => [qw(punch_hole zero_range zero_range_keep_size collapse_range insert_range truncate_down)],
    xfs  => [qw(punch_hole zero_range zero_range_keep_size collapse_range insert_range truncate_down
                copy_file_range clone_range dedupe_range)],
);
for my $fs (qw(ext4 xfs)) {
    SKIP: {
        my $mnt = loop_mount($fs, "mkfs.$fs", '-q', $fs eq 'ext4' ? '-F' : '-f') or skip "cannot make or mount $fs", 1;
        my ($rc, $by) = verdict($fs, $mnt);
        is($by->{$_}{verdict}, 'SAFE', "$fs $_: SAFE") for @{ $supported{$fs} };
        ok(!(grep { $_->{verdict} =~ /^(UNSAFE|EXPOSED)$/ } values %$by), "$fs: nothing unsafe or exposed");
        is($by->{truncate_up}{verdict}, 'could not check', "$fs truncate_up: could not check (no window: nothing removed)");
        is($rc, 3, "$fs: exit 3 (all safe but some could not be checked)");
    }
}

# 1 KiB blocks: punch and zero range also take half a page, stored to after the
# operation; on a kernel that does not watch such stores (fentry refused),
# their verdict must say it rests on the read-back alone
SKIP: {
    my $mnt = loop_mount('ext4-1k', 'mkfs.ext4', '-q', '-F', '-b', '1024') or skip 'cannot make or mount ext4 with 1 KiB blocks', 1;
    my (undef, $by, $doc) = verdict('ext4-1k', $mnt);
    my $watched = $doc->{banner} !~ /NOT watching: .*stores after an operation/;
    for my $op (qw(punch_hole zero_range zero_range_keep_size)) {
        my $r = $by->{$op};
        is($r->{sub_page_stores}, $r->{attempts}, "ext4-1k $op: a store after it into the half page it changed, every attempt");
        like($r->{rests_on}, $watched ? qr/the read-back \(\d+ stores\) and writable_after_punch \(fentry/
            : qr/the read-back alone \(\d+ stores\), as writable_after_punch is not watched on this kernel \(./,
            "ext4-1k $op: says what judges the store after it (" . ($watched ? 'watched' : 'not watched here') . ')');
        ok($r->{verdict} ne 'SAFE' || ($r->{why} =~ /stores after it into the half page it changed were all read back/
            && !$r->{damage}{lost_writes}), "ext4-1k $op: SAFE only with every store after it read back, and says so");
        ok(!$watched || !$r->{damage}{lost_writes} || $r->{findings}{writable_after_punch},
            "ext4-1k $op: a store lost after it has its writable_after_punch where that is watched");
    }
}

SKIP: {
    my $mnt = loop_mount('btrfs', 'mkfs.btrfs', '-q', '-f') or skip 'mkfs.btrfs missing or btrfs not mountable (scripts/deps.sh)', 1;
    my ($rc, $by) = verdict('btrfs', $mnt);
    is($by->{$_}{verdict}, 'SAFE', "btrfs $_: SAFE (its i_mmap_lock)") for qw(punch_hole zero_range clone_range);
    is($by->{truncate_down}{verdict}, 'could not check', 'btrfs truncate_down: could not check (guarded by i_size, not a lock)');
    like($by->{truncate_down}{why}, qr/i_size/, 'btrfs truncate_down: says so');
    is($by->{collapse_range}{verdict}, 'not supported', 'btrfs collapse_range: not supported');
    # the kernel side reads the filesystem (s_magic): reads meanwhile are judged by btrfs's order
    like($by->{$_}{rests_on}, qr/btrfs drops the range's cached pages after the clone/, "btrfs $_: rests on btrfs's order for reads")
      for qw(clone_range copy_file_range);
    unlike($by->{punch_hole}{rests_on}, qr/btrfs drops/, 'btrfs punch_hole: not a clone');
}
{
    my $dir = scratch_dir();
    mkdir "$dir/tmpfs";
    system('mount', '-t', 'tmpfs', 'tmpfs', "$dir/tmpfs") == 0 or BAIL_OUT('cannot mount tmpfs');
    cleanup_later(sub { system('umount', "$dir/tmpfs") });
    my ($rc, $by) = verdict('tmpfs', "$dir/tmpfs");
    is($by->{punch_hole}{verdict}, 'SAFE', 'tmpfs punch_hole: SAFE (shmem_falloc)');
    like($by->{punch_hole}{rests_on}, qr/shmem_falloc/, 'tmpfs punch_hole: rests on shmem_falloc');
    is($by->{zero_range}{verdict}, 'not supported', 'tmpfs zero_range: not supported');
}
SKIP: {
    skip 'no FUSE (/dev/fuse) or fusermount3 (package fuse3)', 1 unless -c '/dev/fuse' && `sh -c 'command -v fusermount3'`;
    # a server that answers at once: the verdict rests on the lock, not on winning the race
    my ($rc, $by) = verdict('delayfs', mount_delayfs(0));
    for my $op (qw(punch_hole zero_range zero_range_keep_size truncate_down copy_file_range)) {
        like($by->{$op}{verdict}, qr/^(UNSAFE|EXPOSED)$/, "delayfs $op: UNSAFE or EXPOSED, never SAFE");
        ok($by->{$op}{changes_unlocked} > 0, "delayfs $op: data changed without the fault lock");
    }
    ok(!(grep { $_->{verdict} eq 'SAFE' } values %$by), 'delayfs: nothing SAFE');
    like($by->{collapse_range}{verdict}, qr/^not supported$/, 'delayfs collapse_range: not supported (EOPNOTSUPP)');
    is($rc, 1, 'delayfs: exit 1');
}
# A FUSE filesystem of a Debian package: never SAFE, and its punch (and the
# other operations named) changed data without the fault lock.
sub fuse_package {
    my ($what, $mnt, @ops) = @_;
    my ($rc, $by) = verdict($what, $mnt);
    for my $op (@ops) {
        like($by->{$op}{verdict}, qr/^(UNSAFE|EXPOSED)$/, "$what $op: UNSAFE or EXPOSED, never SAFE");
        ok($by->{$op}{changes_unlocked} > 0, "$what $op: data changed without the fault lock");
    }
    ok(!(grep { $_->{verdict} eq 'SAFE' } values %$by), "$what: nothing SAFE");
    is($rc, 1, "$what: exit 1");
}
sub fuse_mount {
    my ($mnt, @cmd) = @_;
    system(@cmd) == 0 or return;
    cleanup_later(sub { system('fusermount3', '-u', $mnt) });
    return wait_for_mount($mnt);
}
SKIP: {
    skip 'mergerfs missing (package mergerfs; scripts/deps.sh)', 1 unless `sh -c 'command -v mergerfs'`;
    my $dir = scratch_dir();
    mkdir "$dir/$_" for qw(disk1 disk2 pool);
    fuse_mount("$dir/pool", 'mergerfs', "$dir/disk1:$dir/disk2", "$dir/pool") or skip 'mergerfs did not mount', 1;
    fuse_package('mergerfs', "$dir/pool", qw(punch_hole zero_range zero_range_keep_size truncate_down copy_file_range));
}
SKIP: {
    skip 'fuse2fs missing (package fuse2fs; scripts/deps.sh)', 1 unless `sh -c 'command -v fuse2fs'`;
    my $dir = scratch_dir();
    mkdir "$dir/mnt";
    system("truncate -s 512M $dir/ext4.img && mkfs.ext4 -q -F $dir/ext4.img") == 0 or skip 'cannot make an ext4 image', 1;
    fuse_mount("$dir/mnt", 'fuse2fs', "$dir/ext4.img", "$dir/mnt") or skip 'fuse2fs did not mount', 1;
    # 1.47.0 refuses ZERO_RANGE with EINVAL (could not check); later ones zero under no fault lock either
    fuse_package('fuse2fs', "$dir/mnt", qw(punch_hole truncate_down));
}
done_testing();
