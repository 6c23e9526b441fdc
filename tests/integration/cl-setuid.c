/*
 * cl-setuid: installed set-user-ID root by t38: takes every uid of root
 * (as `sudo` or `su` would after authenticating), prints "root pid PID",
 * and waits to be killed.  Linked with nothing but libc (a set-user-ID
 * program ignores LD_LIBRARY_PATH).
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	if (setresuid(0, 0, 0) < 0) {
		perror("cl-setuid: setresuid");
		return 1;
	}
	printf("root pid %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
