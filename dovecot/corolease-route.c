/*
 * corolease-route - answers Dovecot's dict passdb (the dict protocol over a
 * Unix socket) with where a user's sessions belong: on the node that holds
 * the lease user/NAME.
 *
 *   corolease-route [-s SOCKET] [-m MODE] [-g GROUP] [-t MS] [-a NODE=ADDR]...
 *
 * For a lookup of "shared/passdb/NAME" (or "passdb/NAME") it asks the local
 * coroleased who holds user/NAME (corolease_owner(): the local replica, no
 * cluster message, no WANTED) and answers with cld_route_answer(): serve
 * here (nobody or this node holds it) or proxy_maybe=y host=ADDR.  Node
 * addresses come from corosync's nodelist (cmap nodelist.node.N.ring0_addr),
 * -a NODE=ADDR overrides one.  Any failure (no daemon, not synced, no
 * address for the holder) answers F, so the login fails instead of being
 * served on the wrong node; a lost daemon is reconnected at the next lookup.
 * Single-threaded, poll(2); each lookup is one IPC round trip, bounded
 * (connect included) by -t MS (default 1000): a hung coroleased (stopped,
 * not gone) makes the lookup answer F at the bound instead of holding every
 * login until Dovecot's auth timeout.  Client sockets are non-blocking,
 * answers queued per client up to OUT_MAX: a client that does not read its
 * answers is dropped, never waited for.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <corosync/cmap.h>
#include <corolease.h>

#include "naming.h"

#define MAX_CLIENTS 256
#define MAX_NODES 256
#define LINE_MAX_LEN 4096
/* answers a client has not read yet: beyond this it is dropped (one client
   that never reads must not block the lookups of every other) */
#define OUT_MAX (64 * 1024)

struct client {
	int fd;
	bool drop;     /* its output overflowed: close it */
	size_t len;
	char buf[LINE_MAX_LEN];
	size_t outlen;
	char *out;     /* OUT_MAX bytes, allocated with the client */
};

static struct {
	unsigned id;
	char addr[64];
} nodes[MAX_NODES];
static size_t n_nodes;
static corolease_t *h;
static unsigned bound_ms = 1000; /* -t: a lookup's bound on coroleased's answer */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void set_node(unsigned id, const char *addr)
{
	size_t i;

	for (i = 0; i < n_nodes && nodes[i].id != id; i++)
		;
	if (i == n_nodes) {
		if (n_nodes == MAX_NODES)
			return;
		n_nodes++;
	}
	nodes[i].id = id;
	snprintf(nodes[i].addr, sizeof(nodes[i].addr), "%s", addr);
}

static const char *node_addr(unsigned id)
{
	for (size_t i = 0; i < n_nodes; i++)
		if (nodes[i].id == id)
			return nodes[i].addr;
	return NULL;
}

/* nodelist.node.N.nodeid / ring0_addr from cmap; 0 or -1 */
static int load_nodelist(void)
{
	cmap_handle_t ch;
	cmap_iter_handle_t it;
	char key[CMAP_KEYNAME_MAXLEN + 1], k2[CMAP_KEYNAME_MAXLEN + 1];
	size_t vlen;
	cmap_value_types_t type;
	unsigned idx;

	if (cmap_initialize(&ch) != CS_OK)
		return -1;
	if (cmap_iter_init(ch, "nodelist.node.", &it) != CS_OK) {
		cmap_finalize(ch);
		return -1;
	}
	while (cmap_iter_next(ch, it, key, &vlen, &type) == CS_OK) {
		uint32_t id;
		char *addr = NULL;

		if (sscanf(key, "nodelist.node.%u.nodeid", &idx) != 1 ||
		    strcmp(strrchr(key, '.'), ".nodeid") != 0)
			continue;
		if (cmap_get_uint32(ch, key, &id) != CS_OK)
			continue;
		snprintf(k2, sizeof(k2), "nodelist.node.%u.ring0_addr", idx);
		if (cmap_get_string(ch, k2, &addr) == CS_OK) {
			if (node_addr(id) == NULL) /* -a given first wins */
				set_node(id, addr);
			free(addr);
		}
	}
	cmap_iter_finalize(ch, it);
	cmap_finalize(ch);
	return 0;
}

/* writes what c has queued, as far as its socket takes it (non-blocking) */
static void client_flush(struct client *c)
{
	while (c->outlen > 0 && !c->drop) {
		ssize_t w = write(c->fd, c->out, c->outlen);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->drop = true;
			return;
		}
		memmove(c->out, c->out + w, c->outlen - (size_t)w);
		c->outlen -= (size_t)w;
	}
}

/* the dict protocol's escaping of a value: \001 -> \0011, \t \r \n; queued
   on c (dropped when its queue is full), written as its socket takes it */
static void reply_escaped(struct client *c, char kind, const char *v)
{
	char out[LINE_MAX_LEN * 2 + 4];
	size_t n = 0;

	out[n++] = kind;
	for (; *v != '\0' && n < sizeof(out) - 4; v++) {
		switch (*v) {
		case '\001': out[n++] = '\001'; out[n++] = '1'; break;
		case '\t': out[n++] = '\001'; out[n++] = 't'; break;
		case '\r': out[n++] = '\001'; out[n++] = 'r'; break;
		case '\n': out[n++] = '\001'; out[n++] = 'n'; break;
		default: out[n++] = *v;
		}
	}
	out[n++] = '\n';
	if (c->drop)
		return;
	if (c->outlen + n > OUT_MAX) {
		fprintf(stderr, "corolease-route: a dict client does not read its answers "
			"(%zu bytes queued): dropping it\n", c->outlen);
		c->drop = true;
		return;
	}
	memcpy(c->out + c->outlen, out, n);
	c->outlen += n;
	client_flush(c);
}

/* unescapes key in place (inverse of the above) */
static void unescape(char *s)
{
	char *d = s;

	for (; *s != '\0'; s++) {
		if (*s == '\001' && s[1] != '\0') {
			s++;
			*d++ = *s == '1' ? '\001' : *s == 't' ? '\t' : *s == 'r' ? '\r' :
			       *s == 'n' ? '\n' : *s;
		} else
			*d++ = *s;
	}
	*d = '\0';
}

/* connects h, its calls bounded by bound_ms; 0 or a corolease error */
static int route_connect(void)
{
	int ret = corolease_connect_timeout(&h, bound_ms);

	if (ret < 0) {
		h = NULL;
		return ret;
	}
	(void)corolease_set_timeout(h, bound_ms);
	return 0;
}

static void lookup(struct client *c, char *key)
{
	char name[CLD_NAME_MAX + 1], answer[512];
	const char *user;
	uint32_t owner;
	int ret;

	*strchrnul(key, '\t') = '\0';
	unescape(key);
	user = key;
	if (strncmp(user, "shared/", 7) == 0)
		user += 7;
	if (strncmp(user, "passdb/", 7) != 0) {
		reply_escaped(c, 'N', "");
		return;
	}
	user += 7;
	if (cld_user_lease_name(user, name, sizeof(name)) < 0) {
		reply_escaped(c, 'F', "corolease-route: bad user name");
		return;
	}
	if (h == NULL && (ret = route_connect()) < 0) {
		fprintf(stderr, "corolease-route: %s: cannot connect to coroleased: %s\n", user,
			corolease_strerror(ret));
		reply_escaped(c, 'F', "corolease-route: coroleased unreachable");
		return;
	}
	ret = corolease_owner(h, name, strlen(name), &owner);
	if (ret == COROLEASE_EDISCONNECTED) {
		h = corolease_close(h);
		if (route_connect() == 0)
			ret = corolease_owner(h, name, strlen(name), &owner);
	}
	if (ret < 0) {
		fprintf(stderr, "corolease-route: %s: %s\n", user, corolease_strerror(ret));
		reply_escaped(c, 'F', "corolease-route: owner unknown");
		return;
	}
	if (owner != 0 && owner != corolease_nodeid(h) && node_addr(owner) == NULL)
		(void)load_nodelist(); /* a node added since */
	if (cld_route_answer(owner, corolease_nodeid(h), node_addr(owner), answer, sizeof(answer)) < 0) {
		fprintf(stderr, "corolease-route: %s: held by node %u, whose address is unknown\n",
			user, (unsigned)owner);
		reply_escaped(c, 'F', "corolease-route: holder's address unknown");
		return;
	}
	fprintf(stderr, "corolease-route: %s: held by node %u: %s\n", user, (unsigned)owner, answer);
	reply_escaped(c, 'O', answer);
}

/* one client's input: 0, or -1 to close it */
static int client_input(struct client *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	char *nl;

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
		size_t linelen = (size_t)(nl - c->buf);

		*nl = '\0';
		if (c->drop)
			return -1;
		if (c->buf[0] == 'L')
			lookup(c, c->buf + 1);
		else if (c->buf[0] != 'H') /* hello needs no answer */
			reply_escaped(c, 'F', "corolease-route: lookups only");
		memmove(c->buf, nl + 1, c->len - linelen - 1);
		c->len -= linelen + 1;
	}
	return c->drop || c->len == sizeof(c->buf) - 1 ? -1 : 0;
}

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	free(c->out);
	c->out = NULL;
}

int main(int argc, char **argv)
{
	const char *path = "/run/corolease-route.sock";
	mode_t mode = 0660;
	gid_t gid = (gid_t)-1;
	struct group *gr;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static struct client clients[MAX_CLIENTS];
	struct pollfd pfd[MAX_CLIENTS + 1];
	int lfd, opt, i;

	while ((opt = getopt(argc, argv, "s:m:g:t:a:h")) != -1) {
		char *eq, *end;
		unsigned long ul;

		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'm':
			mode = (mode_t)strtoul(optarg, NULL, 8);
			break;
		case 'g':
			if ((gr = getgrnam(optarg)) == NULL) {
				fprintf(stderr, "corolease-route: no group '%s'\n", optarg);
				return 2;
			}
			gid = gr->gr_gid;
			break;
		case 't':
			errno = 0;
			ul = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || ul == 0 || ul > 600000) {
				fprintf(stderr, "corolease-route: -t MS, not '%s'\n", optarg);
				return 2;
			}
			bound_ms = (unsigned)ul;
			break;
		case 'a':
			eq = strchr(optarg, '=');
			if (eq == NULL || atoi(optarg) <= 0) {
				fprintf(stderr, "corolease-route: -a NODE=ADDR, not '%s'\n", optarg);
				return 2;
			}
			set_node((unsigned)atoi(optarg), eq + 1);
			break;
		default:
			fprintf(stderr, "usage: corolease-route [-s SOCKET] [-m MODE] [-g GROUP] [-t MS] [-a NODE=ADDR]...\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (load_nodelist() < 0)
		fprintf(stderr, "corolease-route: corosync's nodelist not readable; only -a addresses known\n");
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "corolease-route: socket path too long\n");
		return 2;
	}
	strcpy(sun.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	(void)unlink(path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chown(path, (uid_t)-1, gid) < 0 || chmod(path, mode) < 0 || listen(lfd, 64) < 0) {
		fprintf(stderr, "corolease-route: %s: %s\n", path, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	fprintf(stderr, "corolease-route: answering on %s (%zu node addresses)\n", path, n_nodes);
	while (!stop) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (i = 0; i < MAX_CLIENTS; i++)
			pfd[i + 1] = (struct pollfd){
				.fd = clients[i].fd,
				.events = clients[i].outlen > 0 ? POLLIN | POLLOUT : POLLIN,
			};
		if (poll(pfd, MAX_CLIENTS + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			char *out = NULL;

			for (i = 0; cfd >= 0 && i < MAX_CLIENTS && clients[i].fd >= 0; i++)
				;
			if (cfd >= 0 && (i == MAX_CLIENTS || (out = malloc(OUT_MAX)) == NULL))
				close(cfd);
			else if (cfd >= 0)
				clients[i] = (struct client){ .fd = cfd, .out = out };
		}
		for (i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			short rev = pfd[i + 1].revents;

			if (c->fd < 0 || rev == 0)
				continue;
			if (rev & POLLOUT)
				client_flush(c);
			if (c->drop || ((rev & (POLLIN | POLLHUP | POLLERR)) && client_input(c) < 0))
				client_close(c);
		}
	}
	(void)unlink(path);
	h = corolease_close(h);
	return 0;
}
