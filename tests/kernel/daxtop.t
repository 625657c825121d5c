#!/usr/bin/perl
# daxtop on the real kernel, driven in tmux while the FUSE race runs: the
# racing file shows up with its discarded writes, sorting and filtering change
# the screen, q quits and leaves no BPF link. Then -b and --json, parsed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);

need_kernel_bpf();
plan skip_all => 'no FUSE (/dev/fuse)' unless -c '/dev/fuse';
plan skip_all => 'tmux missing (package tmux)' unless `sh -c 'command -v tmux'`;

my $mnt = mount_delayfs(50);
my $file = "$mnt/topfile";
my @race = (build() . '/race', '--file', $file, '--punch', '8192:16384', '--write-at', '70:3');

my $session = "daxtop-test-$$";
my $tmux = "tmux -L $session";
cleanup_later(sub { system("$tmux kill-server 2>/dev/null") });
sub screen { return scalar `$tmux capture-pane -p -t $session` }
sub press { system("$tmux send-keys -t $session " . join(' ', map { "'$_'" } @_)); sleep 0.3 }
sub wait_screen {
    my ($re, $secs) = @_;
    my $end = time + $secs;
    while (time < $end) { my $s = screen(); return $s if $s =~ $re; sleep 0.2 }
    return screen();
}

system("$tmux new-session -d -s $session -x 160 -y 40 '" . build() . "/daxtop -i 0.5'") == 0
  or BAIL_OUT('tmux did not start daxtop');
like(wait_screen(qr/FILE\s+FAULTER/, 20), qr/FILE\s+FAULTER/, 'daxtop draws its table');
my ($rc, $out) = run_cmd(@race);
is($rc, 0, 'race workload ran');
my $lost = decode_json($out)->{lost_writes};
ok($lost > 0, 'precondition: the workload lost a write');
my $s = wait_screen(qr/\Q$file\E.*\s(\d+)\s*$/m, 10);
my ($row) = $s =~ /^(\Q$file\E.*)$/m;
ok($row, 'the racing file has a row') or diag($s);
like($row // '', qr/\s$lost$/, "its DISCARD column shows the $lost lost write(s)");

press('>');
like(screen(), qr/sort FILE/, '> moves the sort column (wraps to FILE)');
press('<');
like(screen(), qr/sort DISCARD/, '< moves it back');
press('/', 'nomatch', 'Enter');
$s = screen();
like($s, qr/filter path 'nomatch'/, 'path filter set');
unlike($s, qr/\Q$file\E/, 'a non-matching path filter hides the row');
press('f', 'BSpace');
press('topfile', 'Enter');
like(wait_screen(qr/\Q$file\E/, 5), qr/\Q$file\E/, 'a matching path filter shows it again');
system("$tmux resize-window -t $session -x 50 -y 12");
sleep 1;
my @lines = grep { length } split /\n/, screen();
# a row: the tail of its path, then the FAULTER column ("-" or pid/comm)
my @garbled = grep { !m{^(daxtop - |daxscope: |per s: |sort |FILE|DAX window)} && !m{^\S+ +(-|\d+/)} } @lines;
is(scalar @garbled, 0, 'a 50x12 terminal: every line is cut, none wraps into the next') or diag(join "\n", @garbled);
like(join("\n", @lines), qr/^FILE/m, 'the table header still shows');
system("$tmux resize-window -t $session -x 160 -y 40");
press('?');
like(screen(), qr/daxtop keys/, 'help');
press('x');
press('q');
sleep 1;
is(system("$tmux has-session -t $session 2>/dev/null") >> 8, 1, 'q quits');
unlike(`bpftool link list 2>/dev/null`, qr/on_(fallocate|user_fault|map_pages)/, 'no daxscope BPF link left');

# SIGTERM: a clean exit, links detached
my $pid = open(my $bg, '-|', build() . '/daxtop', '-b', '-i', '0.5') or die;
sleep 2;
kill 'TERM', $pid;
my @ignored = <$bg>;
close $bg;
is($? >> 8, 0, 'SIGTERM: daxtop exits 0');
unlike(`bpftool link list 2>/dev/null`, qr/on_(fallocate|user_fault|map_pages)/, 'SIGTERM: no BPF link left');

# batch and JSON: three intervals while the race runs in the first
for my $mode (['-b'], ['--json']) {
    my $pid = open(my $top, '-|', build() . '/daxtop', @$mode, '-n', '3', '-i', '1') or die;
    sleep 0.5;
    ($rc, $out) = run_cmd(@race);
    my $race = decode_json($out);
    my @lines = <$top>;
    close $top;
    is($? >> 8, 0, "daxtop @$mode -n 3 exits 0 after three intervals");
    if ($mode->[0] eq '-b') {
        is(scalar(grep { /^daxtop - / } @lines), 3, '-b: three tables');
        my ($line) = grep { /^\Q$file\E/ } @lines;
        like($line // '', qr/\s$race->{lost_writes}$/, '-b: discarded writes of the racing file');
    } else {
        my @docs = map { decode_json($_) } grep { /^\{/ } @lines;
        is(scalar @docs, 3, '--json: three objects, one per line');
        my ($f) = grep { $_->{path} eq $file } @{ $docs[-1]{files} };
        ok($f, '--json: the racing file is listed');
        is($f->{discarded_writes}, $race->{lost_writes}, '--json: discarded writes match the workload');
        ok(exists $f->{lock_waits}{p99_ns} && exists $f->{rates}{punches}, '--json: report field names and rates');
    }
}
done_testing();
