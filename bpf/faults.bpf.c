// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Faults and page events in armed files: read faults served from the page
 * cache (fault-around) or needing a read, DAX faults, pages made dirty (write
 * faults, write(2)) and pages deleted from the page cache. Counted per file in
 * the kernel, in the file's window (one lookup finds both); sent as events.
 * Nothing here costs more than a map lookup for files outside punch windows.
 */
#include "daxscope.bpf.h"

/*
 * The address of each task's last user fault, by thread id: not one slot
 * per CPU, since a preemptible kernel (7.3: CONFIG_PREEMPT_LAZY) may preempt
 * the fault before it maps pages, and move the task or let another fault on
 * its CPU (docs/design.md).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} fault_starts SEC(".maps");

struct vma_page {
	struct address_space *mapping; /* NULL: any file */
	struct inode *inode;
	__u64 address;
	__u64 index;
	bool found;
};

static __always_inline void send_page_event(__u16 kind, struct inode *inode, __u64 index,
					    __u16 flags)
{
	struct dx_event *e = reserve_event(kind);

	if (!e)
		return;
	e->flags |= flags;
	inode_file(inode, &e->file);
	e->page.index = index;
	submit_event(e);
}

/* The inode behind a page-cache mapping if its file is armed, else NULL; its window (and counters). */
static __always_inline struct inode *armed_inode(struct address_space *mapping, struct armed_file **window)
{
	struct dx_file_key key;
	struct inode *inode;

	if (!mapping)
		return NULL;
	inode = mapping->host;
	if (!inode)
		return NULL;
	inode_key_btf(inode, &key);
	*window = armed_file_of(&key);
	return *window ? inode : NULL;
}

/*
 * A read fault on an armed file that mapped page INDEX (at ADDRESS, 0 if
 * unknown) of [FIRST.. LAST]: counted, and sent if the window changes any of them.
 */
static __always_inline void send_map_fault(struct inode *inode, struct armed_file *w,
					   __u64 index, __u64 address, __u64 first, __u64 last, __u16 flags)
{
	struct dx_event *e;

	__sync_fetch_and_add(flags & DX_F_WRITE ? &w->counts.faults_write : &w->counts.faults_read, 1);
	if (!window_covers(w, first, last))
		return;
	e = reserve_event(DX_MAP_FAULT);
	if (!e)
		return;
	e->flags |= flags;
	inode_file(inode, &e->file);
	e->page.index = index;
	e->page.address = address;
	e->page.last = last;
	submit_event(e);
}

/*
 * exceptions:page_fault_user is x86's (arch/x86/include/asm/trace/exceptions.h,
 * raised in arch/x86/mm/fault.c): arm64 has no such tracepoint (its faults,
 * arch/arm64/mm/fault.c do_page_fault, raise none), so there both programs
 * below are refused as "no tracepoint page_fault_user" in the banner. Its
 * error_code's write bit: X86_PF_WRITE (arch/x86/include/asm/trap_pf.h), a
 * bit the CPU defines, so vmlinux.h's value holds on every x86 kernel.
 */
#ifdef __TARGET_ARCH_x86
#define USER_FAULT_WRITE X86_PF_WRITE
#else
#define USER_FAULT_WRITE 0 /* never runs: no page_fault_user to attach to */
#endif

/* Runs for every user fault while a punch is in progress: keep it to a store. */
SEC("tp_btf/page_fault_user")
int BPF_PROG(on_user_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (any_window_open())
		bpf_map_update_elem(&fault_starts, &tid, &address, BPF_ANY);
	return 0;
}

static long vma_page_of(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_page *p = data;
	struct file *file = vma->vm_file;

	if (file && (!p->mapping || BPF_CORE_READ(file, f_mapping) == p->mapping)) {
		p->inode = BPF_CORE_READ(file, f_inode);
		p->index = vma->vm_pgoff + ((p->address - vma->vm_start) >> DX_PAGE_SHIFT);
		p->found = true;
	}
	return 0;
}

/* The page this task is faulting on in mapping, if its user fault was seen. */
static __always_inline bool faulting_page(struct address_space *mapping, struct vma_page *p)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *address = bpf_map_lookup_elem(&fault_starts, &tid);

	if (!address)
		return false;
	p->mapping = mapping;
	p->address = *address;
	if (bpf_find_vma(bpf_get_current_task_btf(), p->address, vma_page_of, p, 0))
		count_drop(DX_DROP_VMA);
	return p->found;
}

/*
 * Kernels without mm_filemap_map_pages (before 6.10): every user fault during
 * an open window is resolved to its file page through the VMA, which costs
 * an mmap_lock trylock. Only one of this and on_map_pages is loaded.
 */
SEC("tp_btf/page_fault_user")
int BPF_PROG(on_user_fault_vma, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	struct vma_page p = { .address = address };
	struct dx_file_key key;
	struct armed_file *w;
	__u16 flags = DX_F_ENTRY | (error_code & USER_FAULT_WRITE ? DX_F_WRITE : 0);

	if (!any_window_open())
		return 0;
	if (bpf_find_vma(bpf_get_current_task_btf(), address, vma_page_of, &p, 0)) {
		count_drop(DX_DROP_VMA);
		return 0;
	}
	if (!p.found)
		return 0;
	inode_key(p.inode, &key);
	w = armed_file_of(&key);
	if (w)
		send_map_fault(p.inode, w, p.index, address, p.index, p.index, flags);
	return 0;
}

/* Fault-around mapped cached pages [start, last]: a read fault that took no lock. */
SEC("tp_btf/mm_filemap_map_pages")
int BPF_PROG(on_map_pages, struct address_space *mapping, unsigned long start, unsigned long last)
{
	struct vma_page p = {};
	struct armed_file *w;
	struct inode *inode = armed_inode(mapping, &w);

	if (!inode)
		return 0;
	/* the faulting page costs a VMA walk: only for fault-arounds the window changes */
	if (window_covers(w, start, last) && faulting_page(mapping, &p) && p.index >= start && p.index <= last)
		send_map_fault(inode, w, p.index, p.address, start, last, 0);
	else
		send_map_fault(inode, w, start, 0, start, last, 0);
	return 0;
}

/*
 * Where fentry/fexit are allowed (most production kernels, 5.10 included),
 * the page-cache fault functions give the faulting page straight from
 * vm_fault: no tracepoint (before 6.10) and no VMA walk needed.
 */
static __always_inline struct address_space *vmf_mapping(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;

	return file ? file->f_mapping : NULL;
}

SEC("fexit/filemap_map_pages")
int BPF_PROG(on_map_pages_fexit, struct vm_fault *vmf, unsigned long start, unsigned long last,
	     unsigned int ret)
{
	struct inode *inode;
	struct armed_file *w;

	if (!(ret & vm_fault_nopage())) /* the faulting page was not mapped here */
		return 0;
	inode = armed_inode(vmf_mapping(vmf), &w);
	if (inode)
		send_map_fault(inode, w, vmf->pgoff, vmf->address, start, last, 0);
	return 0;
}

/* A pte's present bit: _PAGE_BIT_PRESENT 0 (arch/x86/include/asm/pgtable_types.h), PTE_VALID (arm64). */
#define PTE_PRESENT 1ULL

/*
 * Before commit f9ce0be71d1f ("mm: Cleanup faultaround and finish_fault()
 * codepaths", 5.12) filemap_map_pages returns void (mm/filemap.c), and the
 * verifier refuses a program that reads a void function's return
 * (kernel/bpf/btf.c btf_ctx_access: "Only pointer access is allowed"): this
 * one declares only the three arguments. Its caller decides after the return (mm/memory.c
 * do_fault_around, 5.10): "check if the page fault is solved", i.e. the
 * faulting page's pte is no longer none; else the fault goes on to
 * ->fault, filemap_fault, whose own hook sees it. Every input is still in
 * vmf here: vmf->pte is the pte of vmf->address, the last page map_pages
 * tried (filemap_map_pages moves both in step), under the pte lock that
 * alloc_set_pte took (NULL: it mapped nothing); vmf->pgoff is still the
 * faulting page. Present, not just not none: a migration entry makes the
 * access fault again. No huge pmd to check: Debian's 5.10 has no
 * READ_ONLY_THP_FOR_FS, so only shmem maps one. Loaded only where the
 * function returns void (src/live/session.c): from 5.12 it unlocks the pte
 * itself.
 */
SEC("fexit/filemap_map_pages")
int BPF_PROG(on_map_pages_fexit_void, struct vm_fault *vmf, unsigned long start, unsigned long last)
{
	/* a number: the verifier allows no variable offset into a BTF pointer */
	__u64 ptes = (__u64)BPF_CORE_READ(vmf, pte), fault_address, pte = 0;
	struct vm_area_struct *vma;
	struct inode *inode;
	struct armed_file *w;
	__s64 pages_on;

	if (!ptes)
		return 0;
	inode = armed_inode(vmf_mapping(vmf), &w);
	if (!inode)
		return 0;
	vma = vmf->vma;
	/* do_fault_around's own address: __handle_mm_fault set pgoff from it (linear_page_index) */
	fault_address = vma->vm_start + ((vmf->pgoff - vma->vm_pgoff) << DX_PAGE_SHIFT);
	/* one page table holds the whole fault-around (do_fault_around's end_pgoff) */
	pages_on = (__s64)(fault_address - vmf->address) >> DX_PAGE_SHIFT;
	if (bpf_probe_read_kernel(&pte, sizeof(pte), (void *)(ptes + pages_on * sizeof(pte_t))) ||
	    !(pte & PTE_PRESENT))
		return 0; /* not mapped here: it goes on to filemap_fault */
	send_map_fault(inode, w, vmf->pgoff, fault_address, start, last, 0);
	return 0;
}

SEC("fentry/filemap_fault")
int BPF_PROG(on_filemap_fault_fentry, struct vm_fault *vmf)
{
	struct armed_file *w;
	struct inode *inode = armed_inode(vmf_mapping(vmf), &w);

	if (!inode)
		return 0;
	__sync_fetch_and_add(&w->counts.faults_read, 1);
	if (window_covers(w, vmf->pgoff, vmf->pgoff))
		send_page_event(DX_FILEMAP_FAULT, inode, vmf->pgoff, fault_is_write(vmf) ? DX_F_WRITE : 0);
	return 0;
}

SEC("tp_btf/mm_filemap_fault")
int BPF_PROG(on_filemap_fault, struct address_space *mapping, unsigned long index)
{
	struct armed_file *w;
	struct inode *inode = armed_inode(mapping, &w);

	if (!inode)
		return 0;
	__sync_fetch_and_add(&w->counts.faults_read, 1);
	if (window_covers(w, index, index))
		send_page_event(DX_FILEMAP_FAULT, inode, index, 0);
	return 0;
}

static __always_inline void dax_fault(struct inode *inode, struct vm_fault *vmf,
				      __u16 flags)
{
	__u64 page = BPF_CORE_READ(vmf, pgoff), huge = flags & DX_F_PMD ? 511 : 0; /* a PMD maps 512 pages */
	struct dx_event *e;
	struct dx_file_key key;
	struct armed_file *w;

	inode_key(inode, &key);
	w = armed_file_of(&key);
	if (!w)
		return;
	__sync_fetch_and_add(flags & DX_F_PMD ? &w->counts.dax_pmd : &w->counts.dax_pte, 1);
	if (!window_covers(w, page & ~huge, page | huge))
		return;
	e = reserve_event(DX_DAX_FAULT);
	if (!e)
		return;
	if (fault_is_write(vmf))
		flags |= DX_F_WRITE;
	e->flags |= flags;
	inode_file(inode, &e->file);
	e->page.index = page;
	e->page.address = BPF_CORE_READ(vmf, address);
	submit_event(e);
}

/* _done: fires inside dax_iomap_fault, after the filesystem took its fault lock. */
SEC("tp_btf/dax_pte_fault_done")
int BPF_PROG(on_dax_pte_fault, struct inode *inode, struct vm_fault *vmf, int result)
{
	dax_fault(inode, vmf, 0);
	return 0;
}

SEC("tp_btf/dax_pmd_fault_done")
int BPF_PROG(on_dax_pmd_fault, struct inode *inode, struct vm_fault *vmf, unsigned long max_pgoff,
	     int result)
{
	dax_fault(inode, vmf, DX_F_PMD);
	return 0;
}

static __always_inline void page_dirtied(void *folio_or_page, struct address_space *mapping)
{
	__u64 index = folio_index_of(folio_or_page);
	struct armed_file *w;
	struct inode *inode = armed_inode(mapping, &w);

	if (!inode)
		return;
	__sync_fetch_and_add(&w->counts.faults_write, 1);
	if (window_covers(w, index, index))
		send_page_event(DX_PAGE_DIRTY, inode, index, 0);
}

SEC("tp_btf/writeback_dirty_folio")
int BPF_PROG(on_page_dirty, struct folio *folio, struct address_space *mapping)
{
	page_dirtied(folio, mapping);
	return 0;
}

/* Before 5.17 the same tracepoint was per page. */
SEC("tp_btf/writeback_dirty_page")
int BPF_PROG(on_page_dirty_page, struct page *page, struct address_space *mapping)
{
	page_dirtied(page, mapping);
	return 0;
}

#define XA_MAX_DEPTH 11 /* 64-bit page indexes, 6 bits a level (include/linux/xarray.h XA_CHUNK_SHIFT) */

/* include/linux/xarray.h xa_is_node: an internal entry (low bits 10) above 4096 */
static __always_inline bool xa_node_entry(unsigned long entry)
{
	return (entry & 3) == 2 && entry > 4096;
}

/*
 * FOLIO's dirty mark (PAGECACHE_TAG_DIRTY, XA_MARK_0) on its entry at INDEX
 * in MAPPING's page cache, walked down from the root: still there at its
 * delete, what it was last dirtied with never went to the file (enum
 * dx_deleted_dirty). Read under the i_pages lock the delete holds.
 */
static __always_inline __u32 deleted_dirty(struct address_space *mapping, void *folio, __u64 index)
{
	unsigned long entry = (unsigned long)BPF_CORE_READ(mapping, i_pages.xa_head);
	struct xa_node *node = NULL;
	__u32 slots = bpf_core_field_size(node->slots) / sizeof(void *);

	if (slots > 8 * sizeof(unsigned long))
		return DX_DELETED_UNREAD; /* a node's marks are one long each (XA_MARK_LONGS) up to 64 slots */
	for (int depth = 0; depth < XA_MAX_DEPTH && xa_node_entry(entry); depth++) {
		unsigned long marks = 0, offset;

		node = (struct xa_node *)(entry - 2);
		offset = (index >> BPF_CORE_READ(node, shift)) & (slots - 1);
		if (bpf_core_read(&entry, sizeof(entry), &node->slots[offset]))
			return DX_DELETED_UNREAD;
		if (xa_node_entry(entry))
			continue;
		if (entry != (unsigned long)folio || bpf_core_read(&marks, sizeof(marks), &node->marks[0]))
			return DX_DELETED_UNREAD;
		return marks >> offset & 1 ? DX_DELETED_DIRTY : DX_DELETED_CLEAN;
	}
	return DX_DELETED_UNREAD; /* a lone entry at index 0 keeps its marks in the xarray's flags: not read */
}

/*
 * A page left the page cache. When the punching task deletes it, this is the
 * moment the punch changes data: whether it held its fault lock is read from
 * the lock, and how many dirty bytes it threw away from the task's I/O
 * accounting (truncate cancels a batch of folios' dirty state, then deletes
 * them: the bytes show at the batch's first delete).
 */
SEC("tp_btf/mm_filemap_delete_from_page_cache")
int BPF_PROG(on_page_delete, void *folio)
{
	struct address_space *mapping = folio_mapping_of(folio);
	struct inode *inode = BPF_CORE_READ(mapping, host);
	struct task_punch *tp;
	struct dx_file_key key;
	struct armed_file *w;
	struct dx_event *e;
	__u64 cancelled = 0;
	__u16 lock_flags = 0;

	if (!inode)
		return 0;
	inode_key(inode, &key);
	w = armed_file_of(&key);
	if (!w)
		return 0;
	__sync_fetch_and_add(&w->counts.deleted, 1);
	tp = current_punch();
	if (tp) {
		__u64 now = cancelled_write_bytes();

		lock_flags = note_data_change(tp);
		cancelled = now - tp->cancelled_seen;
		tp->cancelled_seen = now;
	}
	e = reserve_event(DX_PAGE_DELETE);
	if (!e)
		return 0;
	e->flags |= lock_flags;
	inode_file(inode, &e->file);
	e->page.index = folio_index_of(folio);
	e->page.order = bpf_core_type_exists(struct folio) ? folio_order_of(folio) : 0;
	e->page.cancelled_bytes = cancelled;
	e->page.dirty = deleted_dirty(mapping, folio, e->page.index);
	submit_event(e);
	return 0;
}

/*
 * DX_F_LOCK_FREE if MAPPING's invalidate_lock (5.15+) is not held for write
 * now. Every path that reads a page into the cache takes it shared since
 * 5.15, so a page added while a punch holds it for write got past it.
 */
static __always_inline __u16 invalidate_lock_free(struct address_space *mapping)
{
	if (!bpf_core_field_exists(mapping->invalidate_lock))
		return 0;
	return BPF_CORE_READ(mapping, invalidate_lock.count.counter) & RWSEM_WRITER_LOCKED ? 0 : DX_F_LOCK_FREE;
}

/* A page read into the cache of an armed file: during a punch's data change, a refault. */
SEC("tp_btf/mm_filemap_add_to_page_cache")
int BPF_PROG(on_page_add, void *folio)
{
	struct address_space *mapping = folio_mapping_of(folio);
	struct inode *inode = BPF_CORE_READ(mapping, host);
	__u64 index = folio_index_of(folio);
	struct dx_file_key key;
	struct armed_file *w;

	if (!inode)
		return 0;
	inode_key(inode, &key);
	w = armed_file_of(&key);
	if (w && window_covers(w, index, index))
		send_page_event(DX_PAGE_ADD, inode, index, invalidate_lock_free(mapping));
	return 0;
}

/* from include/linux/blk_types.h */
#define REQ_OP_MASK 0xff
#define REQ_OP_READ 0

/*
 * A block read of page-cache pages of an armed file. A page of a hole is
 * zero-filled with none: a page read into the cache while a punch changes
 * data can hold removed bytes only if it was read from the blocks. Also
 * after the window: readahead maps the old blocks inside it and can submit
 * the read once the punch has returned (5.10 under TCG: 6 pages 10.6 ms after).
 */
SEC("fentry/submit_bio")
int BPF_PROG(on_block_read, struct bio *bio)
{
	void *page;
	struct address_space *mapping;
	struct inode *inode;
	struct dx_file_key key;
	struct armed_file *w;
	struct dx_event *e;
	__u64 first, last, size;

	if (!any_window_armed() || (BPF_CORE_READ(bio, bi_opf) & REQ_OP_MASK) != REQ_OP_READ)
		return 0;
	page = BPF_CORE_READ(bio, bi_io_vec, bv_page);
	mapping = page ? folio_mapping_of(page) : NULL;
	if (!mapping || ((__u64)mapping & 3)) /* anonymous or movable: not a file's page */
		return 0;
	inode = BPF_CORE_READ(mapping, host);
	if (!inode)
		return 0;
	inode_key(inode, &key);
	w = armed_file_of(&key);
	first = folio_index_of(page);
	size = BPF_CORE_READ(bio, bi_iter.bi_size); /* the file's pages follow the first: readahead reads runs */
	last = first + (size ? (size - 1) >> DX_PAGE_SHIFT : 0);
	if (!w || !window_covers(w, first, last))
		return 0;
	e = reserve_event(DX_PAGE_READ);
	if (!e)
		return 0;
	inode_file(inode, &e->file);
	e->page.index = first;
	e->page.last = last;
	submit_event(e);
	return 0;
}

/*
 * DAX fault duration from the filesystem's own handler, entry to return, so
 * that the fault/punch lock taken inside is counted (fs_dax tracepoints fire
 * after it). Entry points are vm_operations, so never inlined; one handler may
 * call another (ext4_dax_fault -> ext4_dax_huge_fault): only the outermost counts.
 */
struct fault_timing {
	__u64 ts;
	__u32 depth;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct fault_timing);
} fault_timings SEC(".maps");

static __always_inline void fault_enter(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fault_timing *t = bpf_map_lookup_elem(&fault_timings, &tid), fresh = {};

	if (t) {
		t->depth++;
		return;
	}
	if (!any_window_open())
		return; /* nothing can be armed: keep the map empty */
	fresh.ts = bpf_ktime_get_ns();
	fresh.depth = 1;
	if (bpf_map_update_elem(&fault_timings, &tid, &fresh, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
}

static __always_inline void fault_exit(struct vm_fault *vmf)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fault_timing *t = bpf_map_lookup_elem(&fault_timings, &tid);
	struct inode *inode;
	struct dx_event *e;
	struct armed_file *w;
	__u64 took;

	if (!t || --t->depth)
		return;
	took = bpf_ktime_get_ns() - t->ts;
	bpf_map_delete_elem(&fault_timings, &tid);
	inode = armed_inode(vmf_mapping(vmf), &w);
	if (!inode || !window_covers(w, vmf->pgoff, vmf->pgoff))
		return;
	e = reserve_event(DX_FAULT_DONE);
	if (!e)
		return;
	e->flags |= fault_is_write(vmf) ? DX_F_WRITE : 0;
	inode_file(inode, &e->file);
	e->page.index = vmf->pgoff;
	e->page.address = vmf->address;
	e->page.duration_ns = took;
	submit_event(e);
}

#define FAULT_HANDLER(fn)                                        \
	SEC("fentry/" #fn)                                       \
	int BPF_PROG(on_enter_##fn, struct vm_fault *vmf)        \
	{                                                        \
		fault_enter();                                   \
		return 0;                                        \
	}                                                        \
	SEC("fexit/" #fn)                                        \
	int BPF_PROG(on_exit_##fn, struct vm_fault *vmf)         \
	{                                                        \
		fault_exit(vmf);                                 \
		return 0;                                        \
	}

FAULT_HANDLER(ext4_dax_fault)
FAULT_HANDLER(ext4_dax_huge_fault)
FAULT_HANDLER(xfs_filemap_fault)
FAULT_HANDLER(xfs_filemap_huge_fault)
FAULT_HANDLER(xfs_filemap_page_mkwrite)
FAULT_HANDLER(xfs_filemap_pfn_mkwrite)
FAULT_HANDLER(__fuse_dax_fault)
