#!/usr/bin/perl
# docs/filesystems.md is made by tests/truth/verdict-table.pl alone: kept
# whole, its host's part (--host-of) and its guests' part (--guests-of) make
# the same file again, notes and sections included. A hand edit, or a keep
# that loses or adds a line, fails here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Test::More;

my $doc = top() . '/docs/filesystems.md';
my ($rc, $out, $err) = run_cmd(top() . '/tests/truth/verdict-table.pl', '--host-of', $doc, '--guests-of', $doc);
is($rc, 0, 'verdict-table.pl keeps both parts') or diag($err);
my $made = scratch_dir() . '/filesystems.md';
open(my $f, '>', $made) or die "$made: $!";
print $f $out;
close($f);
ok($out eq slurp($doc), 'and makes docs/filesystems.md again, byte for byte') or diag(scalar `diff -u $doc $made`);
($rc, $out, $err) = run_cmd(top() . '/tests/truth/verdict-table.pl', '--host-of', "$doc.missing", '--guests-of', $doc);
isnt($rc, 0, 'a table to keep that is not there: an error');
like($err, qr/^verdict-table: \Q$doc\E\.missing: /m, '... naming it');
done_testing();
