/* mmap-touch: map a file MAP_SHARED and touch every page, so that on a DAX
 * mount the faults go through dax_iomap_fault (fs_dax:dax_pte_fault).
 * Runs inside the VM guest (busybox cannot mmap); built statically by
 * tests/vm/run-matrix.sh.
 *
 *   mmap-touch FILE [PAGES]     creates/extends FILE to PAGES pages (default 16),
 *                               writes a pattern through the mapping, msyncs,
 *                               maps it again and checks the pattern.
 * Prints "touched N pages" and exits 0 when every page read back correctly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char pattern(long page) { return (unsigned char)(0x5a ^ (page * 7)); }

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE [PAGES]\n", argv[0]);
		return 2;
	}
	long pages = argc > 2 ? strtol(argv[2], NULL, 0) : 16;
	long psz = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)pages * (size_t)psz;
	int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap: %s\n", strerror(errno));
		return 1;
	}
	for (long i = 0; i < pages; i++)
		memset(p + i * psz, pattern(i), (size_t)psz);
	if (msync(p, len, MS_SYNC) != 0) {
		fprintf(stderr, "msync: %s\n", strerror(errno));
		return 1;
	}
	munmap(p, len);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap (read): %s\n", strerror(errno));
		return 1;
	}
	for (long i = 0; i < pages; i++) {
		if (p[i * psz] != pattern(i) || p[(i + 1) * psz - 1] != pattern(i)) {
			fprintf(stderr, "page %ld: read back 0x%02x, wrote 0x%02x\n", i, p[i * psz], pattern(i));
			return 1;
		}
	}
	munmap(p, len);
	close(fd);
	printf("touched %ld pages\n", pages);
	return 0;
}
