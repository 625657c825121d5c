#!/usr/bin/perl
# daxexport on the real kernel, scraped by a real Prometheus while the FUSE
# race runs on a delayfs mount: Prometheus's query API finds the mount's
# punches, the unblocked write and the discarded write, the lock-wait
# histogram's buckets, no lost events. Bad requests (unknown path, POST, a
# 64 KiB header, a client that never finishes its request) get errors, and
# /metrics keeps answering at once; usage errors exit 2, a port in use 1.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);

need_kernel_bpf();
plan skip_all => 'no FUSE (/dev/fuse)' unless -c '/dev/fuse';
BAIL_OUT('build/daxexport missing: the build is incomplete') unless -x build() . '/daxexport';
my $prometheus = `sh -c 'command -v prometheus'` =~ s/\s+//gr;
plan skip_all => 'prometheus missing (Debian package prometheus: scripts/deps.sh installs it)' unless $prometheus;

my $http = HTTP::Tiny->new(timeout => 5);
# The exporter may answer a request and close before it has read all of it: a write then fails
# with EPIPE instead of killing the test before its cleanups (Prometheus, daxexport, mounts) run.
$SIG{PIPE} = 'IGNORE';

# usage errors, then a port in use, before anything is attached
for my $bad (['--listen', '127.0.0.1'], ['--listen', '127.0.0.1:0'], ['--listen', '127.0.0.1:65536'],
    ['--listen', '127.0.0.1:http'], ['--listen', 'localhost:9477'], ['--listen', ':9477'], ['--top', '201'],
    ['--top', '-1'], ['-i', '0'], ['stray']) {
    my ($rc, undef, $err) = run_cmd(build() . '/daxexport', @$bad);
    ok($rc == 2 && $err =~ /invalid|unexpected/, "daxexport @$bad: refused, exit 2") or diag("rc $rc: $err");
}
SKIP: {
    skip 'setpriv missing (util-linux)', 2 unless `sh -c 'command -v setpriv'`;
    my ($rc, undef, $err) = run_cmd('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all',
        build() . '/daxexport', '--listen', '127.0.0.1:' . free_port());
    is($rc, 1, 'not root: exits 1');
    like($err, qr/^daxexport: [^\n]*root[^\n]*\n\z/, 'not root: the session\'s one-line error') or diag($err);
}
my $taken = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1) or die;
my ($rc, undef, $err) = run_cmd(build() . '/daxexport', '--listen', '127.0.0.1:' . $taken->sockport);
is($rc, 1, 'a port in use: exit 1');
like($err, qr/^daxexport: cannot listen on 127\.0\.0\.1:\d+: Address already in use\n\z/, '... saying so')
  or diag($err);
close $taken;

my $mnt = mount_delayfs(50);
my $file = "$mnt/exportfile";
my $dir = scratch_dir();
my $port = free_port();
my $url = "http://127.0.0.1:$port/metrics";
my $exporter = start_bg("$dir/daxexport.log", build() . '/daxexport', '--listen', "127.0.0.1:$port", '-i', '0.5');
ok(wait_until(sub { slurp("$dir/daxexport.log") =~ /serving/ }, 20), 'daxexport attached and serves')
  or BAIL_OUT(slurp("$dir/daxexport.log"));

# the two formats, straight from the exporter
my $om_accept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,'
  . 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';    # what Prometheus 2.42 sends
my $r = $http->get($url, { headers => { Accept => $om_accept } });
is($r->{status}, 200, 'GET /metrics as Prometheus asks: 200');
is($r->{headers}{'content-type'}, 'application/openmetrics-text; version=1.0.0; charset=utf-8', '... OpenMetrics');
like($r->{content}, qr/\n# EOF\n\z/, '... ending in # EOF');
like($r->{content}, qr/^# TYPE daxscope_punches counter\n/m, '... counters typed by family name');
$r = $http->get($url);
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', 'no Accept: Prometheus text 0.0.4');
unlike($r->{content}, qr/# EOF|# UNIT/, '... without # EOF or # UNIT');
like($r->{content}, qr/^# TYPE daxscope_punches_total counter\n/m, '... counters typed by sample name');
SKIP: {
    my $promtool = `sh -c 'command -v promtool'` =~ s/\s+//gr;
    skip 'promtool missing (package prometheus)', 1 unless $promtool;
    open my $lint, '|-', "$promtool check metrics > $dir/lint 2>&1" or die;
    print $lint $r->{content};
    close $lint;
    is($? >> 8, 0, 'promtool check metrics: the 0.0.4 text is clean') or diag(slurp("$dir/lint"));
}

# a real Prometheus scraping it every second
my $pport = free_port();
open my $cfg, '>', "$dir/prometheus.yml" or die;
print $cfg "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
  . "scrape_configs:\n  - job_name: daxscope\n    static_configs:\n      - targets: ['127.0.0.1:$port']\n";
close $cfg;
start_bg("$dir/prometheus.log", $prometheus, "--config.file=$dir/prometheus.yml", "--storage.tsdb.path=$dir/tsdb",
    "--web.listen-address=127.0.0.1:$pport");
ok(wait_until(sub { $http->get("http://127.0.0.1:$pport/-/ready")->{status} == 200 }, 60), 'Prometheus is ready')
  or BAIL_OUT(slurp("$dir/prometheus.log"));

# A PromQL query's result vector ([] when nothing matches, or on an error).
sub query {
    my ($q) = @_;
    my $res = $http->get("http://127.0.0.1:$pport/api/v1/query?" . $http->www_form_urlencode({ query => $q }));
    my $doc = eval { decode_json($res->{content}) };
    return $doc && $doc->{status} eq 'success' ? $doc->{data}{result} : [];
}
# The query's only value once it satisfies $want (a sub given the number), else what it was at the deadline.
sub value_when {
    my ($q, $want, $secs) = @_;
    my $v;
    wait_until(sub { my $res = query($q); $v = @$res == 1 ? $res->[0]{value}[1] : undef; defined $v && $want->($v) },
        $secs // 20);
    return $v;
}

($rc, my $out) = run_cmd(build() . '/race', '--file', $file, '--punch', '8192:16384', '--write-at', '70:3');
is($rc, 0, 'race workload ran');
my $race = decode_json($out);
ok($race->{lost_writes} > 0, 'precondition: the workload lost a write');
my $dev = $race->{dev};
my $at = qq{dev="$dev"};

ok((value_when(qq{up{job="daxscope"}}, sub { $_[0] == 1 }) // 0) == 1, 'Prometheus scrapes daxexport: up is 1');
# only an OpenMetrics scrape carries units: Prometheus took that format
my $meta = eval { decode_json($http->get("http://127.0.0.1:$pport/api/v1/metadata?metric=daxscope_lock_wait_seconds")->{content}) };
is(($meta->{data}{daxscope_lock_wait_seconds} // [{}])->[0]{unit}, 'seconds',
    'Prometheus scraped OpenMetrics: the metadata API has the histogram\'s # UNIT');
my $punches = value_when("daxscope_punches_total{$at}", sub { $_[0] > 0 });
ok(($punches // 0) > 0, "punches on the race's mount ($dev): $punches") or diag(slurp("$dir/prometheus.log"));
my $series = query("daxscope_punches_total{$at}")->[0]{metric} // {};
is($series->{fstype}, 'fuse.delayfs', '... labelled with its fs type (mountinfo)');
is($series->{mountpoint}, $mnt, '... and its mount point');
my $unblocked = value_when(qq{daxscope_faults_during_punch_total{$at,verdict="unblocked_write"}}, sub { $_[0] > 0 });
ok(($unblocked // 0) > 0, "unblocked write faults during the punch: $unblocked");
my $discarded = value_when("daxscope_discarded_writes_total{$at}", sub { $_[0] >= $race->{lost_writes} });
is($discarded, $race->{lost_writes}, "discarded writes: the workload's lost writes");
is(value_when(qq{daxscope_file_discarded_writes_total{path="$file"}}, sub { $_[0] > 0 }), $race->{lost_writes},
    'the race file has its own series, by path');
is(value_when('daxscope_lost_events_total', sub { 1 }), 0, 'lost events: present, 0');

# the lock-wait histogram: buckets up to +Inf, cumulative, +Inf equal to _count
my $buckets = query("daxscope_lock_wait_seconds_bucket{$at}");
is(scalar @$buckets, 40, 'lock-wait histogram: 39 log2 bucket bounds and +Inf');
my @sorted = sort { $a->{metric}{le} <=> $b->{metric}{le} } @$buckets;
is($sorted[0]{metric}{le}, '1e-09', '... the first bound is 1 ns (slot 0: 0 and 1 ns)');
is($sorted[1]{metric}{le}, '3e-09', '... the next 3 ns (slot 1: 2 and 3 ns)');
is($sorted[-1]{metric}{le}, '+Inf', '... the last +Inf');
my @counts = map { $_->{value}[1] } @sorted;
ok(!grep({ $counts[$_] < $counts[$_ - 1] } 1 .. $#counts), '... cumulative');
is($counts[-1], query("daxscope_lock_wait_seconds_count{$at}")->[0]{value}[1], '... +Inf equals _count');
# waits with real times: ext4 holds its invalidate lock for a long punch, and faults hammering it wait
SKIP: {
    skip 'mkfs.ext4 missing (package e2fsprogs)', 5 unless -x '/sbin/mkfs.ext4' || -x '/usr/sbin/mkfs.ext4';
    mkdir "$dir/ext4";
    system("truncate -s 256M $dir/ext4.img && mkfs.ext4 -q -F $dir/ext4.img") == 0 or die 'mkfs.ext4 failed';
    skip 'cannot loop-mount an ext4 image here', 5 if system('mount', '-o', 'loop', "$dir/ext4.img", "$dir/ext4");
    cleanup_later(sub { system('umount', "$dir/ext4") });
    ($rc, my $eout) = run_cmd(build() . '/race', '--file', "$dir/ext4/frag", '--fragment', '--size', '64M',
        '--punch', '0:64M', '--hammer-ms', '400');
    is($rc, 0, 'ext4: a long punch hammered by faults');
    my $edev = qq{dev="} . decode_json($eout)->{dev} . '"';
    my $count = value_when("daxscope_lock_wait_seconds_count{$edev}", sub { $_[0] > 0 });
    ok(($count // 0) > 0, "ext4: lock waits in the histogram ($count)");
    is(query("daxscope_lock_wait_seconds_count{$edev}")->[0]{metric}{fstype}, 'ext4', '... on an ext4 mount');
    my $sum = query("daxscope_lock_wait_seconds_sum{$edev}")->[0]{value}[1] // 0;
    my $p50 = query("histogram_quantile(0.5, daxscope_lock_wait_seconds_bucket{$edev})")->[0]{value}[1] // 'NaN';
    ok($sum > 0, "... their total: $sum s");
    ok($p50 ne 'NaN' && $p50 > 0 && $p50 <= $sum, "... histogram_quantile gives a median wait: $p50 s");
}

# bad requests: each refused, and /metrics answers at once afterwards
sub raw_request {    # the status line the exporter answers a raw request with, '' if it closed
    my ($request) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5) or return '';
    print $s $request;
    my $line = eval { local $SIG{ALRM} = sub { die "timeout\n" }; alarm 10; my $l = <$s>; alarm 0; $l } // '';
    close $s;
    return $line =~ s/\r?\n\z//r;
}
sub metrics_quickly {
    my $t0 = time;
    my $res = $http->get($url);
    return $res->{status} == 200 && $res->{content} =~ /daxscope_punches_total/ && time - $t0 < 1;
}
is($http->get("http://127.0.0.1:$port/")->{status}, 404, 'GET /: 404');
is($http->get("http://127.0.0.1:$port/metrics/x")->{status}, 404, 'GET /metrics/x: 404');
$r = $http->post_form($url, { a => 1 });
is($r->{status}, 405, 'POST /metrics: 405');
is($r->{headers}{allow}, 'GET, HEAD', '... with Allow: GET, HEAD');
is($http->request('HEAD', $url)->{status}, 200, 'HEAD /metrics: 200');
like(raw_request("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " . ('a' x 65536) . "\r\n\r\n"), qr{^HTTP/1\.1 4\d\d },
    'a 64 KiB header: an error status (4xx)');
ok(metrics_quickly(), '... /metrics still answers, under 1 s');
my $slow = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die;
print $slow "GET /metrics HTTP/1.1\r\nHost: x\r\n";    # and never the empty line
sleep 0.5;
ok(metrics_quickly(), 'a client that never ends its request: /metrics still answers, under 1 s');
my $closed = eval { local $SIG{ALRM} = sub { die "timeout\n" }; alarm 12; my $l = <$slow>; alarm 0; 1 };
ok($closed, '... and the slow client is cut off (connection timeout, 5 s)');
close $slow;

# 40 idle connections, past root's share of 4 (daxexport_budget.t tests the budget), while the race runs again:
# the collector goes on
my $before = query("daxscope_punches_total{$at}")->[0]{value}[1] // 0;
my @idle = grep { defined } map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") } 1 .. 40;
is(scalar @idle, 40, '40 idle connections open');
($rc) = run_cmd(build() . '/race', '--file', $file, '--punch', '8192:16384', '--write-at', '70:3');
is($rc, 0, 'the race again, meanwhile');
ok(wait_until(\&metrics_quickly, 12), '/metrics answers again once the idle connections time out');
close $_ for @idle;
ok((value_when("daxscope_punches_total{$at}", sub { $_[0] > $before }) // 0) > $before,
    'the second punch is counted: the collector never waited on HTTP');

# SIGTERM: a clean exit, links detached
my @mine = links_of($exporter);
kill 'TERM', $exporter;
waitpid $exporter, 0;
is($? >> 8, 0, 'SIGTERM: daxexport exits 0') or diag(slurp("$dir/daxexport.log"));
ok(@mine > 0, 'daxexport had attached links');
links_gone(\@mine, 'SIGTERM');
done_testing();
