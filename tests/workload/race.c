// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * race: a hole punch raced by writes and reads through a MAP_SHARED mapping
 * of the same file, at chosen times. It checks for itself which writes were
 * lost and prints one JSON object, so tests can hold daxscope's findings
 * against what really happened.
 *
 *   race --file PATH [--size BYTES] [--punch OFF:LEN] [--mode punch|zero]
 *        [--write-at MS:PAGE]... [--read-at MS:PAGE]... [--hammer-ms N]
 *        [--punches N] [--fragment] [--settle-ms N]
 *
 * --punches N (with --hammer-ms): punch N times, evenly over the hammering.
 * Under TCG a thread may be off its CPU for a whole punch; the later punches
 * start while the hammers are running, so the race is run, not hoped for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define MAX_ACCESSES 256
#define TOKEN_OFFSET 64
#define PATTERN 0x5a
#define SLOW_NS 1000000 /* hammered accesses slower than this (1 ms: a wait, not TCG noise) are recorded */

struct access {
	long at_ms;
	uint64_t page;
	uint64_t offset; /* of the token in the file: page + 64, + 8 per earlier write to the page */
	uint64_t t_ns;
	uint64_t access_ns;
	int64_t run_delay_ns; /* hammered: time runnable but not running, from before the access to after it; -1 unknown */
	uint64_t token;
	bool lost;
	const char *saw;
};

struct plan {
	struct access list[MAX_ACCESSES];
	int n;
};

struct config {
	const char *file;
	uint64_t size;
	uint64_t punch_off, punch_len;
	bool zero_mode;
	bool fragment;
	long hammer_ms;
	long punches;
	long settle_ms;
	struct plan writes, reads;
};

static long page_size;
static uint64_t *hammer_tokens; /* hammer mode: the last token stored in each punched page */
static volatile char *map;
static uint64_t punch_start_ns;
static volatile int punch_started, punch_done;
static uint64_t token_seq; /* only the writer thread stores: every token unique */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;

static void die(const char *what)
{
	fprintf(stderr, "race: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The calling thread's time spent runnable but not running (schedstat's
 * run_delay), or -1 where the kernel does not keep it: what of an access's
 * time was no wait of its own.
 */
static int64_t run_delay_ns(int fd)
{
	char buf[96];
	unsigned long long on_cpu, delay;
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	return sscanf(buf, "%llu %llu", &on_cpu, &delay) == 2 ? (int64_t)delay : -1;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ULL), .tv_nsec = (long)(t % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void wait_for_punch(void)
{
	pthread_mutex_lock(&start_lock);
	while (!punch_started)
		pthread_cond_wait(&start_cond, &start_lock);
	pthread_mutex_unlock(&start_lock);
}

static uint64_t token_offset(uint64_t page)
{
	return page * (uint64_t)page_size + TOKEN_OFFSET;
}

static volatile uint64_t *slot_of(const struct access *a)
{
	return (volatile uint64_t *)(map + a->offset);
}

static void store(struct access *a)
{
	a->token = 0xd5c0000000000000ULL | ++token_seq;
	a->t_ns = now_ns();
	*slot_of(a) = a->token;
	a->access_ns = now_ns() - a->t_ns;
}

static void load(struct access *a)
{
	uint64_t v, pattern;

	memset(&pattern, PATTERN, sizeof(pattern));
	madvise((void *)(map + a->page * (uint64_t)page_size), (size_t)page_size, MADV_DONTNEED);
	a->t_ns = now_ns();
	v = *slot_of(a);
	a->access_ns = now_ns() - a->t_ns;
	a->saw = v == pattern ? "old" : v == 0 ? "zero" : "other";
}

struct worker {
	struct config *cfg;
	struct plan *plan;
	void (*touch)(struct access *a);
	pid_t tid;
};

/*
 * Touches every punched page over and over for hammer_ms, and at least until
 * one whole pass after the punch returned: the last token stored in each page
 * then comes after the punch, and must survive it.
 */
static void hammer(struct worker *w)
{
	uint64_t first = w->cfg->punch_off / (uint64_t)page_size;
	uint64_t last = (w->cfg->punch_off + w->cfg->punch_len - 1) / (uint64_t)page_size;
	uint64_t end = punch_start_ns + (uint64_t)w->cfg->hammer_ms * 1000000ULL;
	bool after_punch = false;
	struct access a = { 0 };
	/* read every 64 accesses and after a slow one: a read per access would slow the hammer itself */
	int schedstat = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	int64_t since = -1;

	while (!after_punch || now_ns() < end) {
		after_punch = punch_done;
		for (uint64_t p = first; p <= last; p++) {
			if ((p - first) % 64 == 0)
				since = run_delay_ns(schedstat);
			a.page = p;
			a.offset = token_offset(p);
			a.at_ms = (long)((now_ns() - punch_start_ns) / 1000000ULL);
			w->touch(&a);
			if (w->touch == store)
				hammer_tokens[p - first] = a.token;
			if (a.access_ns > SLOW_NS && w->plan->n < MAX_ACCESSES) {
				int64_t now = run_delay_ns(schedstat);

				a.run_delay_ns = now >= 0 && since >= 0 ? now - since : -1;
				since = now;
				w->plan->list[w->plan->n++] = a;
			}
		}
	}
	if (schedstat >= 0)
		close(schedstat);
}

static void *work(void *arg)
{
	struct worker *w = arg;

	w->tid = gettid();
	wait_for_punch();
	if (w->cfg->hammer_ms) {
		hammer(w);
		return NULL;
	}
	for (int i = 0; i < w->plan->n; i++) {
		sleep_until(punch_start_ns + (uint64_t)w->plan->list[i].at_ms * 1000000ULL);
		w->touch(&w->plan->list[i]);
	}
	return NULL;
}

struct puncher {
	int fd;
	struct config *cfg;
	pid_t tid;
	uint64_t start, end;
	int ret, err;
};

/* start and end: of the first punch and of the last; a failed punch ends the series */
static void *punch(void *arg)
{
	struct puncher *p = arg;
	int mode = p->cfg->zero_mode ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE
				     : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	uint64_t spacing = (uint64_t)p->cfg->hammer_ms * 1000000ULL / (uint64_t)p->cfg->punches;

	p->tid = gettid();
	pthread_mutex_lock(&start_lock);
	p->start = punch_start_ns = now_ns();
	punch_started = 1;
	pthread_cond_broadcast(&start_cond);
	pthread_mutex_unlock(&start_lock);
	for (long i = 0; i < p->cfg->punches && !p->ret; i++) {
		sleep_until(p->start + (uint64_t)i * spacing);
		p->ret = fallocate(p->fd, mode, (off_t)p->cfg->punch_off, (off_t)p->cfg->punch_len);
		p->err = errno;
	}
	p->end = now_ns();
	punch_done = 1;
	return NULL;
}

static void write_blocks(int fd, const char *block, uint64_t first, uint64_t blocks, uint64_t step)
{
	for (uint64_t b = first; b < blocks; b += step)
		if (pwrite(fd, block, (size_t)page_size, (off_t)(b * (uint64_t)page_size)) != page_size)
			die("pwrite");
	if (fsync(fd))
		die("fsync");
}

/*
 * Many extents (one per block on ext4): punch out every other block and write
 * them back at once. Blocks a punch freed cannot be reused before its journal
 * commit, so each rewritten block lands away from its neighbours. Meant for
 * local filesystems: on delayfs every one of these punches is delayed.
 */
static void fragment(int fd, const char *block, uint64_t blocks)
{
	for (uint64_t b = 1; b < blocks; b += 2)
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(b * (uint64_t)page_size),
			      page_size))
			die("fallocate (--fragment)");
	write_blocks(fd, block, 1, blocks, 2);
}

static void fill(int fd, uint64_t size, bool fragmented)
{
	char *block = malloc((size_t)page_size);
	uint64_t blocks = size / (uint64_t)page_size;

	if (!block)
		die("malloc");
	memset(block, PATTERN, (size_t)page_size);
	write_blocks(fd, block, 0, blocks, 1);
	if (fragmented)
		fragment(fd, block, blocks);
	free(block);
}

/* Extents of the file, or -1 where FIEMAP is not supported (FUSE). */
static long count_extents(int fd)
{
	struct fiemap fm = { .fm_length = FIEMAP_MAX_OFFSET, .fm_flags = FIEMAP_FLAG_SYNC };

	return ioctl(fd, FS_IOC_FIEMAP, &fm) ? -1 : (long)fm.fm_mapped_extents;
}

/* Names the filesystem that refused the punch: its type and mount point. */
static void report_refusal(const char *file, dev_t dev, int err)
{
	char line[4096], where[1024], type[64];
	unsigned int maj, min;
	FILE *mi = fopen("/proc/self/mountinfo", "r");
	const char *sep;
	bool found = false;

	while (!found && mi && fgets(line, sizeof(line), mi))
		found = sscanf(line, "%*d %*d %u:%u %*s %1023s", &maj, &min, where) == 3 &&
			makedev(maj, min) == dev && (sep = strstr(line, " - ")) && sscanf(sep + 3, "%63s", type) == 1;
	if (mi)
		fclose(mi);
	fprintf(stderr, "race: fallocate on %s refused by %s (mounted at %s): %s\n", file, found ? type : "?",
		found ? where : "?", strerror(err));
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	putchar('"');
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'K': case 'k': return v << 10;
	case 'M': case 'm': return v << 20;
	case 'G': case 'g': return v << 30;
	case '\0': return v;
	}
	fprintf(stderr, "race: bad size '%s'\n", s);
	exit(2);
}

/* WHAT: what the number counts, for the error */
static long parse_count(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || v < 0 || errno) {
		fprintf(stderr, "race: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static void add_access(struct plan *p, const char *arg)
{
	long ms;
	unsigned long long page;

	if (sscanf(arg, "%ld:%llu", &ms, &page) != 2 || ms < 0 || p->n >= MAX_ACCESSES) {
		fprintf(stderr, "race: bad access '%s' (MS:PAGE)\n", arg);
		exit(2);
	}
	p->list[p->n].at_ms = ms;
	p->list[p->n].run_delay_ns = -1; /* measured only around hammered accesses */
	p->list[p->n++].page = page;
}

/*
 * Reads look at offset 64 of their page. Writes to the same page get a slot
 * each, so that a later write cannot hide whether an earlier one was lost.
 */
static void place(struct plan *p, uint64_t size, bool writes)
{
	for (int i = 0; i < p->n; i++) {
		struct access *a = &p->list[i];
		int earlier = 0;

		if (a->page >= size / (uint64_t)page_size) {
			fprintf(stderr, "race: page %" PRIu64 " is beyond the file\n", a->page);
			exit(2);
		}
		for (int j = 0; writes && j < i; j++)
			earlier += p->list[j].page == a->page;
		a->offset = token_offset(a->page) + (uint64_t)earlier * sizeof(uint64_t);
	}
}

static int by_time(const void *a, const void *b)
{
	const struct access *x = a, *y = b;

	return (x->at_ms > y->at_ms) - (x->at_ms < y->at_ms);
}

static void parse(int argc, char **argv, struct config *c)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },	{ "size", required_argument, NULL, 's' },
		{ "punch", required_argument, NULL, 'p' },	{ "mode", required_argument, NULL, 'm' },
		{ "write-at", required_argument, NULL, 'w' },	{ "read-at", required_argument, NULL, 'r' },
		{ "hammer-ms", required_argument, NULL, 'h' },	{ "fragment", no_argument, NULL, 'F' },
		{ "settle-ms", required_argument, NULL, 'S' },	{ "punches", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	char *colon;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': c->file = optarg; break;
		case 's': c->size = parse_size(optarg); break;
		case 'p':
			colon = strchr(optarg, ':');
			if (!colon) {
				fprintf(stderr, "race: bad --punch '%s' (OFF:LEN)\n", optarg);
				exit(2);
			}
			*colon = '\0';
			c->punch_off = parse_size(optarg);
			c->punch_len = parse_size(colon + 1);
			break;
		case 'm':
			if (strcmp(optarg, "punch") && strcmp(optarg, "zero")) {
				fprintf(stderr, "race: --mode is punch or zero, not '%s'\n", optarg);
				exit(2);
			}
			c->zero_mode = !strcmp(optarg, "zero");
			break;
		case 'w': add_access(&c->writes, optarg); break;
		case 'r': add_access(&c->reads, optarg); break;
		case 'h': c->hammer_ms = parse_count(optarg, "milliseconds"); break;
		case 'n': c->punches = parse_count(optarg, "number of punches"); break;
		case 'F': c->fragment = true; break;
		case 'S': c->settle_ms = parse_count(optarg, "milliseconds"); break;
		default:
			fprintf(stderr, "usage: race --file PATH [--size B] [--punch OFF:LEN] [--mode punch|zero] "
					"[--write-at MS:PAGE]... [--read-at MS:PAGE]... [--hammer-ms N] [--punches N] "
					"[--fragment] [--settle-ms N]\n");
			exit(2);
		}
	}
	if (optind < argc || !c->file || !c->size || c->size % (uint64_t)page_size || !c->punch_len ||
	    c->punch_len > c->size || c->punch_off > c->size - c->punch_len) {
		fprintf(stderr, "race: --file is required, --size a multiple of the page size, the punch inside it\n");
		exit(2);
	}
	if (c->punches < 1 || c->punches > 100 || (c->punches > 1 && !c->hammer_ms)) {
		fprintf(stderr, "race: --punches is 1 to 100, and more than one only with --hammer-ms\n");
		exit(2);
	}
	/* a worker sleeps until each of its accesses in turn */
	qsort(c->writes.list, (size_t)c->writes.n, sizeof(struct access), by_time);
	qsort(c->reads.list, (size_t)c->reads.n, sizeof(struct access), by_time);
	place(&c->writes, c->size, true);
	place(&c->reads, c->size, false);
}

static uint64_t stored_token(int fd, uint64_t offset)
{
	uint64_t v = 0;

	if (pread(fd, &v, sizeof(v), (off_t)offset) != sizeof(v))
		die("pread");
	return v;
}

/* Scheduled writes: each token must be there. Hammered pages: the last token stored. */
static int check_writes(struct config *c)
{
	uint64_t first = c->punch_off / (uint64_t)page_size;
	uint64_t pages = (c->punch_off + c->punch_len - 1) / (uint64_t)page_size - first + 1;
	int fd = open(c->file, O_RDONLY), lost = 0;

	if (fd < 0)
		die(c->file);
	if (c->hammer_ms) {
		for (uint64_t i = 0; i < pages; i++)
			lost += hammer_tokens[i] && stored_token(fd, token_offset(first + i)) != hammer_tokens[i];
		close(fd);
		return lost;
	}
	for (int i = 0; i < c->writes.n; i++) {
		struct access *a = &c->writes.list[i];

		a->lost = stored_token(fd, a->offset) != a->token;
		lost += a->lost;
	}
	close(fd);
	return lost;
}

static void print_accesses(const char *name, const struct plan *p, bool writes)
{
	printf(",\"%s\":[", name);
	for (int i = 0; i < p->n; i++) {
		const struct access *a = &p->list[i];

		printf("%s{\"page\":%" PRIu64 ",\"at_ms\":%ld,\"t_ns\":%" PRIu64 ",\"access_ns\":%" PRIu64,
		       i ? "," : "", a->page, a->at_ms, a->t_ns, a->access_ns);
		printf(",\"run_delay_ns\":%" PRId64, a->run_delay_ns);
		if (writes)
			printf(",\"offset\":%" PRIu64 ",\"lost\":%s}", a->offset, a->lost ? "true" : "false");
		else
			printf(",\"saw\":\"%s\"}", a->saw ? a->saw : "none");
	}
	printf("]");
}

int main(int argc, char **argv)
{
	static struct config c;
	struct worker writer = { .cfg = &c, .plan = &c.writes, .touch = store };
	struct worker reader = { .cfg = &c, .plan = &c.reads, .touch = load };
	struct puncher p = { .cfg = &c };
	pthread_t tw, tr, tp;
	struct stat st;
	long extents;
	int lost;

	page_size = sysconf(_SC_PAGESIZE);
	c.size = 16 * (uint64_t)page_size;
	c.punch_off = 2 * (uint64_t)page_size;
	c.punch_len = 4 * (uint64_t)page_size;
	c.settle_ms = 200;
	c.punches = 1;
	parse(argc, argv, &c);

	p.fd = open(c.file, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (p.fd < 0)
		die(c.file);
	fill(p.fd, c.size, c.fragment);
	extents = c.fragment ? count_extents(p.fd) : 0;
	/*
	 * Before pre-faulting: on FUSE with auto_inval_data (libfuse's default,
	 * e.g. fuse-overlayfs) a GETATTR that sees the mtime our writes changed
	 * drops the page cache, and the pages would not be mapped at the punch.
	 */
	if (fstat(p.fd, &st))
		die("fstat");
	map = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, p.fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	for (uint64_t off = 0; off < c.size; off += (uint64_t)page_size)
		(void)map[off]; /* cached and mapped read-only: a first write goes through page_mkwrite */
	hammer_tokens = calloc(c.punch_len / (uint64_t)page_size + 2, sizeof(*hammer_tokens));
	if (!hammer_tokens)
		die("calloc");

	pthread_create(&tw, NULL, work, &writer);
	pthread_create(&tr, NULL, work, &reader);
	pthread_create(&tp, NULL, punch, &p);
	pthread_join(tp, NULL);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	if (p.ret) {
		report_refusal(c.file, st.st_dev, p.err);
		return 1;
	}
	usleep((useconds_t)c.settle_ms * 1000);
	if (msync((void *)map, c.size, MS_SYNC))
		die("msync");
	munmap((void *)map, c.size);
	lost = check_writes(&c);

	printf("{\"file\":");
	print_json_string(c.file);
	printf(",\"dev\":\"%u:%u\",\"dev_t\":%" PRIu64 ",\"ino\":%" PRIu64
	       ",\"pid\":%d,\"punch_tid\":%d,\"writer_tid\":%d,\"reader_tid\":%d,\"page_size\":%ld",
	       major(st.st_dev), minor(st.st_dev), (uint64_t)st.st_dev, (uint64_t)st.st_ino, getpid(),
	       p.tid, writer.tid, reader.tid, page_size);
	printf(",\"punch\":{\"mode\":\"%s\",\"offset\":%" PRIu64 ",\"len\":%" PRIu64 ",\"start_ns\":%" PRIu64
	       ",\"end_ns\":%" PRIu64 ",\"count\":%ld,\"ret\":%d}",
	       c.zero_mode ? "zero" : "punch", c.punch_off, c.punch_len, p.start, p.end, c.punches, p.ret);
	if (c.fragment)
		printf(",\"extents\":%ld", extents);
	print_accesses("writes", &c.writes, true);
	print_accesses("reads", &c.reads, false);
	printf(",\"lost_writes\":%d}\n", lost);
	free(hammer_tokens);
	close(p.fd);
	return 0;
}
