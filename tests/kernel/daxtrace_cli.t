#!/usr/bin/perl
# daxtrace's contract with operators: clear errors for bad input, missing
# privileges and damaged captures; SIGTERM detaches and flushes; the partial
# report of a damaged capture is still given, with a warning.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Compress::Zlib qw(crc32);
use JSON::PP;
use Test::More;

need_kernel_bpf();
my $dt = build() . '/daxtrace';

my ($rc, $out, $err) = run_cmd($dt, '--bogus');
is($rc, 2, 'unknown option: exit 2');
like($err, qr/unrecognized option '--bogus'.*--help/s, 'unknown option: named, with where to find the usage');
for my $bad (['-d', 'nan'], ['-d', 'inf'], ['-d', '2e10'], ['-d', '1e300'], ['-d', '0'], ['-p', '4294967297'],
    ['-p', '-1'], ['-p', '0'], ['--cgroup', '/tmp']) {
    ($rc, $out, $err) = run_cmd($dt, @$bad);
    ok($rc == 2 && $err =~ /invalid|not a cgroup/, "daxtrace @$bad: refused") or diag($err);
}
{
    my $keep = scratch_dir() . '/existing.dxc';
    open my $fh, '>', $keep or die;
    print $fh "precious\n";
    close $fh;
    ($rc, $out, $err) = run_cmd($dt, 'record', '-o', $keep, '-p', '1', '--cgroup', '/sys/fs/cgroup/no-such-group');
    ok($rc == 2 && slurp($keep) eq "precious\n", 'record that cannot start leaves an existing file alone');
}
($rc, $out, $err) = run_cmd($dt, 'report', '/dev/null', '-p', '5');
ok($rc == 2 && $err =~ /-p does not apply to report/, 'an option of another mode is refused, not ignored');
($rc, $out, $err) = run_cmd($dt, '-o', '/tmp/x.dxc', '-d', '1');
ok($rc == 2 && $err =~ /-o does not apply to live mode/, 'record\'s -o in live mode is refused');
($rc, $out, $err) = run_cmd($dt, 'report');
is($rc, 2, 'report without a file: exit 2');
($rc, $out, $err) = run_cmd($dt, 'record');
like($err, qr/record needs -o FILE/, 'record without -o: says so');
($rc, $out, $err) = run_cmd($dt, '-p', 'abc');
like($err, qr/invalid PID 'abc'/, 'bad pid: named');
($rc, $out, $err) = run_cmd($dt, 'report', '/nonexistent/capture');
is($rc, 1, 'missing capture: exit 1');
like($err, qr{/nonexistent/capture}, 'missing capture: file named');
($rc, $out, $err) = run_cmd($dt, 'report', '/etc/passwd');
like($err, qr{/etc/passwd: not a daxscope capture}, 'a text file is not a capture');

SKIP: {
    skip 'setpriv missing (util-linux)', 3 unless -x '/usr/bin/setpriv';
    ($rc, $out, $err) = run_cmd('/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
        '--inh-caps=-all', '--bounding-set=-all', $dt, '-d', '1');
    is($rc, 1, 'unprivileged: exit 1');
    like($err, qr/needs root, or CAP_BPF and CAP_PERFMON/, 'unprivileged: one clear line');
    my $dir = scratch_dir();
    chmod 0777, $dir;
    open my $fh, '>', "$dir/kept.dxc" or die;
    print $fh "precious\n";
    close $fh;
    chmod 0666, "$dir/kept.dxc";
    ($rc, $out, $err) = run_cmd('/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
        '--inh-caps=-all', '--bounding-set=-all', $dt, 'record', '-o', "$dir/kept.dxc", '-d', '1');
    ok($rc == 1 && slurp("$dir/kept.dxc") eq "precious\n" && !glob("$dir/.kept*"),
        'a record whose session cannot start leaves the existing file as it was, and no other');
}

# Root's uid without the capabilities (a service's bounding set), and the
# capabilities without root's uid (tracefs is root's, mode 0700): each said as it is.
SKIP: {
    skip 'setpriv missing (util-linux)', 4 unless -x '/usr/bin/setpriv';
    ($rc, $out, $err) = run_cmd('/usr/bin/setpriv', '--bounding-set=-all,+bpf', '--inh-caps=-all', $dt, '-d', '1');
    is($rc, 1, 'root without CAP_PERFMON: exit 1');
    like($err, qr/^daxtrace: needs root, or CAP_BPF and CAP_PERFMON, to load BPF programs \(missing here: CAP_PERFMON\)\n\z/,
        'root without CAP_PERFMON: the one missing capability named, not libbpf\'s errors') or diag($err);
    ($rc, $out, $err) = run_cmd('/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
        '--inh-caps=+bpf,+perfmon', '--ambient-caps=+bpf,+perfmon', $dt, '-d', '0.5');
    unlike($err, qr/no tracepoint syscalls/, 'CAP_BPF and CAP_PERFMON only: not told the kernel lacks its tracepoints');
    my $tracepoints = -e '/sys/kernel/tracing/events/syscalls' && $err =~ /tracepoint mode/;
    ok(!$tracepoints || $err =~ m{fallocate punches \(/sys/kernel/tracing not readable: needs root, or CAP_DAC_READ_SEARCH\)},
        'CAP_BPF and CAP_PERFMON only, tracepoint mode: tracefs not readable, and what reads it') or diag($err);
}

# A concern is watched whole or not at all: programs refused as a kernel
# could (DAXSCOPE_REFUSE), whichever of the fentry and tracepoint pairs loads here.
{
    my $banner = sub {
        local $ENV{DAXSCOPE_REFUSE} = shift;
        my (undef, undef, $err) = run_cmd($dt, '-d', '0.3');
        return $err =~ /^(daxscope: [^\n]*)/ ? $1 : $err;
    };
    my $watched = sub { my ($b, $what) = @_; $b =~ /(?<!NOT )watching: [^;]*\Q$what\E(?! at)[,;]/ };
    my $b = $banner->('on_vfs_fallocate_exit,on_fallocate_exit');
    ok(!$watched->($b, 'fallocate punches') && $b =~ /NOT watching: .*fallocate punches \(refused on request/,
        'an entry without its exit: fallocate punches not watched, and why') or diag($b);
    $b = $banner->('on_fuse_end,on_fuse_end_tp,on_fuse_end_fentry');
    ok(!$watched->($b, 'FUSE requests') && $b =~ /NOT watching: .*FUSE requests \(refused on request/,
        'a send without its end: FUSE requests not watched, and why') or diag($b);
    $b = $banner->('on_fuse_send');
    ok($watched->($b, 'FUSE requests'), 'a refused send with a stand-in that loads: FUSE requests still watched') or diag($b);
}

# A kernel without BTF, and one without tracefs mounted, simulated in a private
# mount namespace: daxtrace says what it cannot watch and runs the rest.
SKIP: {
    skip 'unshare missing (util-linux)', 5 unless -x '/usr/bin/unshare';
    ($rc, $out, $err) = run_cmd('/usr/bin/unshare', '-m', 'sh', '-c',
        "mount -t tmpfs none /sys/kernel/btf && exec $dt -d 1");
    is($rc, 0, 'no kernel BTF: still runs');
    like($err, qr/watching: FUSE requests; NOT watching: .*fallocate punches \(no kernel BTF\)/,
        'no kernel BTF: the banner says what is not watched and why');
    # what it watches it sees: a FUSE punch's FALLOCATE, from its send to its end (by unique: 6.18+)
    my $fuse = mount_delayfs(0);
    my $cap = scratch_dir() . '/nobtf.dxc';
    open my $f, '>', "$fuse/f" or die;
    print $f "\0" x 8192;
    close $f;
    ($rc, $out, $err) = run_cmd('/usr/bin/unshare', '-m', 'sh', '-c', "mount -t tmpfs none /sys/kernel/btf && "
        . "{ $dt record -o $cap -d 20 2> $cap.err & p=\$!; i=0; until grep -q watching $cap.err || [ \$i = 200 ]; do "
        . "sleep 0.1; i=\$((i+1)); done; fallocate -p -o 0 -l 4096 $fuse/f; kill -INT \$p; wait \$p; }");
    my $doc = $rc ? undef : report_json($cap);
    my ($fallocate) = grep { $_->{opcode} eq 'FALLOCATE' } @{ $doc->{fuse} // [] };
    my ($numbered, $kernel) = kernel_at_least(6, 18);
    SKIP: {
        skip "kernel $kernel: fuse_request_send numbers requests from 6.18 on", 1 unless $numbered;
        ok($fallocate && $fallocate->{count} >= 1, 'no kernel BTF: a FUSE punch\'s FALLOCATE joined from send to end')
          or diag("rc $rc: $err " . slurp("$cap.err") . encode_json($doc->{fuse} // []));
    }
    my (undef, undef, $normal) = run_cmd($dt, '-d', '0.5');
    ($rc, $out, $err) = run_cmd('/usr/bin/unshare', '-m', 'sh', '-c',
        "umount /sys/kernel/tracing 2>/dev/null; exec $dt -d 1");
    is($rc, 0, 'tracefs not mounted: mounts it and runs');
    is((split /\n/, $err)[0], (split /\n/, $normal)[0], 'tracefs not mounted: the same probes watched as with it');
}

# A real capture with a punch in it, stopped by SIGTERM.
my $dir = scratch_dir();
my ($cap, $banner, $race_out, $race_rc) = record_around(
    workload => [ build() . '/race', '--file', "$dir/f", '--punch', '8192:16384', '--write-at', '0:3' ]);
is($race_rc, 0, 'workload ran');
my $race = decode_json($race_out);
my $doc = report_json($cap);
ok($doc && $doc->{complete}, 'capture stopped by SIGINT is complete');
my $st = file_stats($doc, $race);
ok($st && $st->{punches} == 1, 'the punch is in the capture');
is($st->{path}, "$dir/f", 'its path was resolved') if $st;

# Names are the traced side's to choose: a file name and a task name (the
# executable's) with a newline, an ESC and bytes that are no UTF-8 still give
# strict UTF-8 JSON, and "<name>_bytes" gives the bytes back.
{
    my $evil = "r\e[2J\xff\xfe";
    system('cp', build() . '/race', "$dir/$evil") == 0 or die;
    my ($ecap, undef, undef, $erc) = record_around(
        workload => [ "$dir/$evil", '--file', "$dir/f\n\xff\xfe", '--punch', '8192:16384', '--write-at', '0:3' ]);
    is($erc, 0, 'hostile names: workload ran');
    my $edoc = report_json($ecap);    # decode_json: strict UTF-8
    ok($edoc, 'hostile names: the report is valid UTF-8 JSON');
    my ($ef) = grep { ($_->{path_bytes} // '') eq unpack('H*', "$dir/f\n\xff\xfe") } @{ $edoc->{files} // [] };
    ok($ef && $ef->{path} eq "$dir/f\n\x{fffd}\x{fffd}", 'the file: U+FFFD in path, the raw bytes in path_bytes');
    ok((grep { ($_->{task}{comm_bytes} // '') eq unpack('H*', $evil) } @{ $edoc->{punches} // [] }),
        'the punching task: its comm recovered from comm_bytes');
}

# The capture read as docs/capture-format.md describes it, from the doc's own tables:
# the header's fields, each record's header, the record types by name.
my $format = slurp(top() . '/docs/capture-format.md');
my %header_field = map { my ($offset, $size, $name) = split / \| /; ($name => [ $offset, $size ]) }
  $format =~ /^\| (\d+ \| \d+ \| \w+) \|/mg;
my ($magic) = $format =~ /\| magic \| `(\w+)`/;
my ($record_header_size, $record_fields) = $format =~ /a (\d+)-byte header `\{([^}]+)\}`/;
my @record_fields = map { (split ' ')[1] } split /, /, $record_fields // '';
my %record_type = $format =~ /^\| (\d+) \| ([A-Z_]+) \|/mg;
ok(keys %header_field >= 8 && $magic && $record_header_size && "@record_fields" eq 'type len crc32 reserved'
    && keys %record_type >= 6, 'docs/capture-format.md: header fields, record header and types read');

# The records of a capture: {type (its name), offset, payload}; dies where it is not as documented.
sub capture_records {
    my ($path) = @_;
    my $bytes = slurp($path);
    my %h = map { $_ => unpack('V', substr($bytes, $header_field{$_}[0], 4)) } qw(version abi event_size header_size);
    die "$path: magic\n" unless substr($bytes, $header_field{magic}[0], $header_field{magic}[1]) eq $magic;
    die "$path: header_size $h{header_size}\n" unless $h{header_size} == $header_field{kernel}[0] + $header_field{kernel}[1];
    my @records;
    for (my $at = $h{header_size}; $at < length $bytes;) {
        my %r;
        @r{@record_fields} = unpack 'V' x @record_fields, substr($bytes, $at, $record_header_size);
        my $payload = substr($bytes, $at + $record_header_size, $r{len});
        die "$path: record at $at: crc\n" unless crc32($payload) == $r{crc32};
        push @records, { type => $record_type{ $r{type} } // die("$path: type $r{type}\n"), offset => $at, payload => $payload };
        $at += $record_header_size + $r{len};
    }
    return @records;
}
my @records = eval { capture_records($cap) };
ok(@records && $records[-1]{type} eq 'END', 'the capture reads as documented, to its END record') or diag($@);

# The kernel's per-file counters close the capture: struct dx_file {u64 ino, u32 dev, u32 gen}, then
# struct dx_file_counts {u64 faults_read, faults_write, dax_pte, dax_pmd, deleted} (events.h).
my %deleted = map { my @f = unpack 'Q V V Q5', $_->{payload}; ($f[0] => $f[7]) } grep { $_->{type} eq 'FILE_COUNTS' } @records;
ok(($deleted{ $race->{ino} } // 0) >= 1, "the kernel's page counters of the punched file are in the capture ("
    . ($deleted{ $race->{ino} } // 'none') . ' pages deleted)');

my $size = -s $cap;
# cut between the first event and the end, so that events come before the damage
is($records[0]{type}, 'BANNER', 'the banner is the first record');
my ($first_event) = grep { $_->{type} eq 'EVENT' } @records;
ok($first_event, 'the capture holds events') or BAIL_OUT('no event in the capture');
my $first_end = $first_event->{offset} + $record_header_size + length $first_event->{payload};
for my $cut (int(($first_end + $size) / 2), $size - 5) {
    system('cp', $cap, "$dir/cut.dxc");
    truncate "$dir/cut.dxc", $cut;
    ($rc, $out, $err) = run_cmd($dt, 'report', "$dir/cut.dxc", '--json');
    is($rc, 1, "capture cut at $cut of $size bytes: non-zero exit");
    like($err, qr{\Q$dir\E/cut\.dxc: .*offset \d+}, 'damage reported with file and offset');
    my $partial = eval { decode_json($out) };
    ok($partial && !$partial->{complete} && $partial->{warning}, 'a partial JSON report, flagged incomplete');
    ok($partial && $partial->{events} > 0, 'what was readable before the damage is reported');
}
system('cp', $cap, "$dir/flip.dxc");
open my $fh, '+<', "$dir/flip.dxc" or die;
seek $fh, int($size * 3 / 4), 0;
print $fh "\xff\xfe\xfd\xfc";
close $fh;
($rc, $out, $err) = run_cmd($dt, 'report', "$dir/flip.dxc");
is($rc, 1, 'corrupted capture: non-zero exit');
like($err, qr{flip\.dxc: .*offset \d+}, 'corruption reported with file and offset');
like($out, qr/WARNING: .*only what was readable/s, 'text report carries the warning');

# SIGTERM, like SIGINT, detaches and flushes a valid capture.
my $pid = fork // die;
if (!$pid) { open STDERR, '>', "$dir/term.err"; exec $dt, 'record', '-o', "$dir/term.dxc"; }
sleep 1 until -s "$dir/term.err" || !kill(0, $pid);
sleep 1;
my @mine = links_of($pid);
ok(@mine > 0, 'daxtrace record holds BPF links (' . scalar(@mine) . ')');
kill 'TERM', $pid;
waitpid $pid, 0;
is($? >> 8, 0, 'record exits 0 on SIGTERM');
links_gone(\@mine, 'SIGTERM');
($rc, $out, $err) = run_cmd($dt, 'report', "$dir/term.dxc", '--json');
is($rc, 0, 'capture ended by SIGTERM reads cleanly');
# Without kernel BTF, clang or bpftool at build time: the core, the unit tests
# and a daxtrace that reports captures, and says why it cannot trace.
{
    my $nobpf = scratch_dir();
    my ($brc, $bout, $berr) = run_cmd('make', '-C', top(), "BUILD=$nobpf", 'VMLINUX_BTF=/nonexistent',
        "$nobpf/daxtrace", map { "$nobpf/tests/$_" } qw(test_capture test_correlate test_top test_json));
    is($brc, 0, 'a build without kernel BTF succeeds') or diag($berr);
    ok(!-e "$nobpf/daxscope.skel.h", 'and makes no BPF skeleton');
    for my $t (qw(test_capture test_correlate test_top test_json)) {
        my ($trc, $tout) = run_cmd("$nobpf/tests/$t");
        ok($trc == 0 && $tout !~ /^not ok/m, "$t passes in it");
    }
    my ($rrc, $rout) = run_cmd("$nobpf/daxtrace", 'report', $cap, '--json');
    my $doc = eval { decode_json($rout) };
    ok($rrc == 0 && $doc && @{ $doc->{punches} } >= 1, 'its daxtrace reports a capture');
    my (undef, undef, $lerr) = run_cmd("$nobpf/daxtrace", '-d', '1');
    like($lerr, qr/built without BPF.*only report captures/, 'and says why it cannot trace live');
}
done_testing();
