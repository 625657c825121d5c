// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Direct IO on punched files (ext4, xfs and others built on iomap): a punch
 * must drain it and keep new IO out while it changes data. Sent at the IO's
 * start, for armed files only.
 */
#include "daxscope.bpf.h"

SEC("tp_btf/iomap_dio_rw_begin")
int BPF_PROG(on_dio_begin, struct kiocb *iocb, struct iov_iter *iter)
{
	struct inode *inode = iocb->ki_filp->f_inode;
	__u64 offset = iocb->ki_pos, len = BPF_CORE_READ(iter, count);
	struct dx_file_key key;
	struct armed_file *w;
	struct dx_event *e;

	inode_key_btf(inode, &key);
	w = armed_file_of(&key);
	if (!w || !window_covers_bytes(w, offset, len))
		return 0;
	e = reserve_event(DX_IO_REQUEST);
	if (!e)
		return 0;
	if (BPF_CORE_READ(iter, data_source)) /* the user's buffer is the source: a write */
		e->flags |= DX_F_WRITE;
	inode_file(inode, &e->file);
	e->io.offset = offset;
	e->io.len = len;
	submit_event(e);
	return 0;
}
