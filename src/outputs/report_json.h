/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The report's JSON pieces that other outputs share (src/outputs/report_out.c writes them). */
#ifndef DAXSCOPE_OUTPUTS_REPORT_JSON_H
#define DAXSCOPE_OUTPUTS_REPORT_JSON_H

#include "daxscope/core/report.h"
#include "daxscope/outputs/json.h"

/* The report's pieces daxtop shares: one "files" element's members, and "dax_window":[...]. */
void dx_report_json_file_fields(yajl_gen g, const struct dx_report *r, const struct dx_file_stats *st);
void dx_report_json_dax_windows(yajl_gen g, const struct dx_report *r);
/* "skipped_runs" and "skipped_runs_by_program": the runs the kernel skipped, null where it did not count them. */
void dx_report_json_skipped_runs(yajl_gen g, const struct dx_report *r);
/* The members of one "findings" and one "punches" element (the timeline's args too). */
void dx_report_json_finding_fields(yajl_gen g, const struct dx_report *r, const struct dx_finding *f);
void dx_report_json_punch_fields(yajl_gen g, const struct dx_report *r, const struct dx_punch_window *p);

#endif /* DAXSCOPE_OUTPUTS_REPORT_JSON_H */
