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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "beside.h"
#include "daxscope/capture.h"
#include "daxscope/daxscope.h"

struct dx_capture_writer {
	FILE *f;
	char *path;     /* the name asked for: the capture appears there only when finished */
	char *tmp_path; /* where it is written meanwhile: a new file beside it */
	uint64_t records, events_flushed, events;
	int error;      /* errno of the first failure, 0 if none */
};

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
	if (fwrite(&h, sizeof(h), 1, w->f) != 1) {
		say(err, errlen, "%s: write failed: %s", path, strerror(errno));
		writer_free(w);
		return NULL;
	}
	return w;
}

static int write_failed(struct dx_capture_writer *w)
{
	if (!w->error)
		w->error = errno ? errno : EIO;
	return -1;
}

int dx_capture_append(struct dx_capture_writer *w, uint32_t type, const void *payload, uint32_t len)
{
	struct dx_record_header rh = { .type = type, .len = len, .crc32 = dx_crc32(payload, len) };

	if (w->error)
		return -1;
	if (!type || type >= DX_REC_MAX || len > DX_CAPTURE_MAX_RECORD) {
		errno = EINVAL;
		return write_failed(w);
	}
	errno = 0;
	if (fwrite(&rh, sizeof(rh), 1, w->f) != 1 || (len && fwrite(payload, len, 1, w->f) != 1))
		return write_failed(w);
	w->records++;
	w->events += type == DX_REC_EVENT;
	return 0;
}

/* Where it stands: a failed write keeps what was flushed before it. */
static void say_failure(const struct dx_capture_writer *w, char *err, size_t errlen)
{
	say(err, errlen, "%s: write failed: %s; it holds the %llu events flushed before", w->path,
	    strerror(w->error), (unsigned long long)w->events_flushed);
}

int dx_capture_flush(struct dx_capture_writer *w, char *err, size_t errlen)
{
	errno = 0;
	if (w->error || fflush(w->f) || fdatasync(fileno(w->f))) {
		write_failed(w);
		say_failure(w, err, errlen);
		return -1;
	}
	w->events_flushed = w->events;
	return 0;
}

int dx_capture_finish(struct dx_capture_writer *w, uint64_t lost, uint64_t duration_ns, char *err, size_t errlen)
{
	struct dx_capture_end end = { .records = w->records, .lost = lost, .duration_ns = duration_ns };
	int rc = 0;

	if (err && errlen)
		err[0] = '\0';
	if (dx_capture_append(w, DX_REC_END, &end, sizeof(end)) || dx_capture_flush(w, err, errlen))
		rc = -1;
	errno = 0;
	if (fclose(w->f) && !rc) {
		write_failed(w);
		say_failure(w, err, errlen);
		rc = -1;
	}
	w->f = NULL;
	/* even cut short, what was flushed is a capture the report reads up to the damage */
	if (rename(w->tmp_path, w->path) && !rc) {
		say(err, errlen, "%s: cannot put the capture in place: %s", w->path, strerror(errno));
		rc = -1;
	} else {
		free(w->tmp_path);
		w->tmp_path = NULL;
	}
	if (rc && err && !err[0])
		say_failure(w, err, errlen);
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
	case DX_REC_DROPS: return len == sizeof(struct dx_drops_record);
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
