#!/usr/bin/perl
# docs/kernels.md is what tests/vm/kernel-table.pl writes from the matrix's
# own per-kernel tables (tests/lib/Daxscope/Kernels.pm): the document cannot
# drift from what tests/vm/matrix.t checks. `make kernel-table` rewrites it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Test::More;

my ($rc, $generated, $err) = run_cmd(top() . '/tests/vm/kernel-table.pl');
is($rc, 0, 'kernel-table.pl ran') or diag($err);
my $doc = slurp(top() . '/docs/kernels.md');
ok($generated eq $doc, 'docs/kernels.md is the matrix\'s tables as kernel-table.pl writes them (make kernel-table)')
  or diag('first difference at line ' . first_difference($doc, $generated));
done_testing();

sub first_difference {
    my @a = split /\n/, $_[0];
    my @b = split /\n/, $_[1];
    for my $i (0 .. ($#a > $#b ? $#a : $#b)) {
        return ($i + 1) . ": docs has \"" . ($a[$i] // '') . "\", the tables give \"" . ($b[$i] // '') . '"'
          if ($a[$i] // "\0") ne ($b[$i] // "\0");
    }
    return 'none';
}
