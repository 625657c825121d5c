#!/usr/bin/perl
# `daxtrace report --html`: one self-contained page, opened in a real browser
# (headless chromium): its DOM has one timeline per file, one row per finding,
# every finding's link lands on a mark, the DAX window's charts; the console is
# free of errors (the page's Content-Security-Policy would log any fetch);
# hostile names stay text. A screenshot is kept (DAXSCOPE_SCREENSHOT=PATH, else
# the scratch directory). Needs no kernel; skips the browser part, saying why,
# without chromium.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

my $dt = build() . '/daxtrace';
BAIL_OUT('build/daxtrace missing: run make') unless -x $dt;
my $dir = scratch_dir();
my $fuse = top() . '/tests/fuzz/corpus/fuse-race.dxc';
my ($chromium) = grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH};

# ---- captures: the FUSE race with a DAX window's events added, and one with hostile names ----

my ($EVENT, $END) = (1, 6);    # record types (docs/capture-format.md)

# struct dx_event with a struct dx_dax_range (include/daxscope/events.h): a FUSE DAX window of 4 ranges.
sub dax_event {
    my ($size, $ts, $op, $free, $busy, $took, $offset) = @_;
    my $e = pack('Q v v V V V Q a16 Q V V', $ts, 10, 0, 0, 77, 77, 0, 'virtiofsd-ish', 11, 52, 0)
      . pack('Q Q Q V l V V V V', 0x7fff888012340000, $took, $offset, $op, 0, 4, $free, $busy, 1);
    return pack("a$size", $e);
}

my ($header, @recs) = capture_split($fuse);
my $event_size = unpack 'V', substr($header, 16, 4);
my ($last_ts) = sort { $b <=> $a } map { unpack 'Q', $_->[1] } grep { $_->[0] == $EVENT } @recs;
my ($SETUP, $RECLAIM, $STALL, $USE, $NEW) = (1, 3, 6, 7, 8);
my ($t, $busy, @dax) = ($last_ts + 1_000_000, 0);
for my $round (0 .. 2) {
    for my $range (0 .. 5) {
        $t += 500_000;
        push @dax, dax_event($event_size, $t, $USE, 0, 0, 0, $range << 21);
        next if $round;    # the first round maps; later ones reuse or reclaim
        if ($busy < 4) {
            $busy++;
            push @dax, dax_event($event_size, $t += 200_000, $SETUP, 4 - $busy, $busy, 200_000, $range << 21);
        } else {
            push @dax, dax_event($event_size, $t += 3_000_000, $STALL, 0, 4, 3_000_000, 0),
              dax_event($event_size, $t += 100_000, $RECLAIM, 1, 3, 2_000_000, 0),
              dax_event($event_size, $t += 200_000, $SETUP, 0, 4, 200_000, $range << 21);
        }
    }
}
# then the mount is made again, its window at the same address: another window
my $first_window_changes = grep { unpack('V', substr($_, 64 + 24, 4)) != $USE } @dax;
push @dax, dax_event($event_size, $t += 1_000_000, $NEW, 4, 0, 0, 0),
  map { dax_event($event_size, $t += 300_000, $SETUP, 4 - $_, $_, 250_000, $_ << 21) } 1 .. 2;
capture_join("$dir/dax.dxc", $header, (grep { $_->[0] != $END } @recs),
    (map { [ $EVENT, $_ ] } @dax), grep { $_->[0] == $END } @recs);

my $evil_path = "<script>alert(1)</script>\n\xff\xfe";
my $evil_comm = "<img src=x>\e\xfe";
hostile_capture($fuse, "$dir/evil.dxc", $evil_path, $evil_comm);

# ---- the page as written ----

my %page;
for my $name (qw(dax evil)) {
    my ($rc, $out, $err) = run_cmd($dt, 'report', "$dir/$name.dxc", '--json', '--html', "$dir/$name.html",
        '--perfetto', "$dir/$name.json");
    is($rc, 0, "$name: report --html exits 0") or diag($err);
    $page{$name} = { html => slurp("$dir/$name.html"), report => eval { decode_json($out) } // {} };
}
my $report = $page{dax}{report};
ok(@{ $report->{dax_window} // [] } == 2 && $report->{dax_window}[0]{model}, 'the DAX events make two windows, the first with a cache-size model');
{
    my $trace = eval { decode_json(slurp("$dir/dax.json")) } // {};
    my @ev = @{ $trace->{traceEvents} // [] };
    my @windows = map { $_->{pid} } grep { $_->{ph} eq 'M' && $_->{name} eq 'process_name' && $_->{args}{name} eq 'DAX window 0:52' } @ev;
    my @counts = map { my $pid = $_; scalar grep { $_->{ph} eq 'C' && $_->{pid} == $pid } @ev } @windows;
    is("@counts", "$first_window_changes 3", 'the trace: a track per window, each with its own changes (the second from its NEW)');
}
my $html = $page{dax}{html};
ok($html =~ /^<!DOCTYPE html>/ && $html =~ m{</html>\n\z}, 'one whole HTML document');
ok($html !~ /<script|<link|\@import|url\(|src=/i, 'nothing to load: no script, stylesheet, import, url() or src');
ok($html =~ /Content-Security-Policy" content="default-src 'none'/, 'and its CSP forbids fetching anything');

# ---- in a browser ----

sub browser {
    my (@args) = @_;
    return run_cmd($chromium, '--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr', '--v=0', @args);
}

sub count { my ($re, $s) = @_; my $n = () = $s =~ /$re/g; $n }

SKIP: {
    skip 'chromium not installed (scripts/deps.sh installs it): the page is not checked in a browser', 13 unless $chromium;
    my ($rc, $dom, $log) = browser('--dump-dom', "file://$dir/dax.html");
    is($rc, 0, 'chromium loads the page');
    my @console = grep { /Uncaught|ERROR:CONSOLE|Refused to/ } split /\n/, $log;
    ok(!@console, 'no console errors, nothing refused by the CSP') or diag("@console");
    my $files = @{ $report->{files} // [] };
    my $findings = @{ $report->{findings} // [] };
    is(count(qr/<svg class="timeline"/, $dom), $files, "one timeline per file ($files)");
    is(count(qr/<svg class="lockhist"|<p class="none">No waits/, $dom), $files, 'a lock-wait histogram (or "no waits") per file');
    is(count(qr/<tr class="finding /, $dom), $findings, "one table row per finding ($findings)");
    my @links = $dom =~ /href="#(tl-finding-\d+)"/g;
    ok(@links == $findings && !grep({ $dom !~ /id="\Q$_\E"/ } @links), 'every row links to its mark in the timeline');
    ok(!grep({ $dom !~ /id="\Q$_\E"/ } $dom =~ /<a href="#(finding-\d+)"/g), 'every mark links to its row');
    ok(count(qr/<svg class="daxranges"/, $dom) == 2 && count(qr/<polyline class="(?:free|busy)"/, $dom) == 4,
        "each DAX window's free and busy ranges over time");
    my @steps = map { scalar(() = /(\d+\.\d,\d+\.\d )/g) } $dom =~ /<polyline class="free" points="([^"]*)"/g;
    is("@steps", join(' ', 2 * $first_window_changes - 1, 2 * 3 - 1), 'each with its own changes, as steps');
    my $points = @{ $report->{dax_window}[0]{model}{curve} // [] };
    ok($points && count(qr/<circle class="point/, $dom) == $points, "its cache-size curve, a point per size ($points)");

    my $shot = $ENV{DAXSCOPE_SCREENSHOT} // "$dir/html-report.png";
    ($rc) = browser("--screenshot=$shot", '--window-size=1400,2000', "file://$dir/dax.html");
    ok($rc == 0 && substr(slurp($shot), 0, 8) eq "\x89PNG\r\n\x1a\n", "a screenshot: $shot");

    ($rc, $dom, $log) = browser('--dump-dom', "file://$dir/evil.html");
    ok($rc == 0 && $dom !~ /<script|<img/i && !grep({ /Uncaught|ERROR:CONSOLE|Refused to/ } split /\n/, $log),
        'hostile names: no element made of them, no script run');
    ok($dom =~ /&lt;script&gt;alert\(1\)&lt;\/script&gt;\\n\\377\\376/ && $dom =~ /&lt;img src=x&gt;\\033\\376/,
        'hostile names: shown as text, control and stray bytes escaped as the text report does');
}

done_testing();
