/* example.c - take a lease, write under it, and serve its events until another node wants it. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <corolease.h>

static int done;

static void on_wanted(corolease_t *h, corolease_lease_t *lease, uint32_t node, void *udata)
{
	(void)h;
	(void)lease;
	(void)udata;
	printf("node %u wants the lease: finishing\n", node);
	done = 1;
}

static void on_revoked(corolease_t *h, corolease_lease_t *lease, void *udata)
{
	(void)h;
	(void)lease;
	(void)udata;
	printf("lease revoked: stop writing now\n");
	done = 1;
}

/* poll(2) milliseconds until a corolease_get_timeout() time (0: now), at most max_ms. */
static int poll_ms(uint64_t t, int max_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);   /* the library's clock */
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (t <= now)
		return 0;
	return t - now >= (uint64_t)max_ms * 1000u ? max_ms : (int)((t - now + 999) / 1000u);
}

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
	struct corolease_callbacks cb = { .wanted = on_wanted, .revoked = on_revoked };
	corolease_set_callbacks(h, &cb, NULL);

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

	/*
	 * Work for up to 10 s while serving the connection.  Callbacks run only
	 * in corolease_dispatch(); a synchronous call (the put) may leave some
	 * queued, and then corolease_get_timeout() says "now" although the fd
	 * has nothing to read: honour both.
	 */
	for (int tick = 0; tick < 100 && !done; tick++) {
		/* Before each write to shared storage: is the lease still ours? */
		if (!corolease_lease_valid(lease))
			break;
		/* ... write the mailbox, stamping the epoch as fencing token ... */
		r = corolease_index_put(lease, "messages", strlen("messages"), "42", 2, &version);
		if (r < 0)
			fprintf(stderr, "index put: %s\n", corolease_strerror(r));

		struct pollfd pfd = { corolease_get_fd(h), (short)corolease_get_events(h), 0 };
		poll(&pfd, 1, poll_ms(corolease_get_timeout(h), 100));
		if (corolease_dispatch(h) < 0)
			break;   /* connection lost: the lease is gone */
	}

	corolease_release(lease);
	corolease_close(h);
	return 0;
}
