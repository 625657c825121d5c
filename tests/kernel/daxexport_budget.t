#!/usr/bin/perl
# daxexport's budget against a hostile local user (issue 25, items 4 and 5),
# the user an unprivileged account this test creates and removes:
# - 40 connections trickling a header line every 0.3 s, from 40 loopback
#   addresses: the user's share (4) is served and cut at the deadline, the
#   rest shut at once, and root's scrapes succeed meanwhile;
# - 2000 tmpfs mounts in the user's namespace, each punched once: per-mount
#   series stay at --max-mounts and "other", folded mounts counted, and a
#   mount of the machine's own, punched last, keeps its series;
# - 32 slow readers of that 8 MB exposition: the exporter's RSS grows by far
#   less than a copy each would take.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Test::More;
use Time::HiRes qw(sleep time);

need_kernel_bpf();
BAIL_OUT('build/daxexport missing: the build is incomplete') unless -x build() . '/daxexport';
plan skip_all => 'no sys/syscall.ph (package perl)' unless eval { require 'sys/syscall.ph'; 1 };
$SIG{PIPE} = 'IGNORE';
my ($uid, $gid, @as_user) = unprivileged_user("dxbudget$$");    # the hostile user, removed at the end

for my $bad (['--deadline', '0'], ['--deadline', '601'], ['--per-client', '0'], ['--per-client', '65'],
    ['--max-mounts', '0'], ['--max-mounts', '10001']) {
    my ($rc, undef, $err) = run_cmd(build() . '/daxexport', @$bad);
    ok($rc == 2 && $err =~ /invalid/, "daxexport @$bad: refused, exit 2") or diag("rc $rc: $err");
}

my $dir = scratch_dir();
chmod 0755, $dir or die;

# A: the budget small enough to reach; B: room for 32 readers of a big exposition, a long deadline
my ($pa, $pb) = (free_port(), free_port());
start_bg("$dir/a.log", build() . '/daxexport', '--listen', "127.0.0.1:$pa", '-i', '0.3', '--deadline', '1',
    '--per-client', '4', '--max-mounts', '8');
my $exporter_b = start_bg("$dir/b.log", build() . '/daxexport', '--listen', "127.0.0.1:$pb", '-i', '5', '--deadline',
    '60', '--per-client', '64', '--max-mounts', '10000');
for my $x (['a', $pa], ['b', $pb]) {
    ok(wait_until(sub { slurp("$dir/$x->[0].log") =~ /serving/ }, 30), "daxexport $x->[0] serves")
      or BAIL_OUT(slurp("$dir/$x->[0].log"));
}

my $http = HTTP::Tiny->new(timeout => 5);
sub metrics { my $r = $http->get("http://127.0.0.1:$_[0]/metrics"); $r->{status} == 200 ? $r->{content} : '' }
sub value { my ($text, $series) = @_; $text =~ /^\Q$series\E (\S+)$/m ? $1 : undef }
# The value of a series once a later rendering has it at least $want (scraped after the connections under test).
sub value_reaching {
    my ($port, $series, $want) = @_;
    my $v;
    wait_until(sub { $v = value(metrics($port), $series) // -1; $v >= $want }, 10);
    return $v;
}

# ---- item 5: trickling clients ----
my $trickle = user_script($dir, 'trickle.pl', <<'EOF');
# PORT N SECONDS: N connections from 127.0.0.2.., each sends a request line, then a header line every 0.3 s.
use strict; use IO::Socket::INET; use IO::Select; use Time::HiRes qw(sleep time);
$SIG{PIPE} = 'IGNORE';
my ($port, $n, $secs) = @ARGV;
my @s = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", LocalAddr => '127.0.0.' . (2 + $_)) or die "$!" } 0 .. $n - 1;
print $_ "GET /metrics HTTP/1.1\r\nHost: x\r\n" for @s;
my %closed;
for (my $t0 = time; time - $t0 < $secs && keys %closed < $n; sleep 0.3) {
    for my $i (0 .. $#s) {
        next if $closed{$i};
        my $buf;
        if (IO::Select->new($s[$i])->can_read(0) && !sysread($s[$i], $buf, 4096)) { $closed{$i} = 1; next }
        $closed{$i} = 1 unless print { $s[$i] } "X-Trickle: 1\r\n";
    }
}
print scalar(keys %closed), "\n";
EOF
my $refused0 = value(metrics($pa), 'daxscope_http_connections_refused_total');
my $cut0 = value(metrics($pa), 'daxscope_http_requests_cut_total');
my $tpid = start_bg("$dir/trickle.out", @as_user, 'perl', $trickle, $pa, 40, 4);
sleep 0.5;
my $served = 0;
for (1 .. 8) {
    $served++ if metrics($pa) =~ /daxscope_punches_total/;
    sleep 0.3;
}
is($served, 8, 'root: 8 of 8 scrapes served while the user trickles 40 connections');
waitpid $tpid, 0;
is(slurp("$dir/trickle.out") =~ s/\s+//gr, 40,
    'every trickling connection was closed by the exporter while it trickled (idle timeout 5 s: never reached)');
my $refused = value_reaching($pa, 'daxscope_http_connections_refused_total', $refused0 + 36);
my $cut = value_reaching($pa, 'daxscope_http_requests_cut_total', $cut0 + 4);
is($refused - $refused0, 36, '... 36 shut at once: one user holds 4, from whichever loopback address');
is($cut - $cut0, 4, '... the 4 it held cut at the deadline (1 s)');

# the limit per client, for root too: a fifth connection is shut at once, the four are cut at the deadline
$refused0 = value(metrics($pa), 'daxscope_http_connections_refused_total');
$cut0 = value(metrics($pa), 'daxscope_http_requests_cut_total');
my @held = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$pa") or die } 1 .. 5;
print $_ "GET /metrics HTTP/1.1\r\n" for @held;
ok(wait_until(sub { !grep { IO::Select->new($_)->can_read(0) ? sysread($_, my $b, 1) : 1 } @held }, 10),
    'root: 5 connections, all closed by the exporter');
is(value_reaching($pa, 'daxscope_http_connections_refused_total', $refused0 + 1) - $refused0, 1, '... one refused');
is(value_reaching($pa, 'daxscope_http_requests_cut_total', $cut0 + 4) - $cut0, 4, '... four cut at the deadline');
close $_ for @held;

# ---- item 4: 1500 mounts in the user's namespace, each punched once ----
my $nmounts = 2000;
SKIP: {
    my ($rc, undef, $err) = run_cmd(@as_user, 'unshare', '--user', '--map-root-user', '--mount', 'true');
    skip "no unprivileged user namespaces here: $err", 12 if $rc;
    mkdir "$dir/u" or die;
    chown $uid, $gid, "$dir/u" or die;
    my $mounter = user_script($dir, 'mounts.pl', <<'EOF');
# DIR N: N tmpfs mounts under DIR, a file in each punched once (inside a user and mount namespace).
use strict; require 'sys/syscall.ph';
my ($base, $n) = @ARGV;
my ($source, $type) = ('t', 'tmpfs');    # variables: syscall() may write its string arguments
for my $i (1 .. $n) {
    my $m = "$base/t$i";
    mkdir $m or die "mkdir $m: $!";
    syscall(SYS_mount(), $source, $m, $type, 0, 0) == 0 or die "mount $m: $!";
    open my $f, '+>', "$m/f" or die "$m/f: $!";
    print $f "\0" x 8192;
    $f->flush;
    syscall(SYS_fallocate(), fileno($f), 3, 0, 4096) == 0 or die "punch $m/f: $!";  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
    close $f;
}
print "$n\n";
EOF
    my $t0 = time;
    ($rc, my $out, $err) = run_cmd(@as_user, 'unshare', '--user', '--map-root-user', '--mount', 'perl', $mounter,
        "$dir/u", $nmounts);
    is($rc, 0, "the user made $nmounts mounts in its namespace, punched once each") or diag("rc $rc: $err");
    note(sprintf('%.1f s', time - $t0));
    # then root punches a file on a tmpfs of the machine's own
    mkdir "$dir/own" or die;
    system('mount', '-t', 'tmpfs', 'dxown', "$dir/own") == 0 or die;
    cleanup_later(sub { system('umount', "$dir/own") });
    open my $f, '+>', "$dir/own/f" or die;
    print $f "\0" x 8192;
    $f->flush;
    syscall(SYS_fallocate(), fileno($f), 3, 0, 4096) == 0 or die "punch: $!";
    close $f;
    my $own = qq{fstype="tmpfs",mountpoint="$dir/own"};
    # at least 1: its device number may be one a user's mount had (issue 25, item 6)
    ok(wait_until(sub { metrics($pa) =~ /^daxscope_punches_total\{dev="[0-9:]+",\Q$own\E\} [1-9]/m }, 15),
        'the machine\'s own mount, punched last, keeps its series')
      or diag(join '', metrics($pa) =~ /^(daxscope_punches_total.*\n)/mg);
    # the user's mounts are gone with its namespace, and the machine's own may have one's device number;
    # its punch was the last, but windows retire in their own time: not a barrier for the others
    my ($text, $mounts);
    ok(wait_until(sub { $text = metrics($pa); $mounts = value($text, 'daxscope_mounts') // 0; $mounts >= $nmounts }, 15),
        "daxscope_mounts: $mounts")
      or diag(join '', $text =~ /^(daxscope_(?:lost_events|kernel_drops|files|files_dropped|events)\S* .*\n)/mg);
    is(value($text, 'daxscope_mounts_folded'), $mounts - 8, '... folded past --max-mounts 8: counted');
    my @series = $text =~ /^daxscope_punches_total\{/mg;
    is(scalar @series, 9, '... 8 mounts with series of their own, and other');
    ok(value($text, 'daxscope_punches_total{dev="other",fstype="other",mountpoint="other"}') >= $mounts - 8,
        '... other has the folded mounts\' punches');
    note(sprintf('scrape at --max-mounts 8: %d bytes', length $text));

    # ---- 32 slow readers of B's exposition of every mount ----
    my $size;
    ok(wait_until(sub { my $t = metrics($pb); $size = length $t; (value($t, 'daxscope_mounts') // 0) >= $nmounts }, 20),
        'B exports every mount');
    my ($wmem) = (split ' ', slurp('/proc/sys/net/ipv4/tcp_wmem'))[2] // 4194304;
    ok($size > 2 * $wmem, "precondition: the exposition ($size bytes) is over twice the socket send buffer ($wmem)");
    my $rss = sub { slurp("/proc/$exporter_b/status") =~ /^VmRSS:\s+(\d+) kB/m ? $1 * 1024 : die };
    my $before = $rss->();
    my @readers;
    for (1 .. 32) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$pb") or die;
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096);
        print $s "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        push @readers, $s;
    }
    ok(wait_until(sub { !grep { !IO::Select->new($_)->can_read(0) } @readers }, 20),
        '32 slow readers: each has its reply started');
    sleep 0.5;
    my $grew = $rss->() - $before;
    # a copy per reader holds at least what the socket buffers do not
    my $copies = 32 * ($size - $wmem);
    ok($grew < $copies / 2, sprintf('RSS grew %.1f MB with 32 readers of %.1f MB (copies: over %.0f MB)',
        $grew / 2**20, $size / 2**20, $copies / 2**20));
    close $_ for @readers;
}
done_testing();
