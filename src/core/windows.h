/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Punch windows not yet judged, as the correlator (src/core/correlate.c)
 * holds them, and the tables it finds them by: every window in opening
 * order, each file's table (the window a lock wait fell in, in O(log n)),
 * and per task and file the windows whose latest group its next page event
 * may join. All on the event thread.
 */
#ifndef DAXSCOPE_WINDOWS_H
#define DAXSCOPE_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/core/correlate.h"
#include "daxscope/core/judge.h"
#include "u64index.h"

struct punch_window;

struct window_links {
	struct punch_window *prev, *next;
};

struct window_list {
	struct punch_window *first, *last;
};

struct punch_window {
	size_t file; /* index into files */
	uint64_t seq; /* opening order: windows are visited and judged in it */
	uint64_t lost_at_open; /* events lost before it opened: more by its judging make it incomplete */
	struct dx_task punch;
	uint32_t op;
	uint64_t offset, len, size_at_begin;
	uint64_t first_page, last_page;
	uint64_t begin, end; /* end 0 while open */
	uint64_t fuse_sent, fuse_reply; /* its request that changes the data */
	int64_t ret;
	bool unterminated, aborted, incomplete;
	bool faults_unwatched; /* its file was mapped while the fault hooks were not attached */
	bool change_undated;   /* FUSE: its data change could not be dated, so neither can what raced it */
	bool reads_unwatched;  /* a mapped page-cache file, on a kernel where its read faults go unseen */
	/* the kernel's evidence: data changes sampled, those without the lock or before it was known, the first
	 * and last, dirty bytes dropped */
	uint32_t changes, unlocked, lock_unknown;
	uint64_t first_change, last_change, cancelled_bytes;
	bool kernel_totals; /* its end event brought the kernel's own totals of the above */
	uint32_t guard;     /* enum dx_fault_guard: what the kernel read */
	uint32_t fs_magic;  /* its filesystem's s_magic, 0 if not known */
	struct dx_fault_group *groups;
	size_t ngroups, cap_groups;
	struct u64_map last_group; /* tid -> index of its latest group: a task takes one fault at a time */
	struct dx_page_mark *dirtied, *deleted, *added, *read; /* read: one a page of each block read */
	size_t ndirtied, cap_dirtied, ndeleted, cap_deleted, nadded, cap_added, nread, cap_read;
	struct dx_page_mark *evicted; /* pages it added, deleted since by others: the correlator's alone */
	size_t nevicted, cap_evicted;
	struct dx_io_mark *ios;
	size_t nios, cap_ios;
	size_t kept; /* groups, marks and requests: at most DX_WINDOW_EVENTS */
	bool partial; /* it refused one: past its limit or the budget */
	struct window_links all;  /* every window not yet judged, in opening order */
	struct window_links open; /* the open ones of its file, in opening order */
	struct window_links late; /* its file's late ones (see struct file_windows) */
	size_t slot;              /* in its file's table */
	bool late_begin;
};

struct window_slot {
	struct punch_window *w; /* NULL once judged */
	uint64_t begin;         /* its begin, or an earlier window's if later: never decreases */
};

/*
 * A file's windows not yet judged, in opening order, to find the first one a
 * lock wait falls in: begins never decrease but for late windows (their
 * begin event came after the reorder delay), which are kept apart and looked
 * at one by one: a stream has next to none. Past LATE_WINDOWS of them a late
 * window is taken as beginning when its begin arrived, and marked incomplete:
 * a crafted capture cannot make every lookup linear.
 */
#define LATE_WINDOWS 16

struct file_windows {
	struct window_slot *slots;
	size_t n, cap, live;
	struct u64_tree ends; /* per slot: its end, UINT64_MAX while open, 0 when judged or late */
	struct window_list open, late;
	size_t nlate;
};

/* The windows of one file in which a task's latest group is not closed: those its next page event may join. */
struct task_windows {
	struct u64_heap seqs; /* by opening order; seqs of windows judged since linger until reached */
	size_t live;          /* of which not judged */
};

/* A window is on three lists at once: their links in it. */
#define ALL offsetof(struct punch_window, all)
#define OPEN offsetof(struct punch_window, open)
#define LATE offsetof(struct punch_window, late)

void list_append(struct window_list *l, struct punch_window *w, size_t at);
void list_remove(struct window_list *l, struct punch_window *w, size_t at);

void table_add(struct file_windows *fw, struct punch_window *w);
/* W ended: off the open list, its end in the table. */
void table_ended(struct file_windows *fw, struct punch_window *w);
/* W judged: out of the table (a file no longer punched holds nothing). */
void table_remove(struct file_windows *fw, struct punch_window *w);
/* How many of the file's slots had begun by T (begins never decrease). */
size_t begun_by(const struct file_windows *fw, uint64_t t);
/* The file's first window, in opening order, open at T: the one a lock wait that began then fell in. */
struct punch_window *window_at(const struct file_windows *fw, uint64_t t);

/* ALL: file << 32 | tid -> struct task_windows. The task's windows on FILE, NULL if none. */
struct task_windows *task_windows(const struct u64_map *all, size_t file, uint32_t tid);
/* The task's latest group in W opened: its next page event on the file may join it. */
void joinable(struct u64_map *all, struct punch_window *w, uint32_t tid);
/* One of them closed or was judged: false once the last is gone (TW freed). */
bool unjoinable(struct u64_map *all, size_t file, struct task_windows *tw, uint32_t tid);

#endif /* DAXSCOPE_WINDOWS_H */
