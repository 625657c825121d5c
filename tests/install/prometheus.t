#!/usr/bin/perl
# The Prometheus alerting rules (dist/prometheus): valid for promtool, their
# unit tests pass (each alert fires on its finding, and not on what is not
# one), and every metric they name is one daxexport exports.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Test::More;

plan skip_all => 'promtool missing (Debian package prometheus: scripts/deps.sh installs it)'
  unless `sh -c 'command -v promtool'`;
my $dir = top() . '/dist/prometheus';

my ($rc, $out, $err) = run_cmd('promtool', 'check', 'rules', "$dir/daxscope.rules.yml");
is($rc, 0, 'promtool check rules') or diag($out, $err);
like($out, qr/SUCCESS: \d+ rules found/, 'the rules parse');

# promtool finds the test's rule_files from the directory it runs in
($rc, $out, $err) = run_cmd('sh', '-c', "cd '$dir' && promtool test rules daxscope.rules.test.yml");
is($rc, 0, 'promtool test rules: every alert fires where its test says, and only there') or diag($out, $err);

# daxscope_X{_total,_sum,_bucket,_count} in the rules: X is a family src/outputs/metrics.c writes
my $families = slurp(top() . '/src/outputs/metrics.c');
my %named = map { $_ => 1 } slurp("$dir/daxscope.rules.yml") =~ /\b(daxscope_[a-z_]+)/g;
for my $metric (sort keys %named) {
    my $family = $metric =~ s/^daxscope_//r =~ s/_(total|sum|bucket|count)$//r;
    like($families, qr/"\Q$family\E"/, "$metric: a family daxexport exports");
}
done_testing();
