/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Inside a report: src/core/report.c's alone (outputs read it through include/daxscope/core/report.h). */
#ifndef DAXSCOPE_REPORT_INT_H
#define DAXSCOPE_REPORT_INT_H

#include "daxscope/core/capture.h"
#include "daxscope/core/correlate.h"
#include "daxscope/core/mounts.h"
#include "daxscope/core/paths.h"
#include "daxscope/core/report.h"

struct dx_kcounts;

struct dx_report {
	struct dx_report_opts opts;
	struct dx_correlator *corr;
	struct dx_paths *paths;
	struct dx_paths *dropped_names; /* of files dropped idle that findings name (a ring's worth at most) */
	size_t ndropped_names;
	struct dx_mounts ns_mounts; /* devices of other mount namespaces (DX_REC_MOUNT), mount points as mnt:[N]/PATH */
	struct dx_kcounts *counts; /* the kernel's per-file page-event counters */
	struct dx_finding *findings; /* all, or a ring of opts.max_findings */
	size_t nfindings, cap_findings;
	uint64_t judged; /* findings ever judged */
	uint64_t holds;  /* dx_report_hold waited for the judge */
	struct dx_punch_window *punches;
	size_t npunches, cap_punches;
	struct dx_probe *probes;
	size_t nprobes, cap_probes;
	struct dx_hist fuse[DX_FUSE_SLOTS];
	uint64_t drops[DX_DROP_MAX];
	enum dx_skips_known skips_known;     /* DX_REC_SKIPS: the last one, they are cumulative */
	struct dx_skipped_program *skipped; /* the programs that missed runs */
	size_t nskipped, cap_skipped;
	uint64_t duration_ns;
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, to print wall time */
	char kernel[64];
	char banner[DX_BANNER_LEN];
	char warning[512]; /* "" unless the records were cut short by damage */
	struct dx_capture_cut cut; /* reason 0 unless the recording stopped writing early (DX_REC_CUT) */
	char dir[4096];    /* "" or only files under it are reported */
	bool dir_recorded; /* dir is the recorder's --path: the kernel kept to its filesystem */
};

#endif /* DAXSCOPE_REPORT_INT_H */
