#!/usr/bin/perl
# The root monitors' budget against a hostile local user (issue 25), the user
# an unprivileged account this test creates and removes. DAXSCOPE_BUDGET_SECS
# (default 4) sets how long each attack runs; `make soak` runs them longer.
# - Blinding by file lookups: the user holds 15,000 open files and 20,000
#   mappings and punches deleted files (one hammered, a new one every 10 ms),
#   each a name lookup that finds nothing. Meanwhile root's FUSE race loses a
#   write: daxexport has it by path within seconds, no event is lost, the
#   lookups past the queue are counted, and `daxtrace record` names the file.
# - A flood of short-lived files (created, punched, deleted): `daxtop -b`
#   prints the rows that changed, at most 50 an interval, not every file's row,
#   and `daxtop --json` likewise (before: every file held, each interval); a
#   daxexport of its own (--idle-files 1) drops the files gone idle (the files
#   it holds, read from its metrics, fall back once the flood ends), and its
#   memory stays within what DX_FILES_HELD files hold (before: ~1.7 KB a file,
#   for good).
# - Counts inflated by inode reuse: on ext4 the user creates, writes, punches,
#   writes again and deletes files that take the same inode numbers again:
#   each file's write count in the report is its own (before: every file of
#   an inode number carried all the counts of the ones before it).
#   A device number a new tmpfs takes: its series start from zero, also when
#   it is mounted between two of daxexport's mount table reads with the mount
#   ID of the one unmounted (6.8+: the unique mount ID; before: 2, not 1).
# - A container's mount (another mount namespace): daxexport labels its series
#   with the namespace's type and mount point (mnt:[N]/PATH), not "unknown".
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);

need_kernel_bpf();
plan skip_all => 'no FUSE (/dev/fuse)' unless -c '/dev/fuse';
BAIL_OUT('build/daxexport missing: the build is incomplete') unless -x build() . '/daxexport';
plan skip_all => 'no sys/syscall.ph (package perl)' unless eval { require 'sys/syscall.ph'; 1 };
plan skip_all => 'prlimit missing (util-linux)' unless -x '/usr/bin/prlimit';
$SIG{PIPE} = 'IGNORE';
my ($uid, $gid, @as_user) = unprivileged_user("dxusr$$");
my $secs = $ENV{DAXSCOPE_BUDGET_SECS} || 4;

my $dir = scratch_dir();
chmod 0755, $dir or die;
my $udir = "$dir/u";
mkdir $udir or die;
chown $uid, $gid, $udir or die;

my $http = HTTP::Tiny->new(timeout => 5);
sub metrics { my $r = $http->get("http://127.0.0.1:$_[0]/metrics"); $r->{status} == 200 ? $r->{content} : '' }
sub value { my ($text, $series) = @_; $text =~ /^\Q$series\E (\S+)$/m ? $1 : undef }
sub peak_rss { slurp("/proc/$_[0]/status") =~ /^VmHWM:\s+(\d+) kB/m ? $1 / 1024 : -1 }    # MB
sub cpu_secs { my @f = split ' ', slurp("/proc/$_[0]/stat") =~ s/^.*\) //sr; ($f[11] + $f[12]) / 100 }

# One exporter for every case, and a recorder for the first.
my $port = free_port();
my $exporter = start_bg("$dir/export.log", build() . '/daxexport', '--listen', "127.0.0.1:$port", '-i', '0.5');
ok(wait_until(sub { slurp("$dir/export.log") =~ /serving/ }, 30), 'daxexport serves')
  or BAIL_OUT(slurp("$dir/export.log"));

# ---- case 1: blinding by file lookups ----
my $blinder = user_script($dir, 'blind.pl', <<'EOF');
# DIR FILES MAPS SECS: hold FILES open files and MAPS mappings, then for SECS punch deleted files:
# one hammered, and a new one every 10 ms. Prints the punches.
use strict; require 'sys/syscall.ph'; use Time::HiRes qw(time);
my ($dir, $nfiles, $nmaps, $secs) = @ARGV;
my @held;
for my $i (1 .. $nfiles) { open my $f, '>', "$dir/o$i" or die "open o$i: $!"; push @held, $f }
open my $big, '+>', "$dir/big" or die;
truncate $big, 2 * 4096 * $nmaps or die;
for my $i (0 .. $nmaps - 1) {    # every other page: no two mappings merge
    syscall(SYS_mmap(), 0, 4096, 1, 2, fileno($big), 2 * 4096 * $i) != -1 or die "mmap $i: $!";  # PROT_READ, MAP_PRIVATE
}
sub deleted { my ($name) = @_; open my $f, '+>', "$dir/$name" or die; print $f "\0" x 65536; $f->flush; unlink "$dir/$name"; $f }
my $hammered = deleted('hammered');
open my $ready, '>', "$dir/punching" or die;
my ($punches, $next, $fresh, $t0) = (0, 0, 0, time);
while (time - $t0 < $secs) {
    syscall(SYS_fallocate(), fileno($hammered), 3, 0, 4096) == 0 or die "punch: $!";  # FALLOC_FL_PUNCH_HOLE | KEEP_SIZE
    $punches++;
    next if time < $next;
    my $f = deleted('fresh' . $fresh++);
    syscall(SYS_fallocate(), fileno($f), 3, 0, 4096) == 0 or die "punch: $!";
    $punches++;
    $next = time + 0.01;
}
print "$punches $fresh\n";
EOF
my $mnt = mount_delayfs(50);
my $victim = "$mnt/victim";
my ($recorder) = start_recorder("$dir/blind.dxc", "$dir/blind.err");
my $lost0 = value(metrics($port), 'daxscope_lost_events_total') // 0;
my $cpu0 = cpu_secs($exporter);
my $t0 = time;
my $attack = start_bg("$dir/blind.out", '/usr/bin/prlimit', '--nofile=16000', @as_user, 'perl', $blinder, $udir, 15000,
    20000, $secs);
ok(wait_until(sub { -e "$udir/punching" }, 60), 'the user holds its files and mappings and punches deleted files')
  or BAIL_OUT(slurp("$dir/blind.out"));
my ($rc, $out) = run_cmd(build() . '/race', '--file', $victim, '--punch', '8192:16384', '--write-at', '70:3');
my $race_end = time;
my $race = eval { decode_json($out) } // {};
ok($rc == 0 && ($race->{lost_writes} // 0) > 0, 'meanwhile root\'s race loses a write') or diag($out);
my $seen = wait_until(sub { metrics($port) =~ /^daxscope_file_discarded_writes_total\{[^}]*path="\Q$victim\E"\} [1-9]/m }, 30);
my $delay = time - $race_end;
ok($seen && $delay < 10, sprintf('daxexport has the discarded write, by path, %.1f s after the race (budget 10 s)', $delay));
waitpid $attack, 0;
my ($punches, $fresh) = split ' ', slurp("$dir/blind.out");
ok(($fresh // 0) > 10, sprintf('the user punched %d times, %d deleted files (%.0f/s)', $punches // 0, $fresh // 0,
    ($punches // 0) / (time - $t0)));
my $text = metrics($port);
my $cpu = (cpu_secs($exporter) - $cpu0) / (time - $t0);
is((value($text, 'daxscope_lost_events_total') // -1) - $lost0, 0, 'daxexport lost no event');
my $dropped = value($text, 'daxscope_kernel_drops_total{reason="names"}');
ok(defined $dropped, "name lookups dropped, counted: $dropped");
my $rss = peak_rss($exporter);
ok($rss > 0 && $rss < 200, sprintf('daxexport peak RSS %.0f MB (budget 200)', $rss));
note(sprintf('daxexport CPU %.0f%% during the attack', 100 * $cpu));
stop_recorder($recorder);
# The text report: the JSON one lists every punch window, a million a minute of this attack, too many for a
# Perl structure (13 GB in an hour-long soak); the text names each finding and counts what was lost.
my ($trc, $text_report) = run_cmd(build() . '/daxtrace', 'report', "$dir/blind.dxc");
is($trc, 0, 'daxtrace report reads the capture');
like($text_report, qr/^\d+ events, 0 lost,/m, 'daxtrace record lost no event');
like($text_report, qr/^\S+ discarded_write +\Q$victim\E page 3 /m,
    'the capture holds the victim\'s discarded write and names its file')
  or diag(join "\n", grep { /discarded_write|lookups dropped|events,/ } split /\n/, $text_report);
diag(sprintf('case 1: delay to /metrics %.1f s, lost 0, names dropped %d, peak RSS %.0f MB, CPU %.0f%%', $delay,
    $dropped // -1, $rss, 100 * $cpu));

# ---- case 2: a flood of short-lived files ----
{
    my $churner = user_script($dir, 'churn.pl', <<'EOF');
# DIR SECS: for SECS, files created, written, punched and deleted, one after the other. Prints how many.
use strict; require 'sys/syscall.ph'; use Time::HiRes qw(time);
my ($dir, $secs) = @ARGV;
my ($n, $t0) = (0, time);
while (time - $t0 < $secs) {
    open my $f, '+>', "$dir/c$n" or die "$!";
    syswrite $f, "x" x 8192;
    syscall(SYS_fallocate(), fileno($f), 3, 0, 4096) == 0 or die "punch: $!";
    unlink "$dir/c$n";
    $n++;
}
print "$n\n";
EOF
    my $top = start_bg("$dir/top.out", build() . '/daxtop', '-b', '-i', '1');
    ok(wait_until(sub { slurp("$dir/top.out") =~ /^daxtop - /m }, 30), 'daxtop -b prints its tables');
    my $top_json = start_bg("$dir/top.json", build() . '/daxtop', '--json', '-i', '1');    # its stderr too
    ok(wait_until(sub { slurp("$dir/top.json") =~ /^\{/m }, 30), 'daxtop --json prints its objects');
    my $idle_port = free_port();
    my $idle_exporter = start_bg("$dir/export-idle.log", build() . '/daxexport', '--listen', "127.0.0.1:$idle_port",
        '-i', '0.5', '--idle-files', '1');
    ok(wait_until(sub { slurp("$dir/export-idle.log") =~ /serving/ }, 30), 'daxexport --idle-files 1 serves')
      or diag(slurp("$dir/export-idle.log"));
    my $rss0 = peak_rss($idle_exporter);
    # the files daxexport holds (seen, not dropped), read while the user makes them
    my ($seen, $dropped, $most_held) = (0, 0, 0);
    my $held = sub {
        my $m = metrics($idle_port);
        ($seen, $dropped) = map { value($m, $_) // 0 } 'daxscope_files', 'daxscope_files_dropped_total';
        $most_held = $seen - $dropped if $seen - $dropped > $most_held;
        $seen - $dropped;
    };
    my $churn = start_bg("$dir/churn.out", @as_user, 'perl', $churner, $udir, $secs);
    $held->(), sleep 0.25 while waitpid($churn, WNOHANG) == 0;
    my $rc = $?;
    my $files = slurp("$dir/churn.out") =~ s/\s+//gr;
    ok(!$rc && $files > 1000, "the user made, punched and deleted $files files in $secs s");
    sleep 2;
    my @tables = split /^(?=daxtop - )/m, slurp("$dir/top.out");
    my ($biggest) = sort { $b <=> $a } map { length } @tables;
    # at most 50 rows of 200 bytes, the header, the totals and the banner
    ok($biggest < 16384, "daxtop -b: the biggest of its " . scalar(@tables) . " tables is $biggest bytes (budget 16 KiB)");
    my @objects = map { eval { decode_json($_) } // () } grep { /^\{/ } split /\n/, slurp("$dir/top.json");
    my ($largest) = sort { $b <=> $a } map { length encode_json($_) } @objects;
    my ($left_out) = sort { $b <=> $a } map { $_->{files_left_out} // 0 } @objects;
    # 50 files of about 1.1 KiB (short paths), the totals and the banner; before, every file held each interval
    ok(@objects && $largest < 98304 && $left_out > 0, "daxtop --json: the largest of its " . scalar(@objects)
        . " objects is $largest bytes (budget 96 KiB), up to $left_out changed files an interval left out, counted");
    # Every file idle a second is dropped, its counts in its mount's (idle files): the files held stay
    # under DX_FILES_HELD (16,000) while the user makes them, and fall to the machine's own busy ones after
    # (the machine is shared). Without the drop they stay held: this fails, however short the attack.
    ok(wait_until(sub { $dropped > 0 && $held->() < 1000 }, 30) && $most_held <= 16000,
        "daxexport --idle-files 1: $dropped of $seen files seen dropped, the user's $files among them; "
        . "at most $most_held held (bound 16,000), " . ($seen - $dropped) . ' after');
    my $rss = peak_rss($idle_exporter);
    # DX_FILES_HELD (16,000) files at about 1.7 KB each, their tables' doubling and the events in flight:
    # docs/design.md, "Memory" (measured: 37 MB more after 61,706 files; before, ~1.7 KB a file for good)
    ok($rss0 > 0 && $rss - $rss0 < 80, sprintf('daxexport peak RSS %.0f -> %.0f MB (budget: 80 MB more)', $rss0, $rss));
    diag(sprintf('case 2: %d files, daxtop -b at most %d bytes an interval, --json %d, daxexport peak RSS %.0f -> '
        . '%.0f MB, %d files dropped, at most %d held', $files, $biggest, $largest // -1, $rss0, $rss, $dropped,
        $most_held));
}

# ---- case 6: counts inflated by inode reuse ----
SKIP: {
    skip 'mkfs.ext4 missing (package e2fsprogs)', 3 unless -x '/sbin/mkfs.ext4' || -x '/usr/sbin/mkfs.ext4';
    mkdir "$dir/ext4" or die;
    system("truncate -s 256M $dir/ext4.img && mkfs.ext4 -q -F $dir/ext4.img") == 0 or die 'mkfs.ext4';
    skip 'cannot loop-mount an ext4 image here', 3 if system('mount', '-o', 'loop', "$dir/ext4.img", "$dir/ext4");
    cleanup_later(sub { system('umount', "$dir/ext4") });
    chown $uid, $gid, "$dir/ext4" or die;
    my $reuser = user_script($dir, 'reuse.pl', <<'EOF');
# DIR N: N files, one after the other: 4 pages written, the first punched, 4 pages written again, deleted.
use strict; require 'sys/syscall.ph';
my ($dir, $n) = @ARGV;
my %inos;
for my $i (1 .. $n) {
    open my $f, '+>', "$dir/f" or die "$!";
    syswrite $f, "x" x 16384;
    syscall(SYS_fallocate(), fileno($f), 3, 0, 4096) == 0 or die "punch: $!";
    sysseek $f, 0, 0;
    syswrite $f, "y" x 16384;
    $inos{(stat $f)[1]}++;
    unlink "$dir/f";
    close $f;
}
printf "%d %d\n", $n, scalar keys %inos;
EOF
    my ($rec) = start_recorder("$dir/reuse.dxc", "$dir/reuse.err", "--fault-hooks=always");
    my ($rc, $out, $err) = run_cmd(@as_user, 'perl', $reuser, "$dir/ext4", 300);
    my ($files, $inos) = split ' ', $out;
    ok(!$rc && $inos < $files / 10, "the user made $files files on ext4 with $inos inode numbers") or diag($err);
    sleep 1.5;    # a snapshot of the kernel's counts after the last
    stop_recorder($rec);
    my $report = report_json("$dir/reuse.dxc");
    my $dev = `mountpoint -d $dir/ext4` =~ s/\s+//gr;
    my @mine = grep { $_->{dev} eq $dev } @{ $report->{files} };
    my ($max) = sort { $b <=> $a } map { $_->{faults}{write} // 0 } @mine;
    ok(@mine > 1, scalar(@mine) . ' files of those inode numbers in the report, told apart by generation');
    ok(($max // 0) <= 16, 'the most write faults of any one of them: ' . ($max // 0)
        . ' (its own: 8 pages written; budget 16)');
    diag(sprintf('case 6: %d files in the report, at most %d write faults each', scalar @mine, $max // 0));
}

# ---- case 6: a device number a new mount reuses ----
# A tmpfs punched three times, unmounted; another tmpfs takes its device number (the kernel hands out the lowest
# free): its series start from zero, not with the three of the one before.
SKIP: {
    my $punch = sub {
        my ($file, $n) = @_;
        open my $f, '+>', $file or die "$file: $!";
        syswrite $f, "x" x 16384;
        syscall(SYS_fallocate(), fileno($f), 3, 0, 4096) == 0 or die "punch: $!" for 1 .. $n;
        close $f;
    };
    my $dev_of = sub { my $d = (stat $_[0])[0]; sprintf '%d:%d', $d >> 8 & 0xfff, $d & 0xff | ($d >> 12 & 0xfff00) };
    my $punches = sub {
        my ($dev, $point) = @_;
        value(metrics($port), qq{daxscope_punches_total{dev="$dev",fstype="tmpfs",mountpoint="$point"}});
    };
    mkdir "$dir/$_" or die for 'old', 'new';
    skip 'cannot mount a tmpfs here', 5 if system('mount', '-t', 'tmpfs', 'dxold', "$dir/old");
    cleanup_later(sub { system("umount $dir/old 2>/dev/null") });    # if not unmounted below
    my $dev = $dev_of->("$dir/old");
    sleep 1.5;    # daxexport reads the mount table every 0.5 s: what a mount counts before it is read is the one before's
    $punch->("$dir/old/f", 3);
    ok(wait_until(sub { ($punches->($dev, "$dir/old") // 0) == 3 }, 10), "the first tmpfs, $dev: 3 punches");
    system('umount', "$dir/old") == 0 or die 'umount';
    sleep 1.5;    # daxexport reads the mount table every 0.5 s: it sees the device gone
    skip 'cannot mount a tmpfs here', 4 if system('mount', '-t', 'tmpfs', 'dxnew', "$dir/new");
    cleanup_later(sub { system("umount $dir/new 2>/dev/null") });    # if not unmounted below
    skip "the new tmpfs took another device number than $dev", 4 if $dev_of->("$dir/new") ne $dev;
    # punched once daxexport has read the new mount
    ok(wait_until(sub { defined $punches->($dev, "$dir/new") }, 10), "another tmpfs takes the device number $dev");
    $punch->("$dir/new/f", 1);
    my $seen;
    wait_until(sub { defined($seen = $punches->($dev, "$dir/new")) && $seen > 0 }, 10);
    is($seen, 1, 'its series count its own punch, not the 3 of the mount before');
    diag("case 6, mounts: $dev reused, the new mount's punches ${\($seen // 'none')} (before: 4)");

    # Unmounted and another mounted between two of daxexport's reads (it is stopped meanwhile): the kernel hands
    # out the mount ID and device number again, and mountinfo cannot tell them apart; the unique mount ID can (6.8+).
    my $mount_id = sub { slurp("/proc/self/mountinfo") =~ /^(\d+) \d+ \S+ \S+ \Q$_[0]\E /m ? $1 : -1 };
    my $id = $mount_id->("$dir/new");
    mkdir "$dir/newer" or die;
    kill 'STOP', $exporter;
    system('umount', "$dir/new") == 0 or die 'umount';
    sleep 0.3;    # the kernel frees the mount ID after an RCU grace period
    my $mounted = !system('mount', '-t', 'tmpfs', 'dxnewer', "$dir/newer");
    kill 'CONT', $exporter;
    skip 'cannot mount a tmpfs here', 2 unless $mounted;
    cleanup_later(sub { system('umount', "$dir/newer") });
    skip "the remount took another device number or mount ID than $dev, $id", 2
      if $dev_of->("$dir/newer") ne $dev || $id < 0 || $mount_id->("$dir/newer") != $id;
    skip 'no unique mount IDs before kernel 6.8 (statmount): such a remount is not told apart', 2
      unless kernel_at_least(6, 8);
    my $before;    # before the punch: the mount's before counted in, or not
    ok(wait_until(sub { defined($before = $punches->($dev, "$dir/newer")) }, 10), "daxexport reads the remount, $dev, ID $id");
    $punch->("$dir/newer/f", 1);
    wait_until(sub { defined($seen = $punches->($dev, "$dir/newer")) && $seen > $before }, 10);
    is($seen, 1, 'the remount\'s series count its own punch, not the mount\'s before with the same ID');
    diag("case 6, remount between two reads: $dev, mount ID $id reused, its punches ${\($seen // 'none')} (before: 2)");
}

# ---- containers' mounts: attributed to their mount namespace ----
SKIP: {
    my ($rc, undef, $err) = run_cmd(@as_user, 'unshare', '--user', '--map-root-user', '--mount', 'true');
    skip "no unprivileged user namespaces here: $err", 2 if $rc;
    mkdir "$udir/ns" or die;
    my $container = user_script($dir, 'container.pl', <<'EOF');
# DIR: a tmpfs mounted on DIR (in a user and mount namespace), a file there punched; prints its MAJ:MIN, then lingers.
use strict; require 'sys/syscall.ph';
my ($dir) = @ARGV;
my ($source, $type) = ('c', 'tmpfs');    # variables: syscall() may write its string arguments
syscall(SYS_mount(), $source, $dir, $type, 0, 0) == 0 or die "mount $dir: $!";
open my $f, '+>', "$dir/f" or die "$dir/f: $!";
print $f "\0" x 8192;
$f->flush;
syscall(SYS_fallocate(), fileno($f), 3, 0, 4096) == 0 or die "punch: $!";
my $dev = (stat $f)[0];
printf "%d:%d\n", $dev >> 8 & 0xfff, $dev & 0xff | ($dev >> 12 & 0xfff00);
sleep 2;    # a container lives on
EOF
    ($rc, my $out, $err) = run_cmd(@as_user, 'unshare', '--user', '--map-root-user', '--mount', 'perl', $container,
        "$udir/ns");
    my $dev = $out =~ s/\s+//gr;
    is($rc, 0, "the user punched a file on its own tmpfs, device $dev, in its mount namespace") or diag($err);
    my $labels;
    # (the device number may have been a mount of the machine's own, unmounted since: ours is newer)
    wait_until(sub { ($labels) = metrics($port) =~ /^daxscope_punches_total\{(dev="\Q$dev\E",[^}]*)\} [1-9]/m;
        ($labels // '') =~ /mnt:/ }, 10);
    like($labels // '', qr/^dev="\Q$dev\E",fstype="tmpfs",mountpoint="mnt:\[\d+\]\Q$udir\E\/ns"$/,
        'daxexport labels its series with the namespace\'s mount, not "unknown"');
    diag("case 4: $labels");
}

done_testing();
