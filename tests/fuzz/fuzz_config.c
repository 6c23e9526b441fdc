/*
 * fuzz_config - libFuzzer target: coroleased's configuration parser
 * (lockd/config.c) on arbitrary text.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * The input is read as a configuration file (cld_config_read(), the parser
 * of cld_config_load()), and each of its lines is given as a -o override.
 * A file that loads goes through what the daemon does with it (the checks,
 * the node configuration, the hold quota) and is printed as coroleased -t
 * prints it.  Oracle: that printout, read back as a file (its lines whose
 * value follows the token timeout, "<token timeout>" and "<derived from the
 * token timeout>", left out), loads and prints the same text again: the
 * effective configuration survives its own printout.
 */
#include <stdbool.h>

#include "config.h"
#include "fuzz.h"

static char *print(const struct cld_config *cfg, size_t *len_r)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len_r);
	FZ_CHECK(f != NULL, "open_memstream failed");
	cld_config_print(cfg, f);
	fclose(f);
	return text;
}

/* text without the lines of values that follow the token timeout */
static char *without_token_lines(const char *text, size_t len, size_t *len_r)
{
	char *out = malloc(len + 1);
	FZ_CHECK(out != NULL, "out of memory");
	size_t n = 0;
	for (const char *p = text; p < text + len;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t l = nl ? (size_t)(nl - p) + 1 : (size_t)(text + len - p);
		static const char *const token[] = { " = <token timeout>\n",
						     " = <derived from the token timeout>\n" };
		bool skip = false;
		for (int i = 0; i < 2; i++) {
			size_t tl = strlen(token[i]);
			const char *eq = memchr(p, '=', l);
			skip |= eq && eq > p && (size_t)(p + l - (eq - 1)) == tl &&
				memcmp(eq - 1, token[i], tl) == 0;
		}
		if (!skip) {
			memcpy(out + n, p, l);
			n += l;
		}
		p += l;
	}
	out[n] = '\0';
	*len_r = n;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	struct cld_config cfg;
	cld_config_defaults(&cfg);
	if (size == 0)
		return 0;

	/* each line as -o */
	struct cld_config ov;
	cld_config_defaults(&ov);
	char *copy = malloc(size + 1);
	FZ_CHECK(copy != NULL, "out of memory");
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		(void)cld_config_override(&ov, line, err, sizeof(err));
	free(copy);

	FILE *f = fmemopen((void *)data, size, "r");
	FZ_CHECK(f != NULL, "fmemopen failed");
	int rc = cld_config_read(&cfg, f, "fuzz.conf", err, sizeof(err));
	fclose(f);
	FZ_CHECK(rc == 0 || rc == -1, "cld_config_read returned %d", rc);
	if (rc < 0) {
		FZ_CHECK(strncmp(err, "fuzz.conf", 9) == 0, "an error without the file's name: %s", err);
		return 0;
	}
	(void)cld_config_check(&cfg, err, sizeof(err));
	struct cl_node_config nc;
	(void)cld_config_node(&cfg, 1, 0, &nc, err, sizeof(err));
	(void)cld_config_node(&cfg, 1, 1000, &nc, err, sizeof(err));
	FZ_CHECK(cld_config_holds_per_uid(&cfg) >= 1, "no hold slot per uid");

	size_t l1, l1b, l2;
	char *t1 = print(&cfg, &l1);
	char *t1b = without_token_lines(t1, l1, &l1b);
	struct cld_config again;
	cld_config_defaults(&again);
	f = fmemopen(t1b, l1b ? l1b : 1, "r");
	FZ_CHECK(f != NULL, "fmemopen failed");
	rc = cld_config_read(&again, f, "printed", err, sizeof(err));
	fclose(f);
	FZ_CHECK(rc == 0, "the printed configuration does not load: %s\n%s", err, t1b);
	char *t2 = print(&again, &l2);
	FZ_CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0,
		 "the printed configuration prints differently:\n%s----\n%s", t1, t2);
	free(t1);
	free(t1b);
	free(t2);
	return 0;
}
