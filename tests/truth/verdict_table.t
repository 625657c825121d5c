#!/usr/bin/perl
# docs/filesystems.md is made by tests/truth/verdict-table.pl alone: kept
# whole, its host's part (--host-of) and its guests' part (--guests-of) make
# the same file again, notes and sections included. A hand edit, or a keep
# that loses or adds a line, fails here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Daxscope::Test;
use Test::More;
use List::Util qw(uniq);

my $doc = top() . '/docs/filesystems.md';
my ($rc, $out, $err) = run_cmd(top() . '/tests/truth/verdict-table.pl', '--host-of', $doc, '--guests-of', $doc);
is($rc, 0, 'verdict-table.pl keeps both parts') or diag($err);
my $made = scratch_dir() . '/filesystems.md';
open(my $f, '>', $made) or die "$made: $!";
print $f $out;
close($f);
ok($out eq slurp($doc), 'and makes docs/filesystems.md again, byte for byte') or diag(scalar `diff -u $doc $made`);
($rc, $out, $err) = run_cmd(top() . '/tests/truth/verdict-table.pl', '--host-of', "$doc.missing", '--guests-of', $doc);
isnt($rc, 0, 'a table to keep that is not there: an error');
like($err, qr/^verdict-table: \Q$doc\E\.missing: /m, '... naming it');

# A filesystem a guest could not check at all (its module or its mkfs missing)
# keeps its row and says why: the guest's artifact verdict-NAME-cannot
# (tests/vm/verdict-rows.sh; the kernel from the console's first line, after its escapes), its index line (tests/vm/verdict-artifacts.pl),
# its row and section (verdict-table.pl), kept as they are by --guests-of.
my $dir = scratch_dir();
my $why = 'no mkfs.f2fs on the host that built this guest (its package is not installed)';
open(my $console, '>', "$dir/console.log") or die "$dir/console.log: $!";
print $console "\e[2J\@\@DAXSCOPE-GUEST-BEGIN\@\@ 5.10.0-32-amd64\r\n\@\@ARTIFACT verdict-f2fs-cannot\@\@\r\n$why\r\n",
  "\@\@END verdict-f2fs-cannot\@\@\r\n";
close($console);
($rc, $out, $err) = run_cmd('sh', '-c', top() . "/tests/vm/verdict-artifacts.pl 5.10 $dir < $dir/console.log");
like($err, qr/^verdicts: 5\.10: no verdict for ext4$/m, 'a verdict that did not come: an error');
like($out, qr/^ext4\tDebian's 5\.10\t[^\t]+\tcould not check: the guest never came to it\t5\.10\.0-32-amd64$/m,
    '... and its row says so');
my @f2fs = grep { /^f2fs\t/ } split /\n/, $out;
is_deeply(\@f2fs, ["f2fs\tDebian's 5.10\tthe host's mkfs.f2fs on a pmem device of the guest\tcould not check: $why\t5.10.0-32-amd64"],
    'one the guest could not check: its index line says why, with the kernel');
unlike($out, qr/^btrfs\t/m, 'btrfs, not asked for: none');

# The NFS row's section says what the client sent the server (its per-op RPC counts, artifact verdict-nfs-ops)
open($console, '>', "$dir/nfs.log") or die "$dir/nfs.log: $!";
print $console "\@\@DAXSCOPE-GUEST-BEGIN\@\@ 6.12.117+deb13-amd64\r\n\@\@ARTIFACT verdict-nfs-mount\@\@\r\n127.0.0.1:/ /mnt/nfs nfs4\r\n",
  "\@\@END verdict-nfs-mount\@\@\r\n\@\@ARTIFACT verdict-nfs\@\@\r\n{\"schema\":\"daxscope.verdict/1\"}\r\n\@\@END verdict-nfs\@\@\r\n",
  "\@\@ARTIFACT verdict-nfs-ops\@\@\r\n\t    ALLOCATE: 0 0 0 0 0 0 0 0 0\r\n\t  DEALLOCATE: 9 9 0 1764 1512 0 31 33 0\r\n",
  "\t       CLONE: 1 1 0 248 112 0 0 1 1\r\n\t        COPY: 24 24 0 6240 3840 1 75 81 0\r\n\@\@END verdict-nfs-ops\@\@\r\n";
close($console);
($rc, $out, $err) = run_cmd('sh', '-c', top() . "/tests/vm/verdict-artifacts.pl 6.12 $dir < $dir/nfs.log");
like($out, qr/^nfs\tDebian's 6\.12\t[^\t]+; the client sent the server DEALLOCATE 9×, CLONE 1× \(1 refused\), COPY 24×\t\Q$dir\E\/6\.12-nfs\.json$/m,
    'the NFS row: the operations its client sent the server, those it refused, none it never sent');
open(my $index, '>', "$dir/index") or die "$dir/index: $!";
print $index "$f2fs[0]\n";
close($index);
($rc, $out, $err) = run_cmd(top() . '/tests/truth/verdict-table.pl', '--host-of', $doc, "$dir/index", 20);
is($rc, 0, 'verdict-table.pl makes a table of it') or diag($err);
my ($header) = $out =~ /^(\| filesystem \| kernel \|.*)$/m;
my ($row) = $out =~ /^(\| f2fs \| 5\.10\.0-32-amd64 \| could not check: \Q$why\E \|.*)$/m;
ok($row, 'its row says why') or diag($out);
is(($row // '') =~ tr/|//, ($header // '') =~ tr/|//, '... with a cell for each operation');
like($out, qr/^### f2fs \(5\.10\.0-32-amd64\)\n\nthe host's mkfs\.f2fs on a pmem device of the guest: could not check: \Q$why\E\.\n/m,
    'its section too');
open($f, '>', "$dir/made.md") or die;
print $f $out;
close($f);
my $made_once = $out;
($rc, $out, $err) = run_cmd(top() . '/tests/truth/verdict-table.pl', '--host-of', "$dir/made.md", '--guests-of', "$dir/made.md");
ok($rc == 0 && $out eq $made_once, 'kept by --guests-of as it is') or diag($err, scalar `echo '$out' | diff -u $dir/made.md -`);

# A guest filesystem measured alone (--guests-of OLD.md ADDED-INDEX): its rows
# added after their kernels' last, one in place of a kept row of its label;
# every other row, section and the host's part kept word for word.
my @kept_rows = grep { /^\| \S+ \| \d+\.\d+\./ } split /\n/, slurp($doc);
my ($kernel_510, $kernel_next) = uniq(map { (/^\| \S+ \| (\S+) /)[0] } @kept_rows);
open($index, '>', "$dir/added") or die "$dir/added: $!";
print $index "newfs\tDebian's 5.10\tnew\tcould not check: a test's\t$kernel_510\n",
  "f2fs\tDebian's 5.10\tthe host's mkfs.f2fs\tcould not check: measured again\t$kernel_510\n";
close($index);
($rc, $out, $err) = run_cmd(top() . '/tests/truth/verdict-table.pl', '--host-of', $doc, '--guests-of', $doc, "$dir/added");
is($rc, 0, 'verdict-table.pl adds rows to the kept ones') or diag($err);
my @rows = grep { /^\| \S+ \| \d+\.\d+\./ } split /\n/, $out;
my ($at) = grep { $rows[$_] =~ /^\| newfs \| \Q$kernel_510\E \| could not check: a test's \|/ } 0 .. $#rows;
ok(defined $at && $rows[$at - 1] =~ /\| \Q$kernel_510\E \|/ && $rows[$at + 1] !~ /\| \Q$kernel_510\E \|/,
    "the added row after its kernel's last") or diag(join "\n", @rows);
is(scalar(grep { /^\| f2fs \| \Q$kernel_510\E \| could not check: measured again \|/ } @rows), 1, 'a measured row in place of the kept one');
is_deeply([ grep { !/^\| (newfs|f2fs) \| \Q$kernel_510\E / } @rows ], [ grep { !/^\| f2fs \| \Q$kernel_510\E / } @kept_rows ],
    'every other row kept, in its order');
like($out, qr/^### \S+ \(\Q$kernel_510\E\)\n.*?\n### newfs \(\Q$kernel_510\E\)\n\nnew: could not check: a test's\.\n\n### \S+ \(\Q$kernel_next\E\)/ms,
    'its section after its kernel\'s last');
ok(index($out, (slurp($doc) =~ /\A(.*?)^## In the QEMU guests/ms)[0]) == 0, "the host's part kept");
done_testing();
