#!/usr/bin/perl
# The calibration's table (tests/vm/calibrate.sh's runs, replayed by this
# tree's daxtrace): for each workload and window, each run's SETUPMAPPINGs
# made (virtiofsd's count) against its own capture's prediction, median
# (10th-90th percentile), and whether the count lies inside the interval;
# then the kernel's own spread and coefficient of variation over the runs.
#   tests/vm/calibrate-table.pl OUTDIR
use strict;
use warnings;
use JSON::PP;
use File::Basename;

my ($dir) = @ARGV;
my $daxtrace = dirname($0) . '/../../build/daxtrace';
my (%rows, %made);
for my $run (sort glob "$dir/*-*") {
    my ($workload, $i) = basename($run) =~ /^(\w+)-(\d+)$/ or next;
    -s "$run/model.dxc" or next;
    my $doc = decode_json(scalar `$daxtrace report '$run/model.dxc' --json 2>/dev/null`);
    for my $w (@{ $doc->{dax_window} }) {
        my $mb = $w->{ranges} * 2;
        open my $f, '<', "$run/made$mb" or next;
        chomp(my $made = <$f> // '');
        my $p = $w->{model}{this_window} or next;
        my $inside = $p->{setupmappings_p10} <= $made && $made <= $p->{setupmappings_p90};
        push @{ $rows{$workload}{$mb} }, { made => $made, p => $p, inside => $inside,
            stalls => $w->{alloc_stalls}, lags => $w->{model}{worker_lag_ns}{count} };
    }
}
print "| workload | window | run | made | predicted median (p10-p90) | inside | stalls made / predicted | lags |\n";
print "|---|--:|--:|--:|---|---|---|--:|\n";
for my $workload (sort keys %rows) {
    for my $mb (sort { $a <=> $b } keys %{ $rows{$workload} }) {
        my @r = @{ $rows{$workload}{$mb} };
        my $n = 0;
        for my $k (0 .. $#r) {
            my $p = $r[$k]{p};
            $n += $r[$k]{inside};
            printf "| %s | %d MiB | %d | %d | %d (%d-%d) | %s | %d / %d (%d-%d) | %d |\n", $workload, $mb, $k + 1,
                $r[$k]{made}, $p->{setupmappings}, $p->{setupmappings_p10}, $p->{setupmappings_p90},
                $r[$k]{inside} ? 'yes' : 'no', $r[$k]{stalls}, $p->{stalls}, $p->{stalls_p10}, $p->{stalls_p90}, $r[$k]{lags};
        }
        my @m = sort { $a <=> $b } map { $_->{made} } @r;
        my $mean = 0;
        $mean += $_ / @m for @m;
        my $var = 0;
        $var += ($_ - $mean)**2 / @m for @m;
        printf "| %s | %d MiB | all | %d-%d | | %d of %d inside | kernel's CV %.1f%% | |\n", $workload, $mb, $m[0], $m[-1],
            $n, scalar @r, $mean ? 100 * sqrt($var) / $mean : 0;
    }
}
