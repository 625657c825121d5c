// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rawfs: a FUSE server of its own over raw /dev/fuse (no libfuse: Debian
 * bookworm's libfuse 3.14 has neither passthrough nor io_uring), serving the
 * regular files of one directory, with FUSE passthrough on or off, its
 * requests read from /dev/fuse or taken through io_uring:
 *   rawfs BACKING_DIR MOUNTPOINT [--passthrough=on|off] [--io-uring=on|off]
 *         [--delay-ms=N] [--after-ms=N] [--log=FILE]
 * It mounts, then serves in the foreground until unmounted.
 * --passthrough=on: every open is FOPEN_PASSTHROUGH to the backing file (one
 * backing id per inode, as the kernel requires), so reads, writes and mmap go
 * to the backing filesystem; the server sees only the rest (FALLOCATE among
 * them). off (the default): READ and WRITE come to the server, the page cache
 * is FUSE's own, as with delayfs.
 * --io-uring=on (the fuse module's enable_uring must be 1): after INIT, two
 * ring entries per queue (one queue per possible CPU, as the kernel has them)
 * take every request but FORGET and INTERRUPT, each in a thread of its own
 * (FUSE_IO_URING_CMD_REGISTER, then COMMIT_AND_FETCH with each reply).
 * FALLOCATE sleeps --delay-ms, runs fallocate() on the backing file, sleeps
 * --after-ms (default: --delay-ms) and replies; --log writes delayfs's lines
 * "T FALLOCATE received|punched|replied ino=I off=O len=L" and
 * "T READ|WRITE pid=P ino=I off=O len=L", each ending "via=dev" or
 * "via=uring" (T: CLOCK_MONOTONIC ns): when the backing file changed, which
 * I/O came to the server at all, and by which path.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/*
 * Protocol 7.40 (Linux 6.9), newer than bookworm's <linux/fuse.h> (7.38):
 * include/uapi/linux/fuse.h of torvalds/linux.
 */
#define RAWFS_PROTO_MINOR 40
#define RAWFS_FUSE_PASSTHROUGH (1ULL << 37)
#define RAWFS_FOPEN_PASSTHROUGH (1 << 7)

struct rawfs_init_out { /* struct fuse_init_out: max_stack_depth took unused[0] */
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
	uint32_t unused[6];
};

struct rawfs_open_out { /* struct fuse_open_out: backing_id was padding */
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

struct rawfs_backing_map { /* struct fuse_backing_map */
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define RAWFS_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct rawfs_backing_map)
#define RAWFS_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)

/* Protocol 7.42 (Linux 6.14): FUSE over io_uring, fs/fuse/dev_uring.c */
#define RAWFS_FUSE_OVER_IO_URING (1ULL << 41)
#define RAWFS_URING_CMD_REGISTER 1
#define RAWFS_URING_CMD_COMMIT_AND_FETCH 2

struct rawfs_uring_ent_in_out { /* struct fuse_uring_ent_in_out */
	uint64_t flags, commit_id;
	uint32_t payload_sz, padding;
	uint64_t reserved;
};

struct rawfs_uring_req_header { /* struct fuse_uring_req_header */
	char in_out[128]; /* fuse_in_header, then the reply's fuse_out_header */
	char op_in[128];  /* the request's first argument (in_args[0]) */
	struct rawfs_uring_ent_in_out ring_ent_in_out;
};

struct rawfs_uring_cmd_req { /* struct fuse_uring_cmd_req, in the SQE's 80-byte command area */
	uint64_t flags, commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#define MAX_WRITE (128 * 1024)
#define BUF_SIZE (MAX_WRITE + 4096)
#define MAX_NODES 4096
#define THREADS 4
#define URING_ENTRIES_PER_QUEUE 2

/* A file the kernel has looked up: nodeid = its index + 2 (1 is the root). */
struct node {
	ino_t ino;
	char name[256];
	uint64_t nlookup;
	int backing_id; /* passthrough: shared by every open of the inode, 0 when none */
	int opens;
};

static struct {
	int dev, backing;
	bool passthrough, io_uring;
	unsigned int delay_ms;
	int after_ms; /* -1: delay_ms */
	int log;
	pthread_mutex_t lock;
	struct node nodes[MAX_NODES];
} fs = { .after_ms = -1, .log = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* A ring entry: its buffers, as registered, and whether the request in it has its reply. */
struct uring_ent {
	struct rawfs_uring_req_header hdr;
	bool replied;
	char payload[BUF_SIZE];
};

/* The entry whose request this thread serves; NULL: the request came from /dev/fuse. */
static __thread struct uring_ent *uring_ent;

static void reply(const struct fuse_in_header *in, int error, const void *a, size_t alen, const void *b,
		  size_t blen)
{
	struct fuse_out_header out = { (uint32_t)(sizeof(out) + alen + blen), error, in->unique };
	struct iovec iov[3] = { { &out, sizeof(out) }, { (void *)a, alen }, { (void *)b, blen } };

	if (uring_ent) { /* the header in in_out, the arguments in the payload: committed by the caller */
		memcpy(uring_ent->hdr.in_out, &out, sizeof(out));
		memcpy(uring_ent->payload, a, alen);
		memcpy(uring_ent->payload + alen, b, blen);
		uring_ent->hdr.ring_ent_in_out.payload_sz = (uint32_t)(alen + blen);
		uring_ent->replied = true;
		return;
	}
	if (writev(fs.dev, iov, 3) < 0 && errno != ENOENT) /* ENOENT: the request was interrupted */
		fprintf(stderr, "rawfs: reply to opcode %u: %s\n", in->opcode, strerror(errno));
}

static void reply_err(const struct fuse_in_header *in, int error)
{
	reply(in, -error, NULL, 0, NULL, 0);
}

/* The node of a nodeid the kernel holds; NULL when unknown. */
static struct node *node_of(uint64_t nodeid)
{
	if (nodeid < 2 || nodeid - 2 >= MAX_NODES || !fs.nodes[nodeid - 2].nlookup)
		return NULL;
	return &fs.nodes[nodeid - 2];
}

/* The backing path of a nodeid, relative to BACKING_DIR; NULL when unknown. */
static const char *path_of(uint64_t nodeid)
{
	struct node *n;

	if (nodeid == FUSE_ROOT_ID)
		return ".";
	n = node_of(nodeid);
	return n ? n->name : NULL;
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	*a = (struct fuse_attr){
		.ino = st->st_ino, .size = (uint64_t)st->st_size, .blocks = (uint64_t)st->st_blocks,
		.atime = (uint64_t)st->st_atim.tv_sec, .mtime = (uint64_t)st->st_mtim.tv_sec,
		.ctime = (uint64_t)st->st_ctim.tv_sec, .atimensec = (uint32_t)st->st_atim.tv_nsec,
		.mtimensec = (uint32_t)st->st_mtim.tv_nsec, .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
		.mode = st->st_mode, .nlink = (uint32_t)st->st_nlink, .uid = st->st_uid, .gid = st->st_gid,
		.rdev = (uint32_t)st->st_rdev, .blksize = (uint32_t)st->st_blksize,
	};
}

/* LOOKUP and CREATE: the node of NAME (made on first sight), one more lookup; nodeid 0 if full. */
static uint64_t remember(const char *name, const struct stat *st)
{
	int free_slot = -1;

	pthread_mutex_lock(&fs.lock);
	for (int i = 0; i < MAX_NODES; i++) {
		struct node *n = &fs.nodes[i];

		if (n->nlookup && n->ino == st->st_ino && !strcmp(n->name, name)) {
			n->nlookup++;
			pthread_mutex_unlock(&fs.lock);
			return (uint64_t)i + 2;
		}
		if (!n->nlookup && !n->opens && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0) {
		fs.nodes[free_slot] = (struct node){ .ino = st->st_ino, .nlookup = 1 };
		snprintf(fs.nodes[free_slot].name, sizeof(fs.nodes[free_slot].name), "%s", name);
	}
	pthread_mutex_unlock(&fs.lock);
	return free_slot < 0 ? 0 : (uint64_t)free_slot + 2;
}

/* The entry of NAME in the backing directory; 0 or -errno. */
static int entry_of(const char *name, struct fuse_entry_out *e)
{
	struct stat st;

	if (fstatat(fs.backing, name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	*e = (struct fuse_entry_out){ .nodeid = remember(name, &st) };
	if (!e->nodeid)
		return -ENFILE;
	fill_attr(&e->attr, &st); /* entry_valid and attr_valid 0: nothing cached */
	return 0;
}

/*
 * OPEN and CREATE share it: the reply for FD, opened on NODEID. With
 * passthrough, the inode's backing id (FUSE_DEV_IOC_BACKING_OPEN on its
 * first open): the kernel refuses two backing files for one inode (-EBUSY).
 */
static int open_reply(uint64_t nodeid, int fd, struct rawfs_open_out *o)
{
	struct node *n = node_of(nodeid);
	int err = 0;

	*o = (struct rawfs_open_out){ .fh = (uint64_t)fd };
	if (!n)
		return -ENOENT;
	pthread_mutex_lock(&fs.lock);
	if (fs.passthrough && !n->backing_id) {
		struct rawfs_backing_map map = { .fd = fd };
		int id = ioctl(fs.dev, RAWFS_DEV_IOC_BACKING_OPEN, &map);

		if (id <= 0) {
			err = id < 0 ? -errno : -EIO;
			fprintf(stderr, "rawfs: FUSE_DEV_IOC_BACKING_OPEN %s: %s\n", n->name, strerror(-err));
		} else {
			n->backing_id = id;
		}
	}
	if (!err) {
		n->opens++;
		if (fs.passthrough) {
			o->open_flags = RAWFS_FOPEN_PASSTHROUGH;
			o->backing_id = n->backing_id;
		}
	}
	pthread_mutex_unlock(&fs.lock);
	return err;
}

/* The server opens for reading too: mmap writeback and reads use any of the file's handles. */
static int backing_flags(uint32_t flags)
{
	int f = (int)flags & ~(O_CREAT | O_EXCL | O_NOCTTY);

	return (f & O_ACCMODE) == O_WRONLY ? (f & ~O_ACCMODE) | O_RDWR : f;
}

static void start_uring(void);

static void do_init(const struct fuse_in_header *in, const struct fuse_init_in *arg)
{
	const struct {
		bool asked;
		uint64_t flag;
		const char *name;
	} features[] = {
		{ fs.passthrough, RAWFS_FUSE_PASSTHROUGH, "FUSE_PASSTHROUGH" },
		{ fs.io_uring, RAWFS_FUSE_OVER_IO_URING, "FUSE_OVER_IO_URING (is fuse's enable_uring 1?)" },
	};
	uint64_t offered = arg->flags, want = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_INIT_EXT;
	struct rawfs_init_out out = {
		.major = FUSE_KERNEL_VERSION, .minor = arg->minor < RAWFS_PROTO_MINOR ? arg->minor : RAWFS_PROTO_MINOR,
		.max_readahead = arg->max_readahead, .max_background = 16, .congestion_threshold = 12,
		.max_write = MAX_WRITE, .time_gran = 1,
	};

	if (arg->flags & FUSE_INIT_EXT)
		offered |= (uint64_t)arg->flags2 << 32;
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		if (!features[i].asked)
			continue;
		if (!(offered & features[i].flag)) { /* the mount fails: the test says why */
			fprintf(stderr, "rawfs: the kernel (protocol 7.%u) offers no %s\n", arg->minor, features[i].name);
			reply_err(in, EPROTO);
			return;
		}
		want |= features[i].flag;
	}
	if (fs.passthrough)
		out.max_stack_depth = 1; /* the backing files' filesystem is not stacked */
	want &= offered;
	out.flags = (uint32_t)want;
	out.flags2 = (uint32_t)(want >> 32);
	reply(in, 0, &out, sizeof(out), NULL, 0);
	if (fs.io_uring) /* the kernel takes ring entries once INIT is answered */
		start_uring();
}

static void do_setattr(const struct fuse_in_header *in, const struct fuse_setattr_in *a, const char *path)
{
	int fd = a->valid & FATTR_FH ? (int)a->fh : openat(fs.backing, path, O_RDWR);
	struct fuse_attr_out out = { 0 };
	struct stat st;
	int err = 0;

	if (fd < 0)
		return reply_err(in, errno);
	if ((a->valid & FATTR_MODE) && fchmod(fd, a->mode & 07777))
		err = errno;
	if (!err && (a->valid & FATTR_SIZE) && ftruncate(fd, (off_t)a->size))
		err = errno;
	if (!err && (a->valid & (FATTR_ATIME | FATTR_MTIME))) {
		struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

		if (a->valid & FATTR_ATIME)
			tv[0] = (struct timespec){ (time_t)a->atime, a->valid & FATTR_ATIME_NOW ? UTIME_NOW : a->atimensec };
		if (a->valid & FATTR_MTIME)
			tv[1] = (struct timespec){ (time_t)a->mtime, a->valid & FATTR_MTIME_NOW ? UTIME_NOW : a->mtimensec };
		if (futimens(fd, tv))
			err = errno;
	}
	if (!err && fstat(fd, &st))
		err = errno;
	if (!(a->valid & FATTR_FH))
		close(fd);
	if (err)
		return reply_err(in, err);
	fill_attr(&out.attr, &st);
	reply(in, 0, &out, sizeof(out), NULL, 0);
}

/* "T WHAT ino=I off=O len=L", one write() per line */
static void log_step(const char *what, uint64_t fh, uint64_t off, uint64_t len)
{
	struct stat st;

	if (fs.log >= 0)
		dprintf(fs.log, "%llu %s ino=%llu off=%llu len=%llu via=%s\n", now_ns(), what,
			fstat((int)fh, &st) ? 0ULL : (unsigned long long)st.st_ino, (unsigned long long)off,
			(unsigned long long)len, uring_ent ? "uring" : "dev");
}

static void log_fallocate(const char *step, const struct fuse_fallocate_in *f)
{
	char what[32];

	snprintf(what, sizeof(what), "FALLOCATE %s", step);
	log_step(what, f->fh, f->offset, f->length);
}

static void log_io(const char *op, const struct fuse_in_header *in, uint64_t fh, uint64_t off, uint32_t len)
{
	char what[32];

	snprintf(what, sizeof(what), "%s pid=%u", op, in->pid);
	log_step(what, fh, off, len);
}

/* The reason this server sleeps: a punch that stays in progress long enough to be raced. */
static void do_fallocate(const struct fuse_in_header *in, const struct fuse_fallocate_in *f)
{
	int err;

	log_fallocate("received", f);
	usleep(fs.delay_ms * 1000);
	err = fallocate((int)f->fh, (int)f->mode, (off_t)f->offset, (off_t)f->length) ? errno : 0;
	log_fallocate("punched", f);
	usleep((unsigned int)(fs.after_ms < 0 ? (int)fs.delay_ms : fs.after_ms) * 1000);
	log_fallocate("replied", f);
	reply_err(in, err);
}

static void do_readdir(const struct fuse_in_header *in, const struct fuse_read_in *r)
{
	char *buf = malloc(r->size);
	size_t used = 0;
	uint64_t index = 0;
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(fs.backing, ".", O_RDONLY | O_DIRECTORY);
	dir = fd < 0 ? NULL : fdopendir(fd);
	if (!buf || !dir) {
		int err = buf ? EIO : ENOMEM;

		free(buf);
		if (fd >= 0 && !dir)
			close(fd);
		if (dir)
			closedir(dir);
		return reply_err(in, err);
	}
	while ((de = readdir(dir))) {
		size_t namelen = strlen(de->d_name), len = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
		struct fuse_dirent *d = (struct fuse_dirent *)(buf + used);

		if (index++ < r->offset)
			continue;
		if (used + len > r->size)
			break;
		memset(d, 0, len);
		*d = (struct fuse_dirent){ .ino = de->d_ino, .off = index, .namelen = (uint32_t)namelen,
					   .type = de->d_type };
		memcpy(d->name, de->d_name, namelen);
		used += len;
	}
	closedir(dir);
	reply(in, 0, buf, used, NULL, 0);
	free(buf);
}

static void forget(uint64_t nodeid, uint64_t nlookup)
{
	struct node *n;

	pthread_mutex_lock(&fs.lock);
	n = node_of(nodeid);
	if (n)
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
	pthread_mutex_unlock(&fs.lock);
}

static void do_release(const struct fuse_in_header *in, const struct fuse_release_in *r)
{
	struct node *n;

	close((int)r->fh);
	pthread_mutex_lock(&fs.lock);
	n = in->nodeid >= 2 && in->nodeid - 2 < MAX_NODES ? &fs.nodes[in->nodeid - 2] : NULL;
	if (n && n->opens > 0 && !--n->opens && n->backing_id) {
		uint32_t id = (uint32_t)n->backing_id;

		/* the kernel keeps its own reference while the inode uses it */
		if (ioctl(fs.dev, RAWFS_DEV_IOC_BACKING_CLOSE, &id))
			fprintf(stderr, "rawfs: FUSE_DEV_IOC_BACKING_CLOSE %u: %s\n", id, strerror(errno));
		n->backing_id = 0;
	}
	pthread_mutex_unlock(&fs.lock);
	reply_err(in, 0);
}

static void serve(const struct fuse_in_header *in, const void *arg)
{
	const char *path = path_of(in->nodeid);
	struct fuse_entry_out e;
	struct rawfs_open_out o;
	struct stat st;
	int fd, err;

	switch (in->opcode) {
	case FUSE_INIT: return do_init(in, arg);
	case FUSE_FORGET: return forget(in->nodeid, ((const struct fuse_forget_in *)arg)->nlookup);
	case FUSE_BATCH_FORGET: {
		const struct fuse_batch_forget_in *b = arg;
		const struct fuse_forget_one *one = (const void *)(b + 1);

		for (uint32_t i = 0; i < b->count; i++)
			forget(one[i].nodeid, one[i].nlookup);
		return;
	}
	case FUSE_INTERRUPT: return; /* every request finishes anyway */
	case FUSE_DESTROY: return reply_err(in, 0);
	}
	if (!path)
		return reply_err(in, ENOENT);
	switch (in->opcode) {
	case FUSE_LOOKUP:
		if (in->nodeid != FUSE_ROOT_ID) /* one flat directory */
			return reply_err(in, ENOENT);
		err = entry_of(arg, &e);
		return err ? reply_err(in, -err) : reply(in, 0, &e, sizeof(e), NULL, 0);
	case FUSE_GETATTR: {
		const struct fuse_getattr_in *g = arg;
		struct fuse_attr_out out = { 0 };

		if ((g->getattr_flags & FUSE_GETATTR_FH) ? fstat((int)g->fh, &st)
							 : fstatat(fs.backing, path, &st, AT_SYMLINK_NOFOLLOW))
			return reply_err(in, errno);
		fill_attr(&out.attr, &st);
		return reply(in, 0, &out, sizeof(out), NULL, 0);
	}
	case FUSE_SETATTR: return do_setattr(in, arg, path);
	case FUSE_OPEN:
		fd = openat(fs.backing, path, backing_flags(((const struct fuse_open_in *)arg)->flags));
		if (fd < 0)
			return reply_err(in, errno);
		err = open_reply(in->nodeid, fd, &o);
		if (err)
			close(fd);
		return err ? reply_err(in, -err) : reply(in, 0, &o, sizeof(o), NULL, 0);
	case FUSE_CREATE: {
		const struct fuse_create_in *c = arg;
		const char *name = (const char *)(c + 1);

		if (in->nodeid != FUSE_ROOT_ID)
			return reply_err(in, EACCES);
		fd = openat(fs.backing, name, backing_flags(c->flags) | O_CREAT | (int)(c->flags & O_EXCL),
			    c->mode & ~c->umask);
		if (fd < 0)
			return reply_err(in, errno);
		err = entry_of(name, &e);
		if (!err)
			err = open_reply(e.nodeid, fd, &o);
		if (err) {
			close(fd);
			return reply_err(in, -err);
		}
		return reply(in, 0, &e, sizeof(e), &o, sizeof(o));
	}
	case FUSE_READ: {
		const struct fuse_read_in *r = arg;
		char *buf;
		ssize_t n;

		log_io("READ", in, r->fh, r->offset, r->size);
		buf = malloc(r->size);
		n = buf ? pread((int)r->fh, buf, r->size, (off_t)r->offset) : -1;
		if (n < 0)
			reply_err(in, buf ? errno : ENOMEM);
		else
			reply(in, 0, buf, (size_t)n, NULL, 0);
		free(buf);
		return;
	}
	case FUSE_WRITE: {
		const struct fuse_write_in *w = arg;
		struct fuse_write_out out;
		ssize_t n;

		log_io("WRITE", in, w->fh, w->offset, w->size);
		n = pwrite((int)w->fh, w + 1, w->size, (off_t)w->offset);
		out = (struct fuse_write_out){ .size = (uint32_t)n };
		return n < 0 ? reply_err(in, errno) : reply(in, 0, &out, sizeof(out), NULL, 0);
	}
	case FUSE_FALLOCATE: return do_fallocate(in, arg);
	case FUSE_FLUSH: return reply_err(in, 0);
	case FUSE_RELEASE: return do_release(in, arg);
	case FUSE_FSYNC: {
		const struct fuse_fsync_in *f = arg;

		fd = (int)f->fh;
		return reply_err(in, ((f->fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(fd) : fsync(fd)) ? errno : 0);
	}
	case FUSE_UNLINK:
		return reply_err(in, in->nodeid == FUSE_ROOT_ID && !unlinkat(fs.backing, arg, 0) ? 0 : errno);
	case FUSE_STATFS: {
		struct fuse_statfs_out out = { 0 };
		struct statvfs sv;

		if (fstatvfs(fs.backing, &sv))
			return reply_err(in, errno);
		out.st = (struct fuse_kstatfs){ .blocks = sv.f_blocks, .bfree = sv.f_bfree, .bavail = sv.f_bavail,
						.files = sv.f_files, .ffree = sv.f_ffree, .bsize = (uint32_t)sv.f_bsize,
						.namelen = (uint32_t)sv.f_namemax, .frsize = (uint32_t)sv.f_frsize };
		return reply(in, 0, &out, sizeof(out), NULL, 0);
	}
	case FUSE_OPENDIR: {
		struct fuse_open_out out = { 0 };

		return reply(in, 0, &out, sizeof(out), NULL, 0);
	}
	case FUSE_READDIR: return do_readdir(in, arg);
	case FUSE_RELEASEDIR: return reply_err(in, 0);
	default: return reply_err(in, ENOSYS); /* the kernel stops asking, or does it itself */
	}
}

static void *worker(void *unused)
{
	char *buf = malloc(BUF_SIZE);

	(void)unused;
	while (buf) {
		ssize_t n = read(fs.dev, buf, BUF_SIZE);

		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(struct fuse_in_header))
			break; /* ENODEV: unmounted */
		serve((const struct fuse_in_header *)buf, buf + sizeof(struct fuse_in_header));
	}
	free(buf);
	return NULL;
}

/* The size of a request's first argument, which io_uring puts in op_in: its opcode's header struct. */
static size_t first_arg_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_GETATTR: return sizeof(struct fuse_getattr_in);
	case FUSE_SETATTR: return sizeof(struct fuse_setattr_in);
	case FUSE_OPEN:
	case FUSE_OPENDIR: return sizeof(struct fuse_open_in);
	case FUSE_CREATE: return sizeof(struct fuse_create_in);
	case FUSE_READ:
	case FUSE_READDIR: return sizeof(struct fuse_read_in);
	case FUSE_WRITE: return sizeof(struct fuse_write_in);
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR: return sizeof(struct fuse_release_in);
	case FUSE_FLUSH: return sizeof(struct fuse_flush_in);
	case FUSE_FSYNC: return sizeof(struct fuse_fsync_in);
	case FUSE_FALLOCATE: return sizeof(struct fuse_fallocate_in);
	default: return 0; /* LOOKUP, UNLINK: the name is the payload (fuse_set_zero_arg0) */
	}
}

/* A request in a ring entry, laid out as /dev/fuse gives it: header, first argument, the rest. */
static size_t uring_request(const struct uring_ent *e, char *buf)
{
	const struct fuse_in_header *in = (const void *)e->hdr.in_out;
	size_t first = first_arg_size(in->opcode), rest = e->hdr.ring_ent_in_out.payload_sz;

	if (first > sizeof(e->hdr.op_in) || rest > BUF_SIZE - sizeof(*in) - first)
		return 0;
	memcpy(buf, in, sizeof(*in));
	memcpy(buf + sizeof(*in), e->hdr.op_in, first);
	memcpy(buf + sizeof(*in) + first, e->payload, rest);
	return sizeof(*in) + first + rest;
}

/*
 * One ring entry of queue QID, in a ring of its own: registered, then each
 * request served and its reply committed with the fetch of the next. Ends
 * when the kernel ends the entry (-ENOTCONN: unmounted).
 */
static void *uring_worker(void *arg)
{
	unsigned int qid = (unsigned int)(uintptr_t)arg, cmd_op = RAWFS_URING_CMD_REGISTER;
	struct uring_ent *e = calloc(1, sizeof(*e));
	char *buf = malloc(BUF_SIZE);
	struct iovec iov[2];
	uint64_t commit_id = 0;
	struct io_uring ring;
	int err = e && buf ? io_uring_queue_init(2, &ring, IORING_SETUP_SQE128) : -ENOMEM;

	if (err) {
		fprintf(stderr, "rawfs: io_uring queue %u: %s\n", qid, strerror(-err));
		exit(1);
	}
	iov[0] = (struct iovec){ &e->hdr, sizeof(e->hdr) };
	iov[1] = (struct iovec){ e->payload, sizeof(e->payload) };
	for (;;) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring); /* the ring is empty: never NULL */
		char *sqe128 = (char *)sqe;
		struct rawfs_uring_cmd_req *req = (void *)(sqe128 + offsetof(struct io_uring_sqe, cmd));
		struct io_uring_cqe *cqe;
		size_t len;
		int res;

		if (!sqe)
			abort();
		memset(sqe128, 0, 2 * sizeof(*sqe)); /* SQE128: the command area runs into the second half */
		sqe->opcode = IORING_OP_URING_CMD;
		sqe->fd = fs.dev;
		sqe->cmd_op = cmd_op;
		if (cmd_op == RAWFS_URING_CMD_REGISTER) {
			sqe->addr = (uintptr_t)iov;
			sqe->len = 2; /* header and payload */
		}
		req->qid = (uint16_t)qid;
		req->commit_id = commit_id;
		res = io_uring_submit_and_wait(&ring, 1);
		if (res >= 0)
			res = io_uring_wait_cqe(&ring, &cqe);
		if (res >= 0) {
			res = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
		}
		if (res == -ENOTCONN)
			break;
		if (res < 0) {
			fprintf(stderr, "rawfs: io_uring queue %u, command %u: %s\n", qid, cmd_op, strerror(-res));
			exit(1);
		}
		commit_id = e->hdr.ring_ent_in_out.commit_id;
		len = uring_request(e, buf);
		uring_ent = e;
		e->replied = false;
		if (len)
			serve((const struct fuse_in_header *)buf, buf + sizeof(struct fuse_in_header));
		if (!e->replied) /* every fetched request is committed, or the entry is lost */
			reply_err((const struct fuse_in_header *)e->hdr.in_out, len ? ENOSYS : EINVAL);
		uring_ent = NULL;
		cmd_op = RAWFS_URING_CMD_COMMIT_AND_FETCH;
	}
	io_uring_queue_exit(&ring);
	return NULL;
}

/* The kernel's queues: one per possible CPU (fuse_uring_create), "0-N" in sysfs. */
static unsigned int uring_queues(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned int first = 0, last = 0;
	int n = f ? fscanf(f, "%u-%u", &first, &last) : 0;

	if (f)
		fclose(f);
	return n == 2 ? last + 1 : first + 1;
}

static void start_uring(void)
{
	unsigned int queues = uring_queues();

	for (unsigned int qid = 0; qid < queues; qid++) {
		for (int i = 0; i < URING_ENTRIES_PER_QUEUE; i++) {
			pthread_t t;

			pthread_create(&t, NULL, uring_worker, (void *)(uintptr_t)qid);
			pthread_detach(t);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passthrough", required_argument, NULL, 'p' }, { "io-uring", required_argument, NULL, 'u' },
		{ "delay-ms", required_argument, NULL, 'd' },	 { "after-ms", required_argument, NULL, 'a' },
		{ "log", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	pthread_t threads[THREADS - 1];
	char mount_opts[128];
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': fs.passthrough = !strcmp(optarg, "on"); break;
		case 'u': fs.io_uring = !strcmp(optarg, "on"); break;
		case 'd': fs.delay_ms = (unsigned int)atoi(optarg); break;
		case 'a': fs.after_ms = atoi(optarg); break;
		case 'l':
			fs.log = open(optarg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fs.log < 0) {
				perror(optarg);
				return 1;
			}
			break;
		default: optind = argc + 1;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, "usage: rawfs BACKING_DIR MOUNTPOINT [--passthrough=on|off] [--io-uring=on|off] "
				"[--delay-ms=N] [--after-ms=N] [--log=FILE]\n");
		return 2;
	}
	fs.backing = open(argv[optind], O_RDONLY | O_DIRECTORY);
	fs.dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fs.backing < 0 || fs.dev < 0) {
		perror(fs.backing < 0 ? argv[optind] : "/dev/fuse");
		return 1;
	}
	snprintf(mount_opts, sizeof(mount_opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fs.dev);
	if (mount("rawfs", argv[optind + 1], "fuse.rawfs", MS_NOSUID | MS_NODEV, mount_opts)) {
		perror("mount");
		return 1;
	}
	for (int i = 0; i < THREADS - 1; i++)
		pthread_create(&threads[i], NULL, worker, NULL);
	worker(NULL);
	for (int i = 0; i < THREADS - 1; i++)
		pthread_join(threads[i], NULL);
	return 0;
}
