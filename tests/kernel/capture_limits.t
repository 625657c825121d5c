#!/usr/bin/perl
# `daxtrace record` where the capture cannot grow: a filesystem that fills up
# while it records, one already full, and --max-size. The capture is cut at a
# whole record and says so (a CUT record); the report reads it and says it was
# cut and how many events are missing; a full filesystem leaves no file at all.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep);

need_kernel_bpf();
my $dt = build() . '/daxtrace';
my $dir = scratch_dir();

# --max-size: strict, bounded, record only (the parse is done before any session)
for my $bad ('', 'abc', '10', '64k', '64KB', '64 K', '1.5M', '-64K', '+64K', '1P', '17T', '65535',
    '18446744073709551616', '99999999999999999999K', '16777216T') {
    my ($rc, undef, $err) = run_cmd($dt, 'record', '-o', "$dir/x.dxc", '--max-size', $bad);
    ok($rc == 2 && $err =~ /invalid --max-size '\Q$bad\E' \(bytes, or a number with K, M, G or T; 64K to 16T\)/,
        "--max-size '$bad': refused, with the accepted form and range") or diag($err);
}
for my $good ('64K', '65536', '1M', '3G', '16T') {
    my ($rc, undef, $err) = run_cmd($dt, 'report', '/dev/null', '--max-size', $good);
    ok($rc == 2 && $err =~ /--max-size does not apply to report/, "--max-size $good: parsed (then refused in report)")
      or diag($err);
}

# Punches a page-cache file over and over (each a window, its deletes, its writes: about six events)
# until killed: what fills the capture. On the scratch directory, not on the small mount.
sub start_puncher {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open my $fh, '+>', "$dir/punched" or die "$dir/punched: $!";
        my $SYS_fallocate = 285;    # x86_64, as captures are (docs/capture-format.md)
        while (1) {
            syswrite($fh, "x" x 8192, 8192, 0) // die;
            sysseek($fh, 0, 0);
            syscall($SYS_fallocate, fileno($fh), 3, 0, 8192) == 0 or die "fallocate: $!";    # PUNCH_HOLE | KEEP_SIZE
        }
    }
    cleanup_later(sub { kill 'KILL', $pid; waitpid $pid, 0 });
    return $pid;
}

# Records to $cap while the puncher runs, until the recorder stops by itself (or 60 s): (exit code, stderr).
sub record_until_it_stops {
    my ($cap, @args) = @_;
    my ($pid) = start_recorder($cap, "$dir/record.err", @args);
    my $puncher = start_puncher();
    wait_until(sub { waitpid($pid, WNOHANG) == $pid }, 60) or stop_recorder($pid);
    my $rc = $? >> 8;
    kill 'KILL', $puncher;
    waitpid $puncher, 0;
    return ($rc, slurp("$dir/record.err"));
}

# The report of a cut capture: text and JSON read it whole, and say why it was cut and what is missing.
sub check_cut_report {
    my ($cap, $label, $held, $cut_text, %cut) = @_;
    my ($rc, $out, $err) = run_cmd($dt, 'report', $cap, '--html', "$dir/$label.html", '--perfetto', "$dir/$label.json");
    is($rc, 0, "$label: the report reads the cut capture to its end") or diag($err);
    like($out, qr/^WARNING: \Q$cut_text\E\.$/m, "$label: the text report says it was cut, and how many events are missing");
    like(slurp("$dir/$label.html"), qr/Cut capture: \Q$cut_text\E/, "$label: so does the HTML page");
    is(eval { decode_json(slurp("$dir/$label.json"))->{otherData}{cut} }, $cut_text, "$label: and the trace");
    my $doc = report_json($cap);
    is($doc->{events}, $held, "$label: the report has the $held events the recorder said the capture holds");
    ok(!$doc->{complete}, "$label: JSON complete is false");
    is_deeply($doc->{cut}, \%cut, "$label: JSON cut says why and how many events are missing");
}

my $small = "$dir/small";
mkdir $small or die;
system('mount', '-t', 'tmpfs', '-o', 'size=256k', 'daxscope-test', $small) == 0 or stop_here('cannot mount a tmpfs');
cleanup_later(sub { system('umount', $small) });

# a filesystem that fills up while recording: before, a capture the report refused ("truncated record")
{
    my ($rc, $err) = record_until_it_stops("$small/full.dxc");
    is($rc, 1, 'filesystem full: record exits 1');
    my ($held, $missing) = $err =~ /^daxtrace: \Q$small\E\/full\.dxc: write failed: No space left on device; cut back to its last whole record, it holds (\d+) events, (\d+) not written$/m;
    ok(defined $held && $held > 0, 'filesystem full: says so, with the events kept and lost') or diag($err);
    is((stat "$small/full.dxc")[2] & 0777, 0600, 'filesystem full: the cut capture is in place, 0600');
    check_cut_report("$small/full.dxc", 'full', $held // -1,
        'the recording stopped when a write failed (No space left on device): ' . ($missing // '?') . ' events are not in the capture',
        reason => 'write_failed', error => 'No space left on device', max_size => undef,
        events_not_recorded => $missing // -1);
}

# already full: before, a 0-byte file the report rejected; now an error and no file
{
    system("dd if=/dev/zero of=$small/filler bs=4k status=none 2>/dev/null");
    my ($rc, undef, $err) = run_cmd($dt, 'record', '-o', "$small/none.dxc", '-d', '1');
    is($rc, 1, 'already full: record exits 1');
    like($err, qr/^daxtrace: \Q$small\E\/none\.dxc: cannot write the capture's header: No space left on device; nothing recorded, no file left$/m,
        'already full: says so') or diag($err);
    opendir my $dh, $small or die;
    is(join(' ', sort grep { !/^\.\.?$/ } readdir $dh), 'filler full.dxc', 'already full: no capture, no temporary left');
    unlink "$small/filler", "$small/full.dxc";
}

# --max-size: the recorder stops at the bound, exit 0, and says how much was left out
{
    my ($rc, $err) = record_until_it_stops("$dir/bounded.dxc", '--max-size', '64K');
    is($rc, 0, '--max-size 64K: record stops by itself, exit 0') or diag($err);
    my ($held, $missing) = $err =~ /^daxtrace: \Q$dir\E\/bounded\.dxc: stopped at --max-size 65536 bytes: it holds (\d+) events, (\d+) after them not written$/m;
    ok(defined $held && $held > 0, '--max-size 64K: says so, with the events kept and not written') or diag($err);
    my $size = -s "$dir/bounded.dxc";
    ok($size <= 65536 && $size > 60000, "--max-size 64K: the capture fills the bound, never passes it ($size bytes)");
    check_cut_report("$dir/bounded.dxc", 'bounded', $held // -1,
        'the recording stopped at --max-size 65536 bytes: ' . ($missing // '?') . ' events after it are not in the capture',
        reason => 'max_size', error => undef, max_size => 65536, events_not_recorded => $missing // -1);
}
done_testing();
