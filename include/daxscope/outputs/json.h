/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The JSON documents' writer: yajl's streaming generator (constant memory
 * however large the report), and member helpers. Every string goes through
 * dx_json_textn, which makes any bytes valid UTF-8 JSON (docs/report-json.md).
 */
#ifndef DAXSCOPE_OUTPUTS_JSON_H
#define DAXSCOPE_OUTPUTS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <yajl/yajl_gen.h>

/* A generator printing compact JSON straight to out. */
yajl_gen dx_json_open(FILE *out);
/* Ends the document's line and frees the generator. */
void dx_json_close(yajl_gen g, FILE *out);

/* Each writes "key":value into the open object, or a bare value when key is NULL. */
void dx_json_map(yajl_gen g, const char *key);
void dx_json_end_map(yajl_gen g);
void dx_json_array(yajl_gen g, const char *key);
void dx_json_end_array(yajl_gen g);
void dx_json_null(yajl_gen g, const char *key);
void dx_json_bool(yajl_gen g, const char *key, bool v);
void dx_json_u64(yajl_gen g, const char *key, uint64_t v);
void dx_json_i64(yajl_gen g, const char *key, int64_t v);
/* Nanoseconds as microseconds, exactly: three decimals (the trace-event format's unit). */
void dx_json_micros(yajl_gen g, const char *key, uint64_t ns);
/* Fixed-point with three decimals (rates, seconds); null if not finite. */
void dx_json_fixed3(yajl_gen g, const char *key, double v);
/*
 * "key": the first max bytes of s (up to a NUL) as a string. Valid UTF-8 is
 * kept; else each stray byte becomes U+FFFD and "key_bytes" holds all the raw bytes in hex.
 */
void dx_json_textn(yajl_gen g, const char *key, const char *s, size_t max);
/* A NUL-terminated string the same way; null for NULL. */
void dx_json_text(yajl_gen g, const char *key, const char *s);

#endif /* DAXSCOPE_OUTPUTS_JSON_H */
