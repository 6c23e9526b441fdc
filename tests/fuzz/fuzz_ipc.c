/*
 * fuzz_ipc - libFuzzer target: coroleased's request path (lockd/ipc.c,
 * ipc_req.c, ipc_read.c) in process: its own socket, its libqb loop, the
 * validity page and hold quota, over a real node agent (core/node*.c) that
 * forms a one-node cluster through an in-process loopback multicast (the
 * glue the simulator has; no corosync).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * The service is started once (a run directory under /tmp) with a replica
 * that already has more names than a LIST scans in one turn and an index
 * whose listing is larger than a socket buffer.  Each input is a script
 * for up to four client connections: connect, HELLO, requests built from
 * a few fields (every request type), raw packets, reading some answers,
 * closing (with answers still queued and lists under way: where finding 1
 * of issue 8 hid), half-closing; turns of the daemon's loop; holding the
 * cluster's deliveries back, so answers reach the service after their
 * connection is gone; time for the node's timers.  At the end every client
 * closes and the loop runs until the service has torn each connection
 * down.  Oracles (besides the sanitizers): every connection is torn down,
 * no operation waits for the node any more, and no validity-page slot or
 * hold-quota slot is left taken.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <qb/qblog.h>
#include <qb/qbloop.h>

#include "config.h"
#include "fuzz.h"
#include "holdquota.h"
#include "ipc.h"
#include "ipc_int.h"
#include "node.h"
#include "page.h"

#define NCLIENTS 4
#define MS 1000ull
#define Q_MAX 4096

static struct {
	qb_loop_t *loop;
	struct cl_node *node;
	struct cld_ipc *ip;
	struct cld_page *page;
	struct cld_holdquota *holds;
	struct cld_config cfg;
	struct cl_node_config ncfg;
	uint64_t now;
	bool hold;                  /* deliveries held back */
	size_t nq, head;
	uint8_t *q[Q_MAX];
	size_t qlen[Q_MAX];
	char dir[64];
	struct sockaddr_un sa;
	int stopfd;
} S;

static const struct cl_ring ring1 = { .rep = 1, .seq = 4 };

static uint64_t op_now(void *ctx)
{
	(void)ctx;
	return S.now;
}

static int op_mcast(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	if (S.nq == Q_MAX)
		return -EAGAIN;   /* the node keeps it and retries */
	uint8_t *copy = malloc(len);
	FZ_CHECK(copy != NULL, "out of memory");
	memcpy(copy, buf, len);
	S.q[S.nq] = copy;
	S.qlen[S.nq++] = len;
	return 0;
}

static void op_event(void *ctx, const struct cl_node_event *ev)
{
	(void)ctx;
	if (ev->type == CL_NODE_EV_VALIDITY && S.page)
		cld_page_set_valid_until(S.page, ev->valid_until);
	cld_ipc_event(S.ip, ev);
}

/* Delivers what the node multicast (one-node ring), runs its timers: until quiet. */
static void node_pump(void)
{
	for (int round = 0; round < 64; round++) {
		bool did = false;
		if (cl_node_next_deadline(S.node) <= S.now) {
			cl_node_tick(S.node);
			did = true;
		}
		while (!S.hold && S.head < S.nq) {
			size_t i = S.head++;
			cl_node_deliver(S.node, 1, S.q[i], S.qlen[i]);
			free(S.q[i]);
			did = true;
		}
		if (S.head == S.nq)
			S.head = S.nq = 0;
		if (!did)
			break;
	}
	FZ_CHECK(!cl_node_failed(S.node), "the node agent failed");
}

static void on_input(void *ctx)
{
	(void)ctx;
	node_pump();
}

static bool on_vq(void *ctx)
{
	(void)ctx;
	return true;
}

static void on_ring(void *ctx, uint32_t *rep_r, uint64_t *seq_r)
{
	(void)ctx;
	*rep_r = ring1.rep;
	*seq_r = ring1.seq;
}

static const struct cld_ipc_ops ipc_ops = { .input_done = on_input, .vq_quorate = on_vq,
					    .ring = on_ring };

/* The round's end: a descriptor made ready before the round, so the loop's poll never waits. */
static int32_t stop_dispatch(int32_t fd, int32_t revents, void *data)
{
	(void)revents;
	uint64_t v;
	(void)read(fd, &v, sizeof(v));
	qb_loop_stop(data);
	return 0;
}

/* One round of the daemon's loop (what is ready now runs; nothing waits). */
static void loop_round(void)
{
	uint64_t one = 1;
	FZ_CHECK(write(S.stopfd, &one, sizeof(one)) == sizeof(one), "eventfd write");
	qb_loop_run(S.loop);
	node_pump();
}

static void advance(uint64_t us)
{
	S.now += us;
	node_pump();
}

#define POP_CLIENT (1ull << 40)

/* The replica the connections find: many names (a LIST takes turns), one large index. */
static void populate(void)
{
	static uint8_t val[COROLEASE_VALUE_MAX / 2];
	memset(val, 'v', sizeof(val));
	for (unsigned i = 0; i < 1500; i++) {
		char name[32], key[16];
		int nl = snprintf(name, sizeof(name), i < 16 ? "big" : "pop/%u", i);
		int kl = snprintf(key, sizeof(key), "k%u", i);
		uint64_t c = POP_CLIENT + i;
		FZ_CHECK(cl_node_acquire(S.node, c, 1, 0, name, (size_t)nl, CL_MODE_EX, CL_ACQ_WAIT, 0) == 0,
			 "populate: acquire");
		node_pump();
		FZ_CHECK(cl_node_index_put(S.node, c, 2, 0, name, (size_t)nl, key, (size_t)kl, val,
					   i < 16 ? sizeof(val) : 1) == 0, "populate: put");
		node_pump();
		cl_node_release(S.node, c, name, (size_t)nl);
		node_pump();
	}
	advance(S.ncfg.linger_us + 1);
}

/* At exit: the service, the page and the run directory go (a crash leaves them). */
static void cleanup(void)
{
	S.ip = cld_ipc_stop(S.ip);       /* unlinks the socket */
	S.page = cld_page_close(S.page); /* unlinks the page */
	rmdir(S.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	qb_log_init("fuzz_ipc", LOG_DAEMON, LOG_EMERG);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
	snprintf(S.dir, sizeof(S.dir), "/tmp/corolease-fuzz-ipc.XXXXXX");
	FZ_CHECK(mkdtemp(S.dir) != NULL, "mkdtemp: %s", strerror(errno));
	cld_config_defaults(&S.cfg);
	snprintf(S.cfg.run_dir, sizeof(S.cfg.run_dir), "%s", S.dir);
	S.cfg.max_leases_per_client = 16;
	S.cfg.max_pending_per_client = 8;
	S.cfg.max_watches_per_client = 4;
	S.cfg.max_client_holds = 24;
	char err[256];
	FZ_CHECK(cld_config_node(&S.cfg, 1, 1000, &S.ncfg, err, sizeof(err)) == 0, "config: %s", err);
	static const struct cl_node_ops ops = { .now = op_now, .mcast = op_mcast, .event = op_event };
	S.now = 1000000;
	S.node = cl_node_new(&S.ncfg, &ops, NULL);
	FZ_CHECK(S.node != NULL, "cl_node_new failed");
	uint32_t me = 1;
	cl_node_confchg(S.node, &ring1, &me, 1, NULL, 0, &me, 1);
	cl_node_quorum(S.node, true, &ring1);
	node_pump();
	for (int i = 0; i < 1000 && !(cl_node_synced(S.node) && !cl_sm_awaiting_fence(cl_node_sm(S.node))); i++)
		advance(100 * MS);
	struct cl_sm_stats st;
	for (int i = 0; i < 1000; i++) {
		cl_sm_stats(cl_node_sm(S.node), &st);
		if (!st.grace)
			break;
		advance(100 * MS);
	}
	FZ_CHECK(cl_node_synced(S.node) && !st.grace, "the one-node cluster did not start");
	populate();
	S.holds = cld_holdquota_new(S.cfg.max_client_holds, cld_config_holds_per_uid(&S.cfg),
				    CLD_HOLD_RESERVE);
	FZ_CHECK(S.holds != NULL, "out of memory");
	FZ_CHECK(cld_page_create(S.dir, 1, getpid(), (uint32_t)(S.cfg.max_client_holds + CLD_HOLD_RESERVE),
				 &S.page, err, sizeof(err)) == 0, "page: %s", err);
	S.loop = qb_loop_create();
	FZ_CHECK(S.loop != NULL, "qb_loop_create failed");
	S.stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	FZ_CHECK(S.stopfd >= 0 && qb_loop_poll_add(S.loop, QB_LOOP_LOW, S.stopfd, POLLIN, S.loop,
						    stop_dispatch) == 0, "eventfd");
	struct cld_ipc_config ic = { .node = S.node, .conf = &S.cfg, .ncfg = S.ncfg, .nodeid = 1,
				     .pid = getpid(), .page = S.page, .holds = S.holds };
	int rc = cld_ipc_start(S.loop, &ic, &ipc_ops, NULL, &S.ip);
	FZ_CHECK(rc == 0, "cld_ipc_start: %s", strerror(-rc));
	atexit(cleanup);
	S.sa.sun_family = AF_UNIX;
	snprintf(S.sa.sun_path, sizeof(S.sa.sun_path), "%s", S.ip->listen[0].path);
	return 0;
}

/* ---- a client's side ---- */

static const char *const names[] = { "big", "a", "b", "pop/", "" };
static const char *const keys[] = { "k0", "k1", "route" };

static void client_send(int fd, const void *buf, size_t len)
{
	if (fd >= 0)
		(void)send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void send_hello(int fd, uint64_t cookie, uint32_t version)
{
	struct clp_req_hello h = { .b = { .hdr = { .id = CLP_REQ_HELLO, .size = sizeof(h) },
					  .cookie = cookie },
				   .version = version };
	client_send(fd, &h, sizeof(h));
}

/* A request of every type, from a few fields (well formed more often than not). */
static void send_built(int fd, struct fz *f)
{
	union {
		struct clp_req_base b;
		uint8_t raw[512];
	} u;
	memset(&u, 0, sizeof(u));
	uint8_t t = fz_u8(f), x = fz_u8(f), y = fz_u8(f);
	uint32_t type = 2 + t % (CLP_REQ_TYPE_MAX - 1);
	const char *name = names[x % 5], *key = keys[(x >> 3) % 3];
	uint16_t nl = (uint16_t)strlen(name);
	uint8_t kl = (uint8_t)strlen(key);
	size_t fixed = sizeof(struct clp_req_base), len;
	uint8_t *tail;
	switch (type) {
	case CLP_REQ_ACQUIRE: {
		struct clp_req_acquire *a = (void *)u.raw;
		a->mode = y & 1 ? COROLEASE_SH : COROLEASE_EX;
		a->flags = (uint8_t)((y >> 1) & 0x7);
		a->namelen = nl;
		a->timeout_ms = (y >> 4) * 100u;
		fixed = sizeof(*a);
		break;
	}
	case CLP_REQ_INDEX_GET:
	case CLP_REQ_INDEX_PUT:
	case CLP_REQ_INDEX_DEL: {
		struct clp_req_index *r = (void *)u.raw;
		r->namelen = nl;
		r->keylen = kl;
		r->flags = y & 1;
		r->vallen = type == CLP_REQ_INDEX_PUT ? (y >> 1) % 32 : 0;
		fixed = sizeof(*r);
		break;
	}
	case CLP_REQ_SYNC:
	case CLP_REQ_STATUS:
		break;
	case CLP_REQ_FENCE_ACK: {
		struct clp_req_node *r = (void *)u.raw;
		r->node = y % 3;
		r->flags = (y >> 2) & 1;
		fixed = sizeof(*r);
		break;
	}
	default: {
		struct clp_req_name *r = (void *)u.raw;
		r->namelen = nl;
		r->flags = (y >> 3) & 1;   /* RELEASE: CLP_RELEASE_QUIET half the time */
		fixed = sizeof(*r);
		break;
	}
	}
	tail = u.raw + fixed;
	len = fixed;
	if (type != CLP_REQ_SYNC && type != CLP_REQ_STATUS && type != CLP_REQ_FENCE_ACK) {
		memcpy(tail, name, nl);
		len += nl;
		if (type == CLP_REQ_INDEX_GET || type == CLP_REQ_INDEX_PUT || type == CLP_REQ_INDEX_DEL) {
			memcpy(u.raw + len, key, kl);
			len += kl;
			if (type == CLP_REQ_INDEX_PUT) {
				size_t vl = ((struct clp_req_index *)u.raw)->vallen;
				memset(u.raw + len, 'w', vl);
				len += vl;
			}
		}
	}
	if (y & 0x80 && len > sizeof(struct clp_req_base))
		len -= 1 + (t >> 5);   /* cut short */
	u.b.hdr.id = (int32_t)type;
	u.b.hdr.size = (int32_t)len;
	u.b.cookie = t;
	client_send(fd, u.raw, len);
}

static void client_read(int fd, unsigned max)
{
	static uint8_t buf[CLP_MAX_MSG];
	for (unsigned i = 0; fd >= 0 && i < max; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

static int client_connect(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&S.sa, sizeof(S.sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { .p = data, .len = size };
	int fd[NCLIENTS];
	for (int i = 0; i < NCLIENTS; i++)
		fd[i] = -1;
	for (unsigned steps = 0; fz_more(&f) && steps < 256; steps++) {
		uint8_t op = fz_u8(&f);
		int k = (op >> 4) % NCLIENTS;
		switch (op % 12) {
		case 0:
			if (fd[k] < 0)
				fd[k] = client_connect();
			break;
		case 1:
			send_hello(fd[k], op, (op & 0x40) ? CLP_VERSION + 1 : CLP_VERSION);
			break;
		case 2:
		case 3:
		case 4:
			send_built(fd[k], &f);
			break;
		case 5: {
			size_t len;
			const uint8_t *q = fz_bytes(&f, fz_u8(&f), &len);
			client_send(fd[k], q, len);
			break;
		}
		case 6:
			client_read(fd[k], 1 + (op >> 6) * 8);
			break;
		case 7:
			/* gone without reading what is queued for it */
			if (fd[k] >= 0)
				close(fd[k]);
			fd[k] = -1;
			break;
		case 8:
			if (fd[k] >= 0)
				shutdown(fd[k], op & 0x40 ? SHUT_WR : SHUT_RDWR);
			break;
		case 9:
			S.hold = !S.hold;
			break;
		case 10:
			advance((uint64_t)(1 + fz_u8(&f)) * 50 * MS);
			break;
		case 11:
			for (int i = 0; i < 1 + (op >> 4); i++)
				loop_round();
			break;
		}
		loop_round();
	}
	for (int i = 0; i < NCLIENTS; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	S.hold = false;
	for (int i = 0; i < 1000 && S.ip->nconns; i++)
		loop_round();
	FZ_CHECK(S.ip->nconns == 0, "%" PRIu64 " connections not torn down", S.ip->nconns);
	/* answers to the gone: every waiting operation gets one, then is dropped */
	for (int i = 0; i < 100 && S.ip->op_tab.n; i++) {
		advance(100 * MS);
		loop_round();
	}
	FZ_CHECK(S.ip->op_tab.n == 0, "%zu operations still wait with every client gone",
		 (size_t)S.ip->op_tab.n);
	FZ_CHECK(cld_page_slots_used(S.page) == 0, "%u validity-page slots still taken",
		 cld_page_slots_used(S.page));
	struct cld_holdquota_stats hq;
	cld_holdquota_stats(S.holds, &hq);
	FZ_CHECK(hq.used == 0, "%" PRIu64 " hold-quota slots still taken", hq.used);
	return 0;
}
