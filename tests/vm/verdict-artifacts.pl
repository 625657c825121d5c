#!/usr/bin/perl
# A verdict guest's console (tests/vm/verdict-rows.sh) or a virtio-fs guest's
# (tests/vm/virtiofs-verdict.sh) on stdin: each filesystem's daxcheck
# --verdict JSON into DIR/KERNEL-NAME.json, and its line
# of the index tests/truth/verdict-table.pl reads on stdout (name, version,
# how it was mounted, file); where the guest could not check one (no module,
# no mkfs, no mount), "could not check: WHY" for the file and the guest's
# kernel after it.
#   verdict-artifacts.pl KERNEL DIR < console.log >> DIR/index
use strict;
use warnings;

my ($kernel, $dir) = @ARGV;
my %how = (
    'ext4'     => "mkfs.ext4 on a pmem device of the guest, no DAX",
    'ext4-1k'  => "mkfs.ext4 -b 1024 on a pmem device of the guest, no DAX",
    'ext4-dax' => "mkfs.ext4 on a pmem device of the guest, mount -o dax",
    'xfs-dax'  => "mkfs.xfs -m reflink=0 on a pmem device of the guest, mount -o dax",
    'delayfs'  => 'delayfs --delay-ms=0 over non-DAX ext4 in the guest',
    'btrfs'    => "the host's mkfs.btrfs on a pmem device of the guest",
    'f2fs'     => "the host's mkfs.f2fs on a pmem device of the guest",
    'nfs'      => "knfsd in the guest exporting non-DAX ext4 on a pmem device (NFSv4 only, its export caches "
      . "written by hand: tests/vm/nfs-verdict.sh), mount -t nfs4 -o vers=4.2 over 127.0.0.1",
    'virtiofs-dax' => "virtiofsd (../shared/vmm) -o cache=always, mount -t virtiofs -o dax=always (5.10: -o dax)",
    'virtiofs'     => "virtiofsd (../shared/vmm) -o cache=always, mount -t virtiofs -o dax=never (5.10: no option)",
);
my $log = do { local $/; <STDIN> };
$log =~ tr/\r//d;
my $missing = 0;
my $virtiofs = $log =~ /^\@\@ARTIFACT virtiofs-mount\@\@$/m;
my ($uname) = $log =~ /\@\@DAXSCOPE-GUEST-BEGIN\@\@ (\S+)/; # after the console's escapes
sub artifact { my ($name) = @_; my ($text) = $log =~ /^\@\@ARTIFACT \Q$name\E\@\@\n(.*?)^\@\@END/ms; return $text }
for my $name ($virtiofs ? qw(virtiofs-dax virtiofs) : qw(ext4 ext4-1k ext4-dax xfs-dax delayfs btrfs f2fs nfs)) {
    my $json = artifact("verdict-$name");
    my $cannot = artifact("verdict-$name-cannot");
    next if $name =~ /dax/ && $log =~ /^(DAX verdicts|virtio-fs DAX verdict) skipped/m;
    # btrfs, f2fs and nfs: only where the guest was asked for them (DAXSCOPE_VERDICT_ALL)
    next if $name =~ /^(btrfs|f2fs|nfs)$/ && !defined $cannot && !defined artifact("verdict-$name-mount");
    if (($json // '') !~ /^\{"schema"/) {
        # a module or mkfs missing is the guest's answer; a verdict that did not come, a failure
        unless (defined $cannot) {
            print STDERR "verdicts: $kernel: no verdict for $name\n";
            $missing++;
            my $err = artifact("verdict-$name-err");
            my $mount = artifact("verdict-$name-mount");
            $cannot = defined $err ? 'daxcheck gave no verdict: ' . ((split /\n/, $err)[-1] // '')
                : defined $mount ? 'it did not mount: ' . ((split /\n/, $mount)[0] // '')
                : 'the guest never came to it';
        }
        $cannot =~ s/\s+/ /g;
        $cannot =~ s/ \z//;
        print "$name\tDebian's $kernel\t$how{$name}\tcould not check: $cannot\t", $uname // $kernel, "\n";
        next;
    }
    my $file = "$dir/$kernel-$name.json";
    open(my $f, '>', $file) or die "verdict-artifacts: $file: $!\n";
    print $f $json;
    print "$name\tDebian's $kernel\t$how{$name}", $name eq 'nfs' ? nfs_ops() : '', "\t$file\n";
}

# What the NFS client sent the server (artifact verdict-nfs-ops: /proc/self/mountstats per-op lines,
# "OP: ops transmissions timeouts bytes-sent bytes-received queue rtt execute errors")
sub nfs_ops {
    my @sent;
    for (split /\n/, artifact('verdict-nfs-ops') // '') {
        my ($op, $n, $rest) = /^\s*(\w+): (\d+)((?: \d+)*)$/ or next;
        my $errors = (split ' ', $rest)[7];
        push @sent, "$op ${n}×" . ($errors ? " ($errors refused)" : '') if $n;
    }
    return @sent ? '; the client sent the server ' . join(', ', @sent) : '';
}
exit($missing ? 1 : 0);
