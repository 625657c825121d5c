// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * delayfs: a passthrough FUSE filesystem that sleeps around every FALLOCATE
 * and COPY_FILE_RANGE, so that a punch or copy stays in progress long enough
 * to be raced:
 *   delayfs BACKING_DIR MOUNTPOINT [--delay-ms=N] [--after-ms=N]
 *           [--truncate-delay-ms=N] [--log=FILE] [FUSE options]
 * The handler sleeps N ms, runs fallocate() (copy_file_range(), in place on
 * the backing files) on the backing file, sleeps --after-ms (default N) ms. A
 * truncate that shrinks sleeps --truncate-delay-ms before and after. --log
 * writes the server's own clock (CLOCK_MONOTONIC ns), one line per step:
 * "T FALLOCATE received|punched|replied ino=I off=O len=L",
 * "T COPY_FILE_RANGE received|copied|replied ino=I off=O len=L" (the
 * destination), "T SETATTR received|truncated|replied ino=I size=S",
 * "T READ|WRITE pid=P ino=I off=O len=L": the ground truth daxscope's
 * verdicts are held against.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static struct {
	int backing; /* dirfd of BACKING_DIR: every path is resolved against it */
	unsigned int delay_ms;
	int after_ms; /* -1: delay_ms */
	unsigned int truncate_delay_ms;
	const char *log_path;
	int log; /* O_APPEND fd, -1 without --log: one write() per line keeps lines whole */
} fs = { .after_ms = -1, .log = -1 };

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static unsigned long long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long long)st.st_ino;
}

/* One step of a request on the server's clock: "T WHAT ino=I ARGS". */
static void log_step(const char *what, int fd, const char *fmt, long long a, long long b)
{
	char args[96];

	if (fs.log < 0)
		return;
	snprintf(args, sizeof(args), fmt, a, b);
	dprintf(fs.log, "%llu %s ino=%llu %s\n", now_ns(), what, ino_of(fd), args);
}

/* FUSE paths start with '/': make them relative to the backing dirfd. */
static const char *rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

static int neg(int ret)
{
	return ret < 0 ? -errno : ret;
}

static int dfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (fi)
		return neg(fstat((int)fi->fh, st));
	return neg(fstatat(fs.backing, rel(path), st, AT_SYMLINK_NOFOLLOW));
}

static int dfs_access(const char *path, int mask)
{
	return neg(faccessat(fs.backing, rel(path), mask, 0));
}

static int dfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	int fd = openat(fs.backing, rel(path), O_RDONLY | O_DIRECTORY);
	struct dirent *de;
	DIR *dir;

	(void)off, (void)fi, (void)flags;
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(dir)))
		if (fill(buf, de->d_name, NULL, 0, 0))
			break;
	closedir(dir);
	return 0;
}

static int dfs_mkdir(const char *path, mode_t mode)
{
	return neg(mkdirat(fs.backing, rel(path), mode));
}

static int dfs_unlink(const char *path)
{
	return neg(unlinkat(fs.backing, rel(path), 0));
}

static int dfs_rmdir(const char *path)
{
	return neg(unlinkat(fs.backing, rel(path), AT_REMOVEDIR));
}

static int dfs_rename(const char *from, const char *to, unsigned int flags)
{
	return neg(renameat2(fs.backing, rel(from), fs.backing, rel(to), flags));
}

static int dfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (fi)
		return neg(fchmod((int)fi->fh, mode));
	return neg(fchmodat(fs.backing, rel(path), mode, 0));
}

/* A request that changes data: what it is, and the syscall that does it on the backing file. */
struct change {
	const char *request; /* "FALLOCATE" */
	const char *done;    /* the step after the syscall: "punched" */
	int fd;              /* the file whose data changes */
	const char *fmt;     /* its arguments, as logged */
	long long a, b;
	unsigned int before_ms, after_ms;
	ssize_t (*run)(const void *args); /* -1 with errno on failure */
	const void *args;
};

static void log_change(const struct change *c, const char *step)
{
	char what[64];

	snprintf(what, sizeof(what), "%s %s", c->request, step);
	log_step(what, c->fd, c->fmt, c->a, c->b);
}

/* Logged at each step, and delayed before and after the change: long enough to be raced. */
static ssize_t delayed(const struct change *c)
{
	ssize_t ret;

	log_change(c, "received");
	usleep(c->before_ms * 1000);
	ret = c->run(c->args);
	ret = ret < 0 ? -errno : ret;
	log_change(c, c->done);
	usleep(c->after_ms * 1000);
	log_change(c, "replied");
	return ret;
}

static unsigned int after_ms(void)
{
	return (unsigned int)(fs.after_ms < 0 ? (int)fs.delay_ms : fs.after_ms);
}

struct truncate_args {
	int fd;
	off_t size;
};

static ssize_t do_truncate(const void *args)
{
	const struct truncate_args *t = args;

	return ftruncate(t->fd, t->size);
}

/* A shrinking truncate is a punch too: delayed like one, and logged. */
static int truncate_fd(int fd, off_t size)
{
	struct truncate_args args = { fd, size };
	struct change c = { "SETATTR", "truncated", fd, "size=%lld", size, 0, fs.truncate_delay_ms,
			    fs.truncate_delay_ms, do_truncate, &args };
	struct stat st;

	if (fstat(fd, &st) || size >= st.st_size)
		return neg(ftruncate(fd, size));
	return (int)delayed(&c);
}

static int dfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int fd, ret;

	if (fi)
		return truncate_fd((int)fi->fh, size);
	fd = openat(fs.backing, rel(path), O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = truncate_fd(fd, size);
	close(fd);
	return ret;
}

static int dfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	if (fi)
		return neg(futimens((int)fi->fh, tv));
	return neg(utimensat(fs.backing, rel(path), tv, AT_SYMLINK_NOFOLLOW));
}

static int dfs_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(fs.backing, rel(path), fi->flags);

	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int dfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd = openat(fs.backing, rel(path), fi->flags | O_CREAT, mode);

	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static void log_io(const char *what, int fd, off_t off, size_t size)
{
	char name[64];

	snprintf(name, sizeof(name), "%s pid=%d", what, (int)fuse_get_context()->pid);
	log_step(name, fd, "off=%lld len=%lld", off, (long long)size);
}

static int dfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	log_io("READ", (int)fi->fh, off, size);
	return neg((int)pread((int)fi->fh, buf, size, off));
}

static int dfs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	log_io("WRITE", (int)fi->fh, off, size);
	return neg((int)pwrite((int)fi->fh, buf, size, off));
}

static int dfs_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	return neg(fstatvfs(fs.backing, st));
}

static int dfs_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path, (void)fi;
	return 0;
}

static int dfs_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int dfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	return neg(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}

struct fallocate_args {
	int fd, mode;
	off_t off, len;
};

static ssize_t do_fallocate(const void *args)
{
	const struct fallocate_args *f = args;

	return fallocate(f->fd, f->mode, f->off, f->len);
}

/* The reason this filesystem exists: a punch that takes delay_ms + after_ms. */
static int dfs_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	struct fallocate_args args = { (int)fi->fh, mode, off, len };
	struct change c = { "FALLOCATE", "punched", (int)fi->fh, "off=%lld len=%lld", off, len, fs.delay_ms,
			    after_ms(), do_fallocate, &args };

	(void)path;
	return (int)delayed(&c);
}

struct copy_args {
	int fd_in, fd_out;
	off_t off_in, off_out;
	size_t size;
	int flags;
};

static ssize_t do_copy(const void *args)
{
	const struct copy_args *a = args;
	loff_t off_in = a->off_in, off_out = a->off_out;

	return copy_file_range(a->fd_in, &off_in, a->fd_out, &off_out, a->size, (unsigned int)a->flags);
}

/* A copy into the destination's range changes its data like a punch: as slow. */
static ssize_t dfs_copy_file_range(const char *path_in, struct fuse_file_info *fi_in, off_t off_in,
				   const char *path_out, struct fuse_file_info *fi_out, off_t off_out, size_t size,
				   int flags)
{
	struct copy_args args = { (int)fi_in->fh, (int)fi_out->fh, off_in, off_out, size, flags };
	struct change c = { "COPY_FILE_RANGE", "copied", (int)fi_out->fh, "off=%lld len=%lld", off_out,
			    (long long)size, fs.delay_ms, after_ms(), do_copy, &args };

	(void)path_in, (void)path_out;
	return delayed(&c);
}

static void *dfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/*
	 * Off, unlike libfuse's default: any GETATTR that saw the punch's new
	 * mtime would drop (and write back) the whole page cache mid-race.
	 */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	cfg->use_ino = 1;     /* the backing inode numbers, so tests can match them */
	cfg->kernel_cache = 0; /* the page cache is kept while open, dropped on reopen */
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = dfs_init,	  .getattr = dfs_getattr, .access = dfs_access, .readdir = dfs_readdir,
	.mkdir = dfs_mkdir,	  .unlink = dfs_unlink,	  .rmdir = dfs_rmdir,	.rename = dfs_rename,
	.chmod = dfs_chmod,	  .truncate = dfs_truncate, .utimens = dfs_utimens, .open = dfs_open,
	.create = dfs_create,	  .read = dfs_read,	  .write = dfs_write,	.statfs = dfs_statfs,
	.flush = dfs_flush,	  .release = dfs_release, .fsync = dfs_fsync,	.fallocate = dfs_fallocate,
	.copy_file_range = dfs_copy_file_range,
};

static const struct fuse_opt opts[] = {
	{ "--delay-ms=%u", offsetof(__typeof__(fs), delay_ms), 0 },
	{ "--after-ms=%d", offsetof(__typeof__(fs), after_ms), 0 },
	{ "--truncate-delay-ms=%u", offsetof(__typeof__(fs), truncate_delay_ms), 0 },
	{ "--log=%s", offsetof(__typeof__(fs), log_path), 0 },
	FUSE_OPT_END,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	int ret;

	if (argc < 3) {
		fprintf(stderr, "usage: delayfs BACKING_DIR MOUNTPOINT [--delay-ms=N] [--after-ms=N] "
				"[--truncate-delay-ms=N] [--log=FILE] [FUSE options]\n");
		return 2;
	}
	fs.backing = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (fs.backing < 0) {
		fprintf(stderr, "delayfs: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* drop BACKING_DIR from the arguments libfuse parses */
	memmove(&args.argv[1], &args.argv[2], (size_t)(args.argc - 2) * sizeof(char *));
	args.argc--;
	if (fuse_opt_parse(&args, &fs, opts, NULL))
		return 2;
	if (fs.log_path) {
		fs.log = open(fs.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fs.log < 0) {
			fprintf(stderr, "delayfs: %s: %s\n", fs.log_path, strerror(errno));
			return 1;
		}
	}
	ret = fuse_main(args.argc, args.argv, &ops, NULL);
	fuse_opt_free_args(&args);
	close(fs.backing);
	return ret;
}
