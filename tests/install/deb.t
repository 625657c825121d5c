#!/usr/bin/perl
# The Debian package, built from the tree (make deb: dpkg-buildpackage on a
# copy), lintian-clean, installed on this machine (dpkg -i): the installed
# daxtrace, run from / , records a real FUSE punch race and reports the write
# the workload lost; the installed daxtop -b runs once; dpkg --purge leaves
# nothing of it behind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use JSON::PP;
use Test::More;

need_kernel_bpf();
plan skip_all => 'no FUSE (/dev/fuse)' unless -c '/dev/fuse';
for my $tool (qw(dpkg-buildpackage dh help2man)) {
    plan skip_all => "$tool missing (scripts/deps.sh installs debhelper, help2man)" unless `sh -c 'command -v $tool'`;
}
# an operator's own daxscope stays as it is
sub package_status { scalar `dpkg-query -W -f='\${Status}' daxscope 2>/dev/null` }
plan skip_all => 'a daxscope package is on this machine already (' . package_status() . '): not replaced by a test'
  unless package_status() =~ /^(|.* not-installed)$/;

my $version = (slurp(top() . '/debian/changelog') =~ /^daxscope \(([^)]+)\)/)[0];
my $build = build();
# the package's own check runs the unit tests, which this suite runs already
my ($rc, $out, $err) = run_cmd('env', 'DEB_BUILD_OPTIONS=nocheck', 'make', '-C', top(), '--no-print-directory', 'deb');
is($rc, 0, 'make deb') or stop_here("make deb failed:\n" . substr($out . $err, -3000));
my ($deb) = glob "$build/deb/daxscope_${version}_*.deb";
ok($deb, "the package: daxscope_$version") or stop_here('no .deb in build/deb');

SKIP: {
    skip 'lintian missing (scripts/deps.sh installs it)', 1 unless `sh -c 'command -v lintian'`;
    ($rc, $out, $err) = run_cmd('lintian', '--fail-on', 'error,warning', glob "$build/deb/daxscope_${version}_*.changes");
    ok($rc == 0 && $out !~ /^[EW]: /m, 'lintian: no error, no warning (the info tags left are overridden, with why)')
      or diag($out, $err);
}

($rc, $out, $err) = run_cmd('dpkg', '-i', $deb);
is($rc, 0, 'dpkg -i') or stop_here($out . $err);
cleanup_later(sub { system('dpkg', '--purge', 'daxscope') if package_status() !~ /not-installed|^$/ });
($rc, $out) = run_cmd('dpkg', '-L', 'daxscope');
my @files = split /\n/, $out;
for my $want (qw(/usr/bin/daxtrace /usr/sbin/daxtop /usr/sbin/daxcheck /usr/sbin/daxexport
    /usr/share/man/man1/daxtrace.1.gz /usr/share/man/man8/daxexport.8.gz /lib/systemd/system/daxexport.service
    /etc/default/daxexport /usr/share/bash-completion/completions/daxtrace /usr/share/daxscope/prometheus/daxscope.rules.yml)) {
    ok((grep { $_ eq $want } @files), "installed: $want");
}
($rc, $out) = run_cmd('/usr/bin/daxtrace', '--version');
is($out, "daxtrace $version\n", 'the installed daxtrace is this version');

# the installed binary, from /: its BPF programs are inside it (the skeleton), nothing read from the tree
chdir '/' or die;
my $mnt = mount_delayfs(50);
{
    local $Daxscope::Test::DAXTRACE = '/usr/bin/daxtrace';
    # pages 2..5 punched; the server punches at ~50 ms and replies at ~100 ms (as tests/kernel/fuse_race.t)
    my ($cap, $banner, $race_out, $race_rc) = record_around(workload =>
          [ build() . '/race', '--file', "$mnt/racefile", '--punch', '8192:16384', '--write-at', '70:3', '--write-at', '70:9' ]);
    is($race_rc, 0, 'race workload ran');
    like($banner, qr/watching:.*fallocate punches/, 'the installed daxtrace watches punches');
    my $race = eval { decode_json($race_out) };
    ok($race, 'the race said what it did (JSON)') or stop_here("race output: $race_out");
    my $doc = report_json($cap);
    ok($doc, 'the installed daxtrace reports the capture') or stop_here('no report');
    my %lost = check_race_findings($doc, $race, 2, 5, "$mnt/racefile");
    ok($lost{3}, 'precondition: the write 70 ms into the punch was lost');
    ok((grep { $_->{page_index} == 3 } findings_for($doc, $race, 'discarded_write')),
        'the installed daxtrace reports it as a discarded write');
}
($rc, $out, $err) = run_cmd('/usr/sbin/daxtop', '-b', '-n', '1', '-i', '0.5');
is($rc, 0, 'the installed daxtop -b runs once') or diag($err);
like($out, qr/FILE/, 'daxtop -b prints its table') or diag($out);

($rc, $out, $err) = run_cmd('dpkg', '--purge', 'daxscope');
is($rc, 0, 'dpkg --purge') or diag($out, $err);
like(package_status(), qr/^(|.* not-installed)$/, 'the package is gone, its conffiles too');
my @left = grep { -e || -l } @files[ 1 .. $#files ];
@left = grep { !-d || m{/daxscope} } @left;    # directories other packages share stay
is("@left", '', 'no file of the package is left (conffile /etc/default/daxexport purged too)');
done_testing();
