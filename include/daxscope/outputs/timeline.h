/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Timelines: a capture's events on a time axis, beside its report's judgement. */
#ifndef DAXSCOPE_OUTPUTS_TIMELINE_H
#define DAXSCOPE_OUTPUTS_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxscope/core/report.h"

struct dx_timeline;

struct dx_timeline *dx_timeline_new(void);
void dx_timeline_free(struct dx_timeline *t);
/* Take one record (a dx_record_fn: ctx is the timeline): the records its report takes, in the same pass. */
void dx_timeline_take(uint32_t type, const void *payload, uint32_t len, void *timeline);
/*
 * After dx_report_flush of a report that keeps punches: a Chrome JSON trace
 * (ui.perfetto.dev, chrome://tracing), or one self-contained HTML page, of
 * the timeline with the report's punches and findings (docs/timeline.md).
 * Written beside PATH and renamed to it when whole (a device or pipe at PATH,
 * such as /dev/stdout, is written to directly); -1 and err on failure.
 */
int dx_timeline_write_trace(const struct dx_timeline *t, const struct dx_report *r, const char *path, char *err,
			    size_t errlen);
int dx_timeline_write_html(const struct dx_timeline *t, const struct dx_report *r, const char *path, char *err,
			   size_t errlen);

#endif /* DAXSCOPE_OUTPUTS_TIMELINE_H */
