// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The JSON writer: yajl's generator printing to a FILE, and strings made valid UTF-8 whatever their bytes. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daxscope/core/names.h"
#include "daxscope/outputs/json.h"

/* A generator error is a bug here (a member outside an object, a bad string): stop rather than print broken JSON. */
static void check(yajl_gen_status st)
{
	if (st != yajl_gen_status_ok) {
		fprintf(stderr, "daxscope: JSON generator error %d\n", (int)st);
		abort();
	}
}

static void print_to_file(void *ctx, const char *s, size_t len)
{
	fwrite(s, 1, len, ctx);
}

yajl_gen dx_json_open(FILE *out)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		abort();
	yajl_gen_config(g, yajl_gen_print_callback, print_to_file, out);
	yajl_gen_config(g, yajl_gen_validate_utf8, 1); /* dx_json_textn's promise, checked */
	return g;
}

void dx_json_close(yajl_gen g, FILE *out)
{
	fputc('\n', out);
	yajl_gen_free(g);
}

static void key_of(yajl_gen g, const char *key)
{
	if (key)
		check(yajl_gen_string(g, (const unsigned char *)key, strlen(key)));
}

void dx_json_map(yajl_gen g, const char *key)
{
	key_of(g, key);
	check(yajl_gen_map_open(g));
}

void dx_json_end_map(yajl_gen g)
{
	check(yajl_gen_map_close(g));
}

void dx_json_array(yajl_gen g, const char *key)
{
	key_of(g, key);
	check(yajl_gen_array_open(g));
}

void dx_json_end_array(yajl_gen g)
{
	check(yajl_gen_array_close(g));
}

void dx_json_null(yajl_gen g, const char *key)
{
	key_of(g, key);
	check(yajl_gen_null(g));
}

void dx_json_bool(yajl_gen g, const char *key, bool v)
{
	key_of(g, key);
	check(yajl_gen_bool(g, v));
}

static void number(yajl_gen g, const char *key, const char *text, int len)
{
	key_of(g, key);
	check(yajl_gen_number(g, text, (size_t)len));
}

/* yajl_gen_integer takes a long long: counters above 2^63 need their own digits */
void dx_json_u64(yajl_gen g, const char *key, uint64_t v)
{
	char buf[24];

	number(g, key, buf, snprintf(buf, sizeof(buf), "%" PRIu64, v));
}

void dx_json_i64(yajl_gen g, const char *key, int64_t v)
{
	char buf[24];

	number(g, key, buf, snprintf(buf, sizeof(buf), "%" PRId64, v));
}

void dx_json_micros(yajl_gen g, const char *key, uint64_t ns)
{
	char buf[32];

	number(g, key, buf, snprintf(buf, sizeof(buf), "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000)));
}

/* yajl_gen_double prints %.20g; the documents promise fixed-point */
void dx_json_fixed3(yajl_gen g, const char *key, double v)
{
	char buf[352]; /* DBL_MAX in %.3f */

	if (!isfinite(v))
		dx_json_null(g, key);
	else
		number(g, key, buf, snprintf(buf, sizeof(buf), "%.3f", v));
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = dx_utf8_seq(s + i, n - i)))
			return false;
	return true;
}

static void string(yajl_gen g, const char *key, const void *s, size_t len)
{
	key_of(g, key);
	check(yajl_gen_string(g, s, len));
}

/* Not UTF-8: the text with U+FFFD for each stray byte, and "key_bytes" to recover the bytes. */
static void repaired(yajl_gen g, const char *key, const unsigned char *s, size_t n)
{
	static const char hexdigits[] = "0123456789abcdef";
	char *text = malloc(3 * n), *hex = malloc(2 * n), bytes_key[64];
	size_t used = 0;

	if (!text || !hex)
		abort();
	for (size_t i = 0, k; i < n; i += k) {
		k = dx_utf8_seq(s + i, n - i);
		if (k) {
			memcpy(text + used, s + i, k);
			used += k;
		} else {
			memcpy(text + used, "\xef\xbf\xbd", 3);
			used += 3;
			k = 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = hexdigits[s[i] >> 4];
		hex[2 * i + 1] = hexdigits[s[i] & 15];
	}
	string(g, key, text, used);
	snprintf(bytes_key, sizeof(bytes_key), "%s_bytes", key);
	string(g, bytes_key, hex, 2 * n);
	free(text);
	free(hex);
}

void dx_json_textn(yajl_gen g, const char *key, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (utf8_valid((const unsigned char *)s, n))
		string(g, key, s, n); /* yajl escapes quotes, backslashes and control characters */
	else
		repaired(g, key, (const unsigned char *)s, n);
}

void dx_json_text(yajl_gen g, const char *key, const char *s)
{
	if (s)
		dx_json_textn(g, key, s, SIZE_MAX);
	else
		dx_json_null(g, key);
}
