// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mapstore: a store through a page-table entry that an operation left
 * writable, the bug fixed by "ext4: remove writable userspace mappings before
 * truncating page cache" (17207d0bb209, 6.15; in Debian's 6.12). On a
 * filesystem whose blocks are smaller than a page, ZERO_RANGE (or a punch) of
 * the second half of a page frees or unwrites its blocks and drops their
 * buffers, but leaves the page mapped; if its pte stays writable, a later
 * store makes no fault, so no page_mkwrite maps and dirties those buffers,
 * and write-back never writes the bytes: they are lost.
 *
 * A child process maps the file shared and writable; for each page, it
 * stores into the page's second half (a write fault: the pte is writable),
 * the parent zeroes or punches that half, then the child stores there again.
 * Then the child unmaps, the parent fsyncs and reads every page back with
 * O_DIRECT (the blocks, not the page cache): a page whose second half is not
 * the second store lost it. One JSON object out.
 *
 *   mapstore --file PATH [--pages N] [--op zero|punch]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define HALF (PAGE / 2)
#define BEFORE 0x58 /* pwrite of every page */
#define FIRST 0x5a  /* the store before the operation */
#define SECOND 0x59 /* the store after it */
#define MAX_PAGES 4096

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* One byte through a pipe: the other side's turn. */
static void hand_over(int fd)
{
	char b = 1;

	if (write(fd, &b, 1) != 1)
		die("write pipe");
}

static void await(int fd)
{
	char b;

	if (read(fd, &b, 1) != 1)
		die("read pipe");
}

/* The child: stores into the second half of each page before and after the parent's operation. */
static void mapper(int fd, int pages, int from_parent, int to_parent)
{
	char *m = mmap(NULL, (size_t)pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pid_t tid = (pid_t)syscall(SYS_gettid);

	if (m == MAP_FAILED)
		die("mmap");
	if (write(to_parent, &tid, sizeof(tid)) != sizeof(tid))
		die("write pipe");
	for (int i = 0; i < pages; i++) {
		memset(m + (size_t)i * PAGE + HALF, FIRST, HALF);
		hand_over(to_parent);
		await(from_parent);
		memset(m + (size_t)i * PAGE + HALF, SECOND, HALF);
	}
	munmap(m, (size_t)pages * PAGE);
	hand_over(to_parent);
	_exit(0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "pages", required_argument, NULL, 'n' },
		{ "op", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *path = NULL, *op = "zero";
	int pages = 8, c, down[2], up[2], fd, dfd, mode, lost = 0;
	pid_t child, mapper_tid;
	struct stat st;
	char *buf;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 'n': pages = atoi(optarg); break;
		case 'o': op = optarg; break;
		default: return 2;
		}
	}
	if (!path || pages < 1 || pages > MAX_PAGES || (strcmp(op, "zero") && strcmp(op, "punch"))) {
		fprintf(stderr, "usage: mapstore --file PATH [--pages 1..%d] [--op zero|punch]\n", MAX_PAGES);
		return 2;
	}
	mode = FALLOC_FL_KEEP_SIZE | (strcmp(op, "zero") ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fstat(fd, &st) || posix_memalign((void **)&buf, PAGE, (size_t)pages * PAGE))
		die(path);
	memset(buf, BEFORE, (size_t)pages * PAGE);
	if (pwrite(fd, buf, (size_t)pages * PAGE, 0) != (ssize_t)pages * PAGE || fsync(fd))
		die("pwrite");
	if (pipe(down) || pipe(up))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		mapper(fd, pages, down[0], up[1]);
	if (read(up[0], &mapper_tid, sizeof(mapper_tid)) != sizeof(mapper_tid))
		die("read pipe");
	for (int i = 0; i < pages; i++) {
		await(up[0]);
		if (fallocate(fd, mode, (off_t)i * PAGE + HALF, HALF))
			die("fallocate");
		hand_over(down[1]);
	}
	await(up[0]);
	waitpid(child, NULL, 0);
	if (fsync(fd))
		die("fsync");
	dfd = open(path, O_RDONLY | O_DIRECT);
	if (dfd < 0 || pread(dfd, buf, (size_t)pages * PAGE, 0) != (ssize_t)pages * PAGE)
		die("O_DIRECT read");
	printf("{\"op\":\"%s\",\"dev\":\"%u:%u\",\"ino\":%lu,\"pages\":%d,\"punch_pid\":%d,\"punch_tid\":%d,\"mapper_pid\":%d,\"mapper_tid\":%d,\"lost\":[",
	       op, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino, pages, (int)getpid(), (int)syscall(SYS_gettid), (int)child, (int)mapper_tid);
	for (int i = 0; i < pages; i++) {
		const char *half = buf + (size_t)i * PAGE + HALF;
		bool kept = true;

		for (int j = 0; j < HALF; j++)
			kept &= half[j] == SECOND;
		if (!kept)
			printf("%s%d", lost++ ? "," : "", i);
	}
	printf("],\"lost_pages\":%d}\n", lost);
	return 0;
}
