#!/usr/bin/perl
# The table of docs/filesystems.md, made only from daxcheck --verdict --json
# outputs (tests/truth/verdicts.sh lists them in INDEX: name, version, how it
# was mounted, JSON file; tests/vm/verdicts.sh the QEMU guests' in GUEST-INDEX),
# so that it cannot say anything the tool did not. With --guests-of, the
# guests' part is kept from a table made before (make verdicts VERDICTS_GUESTS=no:
# the host measured again, no guest booted); with --host-of, the host's
# (make verdicts VERDICTS_HOST=no: the guests booted again, the host not measured).
# --guests-of OLD.md ADDED-INDEX keeps the guests' rows and adds those of
# ADDED-INDEX (measured with the same seconds), each after its kernel's last,
# or in place of a kept one with its label: a guest filesystem measured alone.
#   verdict-table.pl INDEX SECONDS [GUEST-INDEX GUEST-SECONDS | --guests-of OLD.md [ADDED-INDEX]] > filesystems.md
#   verdict-table.pl --host-of OLD.md GUEST-INDEX GUEST-SECONDS > filesystems.md
use strict;
use warnings;
use JSON::PP;

my $host_of = ($ARGV[0] // '') eq '--host-of' ? (splice @ARGV, 0, 2)[1] : undef;
my ($index, $seconds, $guest_index, $guest_seconds, $added_index) = $host_of ? (undef, undef, @ARGV) : @ARGV;

# The verdicts an index lists; a guest's are labelled with their kernel. A
# filesystem a guest could not check at all (no module, no mkfs) is listed
# with "could not check: WHY" for its JSON and its kernel after it.
sub read_index {
    my ($file, $guest) = @_;
    open(my $in, '<', $file) or die "verdict-table: $file: $!\n";
    my @fs;
    while (<$in>) {
        chomp;
        my ($name, $version, $how, $json, $kernel) = split /\t/;
        if ($json =~ /^could not check: (.*)/) {
            push @fs, { name => $name, version => $version, how => $how, cannot => $1,
                        doc => { kernel => $kernel, ops => [] }, label => "$name ($kernel)" };
            next;
        }
        open(my $j, '<', $json) or die "verdict-table: $json: $!\n";
        my $doc = decode_json(do { local $/; <$j> });
        $doc->{schema} eq 'daxscope.verdict/1' or die "verdict-table: $json: schema $doc->{schema}\n";
        push @fs, { name => $name, version => $version, how => $how, doc => $doc,
                    label => $guest ? "$name ($doc->{kernel})" : $name };
    }
    return @fs;
}
# The host's or the guests' part of a table this script made, word for word
# (the host's: its heading and table, all before the guests' section; the
# guests': that section), and each one's own section, with the op, verdict and
# why of each of its bullets for the notes. Every guest label has a kernel in
# brackets, no host's has.
sub read_kept {
    my ($file, $guests) = @_;
    open(my $in, '<', $file) or die "verdict-table: $file: $!\n";
    my $md = do { local $/; <$in> };
    my ($table) = $guests ? $md =~ /^(## In the QEMU guests\n.*?)^## /ms : $md =~ /\A(.*?)^## /ms;
    defined $table or die "verdict-table: $file: no " . ($guests ? "guests'" : "host's") . " part\n";
    $table =~ s/\n+\z/\n/;
    my @kept;
    while ($md =~ /^(### ([^\n]+)\n.*?)(?=^### |\z)/gms) {
        my ($text, $label) = ($1, $2);
        next if $guests xor $label =~ / \([^\n]+\)$/;
        $text =~ s/\n+\z/\n/;
        my @ops = map { { op => $_->[0], verdict => $_->[1], why => $_->[2] } }
          map { [/^- (\w+): \*\*(.+?)\*\*: (.*)$/] } grep { /^- / } split /\n/, $text;
        push @kept, { label => $label, kept => $text, doc => { ops => \@ops } };
    }
    return ($table, @kept);
}
my ($kept_host, @fs) = $host_of ? read_kept($host_of, 0) : (undef, read_index($index, 0));
@fs or die "verdict-table: no verdicts in " . ($host_of // $index) . "\n";
my ($kept_table, @guests);
if (($guest_index // '') eq '--guests-of') {
    ($kept_table, @guests) = read_kept($guest_seconds, 1);
    add_guests(read_index($added_index, 1)) if $added_index;
} elsif ($guest_index) {
    @guests = read_index($guest_index, 1);
}

# The kept guests' rows as they are, with the guests measured since: each in
# place of the kept one with its label, else after its kernel's last row. The
# guests' part is then made again, its kept rows word for word.
sub add_guests {
    my @added = @_;
    my $kernel_of = sub { ($_[0]{label} =~ /\(([^()]+)\)$/)[0] };
    my %row_of = map { /^\| (\S+) \| (\S+) \|/ ? ("$1 ($2)" => "$_\n") : () } split /\n/, $kept_table;
    ($guest_seconds) = $kept_table =~ /`daxcheck --verdict --time (\d+)`/
      or die "verdict-table: $added_index: the kept guests' table says no --time\n";
    $_->{row} = $row_of{ $_->{label} } // die "verdict-table: no row for $_->{label}\n" for @guests;
    for my $f (@added) {
        my ($same) = grep { $guests[$_]{label} eq $f->{label} } 0 .. $#guests;
        my ($last) = reverse grep { $kernel_of->($guests[$_]) eq $kernel_of->($f) } 0 .. $#guests;
        splice @guests, $same // (defined $last ? $last + 1 : @guests), defined $same ? 1 : 0, $f;
    }
    $kept_table = undef;
}
my @ops = map { $_->{op} } @{ $fs[0]{doc}{ops} };

sub cell {
    my ($r) = @_;
    my $v = $r->{verdict};
    my $d = $r->{damage};
    return 'not supported' if $v eq 'not supported';
    return "could not check ($r->{attempts}×)" if $v eq 'could not check';
    my $unknown = $r->{changes_lock_unknown} // 0;
    my $s = "**$v** $r->{attempts}×, lock held at " . ($r->{changes} - $r->{changes_unlocked} - $unknown) . "/$r->{changes}";
    $s .= " ($unknown with no lock to read)" if $unknown;
    $s .= ", $r->{waits} waited" if $r->{waits};
    $s .= ", damage: $d->{wrong_pages} pages, $d->{lost_writes} lost, $d->{stale_reads} stale" if $v eq 'UNSAFE';
    return $s;
}

# A table: one row a filesystem, its second column COLUMN (the version, or a guest's kernel)
sub table {
    my ($column, $value, @rows) = @_;
    print "| filesystem | $column | ", join(' | ', @ops), " |\n";
    print '|---|---|', '---|' x @ops, "\n";
    for my $f (@rows) {
        print $f->{row} and next if $f->{row};
        print "| $f->{name} | ", $value->($f), " | could not check: $f->{cannot} |", ' |' x (@ops - 1), "\n" and next
          if $f->{cannot};
        my %by = map { $_->{op} => $_ } @{ $f->{doc}{ops} };
        print "| $f->{name} | ", $value->($f), ' | ', join(' | ', map { cell($by{$_}) } @ops), " |\n";
    }
}
if ($kept_host) {
    print $kept_host;
} else {
    my %kernels = map { $_->{doc}{kernel} => 1 } @fs;
    my ($date) = sort map { $_->{doc}{date} } @fs;
    print "# Punch safety of the filesystems people run\n\n",
      "Generated by `make verdicts` (`tests/truth/verdicts.sh`, `tests/truth/verdict-table.pl`) from the JSON of\n",
      "`daxcheck --verdict --time $seconds` on each filesystem: do not edit by hand. What each verdict means and\n",
      "rests on: [verdict.md](verdict.md). Kernel ", join(', ', sort keys %kernels), ", $date. A cell: the verdict, its\n",
      "attempts, at how many of the data changes the kernel sampled the operation held its fault lock, how many\n",
      "accesses were seen waiting on it, and for UNSAFE the damage the workload read back.\n\n";
    table('version', sub { $_[0]{version} }, @fs);
}
if ($kept_table) {
    print "\n$kept_table";
} elsif (@guests) {
    print "\n## In the QEMU guests\n\n",
      "Debian's kernels as the matrix boots them (`tests/vm/verdicts.sh`: two boots a kernel, fentry mode; xfs-dax,\n",
      "btrfs and f2fs (the host's mkfs, non-DAX) on a 512 MiB pmem device, and there too the ext4 that knfsd exports\n",
      "to the guest's own NFSv4.2 client over loopback (nfs), the others on a 256 MiB one; virtio-fs\n",
      "through the QEMU and virtiofsd of ../shared/vmm, a 32 MiB window), `daxcheck --verdict --time $guest_seconds`\n",
      "on each filesystem; same cells. No virtio-fs DAX row on 6.1: a DAX file's last release can deadlock its\n",
      "eviction there.\n\n";
    table('kernel', sub { $_[0]{doc}{kernel} }, @guests);
}

my $btrfs_510_no_lock =
  'btrfs in 5.10 has no fault rwsem at all: `i_mmap_lock` came in 5.13 (8318ba79eeeb "btrfs: add a i_mmap_lock to '
  . 'our inode"; Debian\'s 5.10 module has no such lock class), its faults take none (`btrfs_file_vm_ops`: '
  . '`filemap_fault`; `btrfs_page_mkwrite` locks the page\'s extent range), so daxscope learned none and reads none '
  . 'at the changes. The punch keeps reads out with the extent range lock and the retry of '
  . '`btrfs_punch_hole_lock_range` ("make sure ... nobody raced in and read a page in this range, if we did we need to '
  . 'try again"), which daxscope does not read: the refaults are such reads, dropped again';
my $nfs_no_fault_lock =
  'and an NFS fault takes nothing the operation holds: `nfs_file_vm_ops` is `filemap_fault`, which takes '
  . '`invalidate_lock` shared only to read a page in (and not at all before 5.15), and `nfs_vm_page_mkwrite`, which '
  . 'takes the page lock only. So a store through the mapping after the write-back dirties a cached page that still '
  . 'holds its bytes from before; written back once the server has changed the range (here by the writer\'s '
  . '`sync_file_range`; write-back at large does the same), it puts them there';
# Why a verdict comes out as it does, from the kernel source: printed only for
# the rows the JSON still gives that verdict, so that a note cannot outlive it.
# [filesystem pattern (a guest's: "NAME (KERNEL)"), operation pattern, verdict (or verdicts: A|B), note, why pattern]
my @notes = (
    [qr/^(delayfs|fuse-overlayfs|virtiofs |mergerfs|fuse2fs)/, qr/^(punch_hole|zero_range)/, 'UNSAFE',
     'fs/fuse/file.c `fuse_file_fallocate` takes `filemap_invalidate_lock` only for DAX files (`block_faults`): '
       . 'faults run while the server changes the data, a page stored to and written back meanwhile carries '
       . 'bytes from before the operation into the hole, and the kernel drops the range from its page cache '
       . 'only after the reply'],
    [qr/^(delayfs|fuse-overlayfs|virtiofs|mergerfs)/, qr/^copy_file_range$/, 'UNSAFE',
     'fs/fuse/file.c `__fuse_copy_file_range` holds the destination\'s `inode_lock` (and writes its dirty '
       . 'pages back first only with the writeback cache), but takes no fault lock: a page stored to during '
       . 'the server\'s copy is written back over it with its bytes from before, and the kernel drops the '
       . 'range from its page cache only after the reply'],
    [qr/^mergerfs/, qr/^(punch_hole|zero_range|copy_file_range)/, 'UNSAFE',
     'mergerfs passes the call on to the branch\'s file (src/fuse_fallocate.cpp: fallocate(2); '
       . 'src/fuse_copy_file_range.cpp: copy_file_range(2)), and the branch\'s filesystem (ext4, xfs: SAFE above) '
       . 'holds its fault lock there, but on the branch\'s inode: the pages the pool\'s users map and fault on '
       . 'are the FUSE inode\'s, which nothing locks. A pool of SAFE disks is not SAFE'],
    [qr/^fuse2fs/, qr/^punch_hole$/, 'UNSAFE',
     'the same on-disk ext4 the kernel\'s driver punches SAFE: fuse2fs (misc/fuse2fs.c `punch_helper`, '
       . '`ext2fs_punch`) punches under its own lock (`ff->bfl`), which orders its requests but stops no fault '
       . 'in the kernel, so through FUSE the blocks are freed with faults running'],
    [qr/^fuse2fs/, qr/^zero_range/, 'could not check',
     'fuse2fs 1.47.0 (misc/fuse2fs.c `op_fallocate`) refuses every mode but PUNCH_HOLE and KEEP_SIZE with '
       . 'EINVAL, not EOPNOTSUPP, so the verdict cannot tell it from a call that failed; later e2fsprogs answer '
       . 'EOPNOTSUPP and add ZERO_RANGE (`zero_helper`: a punch, then an allocation), under no fault lock as the '
       . 'punch is', qr/Invalid argument/],
    [qr/^(ntfs-3g|unionfs-fuse)/, qr/^(punch_hole|zero_range)/, 'not supported',
     'ntfs-3g (src/ntfs-3g.c `ntfs_3g_ops`) and unionfs-fuse (src/unionfs.c `unionfs_oper`) have no fallocate '
       . 'operation: libfuse answers ENOSYS, and fs/fuse/file.c `fuse_file_fallocate` then sets `no_fallocate` '
       . 'and answers EOPNOTSUPP to every later call on the mount. Nothing punches, so nothing races a punch; '
       . 'their truncates still do (truncate_down)'],
    [qr/^virtiofs-dax/, qr/^copy_file_range$/, 'EXPOSED',
     'fs/fuse/file.c `__fuse_copy_file_range` takes no fault lock on a DAX file either, unlike '
       . '`fuse_file_fallocate` and `fuse_do_setattr` (`filemap_invalidate_lock` for DAX files): DAX faults '
       . 'map the destination\'s range of the window while virtiofsd copies into it. Nothing was lost in these attempts'],
    [qr/^virtiofs-dax \(5\.10\./, qr/^(punch_hole|truncate_down)$/, 'could not check',
     'in 5.10 `fuse_file_fallocate` and `fuse_do_setattr` hold `fuse_inode->i_mmap_sem` for write on a DAX file, '
       . 'and DAX faults take it, but 5.10 has no FUSE request tracepoint and its fuse module no BTF: no probe '
       . 'dates when virtiofsd changed the data, so the lock cannot be read at the change (and reads take no '
       . 'fault lock before 5.15)', qr/no probe of this kernel dated/],
    [qr/^btrfs/, qr/^truncate_down$/, 'EXPOSED',
     'btrfs (`btrfs_setsize`) truncates under no lock faults take: its guard is the new size, written first '
       . '(`truncate_setsize`), past which faults fail; here a read brought a page of the range back into the cache '
       . 'while the truncate ran (a refault), which is what got through. Nothing was lost in these attempts'],
    [qr/^nfs/, qr/^punch_hole$/, 'UNSAFE|EXPOSED',
     'fs/nfs/nfs42proc.c `nfs42_proc_deallocate` holds `inode_lock` (7.3: through `nfs_start_io_write`), writes '
       . 'the file\'s dirty pages back (`nfs_sync_inode`), sends DEALLOCATE, and drops the range from the page cache '
       . '(`truncate_pagecache_range`) only after the server\'s reply; it never takes `invalidate_lock`, '
       . $nfs_no_fault_lock . ', into the hole'],
    [qr/^nfs/, qr/^zero_range$/, 'UNSAFE|EXPOSED',
     '7.x answers FALLOC_FL_ZERO_RANGE (without KEEP_SIZE) with one ZERO_RANGE compound, DEALLOCATE then ALLOCATE '
       . '(`nfs42_proc_zero_range`), held as the punch is: `nfs_start_io_write`, the write-back, the reply, then '
       . '`truncate_pagecache_range`, never `invalidate_lock`; before, NFS refuses every mode but PUNCH_HOLE with '
       . 'KEEP_SIZE and preallocation (`nfs42_fallocate`)'],
    [qr/^nfs/, qr/^copy_file_range$/, 'UNSAFE|EXPOSED',
     '`nfs42_proc_copy` holds the destination\'s `inode_lock`, writes its dirty pages back, sends COPY (the server '
       . 'copies with `vfs_copy_file_range`), and then drops the destination range with '
       . '`invalidate_inode_pages2_range`, which writes a dirty page back before it drops it (`nfs_launder_folio`): '
       . 'no fault lock is taken, ' . $nfs_no_fault_lock . ', over the copy'],
    [qr/^nfs/, qr/^truncate_down$/, 'UNSAFE|EXPOSED',
     'fs/nfs/inode.c `nfs_setattr` writes dirty pages back (`nfs_sync_inode`), sends SETATTR, and cuts the page '
       . 'cache (`nfs_vmtruncate`: `truncate_pagecache`) only after the reply, under `inode_lock` alone, '
       . $nfs_no_fault_lock . ', past the server\'s new end, where the file grown back reads them'],
    [qr/^nfs \(5\.10\./, qr/./, 'UNSAFE|EXPOSED|could not check',
     'in 5.10 there is no `invalidate_lock` and the NFS client has no fault rwsem of its own: its faults take '
       . 'none, so daxscope learned none and read none at the data changes ("with no lock to read", guard none)',
     qr/no lock to read|before the fault lock was learned/],
    [qr/^(?!btrfs|tmpfs|nfs)/, qr/^truncate_down$/, 'EXPOSED',
     'fs/fuse/dir.c `fuse_do_setattr` holds write-back off while the server truncates (`fuse_set_nowrite`) '
       . 'but takes no fault lock on a file without DAX: faults reach the pages being cut until the kernel '
       . 'cuts its page cache after the reply. Nothing was lost in these attempts'],
    [qr/./, qr/^truncate_down$/, 'could not check',
     'btrfs (`btrfs_setsize`) and tmpfs (`shmem_setattr`) truncate under no lock faults take: they write '
       . 'the new size first (`truncate_setsize`) and faults past it fail, an order daxscope does not read',
     qr/i_size/],
    [qr/^btrfs(?! \(5\.10\.)/, qr/^dedupe_range$/, 'could not check',
     'fs/btrfs/reflink.c `btrfs_remap_file_range` takes both files\' `i_mmap_lock`, but `btrfs_extent_same` '
       . 'leaves the page cache alone (the bytes are the same) and daxscope has no btrfs extent probe: no '
       . 'data change was seen to read the lock at', qr/no data change/],
    [qr/^btrfs(?! \(5\.10\.)/, qr/^(punch_hole|zero_range)/, 'EXPOSED',
     'btrfs holds its own `i_mmap_lock` for write across the change (`btrfs_inode_lock(..., BTRFS_ILOCK_MMAP)`), '
       . 'but only `btrfs_page_mkwrite` '
       . 'takes it: a read fault (`filemap_fault`) or read(2) takes neither it nor `invalidate_lock`, which btrfs never '
       . 'takes, and adds pages of the range while the operation runs. btrfs keeps those reads out with a lock daxscope '
       . 'does not read, the extent range\'s: `btrfs_punch_hole_lock_range` truncates the page cache, locks the range, '
       . 'and truncates again while a page came back ("We can race with anyone reading pages from this range"), and '
       . '`btrfs_read_folio` waits on that lock, so a page added meanwhile reads the hole (zero-filled, no block read). '
       . 'The punch and zero range refaults were daxscope\'s own: the only block read of each such page was daxcheck\'s '
       . 'read-back after `POSIX_FADV_DONTNEED`, 25 to 35 ms after the window, of the page added again in no window '
       . '(6.12: 13 of 13); a delete of the page since its add, other than the operation\'s own, now ends the window\'s '
       . 'claim on its block reads: both SAFE since on 6.1, 6.12 and 7.3 (34 to 81 attempts). '
       . 'Nothing was lost in these attempts'],
    [qr/^btrfs(?! \(5\.10\.)/, qr/^(punch_hole|zero_range)/, 'SAFE',
     'on btrfs this rests on `i_mmap_lock`, which write faults take (`btrfs_page_mkwrite`) but read faults and read(2) '
       . 'do not: they wait on the extent range lock instead, which daxscope does not read. No read came back into the '
       . 'range in these attempts; where one does, the row is EXPOSED (the note above)'],
    [qr/^btrfs(?! \(5\.10\.)/, qr/^(copy_file_range|clone_range)$/, 'SAFE',
     'on btrfs this rests on `i_mmap_lock` for write faults (`btrfs_page_mkwrite` takes it, and `btrfs_remap_file_range` '
       . 'holds it for a clone, and a copy within the filesystem is one), and for reads on the order of the clone: '
       . '`btrfs_clone_files` changes the extents under the destination\'s extent range lock, which `btrfs_read_folio` '
       . 'waits on, and drops the range\'s cached pages only after (`truncate_inode_pages_range` last), so a page read '
       . 'in meanwhile holds the clone or is deleted by it. daxscope reads the filesystem\'s `s_magic` and counts no '
       . 'read during a btrfs clone, copy or dedupe as a finding; until it did (dc88b4b), 6.12\'s copy read as EXPOSED '
       . 'on such pages (10 of 10 read in behind that truncation, which daxscope took for btrfs\'s data change)'],
    [qr/^btrfs \(5\.10\./, qr/^(?!truncate)/, 'EXPOSED', $btrfs_510_no_lock],
    [qr/^btrfs \(5\.10\./, qr/./, 'could not check', $btrfs_510_no_lock, qr/guard none|before the fault lock was learned/],
    [qr/^btrfs \(5\.10\./, qr/^(copy_file_range|clone_range)$/, 'UNSAFE',
     'a btrfs clone in 5.10 (and a copy within the filesystem, which is one: `btrfs_remap_file_range`) locks the '
       . 'inodes and the extent ranges, but nothing a write fault waits on, and drops the destination\'s cached pages '
       . 'only after it has unlocked them (`btrfs_clone_files`: `truncate_inode_pages_range` last): a store through '
       . 'the mapping dirtied a page of the destination still holding its bytes from before, and write-back put them '
       . 'over the clone. Closed in 5.13: 8318ba79eeeb ("btrfs: add a i_mmap_lock to our inode") and 8c99516a8cdd '
       . '("btrfs: exclude mmaps while doing remap"); from 6.1 on, a clone holds it'],
    [qr/^f2fs/, qr/^insert_range$/, 'UNSAFE',
     'fs/f2fs/file.c `f2fs_insert_range` moves the blocks up under `invalidate_lock` (`i_mmap_sem` before 5.15), '
       . 'and daxscope read it held at every data change. But `__exchange_data_block` copies a block already '
       . 'checkpointed through the page cache (`__clone_blkaddrs`: `f2fs_get_lock_data_page` reads the source page in, '
       . 'it is copied to the destination\'s page, and `f2fs_truncate_hole` frees the source block), which leaves the '
       . 'source page cached with its bytes from before, over what is now a hole. The lock is then dropped and taken '
       . 'again before those pages are written and dropped ("write out all moved pages, if possible"): in that gap a '
       . 'store through the mapping dirties a stale page (`f2fs_vm_page_mkwrite` takes the lock shared, free now), '
       . 'and write-back puts its bytes from before into the hole. No data change of the operation\'s made that '
       . 'page, so no finding names it: the read-back does'],
    [qr/./, qr/^(copy_file_range|unshare_range)$/, 'could not check',
     'the kernel copied through the page cache (`splice_copy_file_range` where the filesystem or its server '
       . 'has no copy of its own; xfs\'s unshare through `iomap_file_unshare`), or on DAX through `dax_iomap_rw`: '
       . 'the operation\'s own writes, as write(2) makes them, with nothing under the cache to race',
     qr/no data change under the page cache/],
    [qr/^(?!btrfs|nfs)[^(]*\(5\.10\./, qr/./, 'could not check',
     'before 5.15 ext4, xfs and f2fs hold their own fault rwsem (`i_mmap_sem`, `i_mmaplock`, `i_mmap_sem`) across the change and '
       . 'faults take it, but read(2) and readahead (`generic_file_buffered_read`) take nothing the operation '
       . 'holds: `mapping->invalidate_lock`, which both take, came in 5.15. So no evidence can make these SAFE, '
       . 'however the attempts went (on DAX, reads take `inode_lock` shared, which the operation holds; the '
       . 'verdict does not tell the two apart)', qr/before 5\.15|before the fault lock was learned/],
    [qr/^(ext4|f2fs).*\(5\.10\./, qr/./, 'EXPOSED',
     'ext4 and f2fs in 5.10 (`ext4_zero_range`, `ext4_insert_range`, `f2fs_punch_hole`, ...) hold their `i_mmap_sem` '
       . 'for write across the change, '
       . 'but a read(2) takes no lock it holds: the attempts\' reader read pages of the range back in while the '
       . 'operation ran (refault findings, with the reader and the operation), the race `invalidate_lock` closed '
       . 'in 5.15'],
    [qr/^ext4-1k \((5\.10|6\.1)\./, qr/^zero_range/, 'UNSAFE',
     'with 1 KiB blocks the verdict\'s range also takes half of page 48. ZERO_RANGE zeroes it and drops its '
       . 'buffers but leaves the page\'s pte writable: there is no "ext4: remove writable userspace mappings before '
       . 'truncating page cache" (17207d0bb209, 6.15, in Debian\'s 6.12) with its `folio_mkclean`. So the store '
       . 'made after the operation makes no fault, no `page_mkwrite` maps the buffers again, and write-back never '
       . 'writes it: every attempt lost it, each with its writable_after_punch finding. PUNCH_HOLE writes the '
       . 'range back first (`filemap_write_and_wait_range`), which write-protects the page: nothing lost'],
    [qr/^delayfs \(5\.10\./, qr/^truncate_down$/, 'could not check',
     'before 5.15 a FUSE fault takes no lock at all (`filemap_fault`, no `invalidate_lock` yet): the truncate '
       . 'holds nothing faults wait on, so there is no lock to read; faults run freely during the server\'s '
       . 'truncate (fs/fuse/dir.c `fuse_do_setattr`), as on later kernels, where it reads as EXPOSED'],
);

print "\n## Notes from the kernel source\n\n";
for my $n (@notes) {
    my ($fs_re, $op_re, $verdicts, $text, $why_re) = @$n;
    my (@where, %verdict);
    for my $f (@fs, @guests) {
        my @rows = grep { $_->{op} =~ $op_re && $_->{verdict} =~ /^(?:$verdicts)$/ && (!$why_re || $_->{why} =~ $why_re) }
          $f->{label} =~ $fs_re ? @{ $f->{doc}{ops} } : ();
        push @where, map { "$f->{label} $_->{op}" } @rows;
        $verdict{ $_->{verdict} } = 1 for @rows;
    }
    print '- ', join(', ', @where), ' (', join(', ', grep { $verdict{$_} } split /\|/, $verdicts), "): $text.\n" if @where;
}

print "\n## Each filesystem: how it was mounted, and why each verdict\n";
for my $f (@fs, @guests) {
    print "\n$f->{kept}" and next if $f->{kept};
    print "\n### $f->{label}\n\n$f->{how}: could not check: $f->{cannot}.\n" and next if $f->{cannot};
    my $time = $f->{label} eq $f->{name} ? $seconds : $guest_seconds;
    print "\n### $f->{label}\n\n$f->{how}; then `daxcheck --verdict --time $time DIR`",
      " ($f->{doc}{fs}, kernel $f->{doc}{kernel}, $f->{doc}{date}).\n\n";
    for my $r (@{ $f->{doc}{ops} }) {
        print "- $r->{op}: **$r->{verdict}**: $r->{why}";
        print ". Rests on: $r->{rests_on}" if $r->{rests_on} && $r->{verdict} ne 'could not check';
        print ". Example: $r->{example}" if $r->{example};
        print "\n";
    }
}
