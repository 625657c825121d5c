#!/usr/bin/perl
# daxtop on the real kernel, driven in tmux while the FUSE race runs: the
# racing file shows up with its discarded writes, sorting and filtering change
# the screen, q quits and leaves no BPF link. Then -b and --json, parsed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use B;
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
like($uerr, qr/unrecognized option '--no-such-option'.*daxtop --help/s, '... with the error and where the usage is');
($urc, undef, $uerr) = run_cmd(build() . '/daxtop', '-i');
ok($urc == 2 && $uerr =~ /requires an argument/, 'a missing option argument exits 2');
for my $bad (['-i', 'nan'], ['-i', 'inf'], ['-i', '1e300'], ['-n', '0'], ['-p', '4294967297'], ['-p', '-1'],
    ['--cgroup', '/tmp']) {
    ($urc, undef, $uerr) = run_cmd(build() . '/daxtop', @$bad);
    ok($urc == 2 && $uerr =~ /invalid|not a cgroup/, "daxtop @$bad: refused") or diag($uerr);
}
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
sub press { system("$tmux send-keys -t $session " . join(' ', map { "'$_'" } @_)) }
# The screen once it matches $want (a regex, or a sub given the screen), or at the deadline
# as it was then: the assertions that follow fail on it, shown.
sub wait_screen {
    my ($want, $secs) = @_;
    my $s;
    wait_until(sub { $s = screen(); ref $want eq 'CODE' ? $want->($s) : $s =~ $want }, $secs // 5);
    return $s;
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

# the row order of the two files on a screen: 1 if the racing file comes first, -1 if one is missing
sub race_first {
    my ($s) = @_;
    return index($s, $file) >= 0 && index($s, $calm) >= 0 ? (index($s, $file) < index($s, $calm) ? 1 : 0) : -1;
}
# Presses keys, then waits for the sort line and row order they must give.
sub sorted_after {
    my ($keys, $sort, $race_first) = @_;
    press(@$keys);
    return wait_screen(sub { $_[0] =~ $sort && race_first($_[0]) == $race_first });
}
$s = wait_screen(sub { race_first($_[0]) >= 0 });
is(race_first($s), 1, 'sorted by DISCARD, most first: the racing file above the calm one') or diag($s);
$s = sorted_after(['D'], qr/sort DISCARD asc/, 0);
like($s, qr/sort DISCARD asc/, 'D again: the other way round');
is(race_first($s), 0, '... and the calm file comes first');
$s = sorted_after(['N'], qr/sort FILE asc/, 0);
like($s, qr/sort FILE asc/, 'N sorts by file name, A to Z');
is(race_first($s), 0, '... calmfile above topfile');
press('>');
like(wait_screen(qr/sort FAULTER/), qr/sort FAULTER/, '> moves the sort column right');
$s = sorted_after(['<', '<'], qr/sort DISCARD desc/, 1);
like($s, qr/sort DISCARD desc/, '< moves it left (wrapping), numbers most first');
is(race_first($s), 1, '... the racing file first again');
is(race_first(sorted_after(['R'], qr/sort DISCARD asc/, 0)), 0, 'R reverses the order');
is(race_first(sorted_after(['R'], qr/sort DISCARD desc/, 1)), 1, 'R again: back');
press('/', 'nomatch', 'Enter');
$s = wait_screen(sub { $_[0] =~ /filter path 'nomatch'/ && $_[0] !~ /\Q$file\E/ });
like($s, qr/filter path 'nomatch'/, 'path filter set');
unlike($s, qr/\Q$file\E/, 'a non-matching path filter hides the row');
press('f', 'BSpace', 'topfile', 'Enter');
like(wait_screen(qr/\Q$file\E/), qr/\Q$file\E/, 'a matching path filter shows it again');
system("$tmux resize-window -t $session -x 50 -y 12");
# redrawn: the header fits 50 columns (tmux only crops the old one's wide FILE column)
my @lines = grep { length } split /\n/, wait_screen(qr/^FILE +FAULTER/m);
# a row: the tail of its path (or dev:ino name), then the FAULTER column ("-" or pid/comm)
my @garbled = grep { !m{^(daxtop - |daxscope: |per s: |sort |FILE|DAX window)} && !m{^\S.*? +(-|\d+/\S)} } @lines;
is(scalar @garbled, 0, 'a 50x12 terminal: every line is cut, none wraps into the next') or diag(join "\n", @garbled);
like(join("\n", @lines), qr/^FILE/m, 'the table header still shows');
system("$tmux resize-window -t $session -x 160 -y 40");
press('?');
like(wait_screen(qr/daxtop keys/), qr/daxtop keys/, 'help');
press('x', 'q');
ok(wait_until(sub { system("$tmux has-session -t $session 2>/dev/null") >> 8 == 1 }, 5), 'q quits');
links_gone(\@mine, 'q');

# SIGTERM: a clean exit, links detached
my ($pid, $bg) = daxtop_pipe('-b', '-i', '0.5');
ok(wait_until(sub { slurp($errlog) =~ /watching/ }, 20), 'daxtop -b printed its banner: attached')
  or diag(slurp($errlog));
@mine = links_of($pid);
kill 'TERM', $pid;
my @ignored = <$bg>;
close $bg;
is($? >> 8, 0, 'SIGTERM: daxtop exits 0') or diag(slurp($errlog));
ok(@mine > 0, 'SIGTERM: daxtop had attached links');
links_gone(\@mine, 'SIGTERM');

# daxscope.top/1 (docs/daxtop.md; a file's fields as in docs/report-json.md): what each field holds.
my %rates = map { $_ => 'number' } qw(faults_read faults_write dax_pte dax_pmd punches lock_waits unblocked_faults
  discarded_writes);
my %top_json = (schema => 'string', time => 'number', interval_s => 'number', banner => 'string',
    lost_events => 'number', rates => { %rates, lost_events => 'number' }, files_known => 'number',
    files_shown => 'number', files_changed => 'number', files_left_out => 'number', dax_window => [], files => []);
my %file_json = (dev => 'string', ino => 'number', path => 'string', punches => 'number',
    discarded_writes => 'number', rates => \%rates,
    lock_waits => { map { $_ => 'number' } qw(count total_ns max_ns p50_ns p99_ns) },
    faults_during_punch => { map { $_ => 'number' } qw(blocked unblocked_read unblocked_write) });

# The fields of a decoded document that do not hold what $spec says: 'number', 'string',
# {member => spec} or [element spec]. A JSON number decodes to a scalar with a numeric value and
# no string one (as JSON::PP tells them apart when it encodes), so judge before any string use.
sub mismatches {
    my ($v, $spec, $at) = @_;
    if (ref $spec eq 'HASH') {
        return "$at: not an object" unless ref $v eq 'HASH';
        return map { mismatches($v->{$_}, $spec->{$_}, "$at.$_") } sort keys %$spec;
    }
    if (ref $spec eq 'ARRAY') {
        return ref $v eq 'ARRAY' ? (map { mismatches($_, $spec->[0], "$at\[]") } @$spec ? @$v : ()) : "$at: not an array";
    }
    return "$at: missing" unless defined $v;
    my $flags = B::svref_2object(\$v)->FLAGS;
    my $number = $flags & (B::SVp_IOK | B::SVp_NOK) && !($flags & B::SVp_POK);
    return !ref $v && ($spec eq 'number') == !!$number ? () : "$at: not a $spec";
}

# The first line daxtop prints comes after its first interval, so its probes are attached.
sub first_line {
    my ($fh) = @_;
    return eval { local $SIG{ALRM} = sub { die "no line\n" }; alarm 20; my $line = <$fh>; alarm 0; $line };
}

# batch and JSON: three intervals, the race run once the first is out
for my $mode (['-b'], ['--json']) {
    my ($pid, $top) = daxtop_pipe(@$mode, '-n', '3', '-i', '1');
    my $first = first_line($top);
    ok(defined $first, "daxtop @$mode printed its first interval: attached") or diag(slurp($errlog));
    ($rc, $out) = run_cmd(@race);
    my $race = decode_json($out);
    my @lines = ($first // (), <$top>);
    close $top;
    is($? >> 8, 0, "daxtop @$mode -n 3 exits 0 after three intervals") or diag(slurp($errlog));
    if ($mode->[0] eq '-b') {
        is(scalar(grep { /^daxtop - / } @lines), 3, '-b: three tables');
        my ($line) = grep { /^\Q$file\E/ } @lines;
        like($line // '', qr/\s$race->{lost_writes}$/, '-b: discarded writes of the racing file');
    } else {
        my @docs = map { eval { decode_json($_) } // () } @lines;
        ok(@lines == 3 && @docs == 3, '--json: three lines, each a JSON object (JSON::PP)') or diag(@lines);
        is(join("\n", map { mismatches($_, \%top_json, '') } @docs), '', "--json: each interval's fields, typed");
        is(join(' ', map { $_->{schema} } @docs), join(' ', ('daxscope.top/1') x 3), '--json: schema');
        # listed in the intervals it changed in, the last of them with its findings
        my ($f) = grep { ($_->{path} // '') eq $file } map { @{ $_->{files} } } reverse @docs;
        ok($f, '--json: the racing file is listed') or next;
        is(join("\n", mismatches($f, \%file_json, 'files[]')), '', "--json: the racing file's fields, typed");
        is($f->{discarded_writes}, $race->{lost_writes}, '--json: discarded writes match the workload');
    }
}
done_testing();
