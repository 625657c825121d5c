#!/usr/bin/perl
# The shared VMM's QEMU segfaults now and then under a busy DAX window (a
# crash of the host's VMM, not of the guest): tests/vm/run-matrix.sh then
# boots the guest once more, on fresh virtiofsds and empty shares, and says
# so; a second crash fails the run. Here a stand-in QEMU (DAXSCOPE_VMM_QEMU)
# dies of SIGSEGV on its first boots and finishes a guest after: it checks
# that each boot finds every window's virtiofsd listening and its share
# empty (the first boot leaves a file in each).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Test::More;

plan skip_all => 'needs root (apt, depmod, device nodes)' if $> != 0;
plan skip_all => 'DAXSCOPE_VM=0: VM matrix disabled' if ($ENV{DAXSCOPE_VM} // '1') eq '0';

my @windows = (8, 16);
local $ENV{DAXSCOPE_DAX_WINDOWS_MB} = "@windows";

# A boot of the stand-in: what it found (one line a boot in OUT/boots), then
# a crash while CRASHES boots are left, else a guest that finished.
sub stand_in {
    my ($out, $crashes) = @_;
    my $qemu = "$out/qemu";
    open my $f, '>', $qemu or die "$qemu: $!";
    print $f <<"SH";
#!/bin/sh
n=\$(cat '$out/boots' 2> /dev/null | grep -c .)
found=""
for arg in "\$@"; do
	case \$arg in *socket,id=*,path=*) sock=\${arg##*path=}; [ -S "\$sock" ] && found="\$found listening" || found="\$found no-socket" ;; esac
done
for mb in @windows; do
	[ -z "\$(ls -A '$out'/share\$mb)" ] && found="\$found empty" || found="\$found not-empty"
	touch '$out'/share\$mb/left-by-boot\$n
done
echo "\$found" >> '$out/boots'
[ "\$n" -lt $crashes ] && kill -SEGV \$\$
echo "\@\@DAXSCOPE-GUEST-BEGIN\@\@ stand-in"
echo "\@\@DAXSCOPE-GUEST-END\@\@"
SH
    close $f;
    chmod 0755, $qemu;
    return $qemu;
}

sub boots { my ($out) = @_; open my $f, '<', "$out/boots" or return (); chomp(my @b = <$f>); @b }

my $fresh = join ' ', ('listening') x @windows, ('empty') x @windows;
{
    my $out = scratch_dir();
    local $ENV{DAXSCOPE_VMM_QEMU} = stand_in($out, 1);
    my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', '6.12', $out, 'virtiofs-model');
    plan skip_all => "cannot boot a 6.12 virtio-fs guest here: $stdout" if $rc == 3;
    is($rc, 0, 'a crash of the VMM, then a guest that finished: the run passes') or diag($stderr);
    like($stderr, qr/^the shared VMM's QEMU died of signal 11\b.*booting the guest once more$/m, 'it says the VMM crashed and it boots again');
    my @boots = boots($out);
    is(scalar @boots, 2, 'booted twice');
    is($boots[$_] // '', " $fresh", 'boot ' . ($_ + 1) . ': every virtiofsd listening, every share empty') for 0 .. 1;
    ok(-e "$out/console-vmm-crash.log", "the crashed boot's console kept apart");
}
{
    my $out = scratch_dir();
    local $ENV{DAXSCOPE_VMM_QEMU} = stand_in($out, 2);
    my ($rc, $stdout, $stderr) = run_cmd(top() . '/tests/vm/run-matrix.sh', '6.12', $out, 'virtiofs-model');
    is($rc, 1, 'the VMM crashed twice: the run fails');
    like($stderr, qr/guest did not finish/, 'and says the guest did not finish');
    is(scalar(my @b = boots($out)), 2, 'once more only');
}
done_testing();
