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

# daxtop with its stdout on a pipe and its stderr (the banner) kept in a file, shown if it fails.
my $errlog = scratch_dir() . '/daxtop.err';
sub daxtop_pipe {
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', $errlog or die;
        exec build() . '/daxtop', @_ or die "exec daxtop: $!";
    }
    return ($pid, $out);
}

sub daxtop_pid {    # the daxtop process in the tmux pane
    my $pane = `$_[0] list-panes -F '#{pane_pid}'` =~ s/\s+//gr;
    return $pane if slurp("/proc/$pane/comm") =~ /^daxtop/;
    my ($child) = split ' ', slurp("/proc/$pane/task/$pane/children");
    return $child;
}

# usage errors and privileges, before anything is attached
my ($urc, undef, $uerr) = run_cmd(build() . '/daxtop', '--no-such-option');
is($urc, 2, 'an unknown option exits 2');
like($uerr, qr/unknown option '--no-such-option'.*Usage: daxtop/s, '... with the error and the usage');
($urc, undef, $uerr) = run_cmd(build() . '/daxtop', '-i');
ok($urc == 2 && $uerr =~ /needs an argument/, 'a missing option argument exits 2');
SKIP: {
    skip 'setpriv missing (util-linux)', 2 unless `sh -c 'command -v setpriv'`;
    ($urc, my $uout, $uerr) = run_cmd('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
        '--inh-caps=-all', build() . '/daxtop', '-b', '-n', '1');
    is($urc, 1, 'not root: exits 1');
    like($uerr, qr/^daxtop: [^\n]*root[^\n]*\n\z/, 'not root: the session\'s one-line error') or diag($uerr);
}

my $calm = "$mnt/calmfile";
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
my @mine = links_of(daxtop_pid($tmux));
my %progs = map { $_->{id} => $_->{name} } @{ decode_json(scalar `bpftool -j prog show`) };
my @linked = map { m{^prog_id:\s*(\d+)}m ? $progs{$1} // '' : '' } map { slurp($_) } grep { slurp($_) =~ /^link_id:/m } glob('/proc/' . daxtop_pid($tmux) . '/fdinfo/*');
ok(@mine > 0 && !grep({ !/^on_/ } @linked), 'daxtop attached BPF links, to its programs (on_*)') or diag("@linked");
is((run_cmd(build() . '/race', '--file', $calm, '--punch', '8192:16384'))[0], 0, 'a calm punch: no write lost');
my ($rc, $out) = run_cmd(@race);
is($rc, 0, 'race workload ran');
my $lost = decode_json($out)->{lost_writes};
ok($lost > 0, 'precondition: the workload lost a write');
my $s = wait_screen(qr/^\Q$file\E.*\s$lost\s*$/m, 10);
my ($row) = $s =~ /^(\Q$file\E.*)$/m;
ok($row, 'the racing file has a row') or diag($s);
like($row // '', qr/\s$lost$/, "its DISCARD column shows the $lost lost write(s)");

$s = wait_screen(qr/\Q$calm\E/, 5);
# the row order of the two files on the screen: 1 if the racing file comes first
sub race_first { my $s = screen(); return index($s, $file) >= 0 && index($s, $calm) >= 0 ? (index($s, $file) < index($s, $calm) ? 1 : 0) : -1 }
is(race_first(), 1, 'sorted by DISCARD, most first: the racing file above the calm one') or diag(screen());
press('D');
like(screen(), qr/sort DISCARD asc/, 'D again: the other way round');
is(race_first(), 0, '... and the calm file comes first');
press('N');
like(screen(), qr/sort FILE asc/, 'N sorts by file name, A to Z');
is(race_first(), 0, '... calmfile above topfile');
press('>');
like(screen(), qr/sort FAULTER/, '> moves the sort column right');
press('<', '<');
like(screen(), qr/sort DISCARD desc/, '< moves it left (wrapping), numbers most first');
is(race_first(), 1, '... the racing file first again');
press('R');
is(race_first(), 0, 'R reverses the order');
press('R');
is(race_first(), 1, 'R again: back');
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
# a row: the tail of its path (or dev:ino name), then the FAULTER column ("-" or pid/comm)
my @garbled = grep { !m{^(daxtop - |daxscope: |per s: |sort |FILE|DAX window)} && !m{^\S.*? +(-|\d+/\S)} } @lines;
is(scalar @garbled, 0, 'a 50x12 terminal: every line is cut, none wraps into the next') or diag(join "\n", @garbled);
like(join("\n", @lines), qr/^FILE/m, 'the table header still shows');
system("$tmux resize-window -t $session -x 160 -y 40");
press('?');
like(screen(), qr/daxtop keys/, 'help');
press('x');
press('q');
sleep 1;
is(system("$tmux has-session -t $session 2>/dev/null") >> 8, 1, 'q quits');
links_gone(\@mine, 'q');

# SIGTERM: a clean exit, links detached
my ($pid, $bg) = daxtop_pipe('-b', '-i', '0.5');
sleep 2;
@mine = links_of($pid);
kill 'TERM', $pid;
my @ignored = <$bg>;
close $bg;
is($? >> 8, 0, 'SIGTERM: daxtop exits 0') or diag(slurp($errlog));
ok(@mine > 0, 'SIGTERM: daxtop had attached links');
links_gone(\@mine, 'SIGTERM');

# batch and JSON: three intervals while the race runs in the first
for my $mode (['-b'], ['--json']) {
    my ($pid, $top) = daxtop_pipe(@$mode, '-n', '3', '-i', '1');
    sleep 0.5;
    ($rc, $out) = run_cmd(@race);
    my $race = decode_json($out);
    my @lines = <$top>;
    close $top;
    is($? >> 8, 0, "daxtop @$mode -n 3 exits 0 after three intervals") or diag(slurp($errlog));
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
