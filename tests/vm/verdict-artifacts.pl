#!/usr/bin/perl
# A verdict guest's console (tests/vm/verdict-rows.sh) or a virtio-fs guest's
# (tests/vm/virtiofs-verdict.sh) on stdin: each filesystem's daxcheck
# --verdict JSON into DIR/KERNEL-NAME.json, and its line
# of the index tests/truth/verdict-table.pl reads on stdout (name, version,
# how it was mounted, file).
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
    'virtiofs-dax' => "virtiofsd (../shared/vmm) -o cache=always, mount -t virtiofs -o dax=always (5.10: -o dax)",
    'virtiofs'     => "virtiofsd (../shared/vmm) -o cache=always, mount -t virtiofs -o dax=never (5.10: no option)",
);
my $log = do { local $/; <STDIN> };
$log =~ tr/\r//d;
my $missing = 0;
my $virtiofs = $log =~ /^\@\@ARTIFACT virtiofs-mount\@\@$/m;
for my $name ($virtiofs ? qw(virtiofs-dax virtiofs) : qw(ext4 ext4-1k ext4-dax xfs-dax delayfs)) {
    my ($json) = $log =~ /^\@\@ARTIFACT verdict-\Q$name\E\@\@\n(.*?)^\@\@END/ms;
    next if $name =~ /dax/ && $log =~ /^(DAX verdicts|virtio-fs DAX verdict) skipped/m;
    if (($json // '') !~ /^\{"schema"/) {
        print STDERR "verdicts: $kernel: no verdict for $name\n";
        $missing++;
        next;
    }
    my $file = "$dir/$kernel-$name.json";
    open(my $f, '>', $file) or die "verdict-artifacts: $file: $!\n";
    print $f $json;
    print "$name\tDebian's $kernel\t$how{$name}\t$file\n";
}
exit($missing ? 1 : 0);
