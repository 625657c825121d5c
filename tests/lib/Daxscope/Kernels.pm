package Daxscope::Kernels;
# The kernels of the QEMU matrix (Debian's own packages): what each one has
# (its config, as the package ships it) and what daxscope must watch there,
# in fentry mode and, where the matrix runs it, in tracepoint mode. The
# banner's list of what is watched must equal the row: a probe that stops
# attaching fails, and so does one that starts to without its row saying so.
# tests/vm/matrix.t checks every guest against these tables;
# tests/vm/kernel-table.pl writes docs/kernels.md from them
# (tests/vm/kernel_table.t fails when the two differ).
use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(@kernels %suite @config_symbols %config %watched %refused_ok %dax_break_sleeps);

our @kernels = ('5.10', '6.1', '6.12', '7.3');
our %suite = ('5.10' => 'bullseye', '6.1' => 'bookworm', '6.12' => 'trixie', '7.3' => 'trixie-backports');

# The config each package ships (n: not set), as the guest's run reads it from the package.
our @config_symbols = qw(FUSE_FS VIRTIO_FS FUSE_DAX FUSE_PASSTHROUGH FUSE_IO_URING DEBUG_INFO_BTF_MODULES
    EXT4_FS XFS_FS FS_DAX KPROBES BPF_LSM);
my %common_config = (EXT4_FS => 'm', XFS_FS => 'm', FS_DAX => 'y', KPROBES => 'y', BPF_LSM => 'y', FUSE_DAX => 'y');
our %config = (
    '5.10' => { %common_config, FUSE_FS => 'm', VIRTIO_FS => 'm', FUSE_PASSTHROUGH => 'n', FUSE_IO_URING => 'n',
                DEBUG_INFO_BTF_MODULES => 'n' },
    '6.1'  => { %common_config, FUSE_FS => 'm', VIRTIO_FS => 'm', FUSE_PASSTHROUGH => 'n', FUSE_IO_URING => 'n',
                DEBUG_INFO_BTF_MODULES => 'y' },
    '6.12' => { %common_config, FUSE_FS => 'y', VIRTIO_FS => 'y', FUSE_PASSTHROUGH => 'y', FUSE_IO_URING => 'n',
                DEBUG_INFO_BTF_MODULES => 'y' },
    '7.3'  => { %common_config, FUSE_FS => 'y', VIRTIO_FS => 'y', FUSE_PASSTHROUGH => 'y', FUSE_IO_URING => 'y',
                DEBUG_INFO_BTF_MODULES => 'y' },
);

# What the banner says is watched, by kernel and mode, in groups.
# in either mode
my @everywhere = ('page-cache read faults', 'DAX pte faults', 'DAX pmd faults', 'dirtied pages', 'page-cache deletes',
    'truncate(path)', 'page-cache adds', 'fallocate punches', 'ftruncate', 'copy_file_range',
    'reflink clones and dedupe', 'mmaps during punches', 'punches cut short by exit',
    'fault/punch lock waits');    # 5.10: fentry on down_read/down_write; 5.19+: lock:contention_*
my @extent_changes = ('ext4 extent changes', 'xfs extent changes');    # fentry; else their tracepoints
my @fentry_only = ('stores after an operation into pages it changed in part', 'block reads of page-cache pages',
    'DAX layout breaks');
# the fuse, ext4 and xfs functions: module BTF (5.11+), or vmlinux's where built in (fuse: 6.12+)
my @fuse_dax = ('FUSE DAX mappings', 'FUSE DAX range reclaim (worker and inline)', 'FUSE DAX reclaim passes',
    'FUSE DAX fault timing', 'FUSE DAX allocation stalls', 'FUSE DAX range uses (cache-size model)');
my @dax_fault_timing = ('ext4 DAX fault timing', 'xfs DAX fault timing');
# fuse/fuse_request_send and _end: 6.11+ (tp_btf); on 6.1 fentry on queue_request_and_unlock
my @fuse_requests = ('FUSE requests', 'FUSE READ/WRITE on punched files');
our %watched = (
    fentry => {
        # no module BTF: no FUSE DAX, no fentry on ext4's or xfs's DAX fault; no fuse tracepoints;
        # filemap_map_pages returns void (vm_fault_t from 5.12): fault-around read by the faulting pte
        '5.10' => [ @everywhere, @extent_changes, @fentry_only, "FUSE requests at the server's reads of /dev/fuse",
                    "fault-around read faults (the faulting page's pte)" ],
        '6.1'  => [ @everywhere, @extent_changes, @fentry_only, @fuse_dax, @dax_fault_timing, @fuse_requests ],
        '6.12' => [ @everywhere, @extent_changes, @fentry_only, @fuse_dax, @dax_fault_timing, @fuse_requests, 'direct IO' ],
        '7.3'  => [ @everywhere, @extent_changes, @fentry_only, @fuse_dax, @dax_fault_timing, @fuse_requests, 'direct IO' ],
    },
    # fentry/fexit refused (tests/vm/denyfentry.bpf.c), as on the development host's 6.18
    tracepoint => {
        # no filemap_fault or filemap_map_pages tracepoint (6.10), no bpf_find_vma (5.17), no
        # lock:contention_* (5.19): neither page-cache read faults nor lock waits
        '5.10' => [ grep({ $_ ne 'page-cache read faults' && $_ ne 'fault/punch lock waits' } @everywhere),
                    @extent_changes, "FUSE requests at the server's reads of /dev/fuse" ],
        # with filemap_map_pages' fexit refused, the tracepoint that stands in needs the fault's address
        '7.3' => [ @everywhere, @extent_changes, 'fault addresses', @fuse_requests, 'direct IO' ],
    },
);

# The programs each kernel's verifier refuses (guest.sh's "refused": libbpf's log), and why.
# Any other refusal fails, even where a stand-in keeps the banner's list whole: fentry on
# vfs_fallocate was refused in every guest for a day (the syscall tracepoints stood in), and
# a compare-and-exchange in the histograms refused 5.10's FUSE reply programs.
our %refused_ok = (
    '5.10' => {},    # on_map_pages_fexit is set aside before load where filemap_map_pages returns void
    '6.1'  => {},
    '6.12' => {},
    '7.3'  => {},
);

# Kernels whose DAX layout break (dax_break_layout) can fall asleep for good:
# it waits for the busy page's count to reach 0 with the fault lock dropped
# (since 6.15 every DAX pte holds a reference), and a signal lets the syscall
# restart and go on (docs/verdict.md). The guests wake such a sleeper after
# 10 s (tests/vm/guest.sh dax_kicker); on any other kernel none may sleep so long.
our %dax_break_sleeps = ('7.3' => 1);

1;
