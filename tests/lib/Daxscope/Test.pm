package Daxscope::Test;
# Shared by the real-kernel tests: preconditions (skip with a reason, never
# pass silently), scratch mounts, and running daxtrace around a workload.
use strict;
use warnings;
use Compress::Zlib qw(crc32);
use Cwd qw(abs_path);
use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More;
use Daxscope::Kernels ();

our @EXPORT = qw(top build need_kernel_bpf scratch_dir run_cmd start_recorder stop_recorder record_around report_json
  findings_for file_stats cleanup_later check_race_findings wait_for_mount slurp mount_delayfs
  links_of links_gone wait_until workload_faults_seen capture_split capture_join hostile_capture
  free_port start_bg stop_here unprivileged_user user_script fuse_race_args check_fuse_race fuse_race_read_found check_fuse_race_read artifacts
  truth_trace dax_kicks_ok
  same_file race_punch race_punches judge_verdict_rows guest_verdict kernel_at_least);

my $top = abs_path(__FILE__ =~ s{/[^/]+$}{}r . '/../../..');
sub top   { $top }
sub build { "$top/build" }
# The daxtrace that records and reports: the build's, or an installed one (`local $Daxscope::Test::DAXTRACE`).
our $DAXTRACE;
sub daxtrace { $DAXTRACE // build() . '/daxtrace' }

my @cleanups;
sub cleanup_later { push @cleanups, $_[0] }
END { local $?; $_->() for reverse @cleanups }    # a cleanup's command does not change the exit status

# The running kernel is MAJOR.MINOR or newer; in list context also its release (uname -r).
sub kernel_at_least {
    my ($major, $minor) = @_;
    (my $release = `uname -r`) =~ s/\s+$//;
    my ($x, $y) = $release =~ /^(\d+)\.(\d+)/ or return wantarray ? (0, $release) : 0;
    my $newer = ($x <=> $major || $y <=> $minor) >= 0;
    return wantarray ? ($newer, $release) : $newer;
}

# Skips the whole test file, with the reason, where the machine cannot run it.
sub need_kernel_bpf {
    plan skip_all => 'needs root to load BPF programs' if $> != 0;
    plan skip_all => 'kernel has no BTF (/sys/kernel/btf/vmlinux)' unless -r '/sys/kernel/btf/vmlinux';
    for my $bin (qw(daxtrace race delayfs)) {
        BAIL_OUT("build/$bin missing: the build is incomplete") unless -x build() . "/$bin";
    }
}

# DAXSCOPE_KEEP_SCRATCH=1 keeps them (and says where) to look into a failure.
sub scratch_dir {
    my $keep = $ENV{DAXSCOPE_KEEP_SCRATCH};
    my $dir = tempdir('daxscope-test-XXXXXX', TMPDIR => 1, CLEANUP => !$keep);
    diag("scratch directory kept: $dir") if $keep;
    return $dir;
}

# Ends a test file that cannot go on (says why), the other files still run: BAIL_OUT is for an incomplete build.
sub stop_here {
    diag(@_);
    done_testing();
    exit;
}

# Runs a command, returns (exit code, stdout, stderr).
sub run_cmd {
    my (@cmd) = @_;
    my $dir = scratch_dir();
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>', "$dir/err" or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    return ($rc, slurp("$dir/out"), slurp("$dir/err"));
}

# A loopback port nobody listens on now.
sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1) or die "$!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# Starts a command in the background, its output in a log; stopped with SIGTERM at exit.
sub start_bg {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $log or die;
        open STDERR, '>&', \*STDOUT or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    cleanup_later(sub { waitpid($pid, WNOHANG) == 0 && kill('TERM', $pid) && waitpid($pid, 0) });    # not if reaped
    return $pid;
}

# A system account for the length of the test (removed at exit), for a hostile local user:
# (uid, gid, the command prefix that runs as it with no capabilities).
sub unprivileged_user {
    my ($name) = @_;
    plan skip_all => 'setpriv missing (util-linux)' unless -x '/usr/bin/setpriv';
    plan skip_all => 'useradd missing (package passwd)' unless -x '/usr/sbin/useradd';
    system('/usr/sbin/useradd', '--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell',
        '/usr/sbin/nologin', $name) == 0 or BAIL_OUT("useradd $name failed");
    cleanup_later(sub { system('/usr/sbin/userdel', $name) });
    my (undef, undef, $uid, $gid) = getpwnam($name) or die "no $name";
    return ($uid, $gid, '/usr/bin/setpriv', "--reuid=$uid", "--regid=$gid", '--clear-groups', '--inh-caps=-all');
}

# A Perl script the unprivileged user runs, written into DIR (which the user can read); its path.
sub user_script {
    my ($dir, $name, $text) = @_;
    open my $f, '>', "$dir/$name" or die;
    print $f $text;
    close $f;
    return "$dir/$name";
}

# A guest's artifacts (tests/vm/guest.sh): "@@ARTIFACT name@@" ... "@@END name@@" in its console log.
sub artifacts {
    my ($log) = @_;
    my %a;
    $log =~ s/\r//g;    # the serial console ends lines with CR LF
    while ($log =~ /^\@\@ARTIFACT (\S+?)\@\@\n(.*?)^\@\@END \1\@\@/msg) { $a{$1} = $2 }
    return \%a;
}

# The DAX layout breaks a guest's kicker woke after 10 s asleep (artifact
# dax-kicks, tests/vm/guest.sh dax_kicker): shown on a kernel known to leave
# them asleep (%Daxscope::Kernels::dax_break_sleeps), where one that never
# leaves is a hang the guest's bounds report; none allowed on another kernel.
sub dax_kicks_ok {
    my ($a, $k) = @_;
    my @kicks = split /\n/, $a->{'dax-kicks'} // '';
    if ($Daxscope::Kernels::dax_break_sleeps{$k}) {
        diag("$k left a DAX layout break asleep, woken by the guest: $_") for @kicks;
        return;
    }
    is(scalar @kicks, 0, "no DAX layout break slept 10 s on $k") or diag(join "\n", @kicks);
}

# What daxcheck judged in a row that missed its target, from a guest's
# artifact NAME-truth-trace (tests/vm/guest.sh truth_artifacts): the row on
# one line, its false positives and missed events (a CI that keeps a failure's
# first lines keeps these), then the scenario's whole trace but blocked faults.
sub truth_trace {
    my ($a, $name, $row) = @_;
    my ($section) = ($a->{"$name-truth-trace"} // '') =~ /^(scenario \Q$row->{scenario}\E on .*?)(?=^scenario |\z)/ms;
    my @lines = split /\n/, $section // "no trace of $row->{scenario} (artifact $name-truth-trace)";
    my @wrong = grep { /^daxscope: false positive|: missed$/ } @lines;
    return join "\n", JSON::PP->new->canonical->encode($row), @wrong, @lines;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

# Starts `daxtrace record -o CAP ARGS...`, its stderr into ERR, and returns
# once it says it is watching (programs attached): (pid, banner).
sub start_recorder {
    my ($cap, $err, @args) = @_;
    unlink $err;    # a recorder before this one left its own banner there
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', $err or die;
        exec daxtrace(), 'record', '-o', $cap, @args or die;
    }
    wait_until(sub { slurp($err) =~ /watching/ || waitpid($pid, WNOHANG) }, 30);
    return ($pid, (split /\n/, slurp($err))[0] // '');
}

# Stops a recorder with SIGINT; its exit status.
sub stop_recorder {
    my ($pid) = @_;
    kill 'INT', $pid;
    waitpid $pid, 0;
    return $? >> 8;
}

# Starts `daxtrace record`, runs the workload, stops the recorder.
# Returns (capture, banner, workload stdout, workload status, recorder status).
sub record_around {
    my (%a) = @_;
    my $dir = scratch_dir();
    # every window watched: the race tests judge detection; on demand is tests/kernel/fault_hooks.t's
    my @hooks = $a{on_demand} ? () : ('--fault-hooks=always');
    my ($pid, $banner) = start_recorder("$dir/capture.dxc", "$dir/record.err", @hooks, @{ $a{record_args} // [] });
    my ($rc, $out, $err) = run_cmd(@{ $a{workload} });
    diag("workload failed ($rc): $err") if $rc;
    sleep 0.3;    # let the last events drain into the capture
    my $record_rc = stop_recorder($pid);
    diag("daxtrace record exited $record_rc: " . slurp("$dir/record.err")) if $record_rc;
    return ("$dir/capture.dxc", $banner, $out, $rc, $record_rc);
}

sub report_json {
    my ($cap) = @_;
    my ($rc, $out, $err) = run_cmd(daxtrace(), 'report', $cap, '--json');
    diag("report exited $rc: $err") if $rc;
    my $doc = eval { decode_json($out) };
    diag("report is not JSON: $@") unless $doc;
    return $doc;
}

# A capture as (header, [type, payload]...) and back (docs/capture-format.md: a 104-byte header,
# then records of a 16-byte {type, len, crc32, reserved} header and the payload); written back with new CRCs.
sub capture_split {
    my ($path) = @_;
    my $bytes = slurp($path);
    my @records;
    for (my $at = 104; $at < length $bytes;) {
        my ($type, $len) = unpack 'V V', substr($bytes, $at, 16);
        push @records, [ $type, substr($bytes, $at + 16, $len) ];
        $at += 16 + $len;
    }
    return (substr($bytes, 0, 104), @records);
}

sub capture_join {
    my ($to, $header, @records) = @_;
    open my $fh, '>:raw', $to or die "$to: $!";
    print $fh $header, map { pack('V V V V', $_->[0], length $_->[1], crc32($_->[1]), 0) . $_->[1] } @records;
    close $fh or die "$to: $!";
}

# A number the event ABI defines (include/daxscope/events.h), whose _Static_asserts pin the layout's.
sub event_abi {
    my ($name) = @_;
    my ($value) = slurp("$top/include/daxscope/events.h") =~ /^#define \Q$name\E (\d+)/m or die "events.h: no $name\n";
    return $value;
}

# The capture FROM with hostile names, into TO: PATH_SUFFIX after every path, COMM as every event's task name.
sub hostile_capture {
    my ($from, $to, $path_suffix, $comm) = @_;
    my ($header, @records) = capture_split($from);
    my ($comm_at, $comm_len) = map { event_abi($_) } qw(DX_EVENT_COMM_OFFSET DX_COMM_LEN);
    for (@records) {
        $_->[1] = substr($_->[1], 0, length($_->[1]) - 1) . "$path_suffix\0" if $_->[0] == 2;    # PATH
        substr($_->[1], $comm_at, $comm_len) = pack("a$comm_len", $comm) if $_->[0] == 1;    # EVENT: struct dx_event's comm
    }
    capture_join($to, $header, @records);
}

# A delayfs (tests/fusefs) mount in a scratch dir, unmounted at exit; returns the mount point.
# More delayfs options (--log=FILE, --truncate-delay-ms=N) may follow the delay.
sub mount_delayfs {
    my ($delay_ms, @options) = @_;
    my $dir = scratch_dir();
    mkdir "$dir/back";
    mkdir "$dir/mnt";
    system(build() . '/delayfs', "$dir/back", "$dir/mnt", "--delay-ms=$delay_ms", @options) == 0
      or BAIL_OUT('delayfs did not mount');
    cleanup_later(sub { system('fusermount3', '-u', "$dir/mnt") });
    wait_for_mount("$dir/mnt") or BAIL_OUT('delayfs mount did not appear');
    return "$dir/mnt";
}

# The BPF links a process holds, from its fds (/proc/PID/fdinfo: link_id),
# and those of them still in the kernel: `bpftool link list` alone cannot tell
# its links from those of other tracers running meanwhile.
sub links_of {
    my ($pid) = @_;
    my @ids;
    for my $f (glob "/proc/$pid/fdinfo/*") {
        my $info = slurp($f);
        push @ids, $1 if $info =~ /^link_id:\s*(\d+)/m;
    }
    return @ids;
}
# The kernel may free a closed link a moment after its owner exits: waits for that, 5 s at most.
sub links_gone {
    my ($mine, $what) = @_;
    my @left;
    wait_until(sub {
        my $links = eval { decode_json(scalar `bpftool -j link list 2>/dev/null`) } // [];
        my %live = map { $_->{id} => 1 } @$links;
        @left = grep { $live{$_} } @$mine;
        return !@left;
    }, 5);
    is(scalar @left, 0, "$what: every BPF link it attached is gone (bpftool link list)") or diag("left: @left");
}
# Polls $cond until it is true (returns 1) or $secs have passed (returns 0).
sub wait_until {
    my ($cond, $secs) = @_;
    my $deadline = time + $secs;
    until ($cond->()) {
        return 0 if time > $deadline;
        sleep 0.05;
    }
    return 1;
}

sub wait_for_mount {
    my ($mnt) = @_;
    for (1 .. 200) {
        return 1 if slurp('/proc/mounts') =~ m{ \Q$mnt\E };
        sleep 0.05;
    }
    return 0;
}

# What every racing filesystem must get right, judged write by write against
# the punch window as the kernel saw it (the workload's clock and BPF's are
# both CLOCK_MONOTONIC): a write stored inside the window and lost is a
# discarded write; one stored before the window began was ordered before the
# punch, which rightly erased it; one that survived is reported only when the
# writer faulted on the page again after the punch deleted it (its store was
# retried there), and the report says so. Both tasks are named, and nothing
# is reported outside the punched pages [$first, $last].
sub check_race_findings {
    my ($doc, $race, $first, $last, $path) = @_;
    my %lost = map { $_->{page} => 1 } grep { $_->{lost} } @{ $race->{writes} };
    my $punch = race_punch($doc, $race);
    ok($punch && $punch->{end_ns} > $punch->{begin_ns} && !$punch->{unterminated},
        'the punch window is reported, by the punching thread, with its begin and end') or return %lost;
    my @discarded = findings_for($doc, $race, 'discarded_write');
    my %reported = map { $_->{page_index} => $_ } @discarded;
    # the write's dirtying lies in [t_ns, t_ns + access_ns]; the punch's data change began at data_change_ns
    my $change = $punch->{data_change_ns} || $punch->{end_ns};
    ok($punch->{data_changes} > 0, "the punch's data changes were sampled in the kernel ($punch->{data_changes})");
    workload_faults_seen($doc, $race);
    for my $w (@{ $race->{writes} }) {
        my ($f, $p, $stored) = ($reported{ $w->{page} }, $w->{page}, $w->{t_ns} + $w->{access_ns});
        my $when = sprintf '%+.3f ms from the data change', ($w->{t_ns} - $change) / 1e6;
        if ($w->{lost} && $w->{t_ns} >= $change) {
            ok($f, "write to page $p ($when) lost after the punch began changing data: a discarded write");
        } elsif ($w->{lost}) {
            ok(!$f || $stored >= $change, "write to page $p ($when) lost, stored before the data change: erased, not reported");
        } else {
            ok(!$f || ($f->{refaulted} && $stored > $f->{deleted_ns}),
                "write to page $p ($when) survived: not reported, or flagged as retried after the delete")
              or diag(explain { finding => $f, write => $w, punch => scalar_fields($punch),
                                other_findings => [ findings_for($doc, $race) ] });
        }
    }
    for my $f (@discarded) {
        my $p = $f->{page_index};
        is($f->{fault_pid}, $race->{pid}, "discarded write page $p: writer pid");
        is($f->{fault_tid}, $race->{writer_tid}, "discarded write page $p: writer tid");
        is($f->{punch_pid}, $race->{pid}, "discarded write page $p: punching pid");
        is($f->{punch_tid}, $race->{punch_tid}, "discarded write page $p: punching tid");
        is($f->{path}, $path, "discarded write page $p: path resolved");
        ok($f->{t_ns} < $f->{deleted_ns} && $f->{deleted_ns} <= $punch->{end_ns},
            "discarded write page $p: dirtied, then deleted inside the window");
    }
    my @outside = grep { defined $_->{page_index} && ($_->{page_index} < $first || $_->{page_index} > $last) }
      findings_for($doc, $race);
    is(scalar @outside, 0, 'no finding on pages outside the punched range');
    is(file_stats($doc, $race)->{discarded_writes}, scalar @discarded, 'file discarded_writes count');
    return %lost;
}

# The race of tests/kernel/fuse_race.t (host) and tests/vm/fuse_rows.t (guests) on delayfs
# --delay-ms=50, whose server punches at ~50 ms and replies at ~100 ms: pages 2..5 punched,
# a store into page 3 at 70 ms, a load of page 4 at 75 ms, a store outside the range, one after.
sub fuse_race_args {
    return ('--punch', '8192:16384', '--write-at', '70:3', '--read-at', '75:4', '--write-at', '70:9',
        '--write-at', '180:2');
}

# What daxscope must report of that race, write by write as the workload saw it
# (check_race_findings), and of the punch: without its lock, its change dated. When the
# store at 70 ms was lost (FUSE's bug, on every kernel: the kernel notes measured 10 of 10;
# under TCG a store's fault may come only after the delete, and survive), also the store
# as an unblocked write fault and a discarded write after the data change began, and the
# dirty page the punch threw away. Returns whether it was lost.
sub check_fuse_race {
    my ($doc, $race, $path) = @_;
    my %lost = map { $_->{page} => 1 } grep { $_->{lost} } @{ $race->{writes} };
    ok(!exists $lost{9}, 'precondition: the write outside the punched range survived');
    my $punch = race_punch($doc, $race);
    # the store at 180 ms is after the reply only if the server replied by then: a loaded TCG
    # guest can make it later, and then the store races the punch like any other
    my ($late) = grep { $_->{page} == 2 } @{ $race->{writes} };
    if ($punch && $late->{t_ns} > $punch->{end_ns}) {
        ok(!exists $lost{2}, 'precondition: the write after fallocate returned survived');
    } else {
        note(sprintf 'the store at 180 ms came %.1f ms before fallocate returned: judged as a race',
            $punch ? ($punch->{end_ns} - $late->{t_ns}) / 1e6 : -1);
    }
    check_race_findings($doc, $race, 2, 5, $path);
    ok($punch && !$punch->{holds_lock} && $punch->{data_changes_without_lock} > 0,
        'the kernel read the fault lock free while the punch changed data');
    ok($punch && !$punch->{change_undated}, 'the punch\'s data change was dated');
    ok($punch && $punch->{fuse_sent_ns} && $punch->{fuse_reply_ns} > $punch->{fuse_sent_ns},
        'its FALLOCATE joined from its send to the server\'s reply, which ends the change');
    return 0 unless $lost{3};
    my ($mid) = grep { $_->{page_index} == 3 } findings_for($doc, $race, 'discarded_write');
    ok($mid && $mid->{t_ns} > $mid->{data_change_ns} && !$mid->{refaulted},
        'the write 70 ms into the punch: after FALLOCATE went to the server, not retried');
    ok((grep { $_->{page_index} == 3 && $_->{write} && $_->{fault_tid} == $race->{writer_tid} }
        findings_for($doc, $race, 'unblocked_fault')), 'its write fault got through: an unblocked fault');
    ok($punch && $punch->{cancelled_dirty_bytes} >= 4096, 'the kernel counted the dirty page the punch threw away');
    ok($mid && $mid->{dirty_mark}, 'its page still marked dirty in the page cache when the punch deleted it');
    return 1;
}

# The windows of that race's punches (race --punches), by their file and the punching thread.
sub race_punches {
    my ($doc, $race) = @_;
    return grep { same_file($_, $race) && $_->{task}{tid} == $race->{punch_tid} } @{ $doc->{punches} };
}

# ... the first one; undef if none.
sub race_punch { (race_punches(@_))[0] }

# A window's plain fields (no arrays, no objects): what a failure shows of it.
sub scalar_fields {
    my ($w) = @_;
    return { map { $_ => $w->{$_} } grep { !ref $w->{$_} } keys %$w };
}

# The load of page 4 at 75 ms in that race, an unblocked read fault: is it reported?
sub fuse_race_read_found {
    my ($doc, $race) = @_;
    # a range when the faulting page went unknown (its VMA walk refused): one of them, page 4 among them
    return grep { !$_->{write} && $_->{page_index} <= 4 && 4 <= ($_->{last_page} // 4) && $_->{fault_tid} == $race->{reader_tid} }
      findings_for($doc, $race, 'unblocked_fault');
}

# NAME: the load of page 4, judged by when it ran: begun once the punch's data change had
# begun and done before the punch returned, an unblocked read fault; done before the change
# began, none. A loaded TCG guest can move the punch against the workload's schedule (one
# race each in ci46 and ci47 missed the finding, its times unknown then); one that straddles
# the change's start is either, and is said. Returns whether the check passed.
sub check_fuse_race_read {
    my ($doc, $race, $name) = @_;
    my ($load) = grep { $_->{page} == 4 } @{ $race->{reads} // [] };
    my $punch = race_punch($doc, $race);
    return ok(0, "$name: the load of page 4 and the punch both seen") unless $load && $punch;
    my $change = $punch->{data_change_ns} || $punch->{end_ns};
    my ($from, $to) = ($load->{t_ns} - $change, $load->{t_ns} + $load->{access_ns} - $change);
    my $when = sprintf '%+.3f to %+.3f ms from the data change, which ran to %+.3f', $from / 1e6, $to / 1e6,
      ($punch->{end_ns} - $change) / 1e6;
    my $found = fuse_race_read_found($doc, $race);
    return ok($found, "$name: the load of page 4 during the punch ($when) is an unblocked fault")
      || diag(explain { load => $load, punch => scalar_fields($punch) })
      if $from >= 0 && $load->{t_ns} + $load->{access_ns} <= $punch->{end_ns};
    return ok(!$found, "$name: the load of page 4 before the data change ($when) is no unblocked fault") if $to < 0;
    note("$name: the load of page 4 ran $when: either");
    return 1;
}

# Before any check that nothing was found: the hooks saw the workload fault on its file.
sub workload_faults_seen {
    my ($doc, $race) = @_;
    my $st = file_stats($doc, $race);
    ok($st && $st->{faults}{read} + $st->{faults}{write} > 0, "the workload's faults were counted ("
        . ($st ? "$st->{faults}{read} read, $st->{faults}{write} write" : 'no file') . ')');
}

# A workload's file is its device and inode (race's "dev" and "ino"): another
# filesystem busy meanwhile may well have a file of the same inode number.
sub same_file {
    my ($x, $race) = @_;
    return $x->{ino} == $race->{ino} && $x->{dev} eq $race->{dev};
}

sub findings_for {
    my ($doc, $race, $kind) = @_;
    return grep { same_file($_, $race) && (!$kind || $_->{kind} eq $kind) } @{ $doc->{findings} };
}

sub file_stats {
    my ($doc, $race) = @_;
    my @f = grep { same_file($_, $race) } @{ $doc->{files} };
    return $f[0];
}

# What every row of a daxcheck --verdict JSON (DOC) must hold, WHAT naming it:
# UNSAFE exactly when the workload read back damage, and SAFE only with the
# lock read held at every data change of every attempt.
sub judge_verdict_rows {
    my ($what, $doc) = @_;
    for my $r (@{ $doc->{ops} }) {
        my $damage = $r->{damage}{wrong_pages} + $r->{damage}{lost_writes} + $r->{damage}{stale_reads};
        ok(($r->{verdict} eq 'UNSAFE') == ($damage > 0), "$what $r->{op}: UNSAFE exactly when the read-back found damage");
        ok($r->{verdict} ne 'SAFE' || ($r->{changes} > 0 && !$r->{changes_unlocked} && $r->{windows} >= $r->{attempts}),
            "$what $r->{op}: SAFE only with the lock read held at every data change of every attempt");
    }
}

# A guest's verdict of NAME (artifacts verdict-NAME, -err and -mount, as the
# guest's verdict() prints them), KERNEL naming it: its JSON came, the check
# ran, each row as judge_verdict_rows judges it, and its rows told. The rows
# by operation, or nothing if its JSON did not come.
sub guest_verdict {
    my ($k, $name, $art) = @_;
    my $doc = eval { decode_json($art->{"verdict-$name"} // '') };
    ok($doc && $doc->{schema} eq 'daxscope.verdict/1', "$k $name: the verdict's JSON came")
      or return diag(($art->{"verdict-$name-mount"} // '') . ($art->{"verdict-$name-err"} // ''));
    unlike($art->{"verdict-$name-err"} // '', qr/^exit 2$/m, "$k $name: the check ran");
    diag(sprintf '%-4s %-12s %-21s %-15s %3d attempts, lock held at %d/%d%s', $k, $name, @$_{qw(op verdict attempts)},
        $_->{changes} - $_->{changes_unlocked} - ($_->{changes_lock_unknown} // 0), $_->{changes}, %{ $_->{findings} } ? ' ' . encode_json($_->{findings}) : '')
      for grep { $_->{verdict} ne 'not supported' } @{ $doc->{ops} };
    judge_verdict_rows("$k $name", $doc);
    return { map { $_->{op} => $_ } @{ $doc->{ops} } };
}

1;
