// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: any bytes as a capture file, read and reported the way
 * `daxtrace report --json --perfetto OUT --html OUT` does (OUT /dev/null). The reader must refuse or report, never
 * crash, hang or write out of bounds (built with ASan and UBSan).
 *   make fuzz [FUZZ_SECONDS=N]    (a short run is part of make test)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daxscope/core/capture.h"
#include "daxscope/core/report.h"
#include "daxscope/outputs/report_out.h"
#include "daxscope/outputs/timeline.h"

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dx_report *r = dx_report_new(&(struct dx_report_opts){ .keep_punches = true });
	struct dx_timeline *t = dx_timeline_new();
	int fd = memfd_create("capture", MFD_CLOEXEC);
	struct dx_capture_reader *in;
	char path[64], err[512];

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (fd < 0 || !r || !t || write(fd, data, size) != (ssize_t)size)
		__builtin_trap(); /* the harness itself failed: not an input's fault */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	in = dx_capture_open(path, err, sizeof(err));
	if (in) {
		dx_report_read(r, in, dx_timeline_take, t);
		dx_report_json(sink, r);
		dx_report_text(sink, r);
		if (dx_timeline_write_trace(t, r, "/dev/null", err, sizeof(err)) ||
		    dx_timeline_write_html(t, r, "/dev/null", err, sizeof(err)))
			__builtin_trap(); /* /dev/null takes anything: a failure is a bug */
		dx_capture_close(in);
	}
	dx_timeline_free(t);
	dx_report_free(r);
	close(fd);
	return 0;
}
