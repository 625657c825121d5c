#!/usr/bin/perl
# daxtop under the load that once hung it: one FUSE punch held 3 s over
# 64 MiB while two tasks fault the file for 6 s, so one punch window gathers
# about a million fault groups and dirtied pages. Judging that window must
# not hold the loop (it runs on a thread of its own): refreshes keep coming
# at the interval, SIGINT ends daxtop, and the window is still judged (its
# faults are reported).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use IO::Select;
use POSIX ':sys_wait_h';
use Test::More tests => 8;
use Time::HiRes qw(time sleep);

need_kernel_bpf();
plan skip_all => 'no FUSE (/dev/fuse)' unless -c '/dev/fuse';

my $interval = 0.2;
my $mnt = mount_delayfs(3000);
my $file = "$mnt/loadfile";

my $pid = open(my $out, '-|') // die "fork: $!";
if (!$pid) {
    open STDERR, '>', scratch_dir() . '/daxtop.err' or die;
    exec build() . '/daxtop', '-b', '-i', $interval or die "exec daxtop: $!";
}
cleanup_later(sub { kill 'KILL', $pid });

# Header times of each refresh, read as they come, for SECS seconds.
my (@refresh, @lines);
my $sel = IO::Select->new($out);
my $buf = '';
sub read_for {
    my ($secs) = @_;
    my $until = time + $secs;
    while ((my $left = $until - time) > 0) {
        next unless $sel->can_read($left);
        my $n = sysread($out, $buf, 65536, length $buf) or last;
        while ($buf =~ s/^(.*)\n//) {
            my $line = $1;
            push @refresh, time if $line =~ /^daxtop - /;
            push @lines, $line;
        }
    }
}
read_for(1.5);
ok(@refresh >= 2, 'daxtop refreshes before the load') or diag(slurp(scratch_dir() . '/daxtop.err'));

my $race_pid = fork() // die;
if (!$race_pid) {
    open STDOUT, '>', scratch_dir() . '/race.json';
    exec build() . '/race', '--file', $file, '--size', '64M', '--punch', '0:64M', '--hammer-ms', '6000' or die;
}
my $first = @refresh;
my $race_start = time;
my $raced;
while (time - $race_start < 60) {
    read_for(0.5);
    if (waitpid($race_pid, WNOHANG) == $race_pid) { $raced = $? == 0; last }
}
ok($raced, 'the race workload ran');

# The last screen's row of the file and its count of faults that got through, cumulative: from the judged window.
sub unblocked {
    my ($header) = grep { /\bUNBLK\b/ } reverse @lines;
    my ($row) = grep { m{/mnt/loadfile } } reverse @lines;
    return (undef, undef) unless $header && $row;
    my ($n) = substr($row, index($header, 'UNBLK') - 2) =~ /(\d+)/;
    return ($n, "$header\n$row");
}
# After its end and grace, the window is judged while the screen goes on.
my $judged_by = time + 30;
read_for(0.5) while !(unblocked())[0] && time < $judged_by;
my ($unblocked, $screen) = unblocked();
ok(defined $screen, 'the punched file has a row') or diag(join "\n", grep { defined } @lines[-20 .. -1]);
ok(($unblocked // 0) > 0, 'its window was judged: faults that got through the FUSE punch are counted')
  and diag("last screen:\n$screen");
read_for(1);

my ($gap, $n) = (0, 0);
for my $i ($first .. $#refresh) {
    my $d = $refresh[$i] - $refresh[$i - 1];
    $gap = $d if $d > $gap;
    $n++;
}
my $span = time - $race_start;
diag(sprintf '%d refreshes in %.1f s of load and judging; longest gap %.2f s', $n, $span, $gap);
ok($n >= $span / $interval / 4, "refreshes kept coming under the load ($n in ${\ sprintf '%.1f', $span} s)");
cmp_ok($gap, '<', 2, 'no refresh waited 10 intervals on judging');

kill 'INT', $pid;
my $t0 = time;
my $exited;
while (time - $t0 < 5) {
    if (waitpid($pid, WNOHANG) == $pid) { $exited = 1; last }
    sleep 0.05;
}
# detaching takes a while on its own: each tracepoint link waits for an RCU grace period (about 85 ms here)
ok($exited, sprintf 'SIGINT ends daxtop, its programs detached, within 5 s (%.2f s)', time - $t0);
ok($exited && $? == 0, 'with status 0');

