#!/usr/bin/perl
# daxexport's systemd unit, installed (make install into a scratch PREFIX):
# systemd-analyze verify finds nothing to say, its exposure stays "OK"; and
# the capabilities it keeps are what daxexport needs: started as the unit
# would (root's uid, the unit's bounding set, no new privileges, the options
# of the environment file) it counts a real punch, every system call it
# makes (strace) passes the unit's filter, and without either capability it
# refuses to start and says why.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use HTTP::Tiny;
use Test::More;

plan skip_all => 'build/daxexport missing (a core-only build, LIVE=no)' unless -x build() . '/daxexport';
plan skip_all => 'help2man missing (Debian package help2man: scripts/deps.sh installs it)'
  unless `sh -c 'command -v help2man'`;

my $tmp = scratch_dir();
my ($rc, $out, $err) = run_cmd('make', '-C', top(), '--no-print-directory', 'install', "PREFIX=$tmp/usr",
    "SYSCONFDIR=$tmp/etc");
is($rc, 0, 'make install into a scratch PREFIX') or stop_here($err);
my $unit = "$tmp/usr/lib/systemd/system/daxexport.service";
my $text = slurp($unit);

SKIP: {
    skip 'systemd-analyze missing (Debian package systemd)', 4 unless `sh -c 'command -v systemd-analyze'`;
    # Documentation=man:daxexport(8) is looked up too: in the installed pages
    ($rc, $out, $err) = run_cmd('env', "MANPATH=$tmp/usr/share/man", 'systemd-analyze', 'verify', $unit);
    is($rc, 0, 'systemd-analyze verify: exit 0');
    is($out . $err, '', 'systemd-analyze verify: nothing to say (an unknown key is only a warning)');
    # exposure 0 (locked down) to 10 (unsafe); --threshold is in tenths
    ($rc, $out, $err) = run_cmd('systemd-analyze', 'security', '--offline=yes', '--threshold=30', $unit);
    my ($exposure) = $out =~ /Overall exposure level for \S+: ([\d.]+)/;
    ok(defined $exposure, 'systemd-analyze security rates the unit') or diag($out, $err);
    ok($rc == 0 && $exposure <= 3, "exposure $exposure: at most 3.0 (systemd's \"OK\")") or diag($out);
}

my ($bounding) = $text =~ /^CapabilityBoundingSet=(.*)$/m;
is($bounding, 'CAP_BPF CAP_PERFMON', 'the unit keeps CAP_BPF and CAP_PERFMON only');
like($text, qr/^NoNewPrivileges=yes$/m, 'no new privileges');
unlike($text, qr/^(User|DynamicUser)=/m, "root's uid: tracefs (0700) is root's");

SKIP: {
    skip 'needs root to load BPF programs', 6 if $> != 0;
    skip 'kernel has no BTF (/sys/kernel/btf/vmlinux)', 6 unless -r '/sys/kernel/btf/vmlinux';
    skip 'setpriv missing (util-linux)', 6 unless `sh -c 'command -v setpriv'`;
    BAIL_OUT('build/race missing: the build is incomplete') unless -x build() . '/race';
    my @caps = map { lc s/^CAP_//r } split ' ', $bounding;
    # as systemd starts it: the environment file's options (a free port after them), the unit's capabilities
    my $as_unit = sub {
        my ($port, $keep, $tracer) = @_;
        my $bound = join ',', '-all', map {"+$_"} @$keep;
        return ('sh', '-c', ". '$tmp/etc/default/daxexport' && exec setpriv --bounding-set=$bound --inh-caps=-all "
              . "--no-new-privs $tracer '$tmp/usr/sbin/daxexport' \$DAXEXPORT_OPTS --listen 127.0.0.1:$port -i 0.2");
    };
    for my $drop (@caps) {
        my @keep = grep { $_ ne $drop } @caps;
        ($rc, $out, $err) = run_cmd($as_unit->(free_port(), \@keep, ''));
        ok($rc == 1 && $err =~ /needs root, or CAP_BPF and CAP_PERFMON/, "without cap_$drop: refuses, saying why")
          or diag("rc $rc: $err");
    }
    my $port = free_port();
    my $dir = scratch_dir();
    # under strace, when there is one: every system call it makes must pass the unit's filter
    my $strace = `sh -c 'command -v strace'` ? "strace -f -qq -o '$dir/syscalls'" : '';
    my $pid = start_bg("$dir/daxexport.log", $as_unit->($port, \@caps, $strace));
    ok(wait_until(sub { slurp("$dir/daxexport.log") =~ /serving/ }, 20), 'with the unit\'s capabilities: it serves')
      or stop_here(slurp("$dir/daxexport.log"));
    unlike(slurp("$dir/daxexport.log"), qr/not readable/, 'tracefs is readable as root\'s uid without CAP_DAC_*');
    ($rc, $out, $err) = run_cmd(build() . '/race', '--file', "$dir/punched", '--punch', '8192:16384', '--write-at', '0:3');
    is($rc, 0, 'race workload ran') or diag($err);
    my $series = qr/^daxscope_file_punches_total\{[^}]*path="\Q$dir\E\/punched"\} 1$/m;
    my $metrics = '';
    wait_until(sub { $metrics = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$port/metrics")->{content} // '';
        $metrics =~ $series }, 10);
    like($metrics, $series, 'the punch is counted, on the file by its path');

    SKIP: {
        skip 'strace missing (scripts/deps.sh installs it)', 2 unless $strace;
        skip 'systemd-analyze missing (Debian package systemd)', 2 unless `sh -c 'command -v systemd-analyze'`;
        my ($daxexport) = grep { (readlink("/proc/$_/exe") // '') eq "$tmp/usr/sbin/daxexport" } map { m{(\d+)$} } glob '/proc/[0-9]*';
        kill 'TERM', $daxexport if $daxexport;    # not strace: it would detach and leave daxexport running
        waitpid $pid, 0;
        my %used = map { /^\d+\s+(\w+)\(/ ? ($1 => 1) : () } split /\n/, slurp("$dir/syscalls");
        my ($filter) = $text =~ /^SystemCallFilter=(.*)$/m;
        my %allowed = map { $_ => 1 } map { syscalls_of($_) } split ' ', $filter;
        ok(keys %used > 20, 'strace saw its system calls (' . scalar(keys %used) . ' kinds) from start to exit');
        # listmount and statmount (6.8+; strace 6.1 names them by number) are not in bookworm's
        # @system-service: the unit refuses them with EPERM and mounts.c goes back to mountinfo's
        # mount IDs for the run (systemd 256 and later list them there)
        my %refused_with_fallback = map { $_ => 1 } qw(listmount statmount syscall_0x1c9 syscall_0x1ca);
        my @refused = grep { !$allowed{$_} && !$refused_with_fallback{$_} } sort keys %used;
        is("@refused", '', "every one passes SystemCallFilter=$filter");
    }
}

# A SystemCallFilter word as system calls: a name, or a @group systemd-analyze expands (groups nest).
sub syscalls_of {
    my ($word) = @_;
    return $word unless $word =~ /^@/;
    return map { syscalls_of($_) } map { /^\s+([@\w-]+)$/ ? $1 : () } `systemd-analyze syscall-filter $word`;
}
done_testing();
