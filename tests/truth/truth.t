#!/usr/bin/perl
# The short truth table: a few runs of every scenario through daxcheck on
# delayfs (with the server's log) and ext4. The truth itself must hold (every
# FUSE race really raced, and its events exist; ext4 has none), and daxscope's
# scores must meet each row's target.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

need_kernel_bpf();
BAIL_OUT('build/daxcheck missing: the build is incomplete') unless -x build() . '/daxcheck';
plan skip_all => 'no FUSE (/dev/fuse)' unless -c '/dev/fuse';
my $runs = $ENV{TRUTH_RUNS} // 3;

my ($rc, $out, $err) = run_cmd(build() . '/daxcheck', '--runs', 'x', '/');
is($rc, 2, 'daxcheck refuses a garbage --runs');
($rc, $out, $err) = run_cmd(build() . '/daxcheck', '--runs', '-1', '/');
is($rc, 2, 'daxcheck refuses a negative --runs');

sub table {
    my ($what, @args) = @_;
    my ($rc, $out, $err) = run_cmd(build() . '/daxcheck', '--json', '--runs', $runs, @args);
    like($err, qr/watching:/, "$what: banner first");
    my $rows = eval { decode_json($out) } or BAIL_OUT("$what: daxcheck printed no JSON ($rc): $err");
    diag(sprintf '%-15s %-8s runs %3d raced %3d true %4d ambiguous %3d reported %4d TP %4d FP %4d FN %4d %s', @$_{
        qw(scenario fs runs raced true_events ambiguous reported tp fp fn)}, $_->{ok} ? 'ok' : 'MISSED') for @$rows;
    return ($rc, { map { $_->{scenario} => $_ } @$rows }, $err);
}

my $log_dir = scratch_dir();
my $mnt = mount_delayfs(50, '--truncate-delay-ms=50', "--log=$log_dir/server.log");
my ($fuse_rc, $fuse, $err_fuse) = table('delayfs', '--server-log', "$log_dir/server.log", $mnt);
$err = $err_fuse;
for my $s (qw(mapped_write mapped_read writeback buffered_read direct_read zero_write copy_write truncate_write)) {
    my $r = $fuse->{$s};
    is($r && $r->{raced}, $runs, "delayfs $s: every run raced inside the server's change");
    if ($s eq 'truncate_write') {
        is($r && $r->{true_events}, 0, 'delayfs truncate_write: a truncate cuts the store, no true event');
    } else {
        ok($r && $r->{true_events} >= $runs, "delayfs $s: each run has its true events");
    }
    ok($r && $r->{ok}, "delayfs $s: no false positive, no false negative");
}
ok(!$fuse->{collapse_write} && !$fuse->{insert_write}, 'delayfs: collapse and insert range skipped (EOPNOTSUPP)');
like($err, qr/collapse_write skipped on delayfs: FUSE has no collapse/, 'delayfs: the skip says why');
ok($fuse->{start_race}{ok}, 'delayfs start_race: no false positive, no false negative (ambiguous apart)');
ok($fuse->{mix}{true_events} > 0, 'delayfs mix: the partner raced the punches');
is($fuse->{mix}{fp}, 0, 'delayfs mix: no false positive');
ok(slurp("$log_dir/server.log") =~ /FALLOCATE received ino=\d+ off=8192 len=16384/, 'the server logged its clock');
ok(slurp("$log_dir/server.log") =~ /COPY_FILE_RANGE copied ino=\d+ off=8192 len=16384/, 'the server copied in place');

SKIP: {
    skip 'mkfs.ext4 missing', 5 unless -x '/sbin/mkfs.ext4' || -x '/usr/sbin/mkfs.ext4';
    my $dir = scratch_dir();
    mkdir "$dir/mnt";
    system("truncate -s 512M $dir/ext4.img && mkfs.ext4 -q -F $dir/ext4.img") == 0 or BAIL_OUT('mkfs.ext4 failed');
    system('mount', '-o', 'loop', "$dir/ext4.img", "$dir/mnt") == 0 or skip 'cannot loop-mount ext4', 5;
    cleanup_later(sub { system('umount', "$dir/mnt") });
    my ($rc, $ext4) = table('ext4', '--expect-clean', "$dir/mnt");
    is((grep { $_->{true_events} } values %$ext4), 0, 'ext4: no true event in any scenario (it holds faults out)');
    ok($ext4->{fio} && $ext4->{fio}{blocked} > 0, 'ext4 fio: faults really waited on punches');
    ok($ext4->{collapse_write} && $ext4->{insert_write}, 'ext4: collapse and insert range run');
    is($rc, 0, 'ext4: every row clean (daxscope reports nothing but blocked faults)');
}
is($fuse->{mix}{fn}, 0, 'delayfs mix: no false negative (a task\'s second fault on a page is its own)');

# Real filesystems that keep faults out their own way, or reach the kernel's
# page cache another way: each must be seen (the punch held its lock or guard,
# faults waited) and clean. One run of the scheduled store, the mix and fio.
sub clean_row {
    my ($what, $dir, @scenarios) = @_;
    my ($rc, $rows) = table($what, '--expect-clean', (map { ('--scenario', $_) } @scenarios), $dir);
    is($rc, 0, "$what: every row clean (nothing but blocked faults)");
    return $rows;
}
my $real = scratch_dir();
SKIP: {
    skip 'mkfs.btrfs missing (scripts/deps.sh)', 3 unless grep { -x "$_/mkfs.btrfs" } qw(/sbin /usr/sbin /usr/bin);
    mkdir "$real/btrfs";
    system("truncate -s 512M $real/btrfs.img && mkfs.btrfs -q -f $real/btrfs.img >/dev/null 2>&1") == 0 or BAIL_OUT('mkfs.btrfs failed');
    system('mount', '-o', 'loop', "$real/btrfs.img", "$real/btrfs") == 0 or skip 'cannot loop-mount btrfs', 3;
    cleanup_later(sub { system('umount', "$real/btrfs") });
    system('btrfs', '-q', 'subvolume', 'create', "$real/btrfs/sub") == 0 or BAIL_OUT('btrfs subvolume create failed');
    my $rows = clean_row('btrfs subvolume', "$real/btrfs/sub", qw(mapped_write mix fio));
    ok($rows->{fio} && $rows->{fio}{blocked} > 0,
       'btrfs fio: faults seen waiting on i_mmap_lock (--path matched the subvolume\'s files)');
}
{
    mkdir "$real/tmpfs";
    system('mount', '-t', 'tmpfs', 'tmpfs', "$real/tmpfs") == 0 or BAIL_OUT('cannot mount tmpfs');
    cleanup_later(sub { system('umount', "$real/tmpfs") });
    clean_row('tmpfs', "$real/tmpfs", qw(mapped_write mix fio));
}
{
    mkdir "$real/$_" for qw(lower upper work ovl);
    system('mount', '-t', 'overlay', 'overlay', '-o',
           "lowerdir=$real/lower,upperdir=$real/upper,workdir=$real/work", "$real/ovl") == 0
        or BAIL_OUT('cannot mount overlayfs');
    cleanup_later(sub { system('umount', "$real/ovl") });
    my $rows = clean_row('overlayfs', "$real/ovl", qw(mapped_write mix fio));
    ok($rows->{fio} && $rows->{fio}{blocked} > 0, 'overlayfs fio: faults seen waiting on the upper file\'s lock');
}
SKIP: {
    skip 'gocryptfs missing (scripts/deps.sh)', 2 unless grep { -x "$_/gocryptfs" } qw(/usr/bin /bin);
    mkdir "$real/$_" for qw(cipher plain);
    system("gocryptfs -q -init -extpass 'echo truth' $real/cipher >/dev/null 2>&1") == 0 &&
        system('gocryptfs', '-q', '-extpass', 'echo truth', "$real/cipher", "$real/plain") == 0
        or skip 'cannot mount gocryptfs', 2;
    cleanup_later(sub { system('fusermount3', '-u', "$real/plain") });
    # its server refuses COPY_FILE_RANGE: the kernel copies through the page cache, the copy's own writes
    clean_row('gocryptfs', "$real/plain", qw(copy_write mix));
}
done_testing();
