#!/usr/bin/perl
# The per-fault hooks on demand (the default): detached while no mapped file
# is punched, attached by the first punch of a mapped file (whose window is
# marked faults_unwatched, never passed off as clean), and by a file mapped
# during a punch; detached again after --hooks-idle. --fault-hooks=always
# keeps them from the start.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;

need_kernel_bpf();

my $dir = scratch_dir();
my $cap = "$dir/hooks.dxc";

# daxtrace record with ARGS, into the one capture, once it says it is watching: (pid, banner).
sub start { start_recorder($cap, "$dir/record.err", @_) }

sub stop {
    is(stop_recorder($_[0]), 0, 'daxtrace record exited 0') or diag(slurp("$dir/record.err"));
}

# A punch of pages 2-3 of a mapped file, raced by a store to page 3 and a load
# of page 4 1 ms after it starts: on ext4 the punch is over by then, and the
# faults land while the file lingers armed (at 0 ms they could come before
# the window opened, and nothing counts them).
sub race_mapped {
    my ($path) = @_;
    return run_cmd(build() . '/race', '--file', $path, '--punch', '8192:16384', '--write-at', '1:3', '--read-at', '1:4');
}

sub punch { system('fallocate', '-p', '-o', 0, '-l', 8192, $_[0]) == 0 or die "fallocate $_[0]" }

sub write_file {
    my ($path, $bytes) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh "\x5a" x $bytes;
    close $fh;
}

# The punch windows of the file at PATH, in order.
sub windows_of {
    my ($doc, $path) = @_;
    my ($dev, $ino) = stat $path or return ();
    my $id = sprintf '%d:%d', ($dev >> 8) & 0xfff | ($dev >> 32) & ~0xfff, $dev & 0xff | ($dev >> 12) & ~0xff;
    return sort { $a->{begin_ns} <=> $b->{begin_ns} } grep { $_->{ino} == $ino && $_->{dev} eq $id } @{ $doc->{punches} };
}

# The recorder PID's BPF map NAME (found through its fds, not by name: other
# tracers may run), as bpftool dumps it with its BTF: its entries' {key, value}.
sub recorder_map {
    my ($pid, $name) = @_;
    for my $f (glob "/proc/$pid/fdinfo/*") {
        my ($id) = slurp($f) =~ /^map_id:\s*(\d+)/m or next;
        my $show = eval { decode_json(scalar `bpftool -j map show id $id 2>/dev/null`) } or next;
        next unless $show->{name} eq $name;
        my $dump = eval { decode_json(scalar `bpftool -j map dump id $id 2>/dev/null`) } // [];
        return map { $_->{formatted} } @$dump;
    }
    return ();
}

# A global variable of the recorder's BPF programs, from its SECTION (bss, data).
sub recorder_global {
    my ($pid, $section, $var) = @_;
    my ($map) = recorder_map($pid, "daxscope.$section") or return undef;
    my ($pair) = grep { exists $_->{$var} } @{ $map->{value}{".$section"} };
    return $pair ? $pair->{$var} : undef;
}

# The recorder's kernel-side window of the file at PATH, once it ended (undef before).
sub ended_window {
    my ($pid, $path) = @_;
    my $ino = (stat $path)[1];
    my ($w) = grep { $_->{key}{ino} == $ino && $_->{value}{end} } recorder_map($pid, 'armed_files');
    return $w && $w->{value};
}

# Only punches under --path ask for the hooks: a mapped file punched elsewhere
# on the machine meanwhile (a test of one's own beside the suite did, once)
# would attach them before the test's own punch.
subtest 'on demand: attached by a punch of a mapped file, detached when idle' => sub {
    my $fs = "$dir/ext4";
    mkdir $fs;
    system("truncate -s 64M $dir/ext4.img && mkfs.ext4 -q -F $dir/ext4.img") == 0 or BAIL_OUT('mkfs.ext4 failed');
    plan skip_all => 'cannot loop-mount an ext4 image here' if system('mount', '-o', 'loop', "$dir/ext4.img", $fs);
    cleanup_later(sub { system('umount', $fs) });
    my ($pid, $banner) = start('--hooks-idle=1', '--path', $fs);
    like($banner, qr/fault hooks attached while punches run on mapped files/, 'the banner says when the fault hooks run');
    like($banner, qr/watching:[^;]*mmaps during punches/, 'mmaps during punches are watched (on demand depends on it)');
    my $detached = scalar links_of($pid);
    ok($detached > 0, "recorder holds its other links ($detached)");

    write_file("$fs/plain", 65536);
    punch("$fs/plain") for 1 .. 3;
    ok(wait_until(sub { ended_window($pid, "$fs/plain") }, 5), 'the kernel side saw the punches of the unmapped file');
    is(recorder_global($pid, 'bss', 'fault_hooks_wanted'), 0, '... and did not ask for the fault hooks');
    is(recorder_global($pid, 'data', 'fault_hooks_epoch') % 2, 0, '... which are not attached (epoch even)');
    is(scalar links_of($pid), $detached, 'punches of a file nobody maps attach nothing');

    my ($rc, $out) = race_mapped("$fs/mapped");
    is($rc, 0, 'first race ran (its punch asks for the hooks)');
    ok(wait_until(sub { links_of($pid) > $detached }, 5), 'the fault hooks are attached ('
        . scalar(links_of($pid)) . " links, $detached before)");
    my $attached = scalar links_of($pid);
    ($rc, $out) = race_mapped("$fs/mapped");
    is($rc, 0, 'second race ran, hooks attached');
    my $second = decode_json($out);
    ok(wait_until(sub { links_of($pid) == $detached }, 10), 'detached again after --hooks-idle=1 ('
        . scalar(links_of($pid)) . " links, $attached attached)");
    stop($pid);

    my $doc = report_json($cap);
    my @plain = windows_of($doc, "$fs/plain");
    is(scalar(grep { !$_->{faults_unwatched} } @plain), 3, 'windows on the unmapped file are all watched');
    my @mapped = windows_of($doc, "$fs/mapped");
    is(scalar @mapped, 2, 'both punches of the mapped file were seen');
    ok($mapped[0] && $mapped[0]{faults_unwatched}, 'the first opened before the hooks: marked faults_unwatched');
    ok($mapped[1] && !$mapped[1]{faults_unwatched}, 'the second was watched');
    # this kernel's read faults are seen (tracepoints, or fentry): the kernel marks no window for them
    is(scalar(grep { $_->{reads_unwatched} } @plain, @mapped), 0, 'no window is reads_unwatched here');
    workload_faults_seen($doc, $second);
    is(file_stats($doc, $second)->{punches_faults_unwatched}, 1, 'the file counts one unwatched window');
    my ($trc, $text) = run_cmd(build() . '/daxtrace', 'report', $cap);
    like($text, qr/^1 punch window on a mapped file opened before the fault hooks were attached/m,
        'the text report says so, once');
};

subtest 'on demand: a file mapped during a punch marks it and attaches the hooks' => sub {
    my $log = "$dir/delayfs.log";
    # a 3 s punch: under load (a guest beside the test) the mmap came after an 800 ms one had ended
    my $mnt = mount_delayfs(1500, "--log=$log");
    write_file("$mnt/late", 65536);
    my ($pid) = start('--hooks-idle=1', '--path', $mnt);
    my $detached = scalar links_of($pid);
    my $puncher = fork // die "fork: $!";
    if (!$puncher) {
        exec 'fallocate', '-p', '-o', 0, '-l', 8192, "$mnt/late" or die;
    }
    # inside the punch: the server has its request
    ok(wait_until(sub { slurp($log) =~ /FALLOCATE received/ }, 5), 'the punch is in progress');
    open my $fh, '<', "$mnt/late" or die "$mnt/late: $!";
    my $addr = syscall(9, 0, 4096, 1, 1, fileno($fh), 0);    # mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)
    ok($addr > 0, 'mapped the file while it was being punched');
    my $byte = unpack 'C', unpack('P1', pack('Q', $addr));    # a read fault on page 0
    syscall(11, $addr, 4096);                                   # munmap
    close $fh;
    is(waitpid($puncher, WNOHANG), 0, 'the punch was still in progress after the mapping and its fault');
    ok(wait_until(sub { links_of($pid) > $detached }, 5), 'the mmap attached the fault hooks');
    waitpid $puncher, 0;
    is($? >> 8, 0, 'the punch ran');
    sleep 0.3;
    stop($pid);
    my @late = windows_of(report_json($cap), "$mnt/late");
    is(scalar @late, 1, 'the punch was seen') or diag(explain \@late);
    ok($late[0] && $late[0]{faults_unwatched}, 'mapped during it while the hooks were away: faults_unwatched')
      or diag(explain \@late);
    diag(sprintf 'read %#x through the mapping', $byte);
};

subtest '--fault-hooks=always: attached from the start, every window watched' => sub {
    my ($pid, $banner) = start('--fault-hooks=always');
    like($banner, qr/fault hooks always attached/, 'the banner says so');
    my $always = scalar links_of($pid);
    my ($rc, $out) = race_mapped("$dir/always");
    is($rc, 0, 'race ran');
    is(scalar links_of($pid), $always, 'no link came or went');
    stop($pid);
    my $doc = report_json($cap);
    my @w = windows_of($doc, "$dir/always");
    ok(@w == 1 && !$w[0]{faults_unwatched}, 'its one punch was watched');
    workload_faults_seen($doc, decode_json($out));
};

done_testing();
