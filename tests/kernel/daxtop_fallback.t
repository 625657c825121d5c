#!/usr/bin/perl
# daxtop without -b or --json where its full screen cannot be drawn: on a
# stdout that is no terminal, and on a terminal that cannot move its cursor
# (TERM=dumb, TERM unknown). It prints -b's plain tables, as top does, says so
# in one line on stderr, and writes no escape sequence.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Test::More;

need_kernel_bpf();
my $daxtop = build() . '/daxtop';
my $dir = scratch_dir();

# a file as stdout: before, curses wrote its escapes into it
my ($rc, $out, $err) = run_cmd($daxtop, '-n', '2', '-i', '0.2');
is($rc, 0, 'stdout a file: exits 0 after -n 2');
like($err, qr/^daxtop: stdout is not a terminal: printing plain tables, as -b does$/m, '... says why, on stderr');
is(scalar(() = $out =~ /^daxtop - \d\d:\d\d:\d\d, \d+ files/mg), 2, '... two plain tables, as -b prints');
unlike($out, qr/\e/, '... and no escape sequence');

SKIP: {
    skip 'script missing (util-linux)', 8 unless `sh -c 'command -v script'`;
    # a terminal (script's pty) that curses cannot drive: before, a blank screen and no word why
    for my $term ('dumb', 'daxscope-no-such-terminal') {
        my $typescript = "$dir/$term.tty";
        ($rc) = run_cmd('script', '-q', '-e', '-c', "env TERM=$term $daxtop -n 2 -i 0.2 2>$dir/$term.err", $typescript);
        is($rc, 0, "TERM=$term: exits 0 after -n 2");
        my $why = $term eq 'dumb' ? 'cannot move the cursor' : 'is not in the terminfo database';
        like(slurp("$dir/$term.err"), qr/^daxtop: TERM=\Q$term\E $why: printing plain tables, as -b does$/m,
            "TERM=$term: says why, on stderr");
        my $screen = slurp($typescript);
        is(scalar(() = $screen =~ /^daxtop - \d\d:\d\d:\d\d, \d+ files/mg), 2, "TERM=$term: two plain tables");
        unlike($screen, qr/\e/, "TERM=$term: no escape sequence");
    }
}
done_testing();
