// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * readrace: buffered read() and readahead (posix_fadvise WILLNEED) of a file
 * racing repeated whole-file hole punches, the race mapping->invalidate_lock
 * closed in 5.15: before it, read() and readahead take no fault lock, and a
 * page read in after the punch dropped the cache but before it freed the
 * blocks keeps the old bytes in the hole. Optional threads read the file
 * through a MAP_SHARED mapping: their faults take the fault lock and wait.
 * Optional syncers keep the journal committing (a 4 KiB write and fdatasync
 * of a file of their own, in a loop), so that a punch more often sleeps
 * starting its transaction, between dropping the cache and freeing the
 * blocks, as on a busy filesystem.
 *
 * The rounds begin once every thread has done its first pass. Each round
 * writes a pattern over the whole file (then fsync, unless --no-fsync: the
 * punch then flushes the dirty pages itself), punches it, and checks for
 * itself: a page that reads back non-zero through the page cache
 * while an O_DIRECT read of it finds the hole is stale. One JSON object out.
 *
 *   readrace --file PATH [--size BYTES] [--rounds N] [--readers N]
 *            [--mappers N] [--syncers N] [--no-fsync]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096
#define PATTERN 0xa5
#define MAX_THREADS 16

struct config {
	const char *file;
	size_t size;
	int rounds, readers, mappers, syncers;
	bool fsync_first;
};

struct shared {
	const struct config *cfg;
	int fd;
	atomic_bool stop;
	atomic_int started; /* threads past their first read, fault pass or sync */
	pthread_mutex_t tid_lock;
	int tids[MAX_THREADS];
	int ntids;
};

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void note_tid(struct shared *sh)
{
	pthread_mutex_lock(&sh->tid_lock);
	sh->tids[sh->ntids++] = (int)syscall(SYS_gettid);
	pthread_mutex_unlock(&sh->tid_lock);
}

/* The thread's first pass is done: main starts the rounds of punches once every thread's is. */
static void first_pass_done(struct shared *sh, bool *done)
{
	if (*done)
		return;
	*done = true;
	atomic_fetch_add(&sh->started, 1);
}

/* read() and readahead over the whole file, from a moving start, until told to stop. */
static void *reader(void *arg)
{
	struct shared *sh = arg;
	size_t size = sh->cfg->size, at = 0;
	char *buf = malloc(64 * 1024);
	bool started = false;

	if (!buf)
		die("malloc");
	note_tid(sh);
	while (!atomic_load(&sh->stop)) {
		posix_fadvise(sh->fd, 0, (off_t)size, POSIX_FADV_WILLNEED);
		for (size_t off = at; off < size && !atomic_load(&sh->stop); off += 64 * 1024)
			if (pread(sh->fd, buf, 64 * 1024, (off_t)off) < 0)
				die("pread");
		at = (at + 7 * PAGE) % size;
		first_pass_done(sh, &started);
	}
	free(buf);
	return NULL;
}

/* Reads a byte of each page through a shared mapping: faults that take the fault lock. */
static void *mapper(void *arg)
{
	struct shared *sh = arg;
	size_t size = sh->cfg->size;
	volatile unsigned char *map = mmap(NULL, size, PROT_READ, MAP_SHARED, sh->fd, 0);
	unsigned sum = 0;
	bool started = false;

	if (map == MAP_FAILED)
		die("mmap");
	note_tid(sh);
	while (!atomic_load(&sh->stop)) {
		for (size_t off = 0; off < size; off += PAGE)
			sum += map[off];
		madvise((void *)map, size, MADV_DONTNEED); /* fault again next pass */
		first_pass_done(sh, &started);
	}
	munmap((void *)map, size);
	return (void *)(uintptr_t)sum;
}

/* Keeps the journal busy: a page written and synced to a file of its own, again and again. */
static void *syncer(void *arg)
{
	struct shared *sh = arg;
	char path[4096], page[PAGE];
	bool started = false;
	int fd;

	snprintf(path, sizeof(path), "%s.sync%d", sh->cfg->file, (int)syscall(SYS_gettid));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(path);
	memset(page, PATTERN, sizeof(page));
	for (unsigned n = 0; !atomic_load(&sh->stop); n++) {
		if (pwrite(fd, page, sizeof(page), (off_t)(n % 256) * PAGE) != PAGE || fdatasync(fd))
			die("syncer");
		first_pass_done(sh, &started);
	}
	close(fd);
	unlink(path);
	return NULL;
}

static void write_pattern(const struct config *cfg, int fd, unsigned char *buf)
{
	memset(buf, PATTERN, cfg->size);
	if (pwrite(fd, buf, cfg->size, 0) != (ssize_t)cfg->size)
		die("pwrite");
	if (cfg->fsync_first && fsync(fd))
		die("fsync");
}

/*
 * Pages that read back non-zero through the cache while the file holds the
 * hole (O_DIRECT sees zeros), listed as runs {round, page, pages}.
 */
static int stale_pages(const struct config *cfg, int fd, int dfd, unsigned char *buf, unsigned char *dbuf,
		       int round, FILE *list, int *listed)
{
	size_t npages = cfg->size / PAGE, run = 0;
	int stale = 0;

	if (pread(fd, buf, cfg->size, 0) != (ssize_t)cfg->size)
		die("pread check");
	if (pread(dfd, dbuf, cfg->size, 0) != (ssize_t)cfg->size)
		die("pread O_DIRECT");
	for (size_t p = 0; p <= npages; p++) {
		bool cached = false, disk = false;

		for (size_t i = 0; p < npages && i < PAGE; i++) {
			cached |= buf[p * PAGE + i] != 0;
			disk |= dbuf[p * PAGE + i] != 0;
		}
		if (cached && !disk) {
			stale++;
			run++;
		} else if (run) {
			fprintf(list, "%s{\"round\":%d,\"page\":%zu,\"pages\":%zu}", (*listed)++ ? "," : "", round,
				p - run, run);
			run = 0;
		}
	}
	return stale;
}

static void usage(void)
{
	fprintf(stderr, "usage: readrace --file PATH [--size BYTES] [--rounds N] [--readers N] [--mappers N] "
			"[--syncers N] [--no-fsync]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },   { "size", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' }, { "readers", required_argument, NULL, 'R' },
		{ "mappers", required_argument, NULL, 'm' }, { "syncers", required_argument, NULL, 'S' },
		{ "no-fsync", no_argument, NULL, 'n' },
		{ 0 },
	};
	struct config cfg = { .size = 1 << 20, .rounds = 40, .readers = 2, .fsync_first = true };
	struct shared sh = { .cfg = &cfg, .tid_lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t threads[MAX_THREADS];
	unsigned char *buf, *dbuf;
	char *listing = NULL;
	size_t listing_len = 0;
	FILE *list;
	int c, dfd, nthreads = 0, damaged_rounds = 0, damaged_pages = 0, listed = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': cfg.file = optarg; break;
		case 's': cfg.size = strtoull(optarg, NULL, 0) & ~(size_t)(PAGE - 1); break;
		case 'r': cfg.rounds = atoi(optarg); break;
		case 'R': cfg.readers = atoi(optarg); break;
		case 'm': cfg.mappers = atoi(optarg); break;
		case 'S': cfg.syncers = atoi(optarg); break;
		case 'n': cfg.fsync_first = false; break;
		default: usage();
		}
	}
	if (!cfg.file || !cfg.size || cfg.readers < 0 || cfg.mappers < 0 || cfg.syncers < 0 ||
	    cfg.readers + cfg.mappers + cfg.syncers > MAX_THREADS)
		usage();
	sh.fd = open(cfg.file, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (sh.fd < 0)
		die(cfg.file);
	dfd = open(cfg.file, O_RDONLY | O_DIRECT);
	if (dfd < 0)
		die("open O_DIRECT");
	if (posix_memalign((void **)&buf, PAGE, cfg.size) || posix_memalign((void **)&dbuf, PAGE, cfg.size))
		die("posix_memalign");
	list = open_memstream(&listing, &listing_len);
	if (!list)
		die("open_memstream");
	write_pattern(&cfg, sh.fd, buf);
	for (int i = 0; i < cfg.readers + cfg.mappers + cfg.syncers; i++)
		if (pthread_create(&threads[nthreads++], NULL,
				   i < cfg.readers ? reader : i < cfg.readers + cfg.mappers ? mapper : syncer, &sh))
			die("pthread_create");
	/* every thread at work before the first punch (under TCG a new thread can wait rounds to run), 10 s at most */
	for (int ms = 0; atomic_load(&sh.started) < nthreads && ms < 10000; ms++)
		usleep(1000);
	for (int round = 0; round < cfg.rounds; round++) {
		int stale;

		if (round)
			write_pattern(&cfg, sh.fd, buf);
		if (fallocate(sh.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)cfg.size))
			die("fallocate");
		stale = stale_pages(&cfg, sh.fd, dfd, buf, dbuf, round, list, &listed);
		damaged_rounds += stale > 0;
		damaged_pages += stale;
	}
	atomic_store(&sh.stop, true);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	fclose(list);
	printf("{\"file\":\"%s\",\"size\":%zu,\"rounds\":%d,\"fsync\":%s,\"punch_tid\":%d,\"reader_tids\":[",
	       cfg.file, cfg.size, cfg.rounds, cfg.fsync_first ? "true" : "false", (int)syscall(SYS_gettid));
	for (int i = 0; i < sh.ntids; i++)
		printf("%s%d", i ? "," : "", sh.tids[i]);
	printf("],\"damaged_rounds\":%d,\"stale_pages\":%d,\"stale\":[%s]}\n", damaged_rounds, damaged_pages,
	       listing ? listing : "");
	free(listing);
	free(buf);
	free(dbuf);
	return 0;
}
