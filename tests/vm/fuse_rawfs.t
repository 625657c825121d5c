#!/usr/bin/perl
# FUSE passthrough and FUSE over io_uring in a guest (QEMU, TCG): the race of
# tests/kernel/fuse_race.t on rawfs (tests/fusefs/rawfs.c, a server of its
# own over raw /dev/fuse), the same server in three modes
# (tests/vm/rawfs-rows.sh). off: requests read from /dev/fuse, FUSE's own
# page cache, delayfs's case: the store 70 ms into the punch is lost and
# daxscope reports it (check_fuse_race). uring (kernels with FUSE_IO_URING):
# every request through ring entries, the same loss, the same verdicts. on
# (passthrough): the mapping is the backing ext4 file's (backing_file_mmap),
# its faults take ext4's invalidate_lock, and so does the punch the server
# runs on it: the store survives unless it came before that punch, and
# nothing is reported. docs/truth.md explains both from the kernel's source.
# Kernels: DAXSCOPE_VM_KERNELS (default the newest) that have FUSE_PASSTHROUGH.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Daxscope::Kernels;
use JSON::PP;
use Test::More;

plan skip_all => 'needs root (apt, depmod, device nodes)' if $> != 0;
plan skip_all => 'DAXSCOPE_VM=0: VM matrix disabled' if ($ENV{DAXSCOPE_VM} // '1') eq '0';
my @kernels = grep { $Daxscope::Kernels::config{$_}{FUSE_PASSTHROUGH} eq 'y' }
  split ' ', ($ENV{DAXSCOPE_VM_KERNELS} // $Daxscope::Kernels::kernels[-1]);
plan skip_all => 'no kernel with FUSE_PASSTHROUGH in DAXSCOPE_VM_KERNELS' unless @kernels;
my $runs = 3;

# st_dev as the report writes it (MAJOR:MINOR, the kernel's new_encode_dev)
sub dev_name {
    my ($dev) = @_;
    return sprintf '%d:%d', ($dev >> 8) & 0xfff, ($dev & 0xff) | (($dev >> 12) & 0xfff00);
}

# The server's log: the CLOCK_MONOTONIC time of each step, by backing inode.
sub server_log {
    my ($text) = @_;
    my (%punched, %io);
    for (split /\n/, $text // '') {
        $punched{$2} = $1 if /^(\d+) FALLOCATE punched ino=(\d+) /;
        $io{$3}++ if /^\d+ (READ|WRITE) pid=(\d+) ino=(\d+) /;
    }
    return (\%punched, \%io);
}

# One race with passthrough: I/O at the backing file, each store kept unless
# it came before the server's punch, no finding on either inode, the faults on
# the ext4 inode, and the server's punch of it under its fault lock.
sub passthrough_race {
    my ($doc, $race, $backing, $punched, $io) = @_;
    my ($dev, $ino) = split ' ', $backing // '';
    my $back = { dev => dev_name($dev // 0), ino => $ino // -1 };
    is($io->{ $race->{ino} } // 0, 0, 'no READ or WRITE came to the server: I/O went to the backing file');
    ok($punched->{ $race->{ino} }, 'the server punched the backing file') or return;
    for my $w (@{ $race->{writes} }) {
        my $after = $w->{t_ns} > $punched->{ $race->{ino} };
        my $when = sprintf '%+.3f ms from the server\'s punch', ($w->{t_ns} - $punched->{ $race->{ino} }) / 1e6;
        ok(!$w->{lost} || (!$after && $w->{page} != 9), "write to page $w->{page} ($when): "
              . ($w->{lost} ? 'lost, stored before the backing file was punched' : 'kept'));
    }
    my @findings = (findings_for($doc, $race), findings_for($doc, { %$race, %$back }));
    is(scalar(grep { $_->{kind} =~ /^(discarded_write|unblocked_fault|resurrected_data)$/ } @findings), 0,
        'no discarded write, unblocked fault or resurrected data on the FUSE file or its backing file')
      or diag(explain \@findings);
    my $fuse = file_stats($doc, $race);
    my $ext4 = file_stats($doc, { %$race, %$back });
    ok(!$fuse || $fuse->{faults}{read} + $fuse->{faults}{write} == 0, 'no fault on the FUSE inode');
    ok($ext4 && $ext4->{faults}{read} + $ext4->{faults}{write} > 0,
        "the workload's faults came to the backing ext4 file ($back->{dev}, inode $back->{ino})")
      or diag(explain $ext4);
    my ($server_punch) = grep { same_file($_, { %$race, %$back }) } @{ $doc->{punches} };
    ok($server_punch && $server_punch->{holds_lock} && $server_punch->{task}{pid} != $race->{pid},
        'the server\'s punch of the backing file held its fault lock') or diag(explain $server_punch);
    my ($fuse_punch) = grep { same_file($_, $race) } @{ $doc->{punches} };
    note(sprintf '%s: FUSE window: holds_lock %s, %d data changes, %d dirty bytes cancelled; '
          . 'backing punch by tid %d; %d blocked faults', $race->{file},
        JSON::PP->new->allow_nonref->encode($fuse_punch->{holds_lock}), $fuse_punch->{data_changes},
        $fuse_punch->{cancelled_dirty_bytes}, $server_punch->{task}{tid},
        scalar(grep { $_->{kind} eq 'blocked_fault' } @findings))
      if $server_punch && $fuse_punch;
}

for my $k (@kernels) {
    subtest "kernel $k, rawfs over /dev/fuse, with passthrough, over io_uring" => sub {
        my $out = scratch_dir();
        local $ENV{FUSE_RACE_ARGS} = join ' ', fuse_race_args();
        local $ENV{FUSE_RACE_RUNS} = $runs;
        my $t0 = time;
        my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', $k, $out, 'rawfs');
        plan skip_all => "cannot boot a $k guest here: $stdout" if $rc == 3;
        is($rc, 0, 'guest booted and finished') or return diag($stderr);
        diag("$k rawfs guest: " . (time - $t0) . ' s');
        my $a = artifacts(slurp("$out/console.log"));
        my $doc = eval { decode_json($a->{'rawfs-report'} // '') };
        ok($doc, 'the report parses') or return diag($a->{'rawfs-report-err'} // '');
        is($doc->{lost_events}, 0, 'no events lost');
        my @modes = ('off', 'on', $Daxscope::Kernels::config{$k}{FUSE_IO_URING} eq 'y' ? 'uring' : ());
        for my $mode (@modes) {
            like($a->{"rawfs-$mode-mount"} // '', qr/ fuse\.rawfs /, "rawfs ($mode) mounted")
              or do { diag($a->{"rawfs-$mode-err"}); next };
            my ($punched, $io) = server_log($a->{"rawfs-$mode-log"});
            my ($lost, $reported) = (0, 0);
            for my $n (1 .. $runs) {
                my $race = eval { decode_json($a->{"rawfs-$mode-race$n"} // '') };
                ok($race, "$mode: race $n ran") or do { diag($a->{"rawfs-$mode-err"}); next };
                my $path = "/mnt/rawfs-$mode/race$n";
                if ($mode ne 'on') {
                    subtest "$mode: race $n" => sub { check_fuse_race($doc, $race, $path) };
                    my $lost_here = grep { $_->{lost} && $_->{page} == 3 } @{ $race->{writes} };
                    $lost += $lost_here;
                    $reported += $lost_here
                      && (grep { $_->{page_index} == 3 } findings_for($doc, $race, 'discarded_write'));
                } else {
                    subtest "on: race $n" => sub {
                        passthrough_race($doc, $race, $a->{"rawfs-on-backing$n"}, $punched, $io);
                    };
                    $lost += grep { $_->{lost} } @{ $race->{writes} };
                }
            }
            if ($mode ne 'on') {
                ok($lost > 0, "$mode: FUSE lost the store at 70 ms ($lost of $runs runs), as with delayfs");
                is($reported, $lost, "$mode: each lost store reported as a discarded write");
            }
            if ($mode eq 'uring') {
                my @via = ($a->{'rawfs-uring-log'} // '') =~ / via=(\w+)$/mg;
                ok(@via && !grep({ $_ ne 'uring' } @via),
                    'uring: every FALLOCATE, READ and WRITE came through io_uring (' . scalar(@via) . ' requests)');
            }
            diag("$k rawfs ($mode): stores lost in $lost of $runs runs");
        }
    };
}
done_testing();
