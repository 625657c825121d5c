#!/usr/bin/perl
# Real kernels with real DAX: Debian's 5.10, 6.1 and 6.12 kernels booted under
# QEMU (TCG) with a pmem device; ext4 and xfs mounted -o dax; daxtrace recorded
# around the punch/fault race inside the guest. Judged here from the guest's
# artifacts. Where this machine cannot boot a guest, each kernel is skipped
# with the reason.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Daxscope::Kernels qw(@config_symbols %config %watched %refused_ok);
use Digest::MD5;
use JSON::PP;
use Test::More;

plan skip_all => 'needs root (apt, depmod, device nodes)' if $> != 0;
plan skip_all => 'DAXSCOPE_VM=0: VM matrix disabled' if ($ENV{DAXSCOPE_VM} // '1') eq '0';
my @kernels = split ' ', ($ENV{DAXSCOPE_VM_KERNELS} // join ' ', @Daxscope::Kernels::kernels);

# What each kernel has and must watch (tests/lib/Daxscope/Kernels.pm): the
# checks below follow its tables, never the banner, so a probe that stops
# fails instead of skipping.
my %must_watch = %{ $watched{fentry} };

my @matched;

# The race's punches (one, or race --punches), in each of which the kernel read
# the fault lock held for write at each data change.
sub held_throughout {
    my ($what, $doc, $race) = @_;
    my @punches = race_punches($doc, $race);
    my @unheld = grep { !$_->{data_changes} || !$_->{holds_lock} } @punches;
    ok(@punches == ($race->{punch}{count} // 1) && !@unheld,
        "$what: the kernel read the fault lock held for write at each data change of its " . scalar(@punches) . ' punches ('
        . join(', ', map { "$_->{data_changes} sampled, $_->{data_changes_without_lock} without" } @punches) . ')');
}

# ... or, where no lock is read (BLIND: why), the windows say their lock is unknown, never held.
sub lock_as_read {
    my ($what, $doc, $race, $blind) = @_;
    return held_throughout($what, $doc, $race) unless $blind;
    my @punches = race_punches($doc, $race);
    my @read = grep { !$_->{data_changes} || defined $_->{holds_lock} || $_->{data_changes_lock_unknown} != $_->{data_changes} } @punches;
    ok(@punches == ($race->{punch}{count} // 1) && !@read,
        "$what: the fault lock is not read here, and the windows say so ("
        . join(', ', map { "$_->{data_changes} sampled, $_->{data_changes_lock_unknown} lock unknown" } @punches) . ')');
}

# The scheduled race (a write and a read at the punch's start, a write well after it):
# the workload kept the late write, and daxtrace saw the punch hold its lock and found
# nothing but blocked faults.
sub scheduled_race {
    my ($fs, $a, $doc, $blind) = @_;
    my $race = eval { decode_json($a->{"$fs-race-sched"} // '') };
    ok($race && $race->{punch}{ret} == 0, "$fs scheduled race: ran, the punch succeeded")
      or return diag($a->{"$fs-race-err"} // '');
    my @after = grep { $_->{t_ns} > $race->{punch}{end_ns} } @{ $race->{writes} };
    ok(@after && !(grep { $_->{lost} } @after), "$fs scheduled race: no write made after the punch returned was lost ("
        . scalar(@after) . ' made)') or diag(explain $race->{writes});
    lock_as_read("$fs scheduled race", $doc, $race, $blind);
    my @mine = findings_for($doc, $race);
    is(scalar(grep { $_->{kind} ne 'blocked_fault' } @mine), 0, "$fs scheduled race: no finding but blocked faults")
      or diag(explain \@mine);
}

# The wait daxscope reports for a blocked fault against the time the workload
# measured around that memory access (only accesses slower than 1 ms are kept):
# the fault runs inside the access, so its reported wait cannot be longer.
# The access may be longer by any amount, and that is no timing for a test
# to hold to: it adds the time the thread was runnable but not running
# (schedstat's run_delay, which the hammer reads every 64 accesses and after
# a slow one), and handler time the reported wait leaves out (it is the
# longer of the lock wait and the timed handler's run: a huge fault that
# waits on the lock and falls back runs a second handler after it). Under
# TCG that was 5 to 19 ms beyond waits of 53 to 848 ms on 6.1, and a 20%
# bound on it failed on 6.1 and 6.12; the diagnostics show each part.
sub agreement {
    my ($fs, $race, $blocked) = @_;
    my @accesses = ((map { [ $_, $race->{writer_tid} ] } @{ $race->{writes} }),
                    (map { [ $_, $race->{reader_tid} ] } @{ $race->{reads} }));
    my @pairs;
    for my $f (@$blocked) {
        my ($a) = grep { $_->[1] == $f->{fault_tid} && $_->[0]{t_ns} <= $f->{t_ns}
                         && $f->{t_ns} <= $_->[0]{t_ns} + $_->[0]{access_ns} } @accesses;
        push @pairs, [ $f, $a->[0] ] if $a;
    }
    push @matched, @pairs;
    my $ms = sub { sprintf '%.2f ms', $_[0] / 1e6 };
    my @longer = grep { $_->[0]{wait_ns} > $_->[1]{access_ns} } @pairs;
    is(scalar @longer, 0, "$fs: no reported wait longer than the access the workload measured around it (" . scalar(@pairs) . ' matched)')
      or diag(join ', ', map { $ms->($_->[0]{wait_ns}) . ' in ' . $ms->($_->[1]{access_ns}) } @longer);
    diag("$fs: access = reported wait + rest (lock wait, handler, runnable): " . join '; ', map {
        my ($f, $a) = @$_;
        sprintf '%s = %s + %s (%s, %s, %s)', $ms->($a->{access_ns}), $ms->($f->{wait_ns}), $ms->($a->{access_ns} - $f->{wait_ns}),
            $ms->($f->{lock_wait_ns}), $ms->($f->{fault_ns}), $a->{run_delay_ns} < 0 ? 'unknown' : $ms->($a->{run_delay_ns})
    } @pairs) if @pairs;
}

# The truth table's rows for a DAX filesystem (daxcheck --expect-clean in the
# guest): every scenario ran, raced, and every run was clean. On virtio-fs the
# guest has no clock of the host's server: a scheduled access cannot be proven
# inside its change (raced 0); the mix and start_race still race.
sub truth_rows {
    my ($fs, $a, $server_unseen) = @_;
    my $rows = eval { decode_json($a->{"$fs-truth"} // '') };
    ok($rows && @$rows >= 8, "$fs-dax: daxcheck scored its scenarios")
      or return diag(($a->{"$fs-truth-err"} // '') . ($a->{hang} // '') . "its trace's last lines:\n"
        . join("\n", grep { defined } (split /\n/, $a->{"$fs-truth-trace"} // 'none')[-12 .. -1]));
    for my $r (@$rows) {
        # a run of the random mix may see no partner access inside a window under TCG: it proves nothing, but is no failure
        my $must_race = !$server_unseen || $r->{scenario} =~ /^(mix|start_race)$/;
        ok($r->{ok} && ($r->{raced} > 0 || !$must_race) && $r->{clean} == $r->{runs},
            "$fs-dax $r->{scenario}: $r->{clean} of $r->{runs} runs clean ($r->{raced} raced), $r->{blocked} blocked faults")
          or diag(truth_trace($a, $fs, $r));
    }
}

# The race on a DAX mount of FS: mapped faults hammering a file punched whole,
# then the scheduled race; the truth table's rows. BLIND: why no lock wait is
# seen and no lock read (held-off faults show only once they run), or undef.
sub dax_race {
    my ($fs, $a, $timed, $no_truth, $blind) = @_;
    my $race = eval { decode_json($a->{"$fs-race"} // '') };
    my $doc = eval { decode_json($a->{"$fs-report"} // '') };
    ok($race && $doc, "$fs: workload and report present") or return;
    is($race->{lost_writes}, 0, "$fs: the workload lost no write");
    is($doc->{lost_events}, 0, "$fs: no events lost");
    my $st = file_stats($doc, $race);
    ok($st, "$fs: the punched file is reported")
      or return diag("files: " . join(', ', map { "$_->{ino} $_->{path}" } @{ $doc->{files} }) . '; '
        . scalar(@{ $doc->{punches} }) . " punches\nrace: " . ($a->{"$fs-race-err"} // '') . "recorder: "
        . ($a->{"$fs-record-err"} // ''));
    is($st->{path}, $race->{file}, "$fs: by its path");
    ok($st->{faults}{dax_pte} + $st->{faults}{dax_pmd} > 0,
        "$fs: DAX faults seen ($st->{faults}{dax_pte} pte, $st->{faults}{dax_pmd} pmd)");
    lock_as_read($fs, $doc, $race, $blind);
    my @mine = findings_for($doc, $race);
    my @blocked = grep { $_->{kind} eq 'blocked_fault' } @mine;
    SKIP: {
        skip "$fs: $blind", 3 if $blind;
        ok(@blocked > 0, "$fs: faults held off by the punch (" . scalar(@blocked) . ')');
        ok(!(grep { !$_->{wait_ns} || $_->{punch_tid} != $race->{punch_tid} } @blocked),
            "$fs: each with its wait time and the punching thread");
        is($st->{lock_waits}{last_holder}{tid}, $race->{punch_tid},
            "$fs: the contended lock is the file's fault/punch lock, held by the punch");
    }
    is(scalar(grep { $_->{kind} ne 'blocked_fault' } @mine), 0, "$fs: no finding but blocked faults");
    scheduled_race($fs, $a, $doc, $blind);
    SKIP: {
        skip "$fs: $no_truth", 1 if $no_truth;
        truth_rows($fs, $a, $fs eq 'virtiofs');
    }
    SKIP: {
        skip "$fs: its DAX fault handler is not timed here (no module BTF)", 1 unless $timed;
        agreement($fs, $race, \@blocked);
    }
}

# The virtio-fs DAX window (../shared/vmm's QEMU and virtiofsd): every count
# daxscope makes equals the kernel's (ftrace in the guest) and the server's
# (virtiofsd's log of the requests it served); the data survived the window;
# punches held faults off.
my $window_mb = 8;    # 4 ranges: a working set of 3x the window reclaims and stalls
# On Debian's 6.1 the truth scenarios deadlock the guest's virtio-fs: a
# FUSE_RELEASE completed in virtio_fs_requests_done_work drops the last
# reference to an unlinked DAX file, whose eviction sends a REMOVEMAPPING
# (fuse_dax_inode_cleanup) and waits for its reply, which only that same work
# can complete (the stacks, from a watchdog in the guest, are in
# docs/truth.md). A kernel bug of 6.1's: the rows run on 6.12 only.
my %virtiofs_truth_hangs = ('6.1' => '6.1 deadlocks evicting a DAX inode from its request-completion work (docs/truth.md)');
# The DAX verdict of tests/vm/virtiofs-verdict.sh: not where it skips it (by the kernel's version).
# The shared VMM's QEMU segfaults now and then during it (host dmesg: qemu-system-x86
# segfault, the same instruction each time: 7.3 in 1 of 3 boots, 6.12 once in a
# fresh-clone run), after the worker's removals and a punch, as a new mapping is
# set up: a crash of the VMM, not of the guest, that would fail the whole boot
# at random. `make verdicts` still runs it; here only the verdict without DAX.
my $qemu_crashes = "the shared VMM's QEMU segfaults during it now and then (make verdicts still runs it)";
my %virtiofs_dax_verdict_skipped = (%virtiofs_truth_hangs, '6.12' => "6.12: $qemu_crashes", '7.3' => "7.3: $qemu_crashes");
# The programs whose runs tell a reclaim and its kind (bpf/fusedax.bpf.c): a
# removal of one range after the task's own layout break of that inode, in a
# worker pass or not. With none of their runs skipped the inline count is the
# kernel's by construction; 7.3 (PREEMPT_LAZY) can skip them (recursion
# guard, per CPU), and the report says so.
my @reclaim_programs = qw(on_dax_break_layouts on_dax_busy_range on_dax_remove on_dax_remove_exit on_dax_reclaim_pass
  on_dax_reclaim_pass_exit on_dax_inode_evict);
# ... and those that count a SETUPMAPPING
my @setup_programs = qw(on_dax_setup on_dax_setup_exit);
# run-matrix.sh boots a guest once more when the shared VMM's QEMU crashed under it: say so
sub note_vmm_crash { diag($_) for $_[0] =~ /^(the shared VMM's QEMU died .*)$/mg }
sub virtiofs_guest {
    my ($k) = @_;
    plan skip_all => "$k: no module BTF (5.11+): FUSE DAX cannot be watched" unless grep { $_ eq 'FUSE DAX mappings' } @{ $must_watch{$k} };
    my $out = scratch_dir();
    local $ENV{DAXSCOPE_DAX_WINDOW_MB} = $window_mb;
    local $ENV{DAXCHECK_RUNS} = $ENV{DAXCHECK_RUNS} // 2;       # every 2 MiB of a scenario file is a SETUPMAPPING under TCG
    local $ENV{DAXSCOPE_VM_TIMEOUT} = $ENV{DAXSCOPE_VM_TIMEOUT} // 600;
    local $ENV{DAXSCOPE_VIRTIOFS_TRUTH} = $virtiofs_truth_hangs{$k} ? 0 : 1;
    local $ENV{DAXSCOPE_VIRTIOFS_DAX_VERDICT} = $virtiofs_dax_verdict_skipped{$k} ? 0 : 1;
    my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', $k, $out, 'virtiofs');
    plan skip_all => "cannot boot a $k virtio-fs guest here: $stdout" if $rc == 3;
    note_vmm_crash($stderr);
    is($rc, 0, "guest booted and finished") or do { diag($stderr); return };
    my $a = artifacts(slurp("$out/console.log"));
    dax_kicks_ok($a, $k);
    like($a->{'virtiofs-mount'} // '', qr/ virtiofs .*dax/, 'virtio-fs mounted with DAX') or return;
    my ($len) = ($a->{'virtiofs-mount'} // '') =~ /Cache len: 0x([0-9a-f]+)/;
    is(hex($len // 0), $window_mb << 20, "the guest kernel sees a $window_mb MiB window");
    my %ftrace = map { /^(\w+) (.*)$/ ? ($1, $2) : () } split /\n/, $a->{'virtiofs-ftrace'} // '';
    is($ftrace{overruns}, 0, 'ftrace lost nothing') or diag($a->{'virtiofs-ftrace'});
    # the requests up to the second mount's INIT: the first mount's, which daxtrace and ftrace saw
    my @mounts = split /(?=^.*opcode: INIT \()/m, slurp("$out/virtiofsd.log");
    my $log = join '', @mounts[ 0 .. 1 ];
    # the window's, the verdicts' (tests/vm/virtiofs-verdict.sh) and the truth rows'
    is(scalar @mounts - 1, 2 + !$virtiofs_dax_verdict_skipped{$k} + !$virtiofs_truth_hangs{$k}, 'virtiofsd served each mount');
    my %served = (setup => scalar(() = $log =~ /opcode: SETUPMAPPING/g), remove => scalar(() = $log =~ /opcode: REMOVEMAPPING/g));
    my $doc = eval { decode_json($a->{'virtiofs-report'} // '') };
    my ($w) = @{ $doc->{dax_window} // [] };
    ok($w, 'the DAX window is reported') or return diag($a->{'virtiofs-report-err'} // '');
    is($doc->{lost_events}, 0, 'no events lost');
    is($w->{ranges}, $window_mb / 2, "its $w->{ranges} ranges of 2 MiB");
    ok($w->{free} + $w->{busy} <= $w->{ranges} && $w->{min_free} <= $w->{free}, 'free and busy within the window');
    count_is($doc, $w->{setupmappings}, $ftrace{setups}, "SETUPMAPPINGs: daxscope $w->{setupmappings}, the kernel $ftrace{setups}",
        @setup_programs);
    count_is($doc, $w->{setupmappings} - $w->{failed_setupmappings}, $served{setup}, "SETUPMAPPINGs virtiofsd served: $served{setup}",
        @setup_programs);
    my $removes = $w->{removemapping_ns}{count};
    count_is($doc, $removes, $ftrace{removals}, "REMOVEMAPPINGs: daxscope $removes, the kernel $ftrace{removals}", @reclaim_programs);
    count_is($doc, $removes - $w->{failed_removemappings}, $served{remove},
        "REMOVEMAPPINGs virtiofsd served: $served{remove} ($w->{failed_removemappings} failed at unmount)", @reclaim_programs);
    ok($w->{reclaims} > 0, "the worker reclaimed ranges ($w->{reclaims})");
    count_is($doc, $w->{reclaims}, $ftrace{worker_reclaims}, "ranges the worker reclaimed: the kernel $ftrace{worker_reclaims}",
        @reclaim_programs);
    count_is($doc, $w->{inline_reclaims}, $ftrace{inline_reclaims}, "ranges reclaimed inline: the kernel $ftrace{inline_reclaims}",
        @reclaim_programs);
    diag("inline reclaims whose stall went unseen (a skipped on_dax_alloc run): $w->{inline_reclaims_stall_unseen}")
        if $w->{inline_reclaims_stall_unseen};
    virtiofs_alloc_misses($a, $doc, $w, \%ftrace);
    virtiofs_skipped_runs($a, $doc);
    count_is($doc, $w->{reclaim_passes}, $ftrace{passes}, "reclaim passes: daxscope $w->{reclaim_passes}, the kernel $ftrace{passes}",
        qw(on_dax_reclaim_pass on_dax_reclaim_pass_exit));
    is($w->{reclaim_ns}{count}, $w->{reclaims}, 'each reclaim timed');
    ok($w->{reclaim_ns}{p50_ns} > 0 && $w->{reclaim_pass_ns}{p50_ns} > 0, 'reclaim and pass latencies measured');
    is($w->{alloc_stall_ns}{count}, $w->{alloc_stalls}, "each allocation stall timed ($w->{alloc_stalls})");
    ok($w->{inline_reclaims} > 0, "eight tasks reading one file at once made IO reclaim ranges inline ($w->{inline_reclaims})");
    # the window's state at one call, as daxscope read it and as an ftrace kprobe did through the BTF's offsets
    my ($kstate) = ($a->{'virtiofs-state'} // '') =~ /daxstate: \((?:fuse_iomap_begin|fuse_iomap_next|0x[0-9a-f]+)[^)]*\) (free=.*)$/m;
    my %kernel = map { split /=/ } split ' ', $kstate // '';
    my ($s) = @{ (eval { decode_json($a->{'virtiofs-state-report'} // '') } // {})->{dax_window} // [] };
    ok($kstate && $s, "the window's state read by ftrace and by daxscope at the same call") or diag($a->{'virtiofs-state'});
    is_deeply($s ? { free => $s->{free}, busy => $s->{busy}, ranges => $s->{ranges} } : undef,
        { free => $kernel{free}, busy => $kernel{busy}, ranges => $kernel{ranges} },
        "window state: daxscope's equals the kernel's ($kstate)");
    ok($w->{model} && $w->{model}{uses} > 0 && $w->{model}{this_window}, 'its range uses feed the cache-size model ('
        . ($w->{model} ? "$w->{model}{uses} uses over $w->{model}{working_set_ranges} ranges" : 'none') . ')');
    virtiofs_daxtop($a, $w, \%ftrace);
    diag("virtio-fs DAX on $k: " . join(', ', map { "$_ $w->{$_}" } qw(setupmappings removemappings reclaims inline_reclaims reclaim_passes alloc_stalls alloc_misses))
        . sprintf('; reclaim p50 %.2f ms, pass p50 %.2f ms', $w->{reclaim_ns}{p50_ns} / 1e6, $w->{reclaim_pass_ns}{p50_ns} / 1e6));
    my %host = map { my $f = "$out/share/w$_"; ("w$_" => -e $f ? Digest::MD5->new->addfile(do { open my $h, '<', $f or die; $h })->hexdigest : '') } 1 .. 4;
    my %guest = map { m{^(\w+)\s+\S*/(w\d)$} ? ($2, $1) : () } split /\n/, $a->{'virtiofs-md5'} // '';
    is_deeply(\%guest, \%host, 'the working set read back in the guest as the host holds it');
    dax_race('virtiofs', $a, 1, $virtiofs_truth_hangs{$k});
    virtiofs_verdicts($k, $a);
}

# daxscope's count against the kernel's: equal; or, where the report lists
# skipped runs of the programs that make it (a preemptible kernel, 7.3: a task
# preempted inside a program keeps it from running on that CPU), never more
# than the kernel's and short by at most those runs.
sub count_is {
    my ($doc, $got, $kernel, $what, @programs) = @_;
    my $by = $doc->{skipped_runs_by_program} // {};
    my $skipped = 0;
    $skipped += $by->{$_} // 0 for @programs;
    return is($got, $kernel, $what) unless $skipped;
    ok($got <= $kernel && $got + $skipped >= $kernel,
        "$what (short by at most the $skipped skipped runs the report lists: " . skipped_todo($doc, @programs) . ')');
}

# A TODO's reason if the report says the kernel skipped runs of any of these programs, else undef.
sub skipped_todo {
    my ($doc, @programs) = @_;
    my $by = $doc->{skipped_runs_by_program} // {};
    my @skipped = map { $by->{$_} ? "$_ $by->{$_}" : () } @programs;
    return @skipped ? 'the kernel skipped runs of ' . join(', ', @skipped) . ' (reported: skipped_runs)' : undef;
}

# alloc_dax_mapping's NULL returns, as the kernel made them (a kretprobe in
# tests/vm/virtiofs.sh), and the stalls daxscope makes of them, worked out
# from the same calls: equal unless the report says on_dax_alloc missed runs.
sub virtiofs_alloc_misses {
    my ($a, $doc, $w, $ftrace) = @_;
    my %f = %$ftrace;
    SKIP: {
        skip "no kretprobe on alloc_dax_mapping: $f{alloc_misses}", 3 unless ($f{alloc_misses} // 'none') =~ /^\d+$/;
        diag("alloc_dax_mapping NULL returns: the kernel $f{alloc_misses} ($f{alloc_stall_misses} in $f{alloc_stalls} "
            . "stalls ended, $f{alloc_stalls_open} open at the end), daxscope $w->{alloc_misses} in $w->{alloc_stalls} stalls");
        ok($w->{alloc_misses} <= $f{alloc_misses}, "alloc_dax_mapping NULL returns: daxscope's $w->{alloc_misses}, "
            . "never more than the kernel's $f{alloc_misses}");
        TODO: {
            local $TODO = skipped_todo($doc, 'on_dax_alloc', @reclaim_programs)
              // ($f{alloc_probe_misses} ? "the kretprobe missed $f{alloc_probe_misses} returns" : undef);
            is($w->{alloc_stalls}, $f{alloc_stalls}, "allocation stalls: the kernel's calls make $f{alloc_stalls}");
            is($w->{alloc_misses}, $f{alloc_stall_misses}, "NULL returns in them: the kernel $f{alloc_stall_misses}");
        }
    }
}

# The runs the kernel skipped of each program of the tool ROLE ("recorder" or
# "daxtop": its PID in the artifact), under the kernel's 15-byte names.
sub prog_misses_of {
    my ($a, $role) = @_;
    my ($pid) = ($a->{'virtiofs-prog-misses'} // '') =~ /^$role (\d+)$/m;
    my %misses;
    for (split /\n/, $a->{'virtiofs-prog-misses'} // '') {
        my ($name, $n, $pids) = split ' ';
        $misses{$name} += $n if $pid && defined $pids && $pids =~ /\($pid\)/;
    }
    return %misses;
}

# Runs the kernel skipped, as bpftool read them from the recorder's programs
# before it stopped: each in the report (names cut to 15 bytes by the kernel).
sub virtiofs_skipped_runs {
    my ($a, $doc) = @_;
    my ($rec) = ($a->{'virtiofs-prog-misses'} // '') =~ /^recorder (\d+)$/m;
    my ($listed) = ($a->{'virtiofs-prog-misses'} // '') =~ /^programs (\d+)$/m;
    SKIP: {
        skip 'bpftool listed no programs: ' . ($a->{'virtiofs-prog-misses'} // 'no artifact'), 2 unless $rec && $listed;
        my %kernel = prog_misses_of($a, 'recorder');
        my $by = $doc->{skipped_runs_by_program} // {};
        # the report's full names, summed under the kernel's 15-byte ones (two programs can share one)
        my %reported;
        $reported{ substr($_, 0, 15) } += $by->{$_} for keys %$by;
        my @short = grep { ($reported{$_} // 0) < $kernel{$_} } sort keys %kernel;
        ok(defined $doc->{skipped_runs} && !@short, 'every skipped run of the recorder\'s programs is reported ('
            . (join(', ', map { "$_ $kernel{$_}" } sort keys %kernel) || 'none') . ')') or diag(explain($by));
        ok(!%kernel || !$doc->{complete}, 'a capture short of skipped runs is not complete');
    }
}

# daxtop, beside the recorder all along: its last table's window line against
# the kernel's counts, short by at most the runs the kernel skipped of daxtop's
# own programs (each tool's are its own: one may miss a run the other saw)
sub virtiofs_daxtop {
    my ($a, $w, $ftrace) = @_;
    my %misses = prog_misses_of($a, 'daxtop');
    my $skipped = sub { my $n = 0; $n += $misses{ substr($_, 0, 15) } // 0 for @_; $n };
    my $near = sub { my ($got, $kernel, $n) = @_; defined $got && $got <= $kernel && $got + $n >= $kernel };
    my ($top_window, $top_advice) = split /\n/, $a->{'virtiofs-daxtop'} // '';
    my ($maps, $reclaims) = ($top_window // '')
      =~ /^DAX window \S+: $w->{ranges} ranges, .*; (\d+) mappings, .* reclaims: (\d+) by the worker \(p50 (?!0\.000)[\d.]+, p99 [\d.]+ ms\)/;
    my ($skip_maps, $skip_reclaims) = ($skipped->(@setup_programs), $skipped->(@reclaim_programs));
    ok($near->($maps, $ftrace->{setups}, $skip_maps) && $near->($reclaims, $ftrace->{worker_reclaims}, $skip_reclaims),
        "daxtop shows the window: the kernel's $ftrace->{setups} mappings and $ftrace->{worker_reclaims} worker reclaims "
        . "(short by at most its $skip_maps and $skip_reclaims skipped runs), and their latency") or diag($a->{'virtiofs-daxtop'});
    like($top_advice // '', qr/^  advice: (raise|keep|cache-size could shrink)/, 'daxtop gives the cache-size advice');
}

# daxcheck --verdict on the share (tests/vm/virtiofs-verdict.sh), a mount with
# DAX and one without. fs/fuse/file.c fuse_file_fallocate takes
# filemap_invalidate_lock across punch and zero range only for a DAX file
# (block_faults), fuse_do_setattr across a shrinking truncate likewise, and
# FUSE DAX faults (fuse_dax_fault) take it shared: SAFE with DAX (5.15+;
# this boot is 6.1 up). Without DAX nothing takes it for the data change, and
# the faults of filemap_fault on cached pages take none: never SAFE.
my @virtiofs_locked_ops = qw(punch_hole zero_range zero_range_keep_size truncate_down);
sub virtiofs_verdicts {
    my ($k, $a) = @_;
    for my $name (qw(virtiofs-dax virtiofs)) {
        if ($name eq 'virtiofs-dax' && $virtiofs_dax_verdict_skipped{$k}) {
            ok(!exists $a->{'verdict-virtiofs-dax-mount'}, "$k $name: not run ($virtiofs_dax_verdict_skipped{$k})");
            next;
        }
        like($a->{"verdict-$name-mount"} // '', $name eq 'virtiofs-dax' ? qr/ virtiofs \S*\bdax(=always)?[, ]/ : qr/ virtiofs (?!\S*\bdax(=always)?[, ])/,
            "$k $name: mounted " . ($name eq 'virtiofs-dax' ? 'with' : 'without') . ' DAX');
        my $by = guest_verdict($k, $name, $a) or next;
        for my $op (@virtiofs_locked_ops) {
            my $r = $by->{$op};
            if ($name eq 'virtiofs-dax') {
                is($r->{verdict}, 'SAFE', "$k $name $op: SAFE") or diag("$r->{why}; $r->{example}");
                is($r->{changes_unlocked}, 0, "$k $name $op: the lock held at every data change");
                is($r->{guard}, 'invalidate_lock', "$k $name $op: under mapping->invalidate_lock");
            } else {
                like($r->{verdict}, qr/^(UNSAFE|EXPOSED)$/, "$k $name $op: UNSAFE or EXPOSED") or diag($r->{why});
            }
        }
        ok($by->{punch_hole}{changes_unlocked} > 0, "$k $name punch_hole: data changed without the fault lock")
          if $name eq 'virtiofs';
    }
}

# The cache-size model against the kernel: one workload (28 ranges: read,
# written in place, fault-read through mappings, three times) on a window of
# each size, one virtio-fs device each; every window's model replays its own
# uses with its worker's passes as measured, and the largest window's curve
# predicts every smaller size (with no pass measured there: a worker at its
# kick). The targets (docs/dax-model.md): the count made inside the
# predicted interval (the least to the most of 19 replays: the worker's
# timing on the capture's uses; held-out runs found it holds the count 56 to
# 84% of the time), the median within 10%; 25% is the bound. Even a 90%
# interval checked in every run would fail one run in ten by design: it is a
# TODO, with what the held-out calibration runs found (docs/dax-model.md,
# 6.12, ho2 and ho3, single). At 8
# MiB (4 ranges, the mapped file fills the window) the largest window's curve
# has no worker's lag to go by, and its own prediction was 24% off in one run;
# at 64 MiB a loaded host once made the kernel's count 24% below its least
# before, so there the bound is a TODO too.
my @model_windows_mb = (8, 16, 32, 64, 128);    # QEMU takes powers of two only
my %model_far_off = (
    8 => 'the kernel made 135 to 283 in eight held-out 6.12 runs of this one workload (CV 16-19%); '
      . 'the largest window\'s curve, with no pass of the worker to go by, says 112 to 120 where 144 to 198 were made (6.1, 6.12, 7.3)',
    64 => 'the kernel made 64 to 96 in runs of this one workload (84 predicted): which range the worker finds in use is timing',
);
my %model_outside = (
    8  => 'held-out 6.12 runs: 6 of 8 inside (135-283 made, CV 16-19%)',
    16 => 'held-out 6.12 runs: 7 of 8 inside',
    32 => 'held-out 6.12 runs: 8 of 8 inside; an interval of the worker\'s timing, checked every run',
    64 => 'held-out 6.12 runs: 8 of 8 inside; an interval of the worker\'s timing, checked every run',
);
# daxexport's metrics (Prometheus text) by window: dax_ranges => { family => { bound or '' => value } }.
sub metrics_by_window {
    my ($text) = @_;
    my (%by_index, %out);
    for (split /\n/, $text // '') {
        my ($name, $labels, $value) = /^daxscope_(dax_\w+)\{([^}]*)\} (\S+)$/ or next;
        my %l = $labels =~ /(\w+)="([^"]*)"/g;
        defined $l{window} or next;
        $by_index{ $l{window} }{$name}{ $l{bound} // '' } = $value;
    }
    for my $w (values %by_index) {
        $out{ $w->{dax_ranges}{''} } = $w if defined $w->{dax_ranges};
    }
    return \%out;
}

# The same windows served live by daxexport beside the recorder: its counts
# the kernel's, the model's advice exported with a sane interval, and the text
# clean for promtool.
sub model_metrics {
    my ($a, $out, $served) = @_;
    my $metrics = metrics_by_window($a->{'model-metrics'});
    is(scalar keys %$metrics, scalar @model_windows_mb, 'daxexport served every window') or diag($a->{'model-export-err'});
    for my $mb (@model_windows_mb) {
        my $m = $metrics->{ $mb / 2 } or next;
        is($m->{dax_setups_total}{''}, $served->{$mb}, "$mb MiB, daxexport: the SETUPMAPPINGs virtiofsd served");
        my ($advised, $s) = ($m->{dax_model_advised_ranges}{''}, $m->{dax_model_advised_setups} // {});
        ok($advised && $advised >= 1, "$mb MiB, daxexport: a size advised (" . ($advised // 'none') . ' ranges)');
        ok(defined $s->{median} && $s->{lowest} <= $s->{median} && $s->{median} <= $s->{highest},
            "$mb MiB, daxexport: its SETUPMAPPINGs, lowest <= median <= highest ("
            . join(' ', map { $s->{$_} // '-' } qw(lowest median highest)) . ')');
        is($m->{dax_model_advised_faults_unseen}{''}, $advised && $advised < $mb / 2 ? 1 : 0,
            "$mb MiB, daxexport: faults unseen exactly where the size advised is smaller (the workload faults)");
    }
    SKIP: {
        skip 'promtool missing (package prometheus)', 1 unless `sh -c 'command -v promtool'`;
        open my $f, '>', "$out/metrics" or die;
        print $f $a->{'model-metrics'} // '';
        close $f;
        my ($rc, @lint) = run_cmd('sh', '-c', "promtool check metrics < '$out/metrics'");
        is($rc, 0, 'promtool check metrics: the guest\'s text is clean') or diag(@lint);
    }
}

sub model_guest {
    my ($k) = @_;
    plan skip_all => "$k: no module BTF (5.11+): FUSE DAX cannot be watched" unless grep { $_ eq 'FUSE DAX mappings' } @{ $must_watch{$k} };
    my $out = scratch_dir();
    local $ENV{DAXSCOPE_DAX_WINDOWS_MB} = "@model_windows_mb";
    my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', $k, $out, 'virtiofs-model');
    plan skip_all => "cannot boot a $k virtio-fs guest here: $stdout" if $rc == 3;
    note_vmm_crash($stderr);
    is($rc, 0, "guest booted and finished") or do { diag($stderr); return };
    my $a = artifacts(slurp("$out/console.log"));
    dax_kicks_ok($a, $k);
    my $doc = eval { decode_json($a->{'model-report'} // '') };
    ok($doc, 'the report parses') or return diag($a->{'model-report-err'} // '');
    is($doc->{lost_events}, 0, 'no events lost');
    my %by_ranges = map { $_->{ranges} => $_ } @{ $doc->{dax_window} // [] };
    is(scalar keys %by_ranges, scalar @model_windows_mb, 'one window a mount, though each mount reuses the last one\'s address')
      or diag($a->{'model-mounts'});
    my %served = map { $_ => scalar(() = slurp("$out/virtiofsd$_.log") =~ /opcode: SETUPMAPPING/g) } @model_windows_mb;
    model_metrics($a, $out, \%served);
    my $largest = $by_ranges{ $model_windows_mb[-1] / 2 } or return;
    my %curve = map { $_->{ranges} => $_ } @{ $largest->{model}{curve} // [] };
    for my $mb (@model_windows_mb) {
        my $w = $by_ranges{ $mb / 2 };
        ok($w, "$mb MiB: its window is reported") or next;
        my $served = $served{$mb};
        is($w->{setupmappings} - $w->{failed_setupmappings}, $served, "$mb MiB: SETUPMAPPINGs virtiofsd served: $served");
        is($w->{model} && $w->{model}{working_set_ranges}, 28, "$mb MiB: the model saw the workload's 28 ranges");
        my $own = $w->{model}{this_window}{setupmappings} // -1;
        my ($widest) = reverse @{ $largest->{model}{curve} // [] };    # none: the model saw no use
        my $cross = $curve{ $mb / 2 } ? $curve{ $mb / 2 }{setupmappings} : $widest ? $widest->{setupmappings} : -1;
        my $text = sprintf '%d MiB: predicted %d (its own uses), %d (the %d MiB run\'s), made %d', $mb, $own, $cross,
            $model_windows_mb[-1], $served;
        diag($text);
        if ($mb == $model_windows_mb[-1]) {
            is($own, $served, "$text: no reclaim, exact");
            next;
        }
        ok($curve{ $mb / 2 }{faults_unseen}, "$mb MiB: the largest window's curve says faults went unseen there (the workload faults)")
          if $curve{ $mb / 2 };
        my $p = $w->{model}{this_window};
        TODO: {
            local $TODO = $model_outside{$mb};
            ok($p->{setupmappings_p10} <= $served && $served <= $p->{setupmappings_p90},
                "$mb MiB: made $served, inside the interval its own capture predicts ($p->{setupmappings_p10}-$p->{setupmappings_p90})");
        }
        for my $pred ([ 'its own uses', $own ], [ 'the largest run\'s curve', $cross ]) {
            my $err = $served ? abs($pred->[1] - $served) / $served : 1;
            TODO: {
                local $TODO = $model_far_off{$mb} // 'the kernel\'s own count moves by up to 13% between runs';
                ok($err <= 0.10, sprintf '%d MiB, from %s: within 10%% (%.0f%%)', $mb, $pred->[0], 100 * $err);
            }
            next if $model_far_off{$mb};
            ok($err <= 0.25, sprintf '%d MiB, from %s: within 25%% (%.0f%%)', $mb, $pred->[0], 100 * $err);
        }
    }
}

# The banner against the tables (tests/lib/Daxscope/Kernels.pm): the mode,
# exactly the probes its row lists, no refusal but the known ones, a reason
# for each probe left out; the package's config as the table says.
sub probes_as_listed {
    my ($k, $mode, $a, $out) = @_;
    for my $m (qw(nd_pmem ext4 xfs fuse virtiofs)) {
        like($a->{modules} // '', qr/^$m ok$/m, "module $m loads");
    }
    my %shipped = map { /^CONFIG_(\w+)=(\S+)/ ? ($1, $2) : () } split /\n/, slurp("$out/config");
    my %has = map { $_ => $shipped{$_} // 'n' } @config_symbols;
    is_deeply(\%has, $config{$k}, "$k: its config as the table says")
      or diag(explain \%has);
    my ($banner) = ($a->{banner} // '') =~ /^(daxscope: .*)$/m;
    ok($banner, 'probe banner printed') or return;
    diag($banner);
    like($banner, $mode eq 'fentry' ? qr/, fentry mode,/ : qr/, tracepoint mode \(fentry\/fexit not permitted: Operation not permitted\)/,
        "$k: $mode mode");
    my ($watching) = $banner =~ /mode[^;]*; watching: ([^;]*)/;
    my %listed = map { $_ => 1 } split /, /, $watching // '';
    my $row = $watched{$mode}{$k};
    ok($row, "kernel $k has its $mode-mode row in the table of what must be watched") or return;
    for my $probe (@$row) {
        ok($listed{$probe}, "$k watches $probe");
    }
    my %in_row = map { $_ => 1 } @$row;
    is(join(', ', grep { !$in_row{$_} } sort keys %listed), '', "$k watches nothing its row does not list");
    my @refused = ($a->{refused} // '') =~ /prog '(\w+)': failed to load/g;
    is(join(' ', grep { !$refused_ok{$k}{$_} } @refused), '', "$k: no program refused but the known ones")
      or diag($a->{refused});
    my ($not) = $banner =~ /NOT watching: (.*)$/;
    for my $item (split /\), /, $not // '') {
        like("$item)", qr/^[^(]+ \(.+\)\)?$/, "not watched, with a reason: $item)");
    }
    return 1;
}

# A punch of a mapped page-cache file (ext4 without DAX), raced by a read
# through the mapping. Where the banner lists neither page-cache read faults
# nor user faults through the VMA (no fentry, no filemap tracepoints, no
# bpf_find_vma: before 5.17) every window is marked reads_unwatched and the
# text says none can pass for clean; elsewhere none is.
sub page_cache_window {
    my ($k, $a) = @_;
    my $hidden = !grep { $_ eq 'page-cache read faults' || $_ eq 'user faults (through the VMA)' }
      @{ $watched{tracepoint}{$k} };
    my $doc = eval { decode_json($a->{'pagecache-report'} // '') };
    my @w = @{ ($doc // {})->{punches} // [] };
    ok(@w > 0, 'page cache: the punch of the mapped file has its window')
      or return diag(join("\n", map { $a->{"pagecache-$_"} // "no $_" } qw(race-err record-err report-text)));
    is(scalar(grep { $_->{reads_unwatched} } @w), $hidden ? scalar(@w) : 0,
        $hidden ? 'page cache: read faults unseen here, so every window is reads_unwatched'
                : 'page cache: read faults seen here, so no window is reads_unwatched');
    my $warned = ($a->{'pagecache-report-text'} // '') =~ /^WARNING: \d+ punch windows? on a mapped page-cache file.*cannot pass for clean$/m;
    ok($hidden ? $warned : !$warned, 'page cache: the text ' . ($hidden ? 'warns of it' : 'has no such warning'))
      or diag($a->{'pagecache-report-text'});
}

# The newest and the oldest kernel with fentry/fexit refused by a BPF LSM
# program in the guest (build/denyfentry), as the development host's policy
# refuses them: daxscope in tracepoint mode on ext4-dax and xfs-dax, and on a
# mapped page-cache file.
sub tracepoint_guest {
    my ($k) = @_;
    my $out = scratch_dir();
    local $ENV{DAXSCOPE_DENY_FENTRY} = 1;
    local $ENV{DAXCHECK_RUNS} = $ENV{DAXCHECK_RUNS} // 1;
    my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', $k, $out);
    plan skip_all => "cannot boot a $k guest here: $stdout" if $rc == 3;
    is($rc, 0, "guest booted and finished") or do { diag($stderr); return };
    my $a = artifacts(slurp("$out/console.log"));
    dax_kicks_ok($a, $k);
    ok(!defined $a->{hang}, 'nothing in the guest outlived its bound') or diag($a->{hang});
    like($a->{deny} // '', qr/^denying$/m, 'fentry/fexit refused in the guest') or return diag($a->{deny});
    probes_as_listed($k, 'tracepoint', $a, $out) or return;
    my $blind = (grep { $_ eq 'fault/punch lock waits' } @{ $watched{tracepoint}{$k} }) ? undef
      : 'neither fentry nor lock:contention_* (5.19) here: lock waits unseen, the fault lock (learned from the '
      . 'filesystem\'s faults before 5.15) unread';
    for my $fs (qw(ext4 xfs)) {
        like($a->{"$fs-mount"} // '', qr/dax/, "$fs mounted with DAX");
        dax_race($fs, $a, 0, undef, $blind);
    }
    page_cache_window($k, $a);
    @matched = ();
}

for my $k (@kernels) {
    subtest "kernel $k" => sub {
        my $out = scratch_dir();
        my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', $k, $out);
        plan skip_all => "cannot boot a $k guest here: $stdout" if $rc == 3;
        is($rc, 0, "guest booted and finished") or do { diag($stderr); return };
        my $a = artifacts(slurp("$out/console.log"));
        dax_kicks_ok($a, $k);
        ok(!defined $a->{hang}, 'nothing in the guest outlived its bound') or diag($a->{hang});
        probes_as_listed($k, 'fentry', $a, $out) or return;
        my %must = map { $_ => 1 } @{ $must_watch{$k} };
        for my $fs (qw(ext4 xfs)) {
            like($a->{"$fs-mount"} // '', qr/dax/, "$fs mounted with DAX");
            dax_race($fs, $a, $must{"$fs DAX fault timing"});
        }
        SKIP: {
            skip "no DAX fault handler is timed on $k", 1 unless $must{'ext4 DAX fault timing'} || $must{'xfs DAX fault timing'};
            ok(@matched > 0, 'faults held off by a punch matched to the workload\'s own timing ('
                . scalar(@matched) . ')');
        }
        @matched = ();
    };
    subtest "kernel $k, tracepoint mode" => sub { tracepoint_guest($k) } if $watched{tracepoint}{$k};
    subtest "kernel $k, virtio-fs DAX window" => sub { virtiofs_guest($k) };
    subtest "kernel $k, cache-size model" => sub { model_guest($k) };
}
done_testing();
