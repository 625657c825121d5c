/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A report as metrics for Prometheus-compatible scrapers (daxexport): the
 * OpenMetrics 1.0 text format, or Prometheus' text format 0.0.4. No BPF, no
 * HTTP: the text comes from a report, so it can be tested on synthetic events.
 */
#ifndef DAXSCOPE_OUTPUTS_METRICS_H
#define DAXSCOPE_OUTPUTS_METRICS_H

#include <stdio.h>

#include "daxscope/core/report.h"

/* ---- the exposition ---- */
enum dx_metrics_format {
	DX_METRICS_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
	DX_METRICS_PROMETHEUS,  /* text/plain; version=0.0.4 */
};

#define DX_METRICS_OPENMETRICS_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define DX_METRICS_PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Per-file series are kept to the busiest files: at most this many, so that a scrape's size stays bounded. */
#define DX_METRICS_TOP_MAX 200

/*
 * Per-mount series are kept to this many mounts by default: anyone may mount
 * (a user namespace, FUSE), so the rest are summed into one mount "other",
 * and a gauge says how many were folded there.
 */
#define DX_METRICS_MOUNTS_DEFAULT 64
#define DX_METRICS_MOUNTS_MAX 10000

/* An HTTP server's budget counters, exported beside the report's. */
struct dx_metrics_http {
	uint64_t refused; /* connections closed at once: their client held its share already */
	uint64_t cut;     /* requests cut at the deadline */
};

/*
 * What the files of a device number's earlier mounts counted, taken out of
 * its series: a new filesystem mounted on a device number another had starts
 * from zero (dx_mount.renewed), not with the gone one's history. No event
 * says which superblock a file is on: a file first seen before the last
 * learn is the earlier mount's, one first seen since is the new mount's
 * (mounted after that learn's read). Only a file the gone mount first touched
 * after the last learn counts as the new one's.
 */
struct dx_mount_history;
struct dx_mount_history *dx_mount_history_new(void);
/* After each read of M, before the report takes more events: the devices it renewed start from zero. */
void dx_mount_history_learn(struct dx_mount_history *h, const struct dx_report *r, const struct dx_mounts *m);
void dx_mount_history_free(struct dx_mount_history *h);

struct dx_metrics_opts {
	enum dx_metrics_format format;
	size_t top_files;               /* per-file series for this many files (<= DX_METRICS_TOP_MAX) */
	size_t max_mounts;              /* per-mount series for this many mounts, the rest as "other"; 0: the default */
	const struct dx_mounts *mounts; /* fstype and mount point of each device; NULL: unknown */
	const struct dx_mount_history *history; /* NULL: every device's files are its mount's */
	const struct dx_metrics_http *http; /* NULL: not served over HTTP, no such series */
};

/* The whole exposition of a report's current state (ending in "# EOF" for OpenMetrics). */
void dx_metrics_write(FILE *out, const struct dx_report *r, const struct dx_metrics_opts *o);

#endif /* DAXSCOPE_OUTPUTS_METRICS_H */
