// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The session of a build without BPF (no kernel BTF, clang or bpftool where
 * it was built): it never opens, and says why; captures are still reported.
 * The other calls take a session, which such a build never has.
 */
#include <stdio.h>
#include <stdlib.h>

#include "daxscope/core/report.h"
#include "daxscope/live/session.h"

int dx_session_open(const struct dx_session_opts *opts, struct dx_session **out, char *err, size_t errlen)
{
	(void)opts;
	*out = NULL;
	snprintf(err, errlen, "this daxscope was built without BPF (no kernel BTF, clang or bpftool at build "
			      "time): it can only report captures (daxtrace report FILE)");
	return -1;
}

int dx_session_filter(struct dx_session *s, uint32_t pid, const char *cgroup, char *err, size_t errlen)
{
	(void)s, (void)pid, (void)cgroup, (void)err, (void)errlen;
	abort();
}

const char *dx_session_banner(const struct dx_session *s)
{
	(void)s;
	abort();
}

void dx_session_describe(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	(void)s, (void)fn, (void)ctx;
	abort();
}

int dx_session_poll(struct dx_session *s, int timeout_ms, dx_record_fn fn, void *ctx)
{
	(void)s, (void)timeout_ms, (void)fn, (void)ctx;
	abort();
}

void dx_session_snapshot(const struct dx_session *s, dx_record_fn fn, void *ctx)
{
	(void)s, (void)fn, (void)ctx;
	abort();
}

uint64_t dx_session_drops(const struct dx_session *s, enum dx_drop which)
{
	(void)s, (void)which;
	abort();
}

void dx_session_finish(struct dx_session *s, dx_record_fn fn, void *ctx)
{
	(void)s, (void)fn, (void)ctx;
	abort();
}

struct dx_loop_source dx_session_source(struct dx_session *s)
{
	(void)s;
	abort();
}

void dx_session_close(struct dx_session *s)
{
	(void)s; /* never opened: nothing to close */
}
