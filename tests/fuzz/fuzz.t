#!/usr/bin/perl
# A short run of the capture-reader fuzzer (tests/fuzz/capture_fuzz.c, ASan
# and UBSan) from the seed captures: any crash, hang or sanitizer report fails.
# `make fuzz FUZZ_SECONDS=N` runs it as long as asked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Test::More;

my $fuzz = build() . '/capture_fuzz';
plan skip_all => 'capture_fuzz not built (needs clang with libFuzzer, package libclang-rt-14-dev)' unless -x $fuzz;
my $seconds = $ENV{FUZZ_SECONDS} // 20;
my $corpus = scratch_dir();
my @seeds = glob(top() . '/tests/fuzz/corpus/*.dxc');
ok(@seeds >= 2, 'seed captures are there (' . scalar(@seeds) . ')');
my ($rc, $out, $err) = run_cmd($fuzz, "-max_total_time=$seconds", '-max_len=262144', '-timeout=10',
    "-artifact_prefix=$corpus/", $corpus, top() . '/tests/fuzz/corpus');
is($rc, 0, "$seconds s of fuzzing the capture reader: no crash, hang or sanitizer report")
  or diag(join "\n", grep { /ERROR|SUMMARY|runtime error|Test unit written|deadly signal|timeout/ } split /\n/, $err);
my ($execs) = $err =~ /stat::number_of_executed_units:\s*(\d+)/;
($execs) = $err =~ /#(\d+)\s+DONE/ unless $execs;
ok(($execs // 0) > 1000, 'it ran inputs (' . ($execs // 0) . ')');
done_testing();
