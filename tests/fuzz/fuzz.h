/*
 * fuzz.h - shared by the libFuzzer targets in tests/fuzz/ (see
 * tests/fuzz/README.md): the oracle's failure, which libFuzzer reports as
 * a crash, and a cursor that turns the input into choices.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#ifndef COROLEASE_FUZZ_H
#define COROLEASE_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An oracle failed: say what and abort (libFuzzer keeps the input as a crash). */
__attribute__((noreturn, format(printf, 1, 2)))
static inline void fz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("FUZZ ORACLE FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

#define FZ_CHECK(cond, ...) do { if (!(cond)) fz_fail(__VA_ARGS__); } while (0)

/* Reads choices from the input; past its end every read is 0. */
struct fz {
	const uint8_t *p;
	size_t len, pos;
};

static inline int fz_more(const struct fz *f) { return f->pos < f->len; }

static inline uint8_t fz_u8(struct fz *f)
{
	return f->pos < f->len ? f->p[f->pos++] : 0;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t lo = fz_u8(f);
	return (uint16_t)(lo | fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t lo = fz_u16(f);
	return lo | (uint32_t)fz_u16(f) << 16;
}

/* Up to n bytes of the input (fewer at its end); *got_r is how many. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t n, size_t *got_r)
{
	size_t left = f->len - f->pos;
	if (n > left)
		n = left;
	const uint8_t *q = f->p + f->pos;
	f->pos += n;
	*got_r = n;
	return q;
}

#endif /* COROLEASE_FUZZ_H */
