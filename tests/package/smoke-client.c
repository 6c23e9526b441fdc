/*
 * smoke-client.c - built by tests/package/smoke.sh against the INSTALLED
 * libcorolease (cc smoke-client.c $(pkg-config --cflags --libs corolease)),
 * then run next to an installed coroleased.
 *
 *   smoke-client NAME VALUE
 *
 * Connects, takes NAME exclusively (waiting up to 20 s), checks that the
 * lease is valid, writes the index key "smoke" = VALUE under it, reads it
 * back from the local replica, reads the daemon's status through
 * corolease_admin.h, releases and closes.  Prints one "key=value" line per
 * fact; exits 0 when every step succeeded, 1 (with the failing call and its
 * error name on stderr) otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <corolease.h>
#include <corolease_admin.h>

static int failed(const char *what, int r)
{
	fprintf(stderr, "smoke-client: %s: %s (%s)\n", what, corolease_strerror(r),
		corolease_errname(r));
	return 1;
}

/* everything after the connect; returns the exit status */
static int run(corolease_t *h, const char *name, const char *value)
{
	corolease_lease_t *lease = NULL;
	corolease_status_t *st = NULL;
	uint32_t owner = 0;
	uint64_t version, got_version, quorate, node;
	char buf[256];
	size_t len;
	int r;

	r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, COROLEASE_WAIT, 20000,
			      &lease, &owner);
	if (r < 0)
		return failed("acquire", r);
	printf("epoch=%" PRIu64 "\n", corolease_lease_epoch(lease));
	if (corolease_lease_valid(lease) != 1) {
		fprintf(stderr, "smoke-client: the granted lease is not valid\n");
		corolease_release(lease);
		return 1;
	}
	r = corolease_index_put(lease, "smoke", 5, value, strlen(value), &version);
	if (r < 0) {
		corolease_release(lease);
		return failed("index put", r);
	}
	r = corolease_index_get(h, name, strlen(name), "smoke", 5, 0, buf, sizeof(buf) - 1,
				&len, &got_version);
	corolease_release(lease);
	if (r < 0)
		return failed("index get", r);
	if (len >= sizeof(buf) || got_version != version) {
		fprintf(stderr, "smoke-client: read back %zu bytes at version %" PRIu64
			", wrote version %" PRIu64 "\n", len, got_version, version);
		return 1;
	}
	buf[len] = '\0';
	printf("value=%s\nversion=%" PRIu64 "\n", buf, version);

	r = corolease_status_get(h, &st);
	if (r < 0)
		return failed("status", r);
	r = corolease_status_u64(st, "quorate", &quorate);
	if (r == 0)
		r = corolease_status_u64(st, "node", &node);
	corolease_status_free(st);
	if (r < 0)
		return failed("status: quorate, node", r);
	printf("quorate=%" PRIu64 "\nnode=%" PRIu64 "\nlibrary=%s\n", quorate, node,
	       corolease_version());
	return 0;
}

int main(int argc, char **argv)
{
	corolease_t *h;
	int r, ex;

	if (argc != 3) {
		fprintf(stderr, "usage: smoke-client NAME VALUE\n");
		return 2;
	}
	r = corolease_connect(&h);
	if (r < 0)
		return failed("connect", r);
	ex = run(h, argv[1], argv[2]);
	corolease_close(h);
	return ex;
}
