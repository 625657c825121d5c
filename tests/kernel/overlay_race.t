#!/usr/bin/perl
# The same race on fuse-overlayfs, a real FUSE filesystem that passes
# PUNCH_HOLE through (used by rootless containers).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

need_kernel_bpf();
plan skip_all => 'no FUSE (/dev/fuse)' unless -c '/dev/fuse';
plan skip_all => 'fuse-overlayfs missing (package fuse-overlayfs)' unless `sh -c 'command -v fuse-overlayfs'`;

my $dir = scratch_dir();
mkdir "$dir/$_" for qw(lower upper work mnt);
system('fuse-overlayfs', '-o', "lowerdir=$dir/lower,upperdir=$dir/upper,workdir=$dir/work", "$dir/mnt") == 0
  or BAIL_OUT('fuse-overlayfs did not mount');
cleanup_later(sub { system('fusermount3', '-u', "$dir/mnt") });
wait_for_mount("$dir/mnt") or BAIL_OUT('fuse-overlayfs mount did not appear');

my ($cap, $banner, $out, $rc) = record_around(
    workload => [ build() . '/race', '--file', "$dir/mnt/racefile", '--punch', '8192:16384',
        '--write-at', '0:3', '--write-at', '1:4', '--read-at', '1:5', '--write-at', '1:9' ]);
is($rc, 0, 'race workload ran');
my $race = decode_json($out);
my $doc = report_json($cap);
ok($doc, 'report --json parses') or BAIL_OUT('no report');
is($doc->{lost_events}, 0, 'no events lost');
my $st = file_stats($doc, $race);
ok($st && $st->{punches} == 1, 'the punch on fuse-overlayfs was seen');
# the punch window, its data changes and the workload's faults, then what was (not) lost
my %lost = check_race_findings($doc, $race, 2, 5, "$dir/mnt/racefile");
diag(sprintf 'fuse-overlayfs: %d of %d writes lost', scalar keys %lost, scalar @{ $race->{writes} });
done_testing();
