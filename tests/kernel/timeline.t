#!/usr/bin/perl
# `daxtrace report --perfetto`: the Chrome JSON trace of real captures
# (tests/fuzz/corpus) is valid JSON with the fields each phase needs, slices
# nest on every track, each track runs forward in time, every finding of the
# JSON report is an instant with the same members, flows come in pairs from a
# punch to a waiter, and hostile names stay valid UTF-8. Needs no kernel.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

my $dt = build() . '/daxtrace';
BAIL_OUT('build/daxtrace missing: run make') unless -x $dt;
my @corpus = map { top() . "/tests/fuzz/corpus/$_.dxc" } qw(ext4-race fuse-race);
my $dir = scratch_dir();
my $json = JSON::PP->new->canonical;

sub ns { int($_[0] * 1000 + 0.5) }    # the trace's microseconds back to the report's nanoseconds

# Slices on one track must nest: each inside the one open around it, or after its end.
sub nesting_errors {
    my (@slices) = @_;
    my (%tracks, @bad);
    push @{ $tracks{"$_->{pid}/$_->{tid}"} }, $_ for @slices;
    for my $track (sort keys %tracks) {
        my @ends;
        for my $s (sort { ns($a->{ts}) <=> ns($b->{ts}) || ns($b->{dur}) <=> ns($a->{dur}) } @{ $tracks{$track} }) {
            my ($begin, $end) = (ns($s->{ts}), ns($s->{ts}) + ns($s->{dur}));
            pop @ends while @ends && ($ends[-1] < $begin || ($ends[-1] == $begin && $end > $begin));
            push @bad, "$track: $s->{name} at $s->{ts} ends past its parent" if @ends && $end > $ends[-1];
            push @ends, $end if $end > $begin;
        }
    }
    return @bad;
}

my %needs = (
    X => [qw(name cat ts dur pid tid)], i => [qw(name cat ts pid tid s args)], M => [qw(name pid args)],
    C => [qw(name ts pid args)], s => [qw(name cat ts pid tid id)], f => [qw(name cat ts pid tid id bp)],
);

sub check_trace {
    my ($label, $trace, $report) = @_;
    my @ev = @{ $trace->{traceEvents} // [] };
    ok(@ev, "$label: traceEvents is a non-empty array");
    my @missing = grep { my $e = $_; !$needs{ $e->{ph} // '' } || grep { !defined $e->{$_} } @{ $needs{ $e->{ph} } } } @ev;
    is(scalar @missing, 0, "$label: every event has a known phase and its required fields")
      or diag($json->encode($missing[0]));
    my @slices = grep { $_->{ph} eq 'X' } @ev;
    ok(!grep({ $_->{dur} < 0 || $_->{ts} < 0 } @slices), "$label: no negative time or duration");
    my @bad = nesting_errors(@slices);
    is(scalar @bad, 0, "$label: slices nest on every track (" . scalar(@slices) . ' slices)') or diag($bad[0]);

    my (%last, $backwards);
    for my $e (grep { $_->{ph} ne 'M' } @ev) {
        my $track = "$e->{pid}/" . ($e->{tid} // 0);
        $backwards //= "$track at $e->{ts}" if defined $last{$track} && $e->{ts} < $last{$track};
        $last{$track} = $e->{ts};
    }
    ok(!$backwards, "$label: every track runs forward in time") or diag($backwards);

    my %processes;
    $processes{ $_->{pid} }++ for grep { $_->{ph} eq 'M' && $_->{name} eq 'process_name' } @ev;
    ok(!grep({ $_ != 1 } values %processes), "$label: each process named once");
    my %named = map { ("$_->{pid}/$_->{tid}" => $_->{args}{name}) } grep { $_->{ph} eq 'M' && $_->{name} eq 'thread_name' } @ev;
    my @unnamed = grep { !defined $named{"$_->{pid}/$_->{tid}"} } grep { $_->{ph} =~ /^[Xi]$/ } @ev;
    is(scalar @unnamed, 0, "$label: every track with events has a thread_name") or diag($json->encode($unnamed[0]));

    # every finding, with the report's members, at its time
    my @instants = grep { $_->{ph} eq 'i' } @ev;
    my %have;
    $have{ $json->encode($_->{args}) . "/" . ns($_->{ts}) . "/" . $_->{name} }++ for @instants;
    my @absent = grep { !$have{ $json->encode($_) . "/" . $_->{t_ns} . "/" . $_->{kind} } } @{ $report->{findings} };
    ok(@{ $report->{findings} } > 0 && !@absent && @instants == @{ $report->{findings} },
        "$label: each of the report's " . scalar(@{ $report->{findings} }) . ' findings is one instant with its members')
      or diag('absent: ' . $json->encode($absent[0] // {}) . ', instants: ' . scalar @instants);
    my @punches = grep { $_->{ph} eq 'X' && $_->{cat} eq 'punch' } @ev;
    is(scalar @punches, scalar @{ $report->{punches} }, "$label: one slice per punch window");

    # flows: each "s" on a punch of its track, its "f" on a slice of the waiter's
    my (%out, %in);
    $out{ $_->{id} }++ for grep { $_->{ph} eq 's' } @ev;
    $in{ $_->{id} }++ for grep { $_->{ph} eq 'f' } @ev;
    my @unpaired = grep { ($out{$_} // 0) != 1 || ($in{$_} // 0) != 1 } keys %out, keys %in;
    ok(!@unpaired, "$label: flows paired (" . scalar(keys %out) . ')') or diag("unpaired ids @unpaired");
    my $inside = sub {
        my ($e, $cat) = @_;
        grep { $_->{pid} == $e->{pid} && $_->{tid} == $e->{tid} && (!$cat || $_->{cat} eq $cat)
              && ns($_->{ts}) <= ns($e->{ts}) && ns($e->{ts}) <= ns($_->{ts}) + ns($_->{dur}) } @slices;
    };
    ok(!grep({ !$inside->($_, 'punch') } grep { $_->{ph} eq 's' } @ev)
        && !grep({ !$inside->($_, undef) } grep { $_->{ph} eq 'f' } @ev),
        "$label: flows leave a punch slice and end inside a waiter's slice");
    return \@ev;
}

my %traces;
for my $cap (@corpus) {
    my ($label) = $cap =~ m{([^/]+)\.dxc$};
    my ($rc, $out, $err) = run_cmd($dt, 'report', $cap, '--json', '--perfetto', "$dir/$label.json");
    is($rc, 0, "$label: report --json --perfetto exits 0") or diag($err);
    my $report = eval { decode_json($out) };
    ok($report, "$label: the JSON report still goes to stdout");
    my $trace = eval { decode_json(slurp("$dir/$label.json")) };
    ok($trace, "$label: the trace is valid UTF-8 JSON") or diag($@);
    $traces{$label} = check_trace($label, $trace // {}, $report // { findings => [], punches => [] });
}

# What each capture shows: ext4's waiters blocked by the punch's lock (flows from its punch),
# FUSE's faults that got through, and its requests on a track of their own.
my @ext4 = @{ $traces{'ext4-race'} // [] };
ok((grep { $_->{ph} eq 'X' && $_->{cat} eq 'fault,blocked_fault' && $_->{cname} eq 'good' } @ext4) == 2
    && (grep { $_->{ph} eq 's' } @ext4) == 2, 'ext4-race: two blocked faults, two lock flows from the punch');
my @fuse = @{ $traces{'fuse-race'} // [] };
ok((grep { $_->{ph} eq 'X' && $_->{cat} eq 'fault,unblocked_fault' && $_->{cname} eq 'terrible' } @fuse) == 2,
    'fuse-race: two unblocked faults, in the bad colour');
ok((grep { $_->{ph} eq 'M' && $_->{name} eq 'process_name' && $_->{args}{name} eq 'FUSE requests' } @fuse)
    && (grep { $_->{ph} eq 'X' && $_->{cat} eq 'fuse' && $_->{name} eq 'FALLOCATE' } @fuse),
    'fuse-race: FUSE requests on a track of their own, with the FALLOCATE');

# A capture rewritten with hostile names: the file's path and every task's comm.
my $evil_path = "<script>alert(1)</script>\n\xff\xfe";
my $evil_comm = "<img src=x>\e\xfe";
hostile_capture($corpus[1], "$dir/evil.dxc", $evil_path, $evil_comm);
{
    my ($rc, $out, $err) = run_cmd($dt, 'report', "$dir/evil.dxc", '--perfetto', "$dir/evil.json");
    is($rc, 0, 'hostile names: the trace is written') or diag($err);
    my $trace = eval { decode_json(slurp("$dir/evil.json")) };
    ok($trace, 'hostile names: the trace is still valid UTF-8 JSON') or diag($@);
    my @ev = @{ $trace->{traceEvents} // [] };
    ok((grep { $_->{ph} eq 'M' && ($_->{args}{name_bytes} // '') eq unpack('H*', $evil_comm) } @ev),
        'hostile names: a thread name repaired, its bytes in name_bytes');
    ok((grep { ($_->{args}{path_bytes} // '') =~ /\Q${\ unpack('H*', $evil_path)}\E$/ } @ev),
        'hostile names: a path repaired, its bytes in path_bytes');
}

# Where it applies, and what a bad OUT does: a clear error, exit 1, nothing left behind.
{
    my ($rc, $out, $err) = run_cmd($dt, '--perfetto', "$dir/x.json", '-d', '1');
    ok($rc == 2 && $err =~ /--perfetto does not apply to live mode/, '--perfetto in live mode is refused');
    ($rc, $out, $err) = run_cmd($dt, 'record', '-o', "$dir/x.dxc", '--html', "$dir/x.html");
    ok($rc == 2 && $err =~ /--html does not apply to record/, '--html in record mode is refused');
    ($rc, $out, $err) = run_cmd($dt, 'report', $corpus[0], '--perfetto', "$dir/no-such-dir/x.json");
    ok($rc == 1 && $err =~ m{no-such-dir/x\.json: cannot create: No such file or directory}, 'OUT in a missing directory: exit 1, says why')
      or diag($err);
    mkdir "$dir/taken";
    ($rc, $out, $err) = run_cmd($dt, 'report', $corpus[0], '--perfetto', "$dir/taken");
    ok($rc == 1 && $err =~ /taken: cannot put it in place: Is a directory/ && $out =~ /findings/,
        'OUT that cannot be replaced: exit 1, says why, the report still printed') or diag($err);
    opendir my $dh, $dir or die;
    my @left = grep { /^\.taken/ } readdir $dh;
    ok(!@left, 'no partial file left beside it') or diag("@left");
}

# --path keeps the timeline to the report's files: none here.
{
    my ($rc, $out, $err) = run_cmd($dt, 'report', $corpus[1], '--path', $dir, '--perfetto', "$dir/none.json");
    my @ev = @{ (eval { decode_json(slurp("$dir/none.json")) } // {})->{traceEvents} // [] };
    ok($rc == 0 && @ev && !grep({ $_->{ph} =~ /^[is]$/ || ($_->{cat} // '') =~ /^(punch|fault|write|io|lock)/ } @ev),
        '--path elsewhere: no punch, fault, write, IO, lock wait or finding of the capture\'s file') or diag($err);
}

# A pipe as OUT is written to, not replaced by a file.
{
    my $fifo = "$dir/fifo";
    system('mkfifo', $fifo) == 0 or die;
    my $pid = fork // die;
    if (!$pid) { exec 'sh', '-c', "cat '$fifo' > '$dir/from-fifo.json'" or die }
    my ($rc, $out, $err) = run_cmd($dt, 'report', $corpus[0], '--perfetto', $fifo);
    waitpid $pid, 0;
    ok($rc == 0 && -p $fifo && eval { decode_json(slurp("$dir/from-fifo.json")) }, 'OUT a pipe: the trace goes through it, the pipe stays')
      or diag($err);
}

# A damaged capture: the trace of what was readable, with the warning; exit 1 as for the report.
{
    my $cut = "$dir/cut.dxc";
    system('cp', $corpus[1], $cut) == 0 or die;
    truncate $cut, (-s $cut) - 5;
    my ($rc, $out, $err) = run_cmd($dt, 'report', $cut, '--perfetto', "$dir/cut.json");
    my $trace = eval { decode_json(slurp("$dir/cut.json")) };
    ok($rc == 1 && $trace && ($trace->{otherData}{warning} // '') =~ /truncated/, 'damaged capture: a trace of what was readable, with the warning')
      or diag($err);
}

done_testing();
