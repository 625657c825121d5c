// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Capture files (docs/capture-format.md). The reader trusts nothing: every
 * length is checked against the record type and the bytes left before it is
 * used, every payload against its CRC, and the first damage stops reading
 * with the file name and offset, keeping what came before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "beside.h"
#include "daxscope/core/capture.h"
#include "daxscope/core/report.h"

/* Where a capture stands: its size, and the records and events up to there. */
struct capture_point {
	uint64_t bytes, records, events;
};

struct dx_capture_writer {
	FILE *f;
	char *path;     /* the name asked for: the capture appears there only when finished */
	char *tmp_path; /* where it is written meanwhile: a new file beside it */
	struct capture_point written; /* every record given to stdio */
	struct capture_point flushed; /* what the last successful flush put in the file */
	uint64_t max_size;            /* dx_capture_limit, 0 for none */
	uint64_t events_refused;      /* events not taken: after the bound or a failure */
	bool at_bound;                /* the bound refused a record: the writer takes no more */
	int error;      /* errno of the first failure, 0 if none */
};

/* What ends a capture cut short: a CUT record and the END record, kept free below --max-size. */
#define TRAILER_SIZE (2 * sizeof(struct dx_record_header) + sizeof(struct dx_capture_cut) + sizeof(struct dx_capture_end))
/* A failed write gives up at most this many further whole records to make room for the trailer. */
#define TRAILER_TRIES 4

struct dx_capture_reader {
	FILE *f;
	char *path;
	uint64_t offset, size;
	struct dx_capture_header header;
	struct dx_capture_end end;
	bool ended, damaged;
	uint8_t *payload;
	char error[512];
};

/* CRC-32 (IEEE 802.3, reflected): zlib's. */
uint32_t dx_crc32(const void *data, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	while (len) { /* zlib takes a uInt length */
		uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;

		c = crc32(c, data, chunk);
		data = (const char *)data + chunk;
		len -= chunk;
	}
	return (uint32_t)c;
}

static void say(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- writer ---- */

static void writer_free(struct dx_capture_writer *w)
{
	if (w->f)
		fclose(w->f);
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->tmp_path);
	free(w->path);
	free(w);
}

/* A new file beside PATH, 0600: an existing capture at PATH is untouched until the new one is whole. */
static int create_beside(struct dx_capture_writer *w)
{
	return dx_create_beside(w->path, &w->tmp_path);
}

struct dx_capture_writer *dx_capture_create(const char *path, const char *kernel, char *err, size_t errlen)
{
	struct dx_capture_writer *w = calloc(1, sizeof(*w));
	struct dx_capture_header h = { .version = DX_CAPTURE_VERSION, .abi = DX_ABI_VERSION };
	int fd;

	if (!w || !(w->path = strdup(path))) {
		say(err, errlen, "%s: out of memory", path);
		free(w);
		return NULL;
	}
	fd = create_beside(w);
	if (fd < 0 || !(w->f = fdopen(fd, "w"))) {
		say(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		writer_free(w);
		return NULL;
	}
	setvbuf(w->f, NULL, _IOFBF, 1 << 20);
	memcpy(h.magic, DX_CAPTURE_MAGIC, sizeof(h.magic));
	h.event_size = sizeof(struct dx_event);
	h.header_size = sizeof(h);
	h.realtime_ns = clock_ns(CLOCK_REALTIME);
	h.monotonic_ns = clock_ns(CLOCK_MONOTONIC);
	snprintf(h.kernel, sizeof(h.kernel), "%s", kernel ? kernel : "");
	/* in the file at once: a full filesystem is refused here, leaving no file the report cannot read */
	if (fwrite(&h, sizeof(h), 1, w->f) != 1 || fflush(w->f)) {
		say(err, errlen, "%s: cannot write the capture's header: %s; nothing recorded, no file left", path,
		    strerror(errno));
		__fpurge(w->f);
		writer_free(w);
		return NULL;
	}
	w->written.bytes = w->flushed.bytes = sizeof(h);
	return w;
}

static int write_failed(struct dx_capture_writer *w)
{
	if (!w->error)
		w->error = errno ? errno : EIO;
	return -1;
}

static void record_header(struct dx_record_header *rh, uint32_t type, const void *payload, uint32_t len)
{
	*rh = (struct dx_record_header){ .type = type, .len = len, .crc32 = dx_crc32(payload, len) };
}

static int put(struct dx_capture_writer *w, uint32_t type, const void *payload, uint32_t len)
{
	struct dx_record_header rh;

	record_header(&rh, type, payload, len);
	errno = 0;
	if (fwrite(&rh, sizeof(rh), 1, w->f) != 1 || (len && fwrite(payload, len, 1, w->f) != 1))
		return write_failed(w);
	w->written.bytes += sizeof(rh) + len;
	w->written.records++;
	w->written.events += type == DX_REC_EVENT;
	return 0;
}

void dx_capture_limit(struct dx_capture_writer *w, uint64_t max_bytes)
{
	w->max_size = max_bytes;
}

int dx_capture_append(struct dx_capture_writer *w, uint32_t type, const void *payload, uint32_t len)
{
	if (w->error || w->at_bound) {
		w->events_refused += type == DX_REC_EVENT;
		return -1;
	}
	if (!type || type >= DX_REC_MAX || len > DX_CAPTURE_MAX_RECORD) {
		errno = EINVAL;
		return write_failed(w);
	}
	if (w->max_size && w->written.bytes + sizeof(struct dx_record_header) + len + TRAILER_SIZE > w->max_size) {
		w->at_bound = true;
		w->events_refused += type == DX_REC_EVENT;
		return -1;
	}
	if (put(w, type, payload, len)) {
		w->events_refused += type == DX_REC_EVENT; /* not whole in the file: a cut removes what is */
		return -1;
	}
	return 0;
}

int dx_capture_flush(struct dx_capture_writer *w, char *err, size_t errlen)
{
	errno = 0;
	if (w->error || fflush(w->f) || fdatasync(fileno(w->f))) {
		write_failed(w);
		say(err, errlen, "%s: write failed: %s", w->path, strerror(w->error));
		return -1;
	}
	w->flushed = w->written;
	return 0;
}

/*
 * The whole records in the file after the last flush, read back from it (a
 * failed write leaves a prefix of what stdio was given): how many, the last
 * TRAILER_TRIES of them (with the flush point before them) in RING.
 */
static size_t whole_records(const struct dx_capture_writer *w, struct capture_point *ring)
{
	int fd = fileno(w->f);
	struct capture_point at = w->flushed;
	struct dx_record_header rh;
	struct stat st;
	size_t n = 0;

	ring[n++ % TRAILER_TRIES] = at;
	if (fstat(fd, &st))
		return n;
	while (pread(fd, &rh, sizeof(rh), (off_t)at.bytes) == sizeof(rh) && rh.type && rh.type < DX_REC_MAX &&
	       rh.len <= DX_CAPTURE_MAX_RECORD && at.bytes + sizeof(rh) + rh.len <= (uint64_t)st.st_size) {
		at.bytes += sizeof(rh) + rh.len;
		at.records++;
		at.events += rh.type == DX_REC_EVENT;
		ring[n++ % TRAILER_TRIES] = at;
	}
	return n;
}

/* CUT and END records at AT, in the file; 0 if both are there whole and synced. */
static int put_trailer(struct dx_capture_writer *w, const struct capture_point *at, const struct dx_capture_cut *cut,
		       const struct dx_capture_end *end)
{
	struct {
		struct dx_record_header cut_header;
		struct dx_capture_cut cut;
		struct dx_record_header end_header;
		struct dx_capture_end end;
	} t = { .cut = *cut, .end = *end };
	_Static_assert(sizeof(t) == TRAILER_SIZE, "the trailer is the records, unpadded");

	t.end.records = at->records + 1;
	record_header(&t.cut_header, DX_REC_CUT, &t.cut, sizeof(t.cut));
	record_header(&t.end_header, DX_REC_END, &t.end, sizeof(t.end));
	return pwrite(fileno(w->f), &t, sizeof(t), (off_t)at->bytes) == (ssize_t)sizeof(t) && !fdatasync(fileno(w->f)) ? 0 : -1;
}

/*
 * After a failed write: the file cut back to its last whole record, then the
 * CUT and END records, giving up at most TRAILER_TRIES - 1 further records to
 * make room for them on a full filesystem; without room it ends at a whole
 * record, which the reader reports as cut short. Returns where it ends.
 */
static struct capture_point cut_back(struct dx_capture_writer *w, const struct dx_capture_end *end)
{
	struct capture_point ring[TRAILER_TRIES], at;
	struct dx_capture_cut cut = { .reason = DX_CUT_WRITE_FAILED, .error = w->error };
	size_t n;

	__fpurge(w->f); /* what stdio still holds is never written: it would land past the cut */
	n = whole_records(w, ring);
	for (size_t i = 0; i < n && i < TRAILER_TRIES; i++) {
		at = ring[(n - 1 - i) % TRAILER_TRIES];
		cut.events_not_written = w->written.events + w->events_refused - at.events;
		if (!ftruncate(fileno(w->f), (off_t)at.bytes) && !put_trailer(w, &at, &cut, end))
			return at;
	}
	at = ring[(n - 1) % TRAILER_TRIES];
	if (ftruncate(fileno(w->f), (off_t)at.bytes))
		at = w->flushed; /* cannot cut: the reader stops at the damage after the last flush */
	return at;
}

int dx_capture_finish(struct dx_capture_writer *w, uint64_t lost, uint64_t duration_ns, char *err, size_t errlen)
{
	struct dx_capture_end end = { .records = w->written.records, .lost = lost, .duration_ns = duration_ns };
	struct dx_capture_cut cut = { .reason = DX_CUT_MAX_SIZE, .max_size = w->max_size,
				      .events_not_written = w->events_refused };
	struct capture_point held;
	int rc = w->error ? -1 : w->at_bound ? 1 : 0;

	if (err && errlen)
		err[0] = '\0';
	if (rc == 1 && !put(w, DX_REC_CUT, &cut, sizeof(cut)))
		end.records++;
	if (w->error || put(w, DX_REC_END, &end, sizeof(end)) || fflush(w->f) || fdatasync(fileno(w->f))) {
		write_failed(w);
		held = cut_back(w, &end);
		say(err, errlen, "%s: write failed: %s; cut back to its last whole record, it holds %llu events, "
				 "%llu not written",
		    w->path, strerror(w->error), (unsigned long long)held.events,
		    (unsigned long long)(w->written.events + w->events_refused - held.events));
		rc = -1;
	} else if (rc == 1) {
		say(err, errlen, "%s: stopped at --max-size %llu bytes: it holds %llu events, %llu after them not written",
		    w->path, (unsigned long long)w->max_size, (unsigned long long)w->written.events,
		    (unsigned long long)w->events_refused);
	}
	errno = 0;
	if (fclose(w->f) && rc >= 0) { /* flushed and synced: only a filesystem that reports late (NFS) fails here */
		say(err, errlen, "%s: write failed: %s", w->path, strerror(errno ? errno : EIO));
		rc = -1;
	}
	w->f = NULL;
	/* even cut short, the file is a capture the report reads */
	if (rename(w->tmp_path, w->path)) {
		say(err, errlen, "%s: cannot put the capture in place: %s", w->path, strerror(errno));
		rc = -1;
	} else {
		free(w->tmp_path);
		w->tmp_path = NULL;
	}
	writer_free(w);
	return rc;
}

/* ---- reader ---- */

static struct dx_capture_reader *reader_fail(struct dx_capture_reader *r, char *err, size_t errlen,
					     const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say(err, errlen, "%s: %s", r->path, why);
	dx_capture_close(r);
	return NULL;
}

struct dx_capture_reader *dx_capture_open(const char *path, char *err, size_t errlen)
{
	struct dx_capture_reader *r = calloc(1, sizeof(*r));
	struct dx_capture_header *h;
	struct stat st;
	int fd;

	if (!r || !(r->path = strdup(path)) || !(r->payload = malloc(DX_CAPTURE_MAX_RECORD))) {
		say(err, errlen, "%s: out of memory", path);
		if (r) {
			free(r->path);
			free(r);
		}
		return NULL;
	}
	h = &r->header;
	/* non-blocking: a FIFO without a writer must not hang the open; regular files ignore the flag */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return reader_fail(r, err, errlen, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return reader_fail(r, err, errlen, "not a daxscope capture (not a regular file)");
	}
	r->f = fdopen(fd, "r");
	if (!r->f) {
		close(fd);
		return reader_fail(r, err, errlen, "cannot open: %s", strerror(errno));
	}
	r->size = (uint64_t)st.st_size;
	if (r->size < sizeof(*h))
		return reader_fail(r, err, errlen, "not a daxscope capture (%llu bytes, the header needs %zu)",
				   (unsigned long long)r->size, sizeof(*h));
	if (fread(h, sizeof(*h), 1, r->f) != 1)
		return reader_fail(r, err, errlen, "cannot read the header: %s", strerror(errno));
	if (memcmp(h->magic, DX_CAPTURE_MAGIC, sizeof(h->magic)))
		return reader_fail(r, err, errlen, "not a daxscope capture (bad magic at offset 0)");
	if (h->version != DX_CAPTURE_VERSION)
		return reader_fail(r, err, errlen, "capture format version %u at offset %zu, this daxscope reads %u",
				   h->version, offsetof(struct dx_capture_header, version), DX_CAPTURE_VERSION);
	if (h->abi != DX_ABI_VERSION)
		return reader_fail(r, err, errlen, "event ABI %u at offset %zu, this daxscope reads %u", h->abi,
				   offsetof(struct dx_capture_header, abi), DX_ABI_VERSION);
	if (h->event_size != sizeof(struct dx_event) || h->header_size != sizeof(*h))
		return reader_fail(r, err, errlen,
				   "event size %u / header size %u at offset %zu, this daxscope has %zu / %zu",
				   h->event_size, h->header_size, offsetof(struct dx_capture_header, event_size),
				   sizeof(struct dx_event), sizeof(*h));
	h->kernel[sizeof(h->kernel) - 1] = '\0';
	r->offset = sizeof(*h);
	return r;
}

const struct dx_capture_header *dx_capture_info(const struct dx_capture_reader *r)
{
	return &r->header;
}

static int damaged(struct dx_capture_reader *r, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(r->error, sizeof(r->error), "%s: %s", r->path, why);
	r->damaged = true;
	return -1;
}

static bool cut_reason_known(const void *payload)
{
	uint32_t reason;

	memcpy(&reason, payload, sizeof(reason)); /* the first field, wherever the payload lies */
	return reason == DX_CUT_MAX_SIZE || reason == DX_CUT_WRITE_FAILED;
}

/* As many programs as it says, each name NUL-terminated; none where the kernel does not count. */
static bool skips_fit(const void *payload, uint32_t len)
{
	const struct dx_skipped_program *p = (const void *)((const char *)payload + sizeof(struct dx_skips_record));
	struct dx_skips_record h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, payload, sizeof(h));
	if (len != sizeof(h) + (uint64_t)h.nprograms * sizeof(*p) || (!h.counted && h.nprograms))
		return false;
	for (uint32_t i = 0; i < h.nprograms; i++)
		if (!memchr(p[i].name, '\0', sizeof(p[i].name)))
			return false;
	return true;
}

bool dx_record_fits(uint32_t type, const void *payload, uint32_t len)
{
	const char *text = payload;

	switch (type) {
	case DX_REC_EVENT: return len == sizeof(struct dx_event);
	case DX_REC_PATH: return len > sizeof(struct dx_file) && text[len - 1] == '\0';
	case DX_REC_BANNER:
	case DX_REC_DIR: return len > 0 && text[len - 1] == '\0';
	case DX_REC_FUSE_HIST: return len == sizeof(struct dx_fuse_hist_record);
	case DX_REC_FILE_COUNTS: return len == sizeof(struct dx_file_counts_record);
	case DX_REC_END: return len == sizeof(struct dx_capture_end);
	case DX_REC_PROBE: return len == sizeof(struct dx_probe);
	/* shorter from a daxscope that kept fewer counters: the rest read as 0 */
	case DX_REC_DROPS: return len && len <= sizeof(struct dx_drops_record) && len % sizeof(uint64_t) == 0;
	case DX_REC_CUT: return len == sizeof(struct dx_capture_cut) && cut_reason_known(payload);
	case DX_REC_MOUNT:
		return len > sizeof(struct dx_mount_record) && text[len - 1] == '\0' &&
		       memchr(((const struct dx_mount_record *)payload)->fstype, '\0', 64);
	case DX_REC_SKIPS: return skips_fit(payload, len);
	}
	return false;
}

int dx_capture_next(struct dx_capture_reader *r, uint32_t *type, const void **payload, uint32_t *len)
{
	struct dx_record_header rh;
	uint64_t at = r->offset, left = r->size - r->offset;

	if (r->damaged)
		return -1;
	if (r->ended) {
		if (left)
			return damaged(r, "trailing data after the end record at offset %llu", (unsigned long long)at);
		return 0;
	}
	if (!left)
		return damaged(r, "ends at offset %llu without an end record: the capture was cut short",
			       (unsigned long long)at);
	if (left < sizeof(rh))
		return damaged(r, "truncated record at offset %llu (needs %zu bytes, %llu left)",
			       (unsigned long long)at, sizeof(rh), (unsigned long long)left);
	if (fread(&rh, sizeof(rh), 1, r->f) != 1)
		return damaged(r, "read failed at offset %llu: %s", (unsigned long long)at, strerror(errno));
	if (!rh.type || rh.type >= DX_REC_MAX)
		return damaged(r, "unknown record type %u at offset %llu", rh.type, (unsigned long long)at);
	if (rh.len > DX_CAPTURE_MAX_RECORD)
		return damaged(r, "bad record length %u at offset %llu", rh.len, (unsigned long long)at);
	if (left - sizeof(rh) < rh.len)
		return damaged(r, "truncated record at offset %llu (needs %zu bytes, %llu left)",
			       (unsigned long long)at, sizeof(rh) + rh.len, (unsigned long long)left);
	if (rh.len && fread(r->payload, rh.len, 1, r->f) != 1)
		return damaged(r, "read failed at offset %llu: %s", (unsigned long long)at, strerror(errno));
	if (dx_crc32(r->payload, rh.len) != rh.crc32)
		return damaged(r, "corrupted record at offset %llu (checksum mismatch)", (unsigned long long)at);
	if (!dx_record_fits(rh.type, r->payload, rh.len))
		return damaged(r, "bad record (type %u, length %u) at offset %llu", rh.type, rh.len,
			       (unsigned long long)at);
	r->offset += sizeof(rh) + rh.len;
	if (rh.type == DX_REC_END) {
		memcpy(&r->end, r->payload, sizeof(r->end));
		r->ended = true;
	}
	*type = rh.type;
	*payload = r->payload;
	*len = rh.len;
	return 1;
}

const char *dx_capture_error(const struct dx_capture_reader *r)
{
	return r->damaged ? r->error : NULL;
}

const struct dx_capture_end *dx_capture_trailer(const struct dx_capture_reader *r)
{
	return r->ended ? &r->end : NULL;
}

void dx_capture_close(struct dx_capture_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->payload);
	free(r->path);
	free(r);
}
