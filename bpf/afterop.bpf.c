// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Stores after the operation. A page the operation changes only in part
 * (blocks smaller than a page) stays cached and mapped: the operation zeroes
 * that part and drops its buffers (the blocks are freed or unwritten). If a
 * page-table entry of it stays writable (ext4 before "ext4: remove writable
 * userspace mappings before truncating page cache", 17207d0bb209, 6.15), a
 * later store makes no fault, so no page_mkwrite maps those buffers to
 * blocks again, and write-back writes no buffer without a block: the store is
 * lost, and no fault or dirtying shows it.
 *
 * The page is remembered when the operation drops part of its buffers, and
 * read at its next write-back (clear_page_dirty_for_io, before the pte dirty
 * bits are collected): bytes that are not zero, where the operation zeroed it,
 * in a buffer that maps no block, were stored without a fault or a write(2)
 * since (either maps the buffer: page_mkwrite, write_begin), and write-back
 * will not write them (an unmap may have marked the buffer dirty: ext4 takes
 * a dirty buffer without a block for a hole). fentry only: neither step has a
 * tracepoint.
 */
#include "daxscope.bpf.h"

#define VM_WRITE 0x2  /* from include/linux/mm.h */
#define VM_SHARED 0x8
#define BH_DIRTY 1     /* from include/linux/buffer_head.h, enum bh_state_bits */
#define BH_MAPPED 4
#define PAGE_BYTES (1u << DX_PAGE_SHIFT)

struct partial_key {
	struct dx_file_key file;
	__u64 index;
};

struct partly_changed {
	struct dx_lost_store ls; /* filled at the invalidate, sent at the write-back if bytes were lost */
	__u64 page;              /* its struct page: another page at the index later is another story */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct partial_key);
	__type(value, struct partly_changed);
} partial_pages SEC(".maps");

/* Set at the first page remembered: until then a write-back costs no lookup. */
static volatile bool any_partly_changed;

struct page_bytes {
	__u64 words[2 * PAGE_BYTES / 8]; /* a page, and room past it for the verifier: a buffer copied at its offset */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct page_bytes);
} page_copy SEC(".maps");

/* A process mapping the file shared and writable over page INDEX (its mapping tree's root or leftmost VMA). */
static __always_inline void find_mapper(struct address_space *mapping, __u64 index, struct dx_lost_store *ls)
{
	struct rb_node *nodes[2] = { BPF_CORE_READ(mapping, i_mmap.rb_leftmost),
				     BPF_CORE_READ(mapping, i_mmap.rb_root.rb_node) };
	struct task_struct *owner;

	if (!bpf_core_field_exists(struct mm_struct, owner))
		return;
	for (int i = 0; i < 2; i++) {
		struct vm_area_struct *vma;
		__u64 pgoff, pages;

		if (!nodes[i])
			continue;
		vma = (void *)nodes[i] - bpf_core_field_offset(struct vm_area_struct, shared.rb);
		pgoff = BPF_CORE_READ(vma, vm_pgoff);
		pages = (BPF_CORE_READ(vma, vm_end) - BPF_CORE_READ(vma, vm_start)) >> DX_PAGE_SHIFT;
		if ((BPF_CORE_READ(vma, vm_flags) & (VM_WRITE | VM_SHARED)) != (VM_WRITE | VM_SHARED) ||
		    index < pgoff || index >= pgoff + pages)
			continue;
		owner = BPF_CORE_READ(vma, vm_mm, owner);
		ls->mapper_pid = BPF_CORE_READ(owner, tgid);
		BPF_CORE_READ_STR_INTO(&ls->mapper_comm, owner, comm);
		return;
	}
}

/* The punching task drops the buffers of part of a page (LEN < a page): remember the page. */
static __always_inline void partial_invalidate(struct page *page, __u64 offset, __u64 len)
{
	struct task_punch *tp = current_punch();
	struct address_space *mapping;
	struct partial_key key = {};
	struct partly_changed pp = { .page = (__u64)page };
	struct dx_lost_store *ls = &pp.ls;
	__u64 id = bpf_get_current_pid_tgid();

	if (!tp || !len || (!offset && len >= PAGE_BYTES))
		return;
	mapping = folio_mapping_of(page);
	inode_key(BPF_CORE_READ(mapping, host), &key.file);
	if (key.file.ino != tp->key.ino || key.file.dev != tp->key.dev)
		return;
	key.index = folio_index_of(page);
	ls->index = key.index;
	ls->punch_begin_ns = tp->start;
	ls->changed_ns = bpf_ktime_get_ns();
	ls->offset = offset;
	ls->len = len;
	ls->op = tp->op;
	ls->punch_pid = id >> 32;
	ls->punch_tid = (__u32)id;
	if (BPF_CORE_READ(mapping, i_mmap_writable.counter) > 0)
		find_mapper(mapping, key.index, ls);
	if (bpf_map_update_elem(&partial_pages, &key, &pp, BPF_ANY))
		count_drop(DX_DROP_MAP_FULL);
	any_partly_changed = true;
}

/*
 * The buffer-head filesystems' invalidate (ext4's calls it from its module):
 * folio_invalidate itself is inlined into truncate_inode_partial_folio on 6.1.
 */
SEC("fentry/block_invalidate_folio")
int BPF_PROG(on_partial_invalidate, struct folio *folio, size_t offset, size_t length)
{
	if (folio_order_of(folio) == 0)
		partial_invalidate((struct page *)folio, offset, length);
	return 0;
}

/* before 5.18 (block_invalidate_folio) */
SEC("fentry/block_invalidatepage")
int BPF_PROG(on_partial_invalidate_page, struct page *page, unsigned int offset, unsigned int length)
{
	partial_invalidate(page, offset, length);
	return 0;
}

/*
 * Write-back writes no buffer that maps no block if it is clean, and ext4's
 * none at all: a dirty one is a hole to it (ext4_bio_write_folio clears its
 * dirty bit: ext4_bio_write_page, _folio from 6.5), where block_write_full_page
 * would allocate a block.
 */
static __always_inline bool never_written(__u64 state, bool ext4)
{
	return !(state & (1UL << BH_MAPPED)) && (ext4 || !(state & (1UL << BH_DIRTY)));
}

/*
 * Copies into COPY (zeroed first) the bytes of the page's buffers that lie
 * wholly in [FROM, TO) and that write-back will not write. False if the page
 * has no buffers.
 */
static __always_inline bool copy_unwritten_buffers(struct page *page, __u32 from, __u32 to, bool ext4,
						   struct page_bytes *copy)
{
	struct buffer_head *head, *bh;
	__u64 base;

	if (!(page_flags(page) & (1UL << bpf_core_enum_value(enum pageflags, PG_private))))
		return false;
	for (int i = 0; i < PAGE_BYTES / 8; i++) /* volatile: clang would make it a memset, which BPF has not */
		((volatile __u64 *)copy->words)[i] = 0;
	head = (struct buffer_head *)BPF_CORE_READ(page, private);
	base = (__u64)BPF_CORE_READ(head, b_data);
	bh = head;
	for (int i = 0; i < PAGE_BYTES / 512 && bh; i++) { /* 512: the smallest block */
		__u64 off = (__u64)BPF_CORE_READ(bh, b_data) - base, size = BPF_CORE_READ(bh, b_size);

		if (never_written(BPF_CORE_READ(bh, b_state), ext4) && off >= from && off + size <= to &&
		    size <= PAGE_BYTES / 2)
			bpf_probe_read_kernel((char *)copy->words + (off & (PAGE_BYTES - 1)), size, (void *)(base + off));
		bh = BPF_CORE_READ(bh, b_this_page);
		if (bh == head)
			break;
	}
	return true;
}

/* Is INODE ext4's? (ext2 has the same magic, and its own write-back) */
static __always_inline bool is_ext4(struct inode *inode)
{
	char name[5] = {};

	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(inode, i_sb, s_type, name));
	return name[0] == 'e' && name[1] == 'x' && name[2] == 't' && name[3] == '4' && !name[4];
}

/* Write-back of a page the operation changed in part: are bytes there that no buffer will write? */
static __always_inline void write_back(struct page *page)
{
	struct address_space *mapping = folio_mapping_of(page);
	struct inode *inode = BPF_CORE_READ(mapping, host);
	struct partial_key key = {};
	struct partly_changed *seen;
	struct dx_lost_store ls;
	struct page_bytes *copy;
	struct dx_event *e;
	__u32 zero = 0, to, found = PAGE_BYTES;
	__u64 page_pos, isize;

	if (!any_partly_changed || !inode)
		return;
	inode_key(inode, &key.file);
	key.index = folio_index_of(page);
	seen = bpf_map_lookup_elem(&partial_pages, &key);
	if (!seen)
		return;
	ls = seen->ls;
	if (seen->page != (__u64)page)
		ls.len = 0; /* the page was evicted and read again since */
	bpf_map_delete_elem(&partial_pages, &key); /* this write-back write-protects its ptes */
	isize = BPF_CORE_READ(inode, i_size);
	page_pos = key.index << DX_PAGE_SHIFT;
	copy = bpf_map_lookup_elem(&page_copy, &zero);
	if (!ls.len || !copy || isize <= page_pos)
		return;
	to = ls.offset + ls.len;
	if (isize - page_pos < to) /* bytes past the end of the file are never written */
		to = isize - page_pos;
	if (!copy_unwritten_buffers(page, ls.offset, to, is_ext4(inode), copy))
		return;
	for (__u32 i = 0; i < PAGE_BYTES / 8; i++) {
		if (copy->words[i]) {
			found = i * 8;
			break;
		}
	}
	if (found == PAGE_BYTES)
		return;
	e = reserve_event(DX_LOST_STORE);
	if (!e)
		return;
	inode_file(inode, &e->file);
	e->lost_store = ls;
	e->lost_store.first_byte = found;
	submit_event(e);
}

SEC("fentry/folio_clear_dirty_for_io")
int BPF_PROG(on_write_back, struct folio *folio)
{
	if (folio_order_of(folio) == 0)
		write_back((struct page *)folio);
	return 0;
}

/* before 5.19 (folio_clear_dirty_for_io) */
SEC("fentry/clear_page_dirty_for_io")
int BPF_PROG(on_write_back_page, struct page *page)
{
	write_back(page);
	return 0;
}
