#!/usr/bin/perl
# The calibration's table (tests/vm/calibrate.sh's runs, replayed by this
# tree's daxtrace): for each workload and window, each run's SETUPMAPPINGs
# made (virtiofsd's count) against its own capture's prediction, median
# (the lowest to the highest replay: a 90% interval), and whether the count
# lies inside the interval; then per cell the kernel's own spread and
# coefficient of variation over the runs, the runs below and above the
# median predicted (bias), and the intervals' median width against the
# kernel's spread; then the advice among the sizes a run tried, from each
# window's capture as its user would have it, against the wait measured
# at each size in the same run, and each window's curve against the counts
# made at the other sizes of its run (the question a user asks: another run,
# another size); last, all cells where the kernel's count varies, pooled,
# with the histogram of the count's rank among the replays (flat if the
# replays are the kernel's distribution, U-shaped if too narrow, tilted if
# biased).
#   tests/vm/calibrate-table.pl OUTDIR
use strict;
use warnings;
use JSON::PP;
use File::Basename;

my ($dir) = @ARGV;
my $daxtrace = $ENV{DAXTRACE} // dirname($0) . "/../../build/daxtrace";
my (%rows, %made, %pool, @advice, %across);
for my $run (sort glob "$dir/*-*") {
    my ($workload, $i) = basename($run) =~ /^(\w+)-(\d+)$/ or next;
    -s "$run/model.dxc" or next;
    my $doc = decode_json(scalar `$daxtrace report '$run/model.dxc' --json 2>/dev/null`);
    push @advice, advice($workload, $doc);
    across($workload, $run, $doc);
    for my $w (@{ $doc->{dax_window} }) {
        my $mb = $w->{ranges} * 2;
        open my $f, '<', "$run/made$mb" or next;
        chomp(my $made = <$f> // '');
        my $p = $w->{model}{this_window} or next;
        my $inside = $p->{setupmappings_p10} <= $made && $made <= $p->{setupmappings_p90};
        my @replays = @{ $p->{setupmappings_replays} // [] };
        # replays below the count, ties counted half: 0 to @replays
        my $rank = (grep { $_ < $made } @replays) + (grep { $_ == $made } @replays) / 2;
        push @{ $rows{$workload}{$mb} }, { made => $made, p => $p, inside => $inside, rank => $rank, nreplays => scalar @replays,
            stalls => $w->{alloc_stalls}, lags => $w->{model}{worker_lag_ns}{count} };
    }
}
print "| workload | window | run | made | predicted median (interval) | inside | stalls made / predicted | lags; per cell: runs below, above the median |\n";
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
        my $below = grep { $_->{made} < $_->{p}{setupmappings} } @r;
        my $above = grep { $_->{made} > $_->{p}{setupmappings} } @r;
        my @w = sort { $a <=> $b } map { $_->{p}{setupmappings_p90} - $_->{p}{setupmappings_p10} } @r;
        printf "| %s | %d MiB | all | %d-%d | median width %d (kernel's spread %d) | %d of %d inside | kernel's CV %.1f%% | %d below, %d above |\n",
            $workload, $mb, $m[0], $m[-1], $w[$#w / 2], $m[-1] - $m[0], $n, scalar @r,
            $mean ? 100 * sqrt($var) / $mean : 0, $below, $above;
        next if $m[0] == $m[-1];
        $pool{inside} += $n;
        $pool{runs} += @r;
        $pool{below} += $below;
        $pool{above} += $above;
        for (grep { $_->{nreplays} } @r) {    # five bins over the ranks 0 to n
            $pool{ranks}[ int(5 * $_->{rank} / ($_->{nreplays} + 1)) ]++;
        }
    }
}
advice_table();
across_table();

# the Wilson 95% interval of the pooled coverage, and the two-sided sign test of below against above
my ($k, $n) = ($pool{inside} // 0, $pool{runs} // 0);
exit 0 unless $n;
my ($z, $phat) = (1.96, $k / $n);
my $mid = ($phat + $z * $z / (2 * $n)) / (1 + $z * $z / $n);
my $half = $z * sqrt($phat * (1 - $phat) / $n + $z * $z / (4 * $n * $n)) / (1 + $z * $z / $n);
my ($lo, $hi) = ($pool{below}, $pool{above});
my ($tail, $c) = (0, 1);
for my $i (0 .. ($lo < $hi ? $lo : $hi)) {
    $c = $i ? $c * ($lo + $hi - $i + 1) / $i : 1;
    $tail += $c / 2**($lo + $hi);
}
printf "\npooled over the cells where the kernel's count varies: %d of %d inside (%.0f%%, 95%% interval %.0f-%.0f%%); "
    . "%d below the median, %d above (sign test p = %.3g)\n", $k, $n, 100 * $phat, 100 * ($mid - $half),
    100 * ($mid + $half), $lo, $hi, $lo + $hi ? ($tail * 2 > 1 ? 1 : $tail * 2) : 1;
printf "ranks of the count among the replays, in fifths from below all to above all: %s\n",
    join(' ', map { $pool{ranks}[$_] // 0 } 0 .. 4) if $pool{ranks};

# Window W's model at MB MiB: its own prediction at its own size, else its
# curve's point, and past the curve's end (a size that never reclaims) the
# end's point; undef where the curve has no such size.
sub point_at {
    my ($w, $mb) = @_;
    my $m = $w->{model};
    return $m->{this_window} if $mb == $w->{ranges} * 2;
    my ($p) = grep { $_->{window_mib} == $mb } @{ $m->{curve} };
    return $p // ($mb > $m->{curve}[-1]{window_mib} ? $m->{curve}[-1] : undef);
}

# The advice each window's model gives among the sizes its run tried (the
# smallest whose predicted wait, median, is within the model's margin of the
# least; a size past the curve's end never reclaims: the end's point), and
# whether the cost measured at that size in the same run is within the
# margin of the least measured there: the wait as measured (mappings,
# stalls and the worker's reclaims at each size's own round trips, which
# vary by tens of percent between sizes doing the same work under TCG), and
# the same counts at the run's pooled means (what the size changed, without
# the host's noise).
sub advice {
    my ($workload, $doc) = @_;
    my @windows = grep { $_->{model} } @{ $doc->{dax_window} };
    my (%waited, %pooled, %sum);
    for my $w (@windows) {
        $waited{ $w->{ranges} * 2 } = $w->{model}{waited_ns};
        for my $h (qw(setupmapping_ns alloc_stall_ns reclaim_ns)) {
            $sum{$h}{$_} += $w->{$h}{$_} for qw(total_ns count);
        }
    }
    return () unless $sum{setupmapping_ns}{count};
    my $mean = sub { my $h = $sum{ $_[0] }; $h->{count} ? $h->{total_ns} / $h->{count} : 0 };
    $pooled{ $_->{ranges} * 2 } = $_->{setupmappings} * $mean->('setupmapping_ns') + $_->{alloc_stalls} * $mean->('alloc_stall_ns')
      + $_->{reclaims} * $mean->('reclaim_ns') for @windows;
    my @sizes = sort { $a <=> $b } keys %waited;
    my ($best) = sort { $a <=> $b } values %waited;
    my ($best_pooled) = sort { $a <=> $b } values %pooled;
    my @out;
    for my $w (grep { @{ $_->{model}{curve} // [] } } @windows) {
        my $m = $w->{model};
        my %pred = map { my $p = point_at($w, $_); ($_ => $p && $p->{wait_ns}) } @sizes;
        next if grep { !defined $pred{$_} } @sizes;
        my ($least) = sort { $a <=> $b } values %pred;
        my ($advised) = grep { $pred{$_} <= (1 + $m->{margin}) * $least } @sizes;
        push @out, { workload => $workload, from => $w->{ranges} * 2, advised => $advised, cost => $waited{$advised},
            best => $best, ok => $waited{$advised} <= (1 + $m->{margin}) * $best,
            ok_pooled => $pooled{$advised} <= (1 + $m->{margin}) * $best_pooled,
            pooled => $pooled{$advised}, best_pooled => $best_pooled };
    }
    return @out;
}

sub advice_table {
    return unless @advice;
    my %by;
    push @{ $by{ $_->{workload} }{ $_->{from} } }, $_ for @advice;
    print "\n| workload | capture at | runs | advised (sizes tried) | measured wait within 10% of the least | at the run's pooled round trips |\n"
      . "|---|--:|--:|---|---|---|\n";
    my %tally;
    my $misses = sub {
        my ($ok, $cost, $best, @r) = @_;
        my @bad = grep { !$_->{$ok} } @r;
        $tally{$ok}[0] += @r - @bad;
        $tally{$ok}[1] += @r;
        return sprintf('%d of %d', @r - @bad, scalar @r)
          . (@bad ? ' (' . join('; ', map { sprintf '%.0f ms, least %.0f', $_->{$cost} / 1e6, $_->{$best} / 1e6 } @bad) . ')' : '');
    };
    for my $wl (sort keys %by) {
        for my $from (sort { $a <=> $b } keys %{ $by{$wl} }) {
            my @r = @{ $by{$wl}{$from} };
            my %adv;
            $adv{ $_->{advised} }++ for @r;
            printf "| %s | %d MiB | %d | %s | %s | %s |\n", $wl, $from, scalar @r,
                join(', ', map { "$_ MiB ${\ $adv{$_}}x" } sort { $a <=> $b } keys %adv),
                $misses->('ok', 'cost', 'best', @r), $misses->('ok_pooled', 'pooled', 'best_pooled', @r);
        }
    }
    printf "advice within 10%% of the least measured: %d of %d as measured, %d of %d at pooled round trips\n",
        @{ $tally{ok} }, @{ $tally{ok_pooled} };
}

# Each window's curve at the run's other sizes (a size past the curve's end
# never reclaims: the end's point) against the count made there: another
# run of the workload, another size; larger sizes and smaller ones apart,
# and of the smaller ones, those the model says have faults unseen, the
# count made above the interval's top.
sub across {
    my ($workload, $run, $doc) = @_;
    for my $w (grep { $_->{model} && @{ $_->{model}{curve} // [] } } @{ $doc->{dax_window} }) {
        my $from = $w->{ranges} * 2;
        for my $made_at (glob "$run/made*") {
            my ($mb) = $made_at =~ /made(\d+)$/ or next;
            next if $mb == $from;
            my $p = point_at($w, $mb) or next;
            open my $f, '<', $made_at or next;
            chomp(my $made = <$f> // '');
            my ($lo, $hi) = map { $p->{"setupmappings_$_"} // $p->{setupmappings} } qw(p10 p90);
            my $cell = $across{ $mb > $from ? 'larger' : 'smaller' }{$workload}{$mb} //= [0, 0, 0, 0];
            $cell->[0] += $lo <= $made && $made <= $hi;
            $cell->[1]++;
            $cell->[2] += $p->{faults_unseen} ? 1 : 0;
            $cell->[3] += $p->{faults_unseen} && $made > $hi;
        }
    }
}

sub across_table {
    my @all = (0, 0);
    my %unseen = (said => 0, above => 0);
    for my $side (qw(larger smaller)) {
        my $by = $across{$side} or next;
        my ($in, $n) = (0, 0);
        print "\nfrom each window's capture, at the run's sizes $side than its own, the count made inside the interval: ";
        for my $wl (sort keys %$by) {
            print join(', ', map { "$wl $_ MiB $by->{$wl}{$_}[0] of $by->{$wl}{$_}[1]" } sort { $a <=> $b } keys %{ $by->{$wl} }), '; ';
            for (values %{ $by->{$wl} }) {
                ($in, $n) = ($in + $_->[0], $n + $_->[1]);
                $unseen{said} += $_->[2];
                $unseen{above} += $_->[3];
            }
        }
        printf "all %d of %d\n", $in, $n;
        @all = ($all[0] + $in, $all[1] + $n);
    }
    printf "either: %d of %d; where the model said faults were unseen (%d), the count made above the interval's top in %d\n",
        @all, $unseen{said}, $unseen{above};
}
