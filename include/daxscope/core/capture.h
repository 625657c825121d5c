/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Capture files: what `daxtrace record` writes and `daxtrace report` reads.
 * A header, then records of {type, length, crc32} + payload, then an END
 * record. Layout in docs/capture-format.md.
 */
#ifndef DAXSCOPE_CORE_CAPTURE_H
#define DAXSCOPE_CORE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/core/report.h"

#define DX_CAPTURE_MAGIC "DAXSCAP1"
#define DX_CAPTURE_VERSION 1
#define DX_CAPTURE_MAX_RECORD (1u << 20)

enum dx_record_type {
	DX_REC_EVENT = 1,   /* struct dx_event */
	DX_REC_PATH,        /* struct dx_file + NUL-terminated path */
	DX_REC_BANNER,      /* NUL-terminated text: what was and was not watched */
	DX_REC_FUSE_HIST,   /* uint32_t opcode, uint32_t pad, struct dx_hist: kernel aggregate */
	DX_REC_FILE_COUNTS, /* struct dx_file + struct dx_file_counts: kernel aggregate */
	DX_REC_END,         /* struct dx_capture_end */
	DX_REC_PROBE,       /* struct dx_probe: one concern, watched or not and why (before the events) */
	DX_REC_DROPS,       /* struct dx_drops_record: the kernel side's failure counters, cumulative */
	DX_REC_DIR,         /* NUL-terminated absolute path: only files under it were asked for (--path) */
	DX_REC_CUT,         /* struct dx_capture_cut: the recording stopped writing early (just before END) */
	DX_REC_MOUNT,       /* struct dx_mount_record + NUL-terminated mount point: a mount of another namespace */
	DX_REC_SKIPS,       /* struct dx_skips_record + its programs: runs the kernel skipped, cumulative */
	DX_REC_MAX
};

struct dx_drops_record {
	uint64_t drops[DX_DROP_MAX]; /* enum dx_drop */
};

/*
 * DX_REC_SKIPS: runs of the session's programs that the kernel skipped
 * (bpf_prog_info.recursion_misses: a program already running on that CPU,
 * preempted inside it on a preemptible kernel, or one the program itself
 * set off). Those runs saw nothing: the capture is short by what they would
 * have seen. Followed by nprograms struct dx_skipped_program (report.h),
 * those that missed any run.
 */
struct dx_skips_record {
	uint32_t counted;   /* 0: this kernel does not count them (before 5.12): nprograms is 0, not a count */
	uint32_t nprograms;
};
_Static_assert(sizeof(struct dx_skipped_program) == 64, "DX_REC_SKIPS's entries, docs/capture-format.md");

/*
 * DX_REC_MOUNT: a device no mount of the recorder's namespace has, as the
 * mount namespace of a task that punched a file there sees it (a container's).
 */
struct dx_mount_record {
	uint32_t dev;
	uint32_t pad;
	uint64_t mntns; /* the namespace's inode number, as /proc/PID/ns/mnt names it (mnt:[N]) */
	char fstype[64];
};

/* DX_REC_FILE_COUNTS: the kernel's page-event counters of one file. */
struct dx_file_counts_record {
	struct dx_file file;
	struct dx_file_counts counts;
};

/* DX_REC_FUSE_HIST: the kernel's latency histogram of one FUSE opcode. */
struct dx_fuse_hist_record {
	uint32_t opcode;
	uint32_t pad;
	struct dx_hist hist;
};

struct dx_capture_header {
	char magic[8];          /* DX_CAPTURE_MAGIC */
	uint32_t version;       /* DX_CAPTURE_VERSION */
	uint32_t abi;           /* DX_ABI_VERSION of the events inside */
	uint32_t event_size;    /* sizeof(struct dx_event) */
	uint32_t header_size;   /* sizeof(struct dx_capture_header) */
	uint64_t realtime_ns;   /* CLOCK_REALTIME at start, to print wall-clock times */
	uint64_t monotonic_ns;  /* CLOCK_MONOTONIC at the same moment (event clock) */
	char kernel[64];        /* uname -r of the traced machine */
};

struct dx_record_header {
	uint32_t type;
	uint32_t len;   /* payload bytes */
	uint32_t crc32; /* of the payload */
	uint32_t reserved;
};

struct dx_capture_end {
	uint64_t records; /* records before this one */
	uint64_t lost;    /* events the kernel could not deliver */
	uint64_t duration_ns;
};

enum dx_cut_reason {
	DX_CUT_MAX_SIZE = 1,  /* the next record would have passed --max-size */
	DX_CUT_WRITE_FAILED,  /* a write failed (a full filesystem): cut back to the last whole record */
};

/* DX_REC_CUT: why the capture holds fewer events than the recorder was given, and how many fewer. */
struct dx_capture_cut {
	uint32_t reason;             /* enum dx_cut_reason */
	int32_t error;               /* errno of the failed write, 0 for DX_CUT_MAX_SIZE */
	uint64_t max_size;           /* the bound in bytes (DX_CUT_MAX_SIZE), else 0 */
	uint64_t events_not_written; /* events given to the recorder that the file does not hold */
};
_Static_assert(sizeof(struct dx_capture_cut) == 24, "DX_REC_CUT's payload, docs/capture-format.md");

struct dx_capture_writer;
struct dx_capture_reader;

/*
 * Errors are written into err (one line naming the file) and NULL/-1 returned.
 * The capture is written to a new 0600 file beside PATH, renamed to PATH when finished.
 */
struct dx_capture_writer *dx_capture_create(const char *path, const char *kernel, char *err,
					    size_t errlen);
int dx_capture_append(struct dx_capture_writer *w, uint32_t type, const void *payload,
		      uint32_t len);
/* Flush buffered records to the file (fflush + fdatasync); -1 and err on failure. */
int dx_capture_flush(struct dx_capture_writer *w, char *err, size_t errlen);
/*
 * Bound the file to MAX_BYTES (0: no bound, the default), its CUT and END
 * records included: the record that would pass it and every one after it are
 * refused (-1 from dx_capture_append) and their events counted in a CUT record.
 */
void dx_capture_limit(struct dx_capture_writer *w, uint64_t max_bytes);
/*
 * Writes the END record (after a CUT record if the writer stopped early),
 * flushes, closes, puts the file at its name (it was written beside it, so a
 * capture already there stays whole until then) and frees. 0: whole; 1: cut
 * at the dx_capture_limit bound, err says how many events it holds and how
 * many not; -1: a write failed, err says the real error, and the file is cut
 * back to its last whole record (then a CUT and END record where giving up a
 * few more records makes room for them), holding the events err counts.
 */
int dx_capture_finish(struct dx_capture_writer *w, uint64_t lost, uint64_t duration_ns, char *err,
		      size_t errlen);

struct dx_capture_reader *dx_capture_open(const char *path, char *err, size_t errlen);
const struct dx_capture_header *dx_capture_info(const struct dx_capture_reader *r);
/*
 * Next record: 1 with type, payload and len set (payload valid until the next
 * call), 0 at a clean end (after END), -1 on damage: dx_capture_error() then
 * says what and at which byte offset; records before it stay valid.
 */
int dx_capture_next(struct dx_capture_reader *r, uint32_t *type, const void **payload,
		    uint32_t *len);
const char *dx_capture_error(const struct dx_capture_reader *r);
/* The END record, if the file had one (NULL if it was cut short). */
const struct dx_capture_end *dx_capture_trailer(const struct dx_capture_reader *r);
void dx_capture_close(struct dx_capture_reader *r);

uint32_t dx_crc32(const void *data, size_t len);
/* Is this a well-formed record of its type: its length, and text records NUL-terminated? */
bool dx_record_fits(uint32_t type, const void *payload, uint32_t len);

#endif /* DAXSCOPE_CORE_CAPTURE_H */
