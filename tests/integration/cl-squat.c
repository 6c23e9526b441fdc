/*
 * cl-squat.c - integration-test stand-in for a local user's fake daemon: it
 * listens on a SOCK_SEQPACKET socket at PATH, as coroleased does on
 * RUN_DIR/corolease.sock, accepts every connection and answers nothing.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 *   cl-squat PATH...
 *
 * Serves every PATH it can bind; prints "serving PATH" or "taken PATH ERR"
 * for each, then "ready", and runs until SIGTERM.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clt.h"

int main(int argc, char **argv)
{
	clt_start();
	struct pollfd p[16];
	int n = 0;
	for (int i = 1; i < argc && n < 16; i++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[i]);
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
			printf("taken %s %s\n", argv[i], strerror(errno));
			if (fd >= 0)
				close(fd);
			continue;
		}
		printf("serving %s\n", argv[i]);
		p[n].fd = fd;
		p[n].events = POLLIN;
		n++;
	}
	printf("ready\n");
	while (!clt_stop) {
		if (poll(p, (nfds_t)n, 200) <= 0)
			continue;
		for (int i = 0; i < n; i++)
			if (p[i].revents & POLLIN) {
				int c = accept(p[i].fd, NULL, NULL);
				(void)c;   /* kept open, never answered */
			}
	}
	return 0;
}
