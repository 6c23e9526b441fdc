/* example.c - take a lease, write under it, update the index cache. */
#include <stdio.h>
#include <string.h>

#include <corolease.h>

int main(void)
{
	corolease_t *h;
	corolease_lease_t *lease;
	const char *name = "user/alice";
	uint32_t owner;
	uint64_t version;
	int r;

	r = corolease_connect(&h);
	if (r < 0) {
		fprintf(stderr, "connect: %s\n", corolease_strerror(r));
		return 1;
	}

	/* Exclusive, queue behind the current holder for at most 5 s. */
	r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, COROLEASE_WAIT, 5000,
			      &lease, &owner);
	if (r < 0) {
		fprintf(stderr, "acquire %s: %s (%s), holder node %u\n", name,
			corolease_strerror(r), corolease_errname(r), owner);
		corolease_close(h);
		return 1;
	}
	printf("%s granted, epoch %llu\n", name,
	       (unsigned long long)corolease_lease_epoch(lease));

	/* Before each write to shared storage: is the lease still ours? */
	if (corolease_lease_valid(lease)) {
		/* ... write the mailbox, stamping the epoch as fencing token ... */
		r = corolease_index_put(lease, "messages", strlen("messages"), "42", 2, &version);
		if (r < 0)
			fprintf(stderr, "index put: %s\n", corolease_strerror(r));
		else
			printf("messages = 42 (version %llu)\n", (unsigned long long)version);
	} else {
		fprintf(stderr, "lease no longer valid: not writing\n");
	}

	corolease_release(lease);
	corolease_close(h);
	return 0;
}
