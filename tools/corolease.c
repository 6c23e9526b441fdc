/*
 * corolease.c - command-line client of coroleased.
 *
 * Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
 *
 * Built only on the public library (corolease.h, corolease_admin.h) and
 * libc.  See corolease(1) for the commands, their output and the exit codes.
 */
#define _GNU_SOURCE 1

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <corolease.h>
#include <corolease_admin.h>

#include "proctree.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* Exit codes (documented in corolease(1)). */
enum {
	EXIT_OK = 0,
	EXIT_BUSY = 1,         /* lease busy, or name/key not found */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,  /* daemon not reachable / connection lost */
	EXIT_NOQUORUM = 4,     /* not quorate, or synchronising */
	EXIT_PERM = 5,
	EXIT_OTHER = 6,
};

static bool opt_json;

/* ------------------------------------------------------------------------ */
/* output helpers */

static void __attribute__((format(printf, 1, 2))) warnx_(const char *fmt, ...)
{
	va_list ap;
	fputs("corolease: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Writes bytes for a human: printable ASCII as is, '\\' doubled, others
 * \xNN; a space too where spaces separate the fields (space_too).
 */
static void put_text_sep(FILE *f, const void *buf, size_t len, bool space_too)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\\')
			fputs("\\\\", f);
		else if ((p[i] > 0x20 || (p[i] == 0x20 && !space_too)) && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}

static void put_text(FILE *f, const void *buf, size_t len)
{
	put_text_sep(f, buf, len, false);
}

/* The same into a static buffer, for messages (truncated with "..."). */
static const char *text(const void *buf, size_t len)
{
	static char out[512];
	const unsigned char *p = buf;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (o + 8 >= sizeof(out)) {
			memcpy(out + o, "...", 4);
			return out;
		}
		if (p[i] == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (p[i] >= 0x20 && p[i] < 0x7f) {
			out[o++] = (char)p[i];
		} else {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", p[i]);
		}
	}
	out[o] = '\0';
	return out;
}

/*
 * Writes bytes as a JSON string.  Names, keys and values are opaque bytes:
 * '"' and '\\' are escaped, and every byte outside printable ASCII becomes
 * \u00XX (so each byte maps to one code point, losslessly).
 */
static void put_json(FILE *f, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\u%04x", p[i]);
	}
	fputc('"', f);
}

static const char *mode_str(int mode)
{
	return mode == COROLEASE_EX ? "EX" : mode == COROLEASE_SH ? "SH" : "-";
}

static const char *yesno(int v)
{
	return v ? "yes" : "no";
}

static const char *jbool(int v)
{
	return v ? "true" : "false";
}

/* ------------------------------------------------------------------------ */
/* errors and exit codes */

static int exit_for(int err)
{
	switch (err) {
	case 0:
		return EXIT_OK;
	case -EBUSY:
	case -ENOENT:
	case COROLEASE_EORPHANED:
		return EXIT_BUSY;
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case COROLEASE_EDISCONNECTED:
	case COROLEASE_EUNTRUSTED:
		return EXIT_UNREACHABLE;
	case COROLEASE_ENOQUORUM:
	case COROLEASE_ESYNCING:
	case COROLEASE_ENOCLUSTER:
		return EXIT_NOQUORUM;
	case -EPERM:
	case -EACCES:
		return EXIT_PERM;
	default:
		return EXIT_OTHER;
	}
}

/*
 * --timeout MS: how long a call waits for the daemon's answer, connecting
 * included (0: no bound).  A stopped or hung coroleased accepts the
 * connection and never answers: without a bound, even status hung.
 */
static unsigned opt_timeout_ms = 30000;

/* Reports err for what (the command) on name; returns the exit code. */
static int fail(const char *what, const void *name, size_t namelen, int err)
{
	if (err == -ETIMEDOUT) {
		warnx_("%s%s%s: coroleased did not answer within %u ms (stopped or hung?; --timeout MS); "
		       "a request to the cluster may still take effect (ETIMEDOUT)", what, name ? " " : "",
		       name ? text(name, namelen) : "", opt_timeout_ms);
		return EXIT_UNREACHABLE;
	}
	if (name && err == -ENOENT && strcmp(what, "show") == 0)
		/* strerror's "No such file or directory" says nothing here */
		warnx_("%s %s: unknown name: the cluster's state has no holder, waiter or index "
		       "key of it (ENOENT)", what, text(name, namelen));
	else if (name && err == -ENOENT && strcmp(what, "evict") == 0)
		warnx_("%s %s: nobody holds it: nothing to evict (ENOENT)", what, text(name, namelen));
	else if (name)
		warnx_("%s %s: %s (%s)", what, text(name, namelen), corolease_strerror(err),
		       corolease_errname(err));
	else
		warnx_("%s: %s (%s)", what, corolease_strerror(err), corolease_errname(err));
	if (err == -ENOSPC)
		warnx_("the cluster's state holds max_leases names already (corolease.conf(5))");
	else if (err == -EDQUOT)
		warnx_("a quota is reached: this connection's (max_leases_per_client, "
		       "max_watches_per_client), your user's watches (max_watches_per_uid) or share "
		       "of the node's client hold slots (max_client_holds_per_uid), or the node's "
		       "(max_client_holds); see 'corolease status' and corolease.conf(5)");
	return exit_for(err);
}

/* Connects or exits: 3 when the daemon is not there, 5 when not allowed. */
static corolease_t *connect_or_exit(void)
{
	corolease_t *h;
	/* connecting: the library's 10 s, or less with a smaller --timeout */
	unsigned cto = opt_timeout_ms && opt_timeout_ms < 10000 ? opt_timeout_ms : 10000;
	int r = corolease_connect_timeout(&h, cto);
	if (r == 0) {
		corolease_set_timeout(h, opt_timeout_ms);
		return h;
	}
	if (r == -ETIMEDOUT) {
		warnx_("cannot connect to coroleased: it did not answer within %u ms (stopped or hung?; "
		       "--timeout MS) (ETIMEDOUT)", cto);
		exit(EXIT_UNREACHABLE);
	}
	warnx_("cannot connect to coroleased: %s (%s)", corolease_strerror(r),
	       corolease_errname(r));
	if (r == -EACCES || r == -EPERM)
		exit(EXIT_PERM);
	if (r == -EUSERS)
		warnx_("the daemon's connection limit is reached (max_connections, or "
		       "max_connections_per_uid for this user); its log says which");
	if (r == COROLEASE_EVERSION || r == -EUSERS)
		exit(EXIT_OTHER);
	exit(EXIT_UNREACHABLE);
}

/* Parses a decimal u32 (> 0 if positive); false if not one. */
static bool parse_u32(const char *s, uint32_t *v_r, bool positive)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX || (positive && v == 0))
		return false;
	*v_r = (uint32_t)v;
	return true;
}

/* Seconds (may be fractional) to milliseconds; false if invalid or too long. */
static bool parse_secs_ms(const char *s, unsigned *ms_r)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return false;
	double d = strtod(s, &end);
	if (errno || *end || !isfinite(d) || d < 0 || d * 1000.0 > (double)UINT32_MAX)
		return false;
	*ms_r = (unsigned)ceil(d * 1000.0);
	return true;
}

/* The library's clock (libcorolease(3)): CLOCK_BOOTTIME in microseconds. */
static uint64_t boot_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * poll(2) timeout in ms until the earlier of two CLOCK_BOOTTIME deadlines
 * in us (corolease_get_timeout's: 0 = now, UINT64_MAX = none; extra: 0 =
 * none); -1 for none.
 */
static int poll_ms(uint64_t t, uint64_t extra)
{
	if (extra && extra < t)
		t = extra;
	if (t == UINT64_MAX)
		return -1;
	uint64_t now = boot_us();
	uint64_t d = t <= now ? 0 : (t - now + 999) / 1000u;
	return d > INT_MAX ? INT_MAX : (int)d;
}

/* ------------------------------------------------------------------------ */
/* usage */

static const char usage_main[] =
	"usage: corolease [--json] [--timeout MS] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  status [--prometheus]          node, quorum, members and counters\n"
	"  list [PREFIX]                  leases (whose name starts with PREFIX)\n"
	"  show NAME                      holders, waiters and index keys of NAME\n"
	"  owner NAME                     node holding NAME (0: nobody)\n"
	"  acquire NAME [OPTIONS] [--] CMD [ARGS...]\n"
	"                                 run CMD while holding the lease NAME\n"
	"  evict NAME                     revoke NAME from its holders (admin)\n"
	"  fence-ack [--force] NODE       declare a departed NODE fenced (admin)\n"
	"  index get NAME KEY [--sync]    print a value of the index cache\n"
	"  index put NAME KEY VALUE       write a value (takes NAME exclusively)\n"
	"  index del NAME KEY             delete a key (takes NAME exclusively)\n"
	"  index list NAME                print every key and value of NAME\n"
	"  index watch [NAME] [--count N] print index changes as they happen\n"
	"\n"
	"options:\n"
	"  --json         machine-readable output (read commands; the others\n"
	"                 accept it)\n"
	"  --timeout MS   wait at most MS for coroleased to answer (default 30000,\n"
	"                 0: no limit; acquire --wait keeps its own); exit 3 when\n"
	"                 it does not (stopped or hung)\n"
	"  -h, --help     this text; COMMAND --help (or help COMMAND) for a\n"
	"                 command's\n"
	"  -V, --version  print the version\n"
	"\n"
	"exit codes: 0 ok, 1 busy or not found, 2 usage, 3 daemon not reachable,\n"
	"4 not quorate or synchronising, 5 permission denied, 6 other error\n";

struct cmd_help {
	const char *name;
	const char *text;
};

static const struct cmd_help helps[] = {
	{ "status", "usage: corolease status [--json | --prometheus]\n"
		    "Prints the local node's view, every record the daemon reports: node id,\n"
		    "quorum (replicated machine and votequorum), sync state, ring, validity\n"
		    "left, members with their live holds, lease/hold/orphan/waiter counts,\n"
		    "index memory, counters, state hash.  One \"key: value\" line each, nested\n"
		    "by the dots in the keys (members as a list); --json prints one object;\n"
		    "--prometheus prints every record as a metric in the Prometheus text\n"
		    "format, with HELP and TYPE lines (counters.X as corolease_X_total).\n" },
	{ "list", "usage: corolease list [--json] [PREFIX]\n"
		  "One line per lease whose name starts with PREFIX (all without it):\n"
		  "name, owner node, mode, epoch, holders, waiters, keys, orphaned.\n" },
	{ "show", "usage: corolease show [--json] NAME\n"
		  "Holders (mode, epoch, orphan state), waiters in FIFO order, index version\n"
		  "and keys of NAME.  Exit 1 if NAME is unknown.\n" },
	{ "owner", "usage: corolease owner [--json] NAME\n"
		   "Prints the node holding NAME (0: nobody), from the local replica.\n" },
	{ "acquire", "usage: corolease acquire NAME [-s|--shared | -x|--exclusive]\n"
		     "                         [-w|--wait SECS | -n|--nowait]\n"
		     "                         [--kill-after SECS] [--] CMD [ARGS...]\n"
		     "Takes the lease NAME (exclusive unless --shared), runs CMD with\n"
		     "COROLEASE_NAME, COROLEASE_EPOCH and COROLEASE_NODE in its environment,\n"
		     "and releases the lease when CMD exits; exits with CMD's status (128+N if\n"
		     "killed by signal N).  Without --wait a held lease fails at once (exit 1);\n"
		     "--wait SECS queues for up to SECS seconds, --wait 0 without limit.\n"
		     "When another client wants the lease, a notice goes to stderr; CMD keeps\n"
		     "the lease until it exits, or until the daemon's handover timeout revokes\n"
		     "it if the waiter may take it (another node; here: the same user, root,\n"
		     "the admin group).\n"
		     "If the lease is revoked (or the daemon is lost) CMD gets SIGTERM, and\n"
		     "SIGKILL --kill-after SECS later (default 4), or 0.2 s before the\n"
		     "daemon's revoke deadline if that is sooner.  SIGINT, SIGTERM, SIGHUP\n"
		     "and SIGQUIT are passed on to CMD.\n" },
	{ "evict", "usage: corolease evict [--json] NAME\n"
		   "Revokes NAME from every holder (root or the corolease-admin group).\n" },
	{ "fence-ack", "usage: corolease fence-ack [--json] [-f|--force] NODE\n"
		       "Declares the departed NODE fenced, so its leases are recovered now\n"
		       "instead of after the fence delay, and, in a quorum mode where a split\n"
		       "leaves both sides quorate (two_node, ...), grants resume (root or the\n"
		       "corolease-admin group).  Give it only once NODE is really down.\n"
		       "A NODE that is a current member is refused (exit 6, ENODEALIVE);\n"
		       "--force acknowledges it anyway, which frees only the leases NODE held\n"
		       "before it last left the cluster, never those it holds now.\n" },
	{ "index", "usage: corolease index get [--json] [-s|--sync] NAME KEY\n"
		   "       corolease index put NAME KEY VALUE\n"
		   "       corolease index del NAME KEY\n"
		   "       corolease index list [--json] NAME\n"
		   "       corolease index watch [--json] [-c|--count N] [NAME]\n"
		   "get prints the value (raw bytes and a newline); --sync reads after a\n"
		   "cluster barrier (linearizable).  put and del take NAME exclusively\n"
		   "without waiting for the write, then release it (exit 1 if it is held\n"
		   "elsewhere).  list prints KEY<TAB>VALUE lines, bytes outside printable\n"
		   "ASCII as \\xNN.  watch prints NAME KEY VERSION put|del NODE per change\n"
		   "(every name without NAME) until interrupted or N changes were seen.\n" },
};

static const char *help_for(const char *cmd)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(helps[i].name, cmd) == 0)
			return helps[i].text;
	return usage_main;
}

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("corolease: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (strcmp(cmd, "main") == 0)
		fputs("Try 'corolease --help'.\n", stderr);
	else
		fprintf(stderr, "Try 'corolease %s --help'.\n", cmd);
	return EXIT_USAGE;
}

/*
 * Parses the common options of a command (--json, --help) plus extra ones.
 * Returns the index of the first operand in argv, or -1 (exit code in
 * *exit_r) for --help or a usage error.  For extra options, handle(opt,
 * optarg, ctx) returns false on a bad value.
 */
static int parse_opts(const char *cmd, int argc, char **argv, const char *shortopts,
		      const struct option *extra, bool (*handle)(int, const char *, void *),
		      void *ctx, int *exit_r)
{
	struct option opts[16];
	size_t n = 0;
	opts[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (; extra && extra->name && n < 15; extra++)
		opts[n++] = *extra;
	opts[n] = (struct option){ NULL, 0, NULL, 0 };

	char so[32];
	snprintf(so, sizeof(so), "h%s", shortopts ? shortopts : "");
	optind = 0;   /* glibc: full reinitialisation */
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, so, opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt_json = true;
			break;
		case 'h':
			fputs(help_for(cmd), stdout);
			*exit_r = EXIT_OK;
			return -1;
		case '?':
			*exit_r = usage_error(cmd, "%s: unknown option or missing argument: %s",
					      cmd, argv[optind - 1]);
			return -1;
		default:
			if (!handle || !handle(c, optarg, ctx)) {
				*exit_r = usage_error(cmd, "%s: invalid value for %s", cmd,
						      argv[optind - 1]);
				return -1;
			}
			break;
		}
	}
	return optind;
}

/* One flag option (-c / --name) that sets flag in *flags_r: parse_opts() for it. */
struct flag_opt {
	int c;
	unsigned flag, flags;
};

static bool flag_opt_cb(int c, const char *arg, void *ctx)
{
	struct flag_opt *f = ctx;
	(void)arg;
	if (c != f->c)
		return false;
	f->flags |= f->flag;
	return true;
}

static int parse_flag_opt(const char *cmd, int argc, char **argv, const char *name, int c,
			  unsigned flag, unsigned *flags_r, int *exit_r)
{
	const struct option ext[] = { { name, no_argument, NULL, c }, { NULL, 0, NULL, 0 } };
	const char shortopts[2] = { (char)c, 0 };
	struct flag_opt f = { .c = c, .flag = flag };
	int i = parse_opts(cmd, argc, argv, shortopts, ext, flag_opt_cb, &f, exit_r);
	*flags_r = f.flags;
	return i;
}

/* ------------------------------------------------------------------------ */
/* status */

/*
 * The status records are a tree: a key's dot-separated words are its path,
 * and a numeric word is an array index ("members.0.node").  One walk
 * prints it as JSON or as indented "key: value" text, opening and closing
 * containers as the paths of consecutive keys diverge, so a key the daemon
 * adds shows up without a change here.
 */
#define STATUS_DEPTH 8

struct status_walk {
	int depth;                           /* open containers below the top object */
	const char *name[STATUS_DEPTH];      /* their words (into the previous key) */
	size_t len[STATUS_DEPTH];
	bool array[STATUS_DEPTH + 1];        /* container at level i is an array */
	unsigned items[STATUS_DEPTH + 1];    /* entries written at each level */
	bool dash;                           /* text: the next line starts an array element */
};

static bool is_index(const char *w, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (w[i] < '0' || w[i] > '9')
			return false;
	return len > 0;
}

/*
 * Starts an entry of the current container: in JSON its comma and member
 * name; in text its indent ("- " for an array element's first line) and
 * "name:" (a container's on a line of its own, a value's padded).
 */
static void status_entry(struct status_walk *w, const char *name, size_t len, bool leaf)
{
	int d = w->depth;
	bool in_array = w->array[d];
	if (opt_json) {
		if (w->items[d]++)
			putchar(',');
		if (!in_array)
			printf("\"%.*s\":", (int)len, name);
		return;
	}
	if (in_array && !leaf) {
		w->dash = true;
		return;
	}
	if (in_array) {
		printf("%*s- ", 2 * d, "");
		return;
	}
	if (w->dash)
		printf("%*s- ", 2 * d - 2, "");
	else
		printf("%*s", 2 * d, "");
	w->dash = false;
	int col = 2 * d + (int)len + 1;
	if (leaf)
		printf("%.*s:%*s", (int)len, name, col < 22 ? 22 - col : 1, "");
	else
		printf("%.*s:\n", (int)len, name);
}

static void status_close(struct status_walk *w)
{
	if (opt_json)
		putchar(w->array[w->depth] ? ']' : '}');
	w->depth--;
}

static void status_open(struct status_walk *w, const char *name, size_t len, bool array)
{
	status_entry(w, name, len, false);
	w->name[w->depth] = name;
	w->len[w->depth] = len;
	w->depth++;
	w->array[w->depth] = array;
	w->items[w->depth] = 0;
	if (opt_json)
		putchar(array ? '[' : '{');
}

static void status_value(int type, uint64_t v)
{
	switch (type) {
	case COROLEASE_STATUS_BOOL:
		fputs(opt_json ? jbool(v != 0) : yesno(v != 0), stdout);
		break;
	case COROLEASE_STATUS_S64:
		printf("%" PRId64, (int64_t)v);
		break;
	case COROLEASE_STATUS_HASH:
		printf(opt_json ? "\"%016" PRIx64 "\"" : "%016" PRIx64, v);
		break;
	default:
		printf("%" PRIu64, v);
		break;
	}
	if (!opt_json)
		putchar('\n');
}

/* Prints one record, closing and opening containers from the previous one's path. */
static void status_record(struct status_walk *w, const char *key, int type, uint64_t v)
{
	const char *word[STATUS_DEPTH + 1];
	size_t len[STATUS_DEPTH + 1];
	int n = 0;
	for (const char *k = key;; n++) {
		const char *dot = n < STATUS_DEPTH ? strchr(k, '.') : NULL;
		word[n] = k;
		len[n] = dot ? (size_t)(dot - k) : strlen(k);   /* past the limit: the rest is one word */
		if (!dot)
			break;
		k = dot + 1;
	}
	int same = 0;
	while (same < w->depth && same < n && w->len[same] == len[same] &&
	       memcmp(w->name[same], word[same], len[same]) == 0)
		same++;
	while (w->depth > same)
		status_close(w);
	for (int i = same; i < n; i++)
		status_open(w, word[i], len[i], is_index(word[i + 1], len[i + 1]));
	status_entry(w, word[n], len[n], true);
	status_value(type, v);
}

/*
 * The histograms (latency.NAME.le_B, cumulative counts up to B us, then
 * latency.NAME.count and latency.NAME.sum_us).  In text, each becomes
 * latency.NAME.count, mean_us and the bounds its median and 99th
 * percentile fall under (p50_le_us, p99_le_us; left out when above the
 * last bound); --json keeps every record.
 */
#define HIST_MAX_BUCKETS 32

struct hist_walk {
	uint64_t bound[HIST_MAX_BUCKETS], cum[HIST_MAX_BUCKETS], count;
	unsigned n;
};

static bool is_hist_key(const char *key)
{
	return strncmp(key, "latency.", 8) == 0;
}

/* The bound under which a fraction q of the count falls, or 0 (above the last). */
static uint64_t hist_quantile(const struct hist_walk *h, uint64_t count, double q)
{
	for (unsigned i = 0; i < h->n; i++)
		if ((double)h->cum[i] >= q * (double)count)
			return h->bound[i];
	return 0;
}

static void hist_text(struct status_walk *w, struct hist_walk *h, const char *key, uint64_t v)
{
	const char *field = strrchr(key, '.') + 1;
	size_t plen = (size_t)(field - key);   /* "latency.NAME." */
	char k[COROLEASE_STATUS_KEY_MAX + 16];
	if (strncmp(field, "le_", 3) == 0) {
		if (h->n < HIST_MAX_BUCKETS) {
			h->bound[h->n] = strtoull(field + 3, NULL, 10);
			h->cum[h->n++] = v;
		}
	} else if (strcmp(field, "count") == 0) {
		h->count = v;
	} else if (strcmp(field, "sum_us") == 0) {
		uint64_t count = h->count;
		snprintf(k, sizeof(k), "%.*scount", (int)plen, key);
		status_record(w, k, COROLEASE_STATUS_U64, count);
		if (count) {
			snprintf(k, sizeof(k), "%.*smean_us", (int)plen, key);
			status_record(w, k, COROLEASE_STATUS_U64, v / count);
			uint64_t p50 = hist_quantile(h, count, 0.5), p99 = hist_quantile(h, count, 0.99);
			snprintf(k, sizeof(k), "%.*sp50_le_us", (int)plen, key);
			if (p50)
				status_record(w, k, COROLEASE_STATUS_U64, p50);
			snprintf(k, sizeof(k), "%.*sp99_le_us", (int)plen, key);
			if (p99)
				status_record(w, k, COROLEASE_STATUS_U64, p99);
		}
		memset(h, 0, sizeof(*h));
	}
}

/*
 * --prometheus: every record as a metric in the Prometheus text exposition
 * format (version 0.0.4), each family with its HELP and TYPE lines.  A key
 * becomes corolease_KEY with dots as underscores; counters.X becomes the
 * counter corolease_X_total; booleans are 0/1 gauges; members.I.node and
 * members.I.holds become corolease_member_holds{node="N"} (and the gauge
 * corolease_members); KEY_ms becomes corolease_KEY_seconds in seconds; the
 * state hash is the label of corolease_state_info; latency.NAME becomes the
 * histogram corolease_NAME_latency_seconds.
 */
struct prom_walk {
	bool members_typed;                  /* HELP/TYPE of corolease_member_holds printed */
	uint64_t member_node;                /* members.I.node, for the next members.I.holds */
	unsigned nmembers;
	char hist[160];                      /* the histogram whose records come now */
	uint64_t hist_count;                 /* its count (before its sum) */
};

static void prom_family(const char *name, const char *type, const char *key)
{
	printf("# HELP %s coroleased status field %s (see corolease(1))\n", name, key);
	printf("# TYPE %s %s\n", name, type);
}

/* latency.NAME.le_B, .sum_us, .count: corolease_NAME_latency_seconds (a histogram) */
static void prom_hist(struct prom_walk *w, const char *key, uint64_t v)
{
	const char *hname = key + 8, *field = strrchr(key, '.') + 1;
	int hlen = (int)(field - 1 - hname);
	char name[160];
	if (snprintf(name, sizeof(name), "corolease_%.*s_latency_seconds", hlen, hname) >= (int)sizeof(name))
		return;
	if (strcmp(w->hist, name) != 0) {   /* its first record */
		snprintf(w->hist, sizeof(w->hist), "%s", name);
		printf("# HELP %s coroleased status histogram latency.%.*s (see corolease(1))\n", name, hlen,
		       hname);
		printf("# TYPE %s histogram\n", name);
	}
	if (strncmp(field, "le_", 3) == 0)
		printf("%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, (double)strtoull(field + 3, NULL, 10) / 1e6,
		       v);
	else if (strcmp(field, "count") == 0)
		printf("%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, w->hist_count = v);
	else if (strcmp(field, "sum_us") == 0)
		printf("%s_sum %.6f\n%s_count %" PRIu64 "\n", name, (double)v / 1e6, name, w->hist_count);
}

static void prom_record(struct prom_walk *w, const char *key, int type, uint64_t v)
{
	char name[160];
	if (is_hist_key(key)) {
		prom_hist(w, key, v);
		return;
	}
	if (strncmp(key, "members.", 8) == 0) {
		const char *field = strrchr(key, '.') + 1;
		if (strcmp(field, "node") == 0) {
			w->member_node = v;
			w->nmembers++;
		} else if (strcmp(field, "holds") == 0) {
			if (!w->members_typed)
				prom_family("corolease_member_holds", "gauge", "members.I.holds");
			w->members_typed = true;
			printf("corolease_member_holds{node=\"%" PRIu64 "\"} %" PRIu64 "\n",
			       w->member_node, v);
		}
		return;
	}
	if (strcmp(key, "leases") == 0) {
		/* the member list came just before: its size */
		prom_family("corolease_members", "gauge", "members (their number)");
		printf("corolease_members %u\n", w->nmembers);
	}
	bool counter = strncmp(key, "counters.", 9) == 0;
	const char *k = counter ? key + 9 : key;
	size_t klen = strlen(k);
	bool ms = klen > 3 && strcmp(k + klen - 3, "_ms") == 0;   /* in seconds, as Prometheus wants */
	size_t n;
	if (type == COROLEASE_STATUS_HASH)
		n = (size_t)snprintf(name, sizeof(name), "corolease_state_info");
	else
		n = (size_t)snprintf(name, sizeof(name), "corolease_%.*s%s", (int)(ms ? klen - 3 : klen), k,
				     ms ? "_seconds" : counter ? "_total" : "");
	if (n >= sizeof(name))
		return;
	for (char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
			*c = '_';
	prom_family(name, counter ? "counter" : "gauge", key);
	switch (type) {
	case COROLEASE_STATUS_BOOL:
		printf("%s %d\n", name, v != 0);
		break;
	case COROLEASE_STATUS_S64:
		if (ms)
			printf("%s %.3f\n", name, (double)(int64_t)v / 1000.0);
		else
			printf("%s %" PRId64 "\n", name, (int64_t)v);
		break;
	case COROLEASE_STATUS_HASH:
		printf("%s{%s=\"%016" PRIx64 "\"} 1\n", name, k, v);
		break;
	default:
		printf("%s %" PRIu64 "\n", name, v);
		break;
	}
}

static bool status_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c != 'P')
		return false;
	*(bool *)ctx = true;
	return true;
}

static int cmd_status(int argc, char **argv)
{
	int ex;
	bool prometheus = false;
	static const struct option status_opts[] = {
		{ "prometheus", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int i = parse_opts("status", argc, argv, NULL, status_opts, status_opt, &prometheus, &ex);
	if (i < 0)
		return ex;
	if (i != argc)
		return usage_error("status", "status: unexpected argument '%s'", argv[i]);

	corolease_t *h = connect_or_exit();
	corolease_status_t *st;
	int r = corolease_status_get(h, &st);
	corolease_close(h);
	if (r < 0)
		return fail("status", NULL, 0, r);

	const char *key;
	int type;
	uint64_t v;
	size_t it = 0;
	if (prometheus) {
		struct prom_walk pw = { 0 };
		while (corolease_status_next(st, &it, &key, &type, &v) == 0)
			prom_record(&pw, key, type, v);
		corolease_status_free(st);
		return EXIT_OK;   /* main() checks that it was all written */
	}
	struct status_walk w;
	memset(&w, 0, sizeof(w));
	if (opt_json)
		putchar('{');
	struct hist_walk hw = { .n = 0 };
	while (corolease_status_next(st, &it, &key, &type, &v) == 0) {
		if (!opt_json && is_hist_key(key))
			hist_text(&w, &hw, key, v);
		else
			status_record(&w, key, type, v);
	}
	while (w.depth > 0)
		status_close(&w);
	if (opt_json)
		puts("}");
	corolease_status_free(st);
	return EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* list, show, owner */

/*
 * The daemon sends a listing in its table's order, which depends on a key
 * of its own (a different one on every node and at every start): the lines
 * are collected and printed in name order (bytes, shorter first on a common
 * prefix), so that the same state lists alike everywhere.
 */
struct list_item {
	struct corolease_lease_summary s;   /* s.name points at name */
	uint8_t name[];
};

struct list_ctx {
	struct list_item **v;
	size_t n, cap;
	bool oom;
};

static int list_collect(void *ctx, const struct corolease_lease_summary *s)
{
	struct list_ctx *c = ctx;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct list_item **v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->oom = true;
			return -ENOMEM;
		}
		c->v = v;
		c->cap = cap;
	}
	struct list_item *it = malloc(sizeof(*it) + s->namelen);
	if (!it) {
		c->oom = true;
		return -ENOMEM;
	}
	it->s = *s;
	memcpy(it->name, s->name, s->namelen);
	it->s.name = it->name;
	c->v[c->n++] = it;
	return 0;
}

static int list_item_cmp(const void *pa, const void *pb)
{
	const struct corolease_lease_summary *a = &(*(struct list_item *const *)pa)->s;
	const struct corolease_lease_summary *b = &(*(struct list_item *const *)pb)->s;
	int c = memcmp(a->name, b->name, a->namelen < b->namelen ? a->namelen : b->namelen);
	if (c)
		return c;
	return a->namelen < b->namelen ? -1 : a->namelen > b->namelen;
}

static void list_print(const struct corolease_lease_summary *s, bool first)
{
	if (opt_json) {
		printf("%s{\"name\":", first ? "" : ",");
		put_json(stdout, s->name, s->namelen);
		printf(",\"owner\":%" PRIu32 ",\"mode\":\"%s\",\"orphaned\":%s,\"epoch\":%" PRIu64
		       ",\"holders\":%" PRIu32 ",\"waiters\":%" PRIu32 ",\"keys\":%" PRIu32
		       ",\"version\":%" PRIu64 "}", s->owner, mode_str(s->owner ? s->mode : 0),
		       jbool(s->orphaned), s->epoch, s->nholders, s->nwaiters, s->nkeys,
		       s->version);
	} else {
		put_text(stdout, s->name, s->namelen);
		printf("\towner=%" PRIu32 "\tmode=%s\tepoch=%" PRIu64 "\tholders=%" PRIu32
		       "\twaiters=%" PRIu32 "\tkeys=%" PRIu32 "%s\n", s->owner,
		       mode_str(s->owner ? s->mode : 0), s->epoch, s->nholders, s->nwaiters,
		       s->nkeys, s->orphaned ? "\torphaned" : "");
	}
}

static int cmd_list(int argc, char **argv)
{
	int ex;
	int i = parse_opts("list", argc, argv, NULL, NULL, NULL, NULL, &ex);
	if (i < 0)
		return ex;
	if (argc - i > 1)
		return usage_error("list", "list: too many arguments");
	const char *prefix = i < argc ? argv[i] : "";
	if (strlen(prefix) > COROLEASE_NAME_MAX)
		return usage_error("list", "list: prefix longer than %u bytes", COROLEASE_NAME_MAX);

	corolease_t *h = connect_or_exit();
	struct list_ctx c = { 0 };
	int r = corolease_list(h, prefix, strlen(prefix), list_collect, &c);
	corolease_close(h);
	if (r == 0 && c.n > 1)
		qsort(c.v, c.n, sizeof(*c.v), list_item_cmp);
	if (opt_json && r == 0)
		printf("[");
	for (size_t k = 0; k < c.n; k++) {
		if (r == 0)
			list_print(&c.v[k]->s, k == 0);
		free(c.v[k]);
	}
	free(c.v);
	if (opt_json && r == 0)
		printf("]\n");
	if (r < 0)
		return fail("list", NULL, 0, r);
	return EXIT_OK;
}

/*
 * What "held by node N" means when N is this node: another local client
 * holds the name (EX is exclusive between local clients too), or the
 * cluster granted it to this node and the grant is not yet confirmed by the
 * other members (doc/state-machine.md, "Grants").
 */
static const char *on_this_node(uint32_t owner, uint32_t self)
{
	return owner && owner == self ? " (this node: another local client holds it, or its grant "
					"to this node is not confirmed yet)" : "";
}

static bool check_name_arg(const char *cmd, const char *name, int *exit_r)
{
	size_t len = strlen(name);
	if (len == 0 || len > COROLEASE_NAME_MAX) {
		*exit_r = usage_error(cmd, "%s: a name is 1 to %u bytes", cmd, COROLEASE_NAME_MAX);
		return false;
	}
	return true;
}

static bool check_key_arg(const char *cmd, const char *key, int *exit_r)
{
	size_t len = strlen(key);
	if (len == 0 || len > COROLEASE_KEY_MAX) {
		*exit_r = usage_error(cmd, "%s: a key is 1 to %u bytes", cmd, COROLEASE_KEY_MAX);
		return false;
	}
	return true;
}

/*
 * Parses the common options and exactly one NAME argument of cmd.  Returns
 * the name, or NULL with the exit code in *exit_r.
 */
static const char *one_name_arg(const char *cmd, int argc, char **argv, int *exit_r)
{
	int i = parse_opts(cmd, argc, argv, NULL, NULL, NULL, NULL, exit_r);
	if (i < 0)
		return NULL;
	if (argc - i != 1) {
		*exit_r = usage_error(cmd, "%s: expected one NAME", cmd);
		return NULL;
	}
	return check_name_arg(cmd, argv[i], exit_r) ? argv[i] : NULL;
}

/* The library calls of the one-NAME commands, with their results behind out. */
static int call_show(corolease_t *h, const char *n, size_t len, void *out)
{
	return corolease_show(h, n, len, out);
}

static int call_owner(corolease_t *h, const char *n, size_t len, void *out)
{
	return corolease_owner(h, n, len, out);
}

static int call_evict(corolease_t *h, const char *n, size_t len, void *out)
{
	return corolease_evict(h, n, len, out);
}

/*
 * A command of one NAME argument: parses it, connects, runs call and
 * disconnects.  -1 with *namep set when the call succeeded (its result is
 * in out), else the exit code, after a message.
 */
static int one_name_call(const char *cmd, int argc, char **argv,
			 int (*call)(corolease_t *, const char *, size_t, void *), void *out,
			 const char **namep)
{
	int ex;
	const char *name = one_name_arg(cmd, argc, argv, &ex);
	if (!name)
		return ex;
	corolease_t *h = connect_or_exit();
	int r = call(h, name, strlen(name), out);
	corolease_close(h);
	if (r < 0)
		return fail(cmd, name, strlen(name), r);
	*namep = name;
	return -1;
}

static int cmd_show(int argc, char **argv)
{
	const char *name;
	struct corolease_detail *d;
	int ex = one_name_call("show", argc, argv, call_show, &d, &name);
	if (ex >= 0)
		return ex;

	if (opt_json) {
		printf("{\"name\":");
		put_json(stdout, name, strlen(name));
		printf(",\"mode\":\"%s\",\"holders\":[", mode_str(d->nholders ? d->mode : 0));
		for (uint32_t k = 0; k < d->nholders; k++) {
			const struct corolease_holder *o = &d->holders[k];
			printf("%s{\"node\":%" PRIu32 ",\"mode\":\"%s\",\"epoch\":%" PRIu64
			       ",\"orphaned\":%s,\"orphan_seq\":%" PRIu64 "}", k ? "," : "",
			       o->node, mode_str(o->mode), o->epoch, jbool(o->orphan_seq != 0),
			       o->orphan_seq);
		}
		printf("],\"waiters\":[");
		for (uint32_t k = 0; k < d->nwaiters; k++)
			printf("%s{\"node\":%" PRIu32 ",\"mode\":\"%s\"}", k ? "," : "",
			       d->waiters[k].node, mode_str(d->waiters[k].mode));
		printf("],\"version\":%" PRIu64 ",\"keys\":[", d->version);
		for (uint32_t k = 0; k < d->nkeys; k++) {
			if (k)
				putchar(',');
			put_json(stdout, d->keys[k], d->keylens[k]);
		}
		printf("]}\n");
	} else {
		printf("name:     ");
		put_text(stdout, name, strlen(name));
		printf("\nmode:     %s\n", mode_str(d->nholders ? d->mode : 0));
		printf("holders:  %" PRIu32 "\n", d->nholders);
		for (uint32_t k = 0; k < d->nholders; k++) {
			const struct corolease_holder *o = &d->holders[k];
			printf("  node %-6" PRIu32 " %s  epoch %" PRIu64, o->node, mode_str(o->mode),
			       o->epoch);
			if (o->orphan_seq)
				printf("  orphaned (seq %" PRIu64 ")", o->orphan_seq);
			putchar('\n');
		}
		printf("waiters:  %" PRIu32 " (FIFO)\n", d->nwaiters);
		for (uint32_t k = 0; k < d->nwaiters; k++)
			printf("  node %-6" PRIu32 " %s\n", d->waiters[k].node,
			       mode_str(d->waiters[k].mode));
		printf("index:    version %" PRIu64 ", %" PRIu32 " key%s\n", d->version, d->nkeys,
		       d->nkeys == 1 ? "" : "s");
		for (uint32_t k = 0; k < d->nkeys; k++) {
			printf("  ");
			put_text(stdout, d->keys[k], d->keylens[k]);
			putchar('\n');
		}
	}
	corolease_detail_free(d);
	return EXIT_OK;
}

static int cmd_owner(int argc, char **argv)
{
	const char *name;
	uint32_t node;
	int ex = one_name_call("owner", argc, argv, call_owner, &node, &name);
	if (ex >= 0)
		return ex;
	if (opt_json) {
		printf("{\"name\":");
		put_json(stdout, name, strlen(name));
		printf(",\"owner\":%" PRIu32 "}\n", node);
	} else {
		printf("%" PRIu32 "\n", node);
	}
	return EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* evict, fence-ack */

static int cmd_evict(int argc, char **argv)
{
	const char *name;
	uint64_t count;
	int ex = one_name_call("evict", argc, argv, call_evict, &count, &name);
	if (ex >= 0)
		return ex;
	if (opt_json)
		printf("{\"evicted\":%" PRIu64 "}\n", count);
	else
		printf("evicted %" PRIu64 " holder%s\n", count, count == 1 ? "" : "s");
	return EXIT_OK;
}

static int cmd_fence_ack(int argc, char **argv)
{
	unsigned flags;
	int ex;
	int i = parse_flag_opt("fence-ack", argc, argv, "force", 'f', COROLEASE_FENCE_FORCE, &flags, &ex);
	if (i < 0)
		return ex;
	uint32_t node;
	if (argc - i != 1 || !parse_u32(argv[i], &node, true))
		return usage_error("fence-ack", "fence-ack: expected one NODE id (> 0)");

	corolease_t *h = connect_or_exit();
	uint64_t count;
	int r = corolease_fence_ack(h, node, flags, &count);
	corolease_close(h);
	if (r < 0) {
		warnx_("fence-ack node %" PRIu32 ": %s (%s)", node, corolease_strerror(r),
		       corolease_errname(r));
		if (r == COROLEASE_ENODEALIVE)
			warnx_("node %" PRIu32 " is a member of the current cluster configuration, so "
			       "nothing of it was freed.  --force acknowledges it anyway: that frees only "
			       "the leases node %" PRIu32 " held before it last left the cluster, never "
			       "those it holds now; use it only when you know node %" PRIu32 " was "
			       "fenced or restarted since.", node, node, node);
		return exit_for(r);
	}
	if (opt_json)
		printf("{\"node\":%" PRIu32 ",\"recovered\":%" PRIu64 "}\n", node, count);
	else
		printf("node %" PRIu32 ": recovered %" PRIu64 " lease%s\n", node, count,
		       count == 1 ? "" : "s");
	return EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* acquire */

static int sig_w = -1;     /* write end of the self-pipe */

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t r = write(sig_w, &b, 1);
	(void)r;
	errno = saved;
}

struct run {
	pid_t child;
	bool exited;            /* CMD reaped */
	uint64_t exited_at;     /* when we learnt it (us) */
	bool done;              /* ... and no process it started left */
	bool orphans_told;
	int status;
	bool stopping;          /* SIGTERM sent for a lost lease */
	uint64_t stop_at;       /* when (us) */
	uint64_t kill_at;       /* SIGKILL due (us), 0 = none */
	bool killing;           /* SIGKILL sent: again until no process is left */
	unsigned kill_after_ms;
	bool wanted_told;
	const char *name;
	const char *cmd;        /* CMD, for messages */
	corolease_lease_t *lease;
	bool ns;                /* child is the init of CMD's own pid namespace */
	int status_r;           /* ns: CMD's wait status comes here (-1: closed) */
};

/* SIGKILL this long before the lease's stop deadline, for our own lateness. */
#define ACQ_KILL_MARGIN_US 200000u
/* While CMD runs, the lease's validity is read this often (ms). */
#define ACQ_CHECK_MS 50
/* While killing, processes left are looked for and killed again this often (ms). */
#define ACQ_REKILL_MS 100

/* Processes of CMD's tree signalled at most (a fork bomb is not followed further). */
#define ACQ_TREE_MAX 65536

/*
 * Sends sig to every live process descended from us: CMD, what it started,
 * and what it left behind (we are their subreaper, so orphans come back to
 * us rather than to init).  SIGKILL freezes the tree first (proctree.h).
 */
static void signal_tree(int sig)
{
	cld_proc_signal_tree(getpid(), sig, CLD_PROC_ANY_UID, sig == SIGKILL, ACQ_TREE_MAX,
			     (size_t)ACQ_TREE_MAX * 16, true, NULL, NULL);
}

/*
 * The lease is lost (revoked, lapsed, or the daemon gone): SIGTERM now to
 * CMD and what it started; SIGKILL kill_after_ms later, or
 * ACQ_KILL_MARGIN_US before the lease's stop deadline (the other nodes never
 * grant it before that) if that comes first: at once when it is that close
 * already.
 */
static void stop_child(struct run *run, const char *why)
{
	if (run->stopping || run->done)
		return;
	warnx_("acquire %s: %s; stopping %s", text(run->name, strlen(run->name)), why,
	       run->exited ? "the processes the command left" : "the command");
	run->stopping = true;
	if (run->ns) {
		kill(run->child, SIGUSR1);   /* its init: SIGTERM to every process there */
	} else {
		if (!run->exited)
			kill(run->child, SIGTERM);
		signal_tree(SIGTERM);
	}
	uint64_t now = boot_us();
	uint64_t deadline = corolease_lease_stop_deadline(run->lease);
	run->stop_at = now;
	run->kill_at = now + (uint64_t)run->kill_after_ms * 1000u;
	if (deadline) {
		uint64_t by = deadline > now + ACQ_KILL_MARGIN_US ? deadline - ACQ_KILL_MARGIN_US : now;
		if (by < run->kill_at)
			run->kill_at = by;
	}
}

/* Reaps what exited; CMD's status is kept.  Sets done once nothing is left. */
static void reap(struct run *run)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p < 0 && errno == EINTR)
			continue;
		if (run->ns && run->status_r >= 0) {
			/* CMD's status, from the namespace's init */
			int cs;
			ssize_t got = read(run->status_r, &cs, sizeof(cs));
			if (got == (ssize_t)sizeof(cs)) {
				run->exited = true;
				run->status = cs;
			} else if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
				/*
				 * the init is gone, its namespace maybe still dying: no
				 * status will come, and a hung-up pipe must not spin poll
				 */
				close(run->status_r);
				run->status_r = -1;
			}
		}
		if (p == run->child) {
			if (run->ns) {
				/* the namespace is empty now: every process of CMD's tree is gone */
				run->done = true;
				if (!run->exited)   /* killed before CMD ended: the init's status */
					run->status = st;
				run->exited = true;
				continue;
			}
			run->exited = true;
			run->status = st;
			continue;
		}
		if (p > 0)
			continue;
		if (p < 0 && errno == ECHILD && run->exited)
			run->done = true;
		return;
	}
}

/* Runs the library's pending events, unless its connection is already lost (*dead). */
static void acq_dispatch(corolease_t *h, bool *dead)
{
	if (!*dead && corolease_dispatch(h) == COROLEASE_EDISCONNECTED)
		*dead = true;
}

static void acq_revoked(corolease_t *h, corolease_lease_t *lease, void *udata)
{
	(void)h;
	(void)lease;
	stop_child(udata, "lease revoked");
}

static void acq_wanted(corolease_t *h, corolease_lease_t *lease, uint32_t node, void *udata)
{
	struct run *run = udata;
	(void)h;
	(void)lease;
	if (run->wanted_told)
		return;
	run->wanted_told = true;
	warnx_("lease %s wanted by node %" PRIu32 "; %s%s%s keeps it until it exits, or until the "
	       "handover timeout if the waiter may take it", text(run->name, strlen(run->name)),
	       node, run->exited ? "what " : "", run->cmd, run->exited ? " left running" : "");
}

static void acq_disconnected(corolease_t *h, void *udata)
{
	(void)h;
	stop_child(udata, "connection to coroleased lost");
}

static const int fwd_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/*
 * Gives SIGCHLD, the forwarded signals and, with usr1, SIGUSR1 the handler
 * fn (SIG_DFL to reset them in a child).
 */
static void set_handlers(void (*fn)(int), int flags, bool usr1)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	if (usr1)
		sigaction(SIGUSR1, &sa, NULL);
	for (size_t k = 0; k < sizeof(fwd_sigs) / sizeof(fwd_sigs[0]); k++)
		sigaction(fwd_sigs[k], &sa, NULL);
}

static void ns_on_signal(int sig)
{
	(void)sig;   /* a handler, so that the namespace's init is sent it at all */
}

/*
 * The init of CMD's own pid namespace (pid 1 there; acquire run as root):
 * the kernel kills every process of a pid namespace when its init dies, at
 * once and whatever they fork, so CMD's whole tree dies with this process,
 * which dies with acquire (PR_SET_PDEATHSIG), or when acquire kills it.
 * Runs CMD (its pid 2), reaps whatever ends there, writes CMD's wait status
 * to status_w, and exits once nothing is left.  SIGUSR1: SIGTERM to every
 * process there; a forwarded signal goes to CMD (to the rest once CMD is
 * gone).  life_r hangs up if acquire is gone already.
 */
static void ns_init(int life_r, int status_w, char **cmd, const sigset_t *old)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(126);
	struct pollfd lp = { .fd = life_r, .events = POLLIN };
	if (poll(&lp, 1, 0) != 0)
		_exit(126);   /* acquire died before the death signal was set */
	/*
	 * What exec would close (our connection to coroleased above all) is
	 * not ours to keep open; what CMD is to inherit stays.
	 */
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			int fd = atoi(de->d_name);
			int fl;
			if (fd > 2 && fd != dirfd(d) && fd != life_r && fd != status_w &&
			    (fl = fcntl(fd, F_GETFD)) >= 0 && (fl & FD_CLOEXEC))
				close(fd);
		}
		closedir(d);
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	for (size_t k = 0; k < sizeof(fwd_sigs) / sizeof(fwd_sigs[0]); k++)
		sigaddset(&set, fwd_sigs[k]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/*
	 * An init is not sent signals it has no handler for (it would ignore
	 * them): handlers, blocked, taken with sigwaitinfo()
	 */
	set_handlers(ns_on_signal, 0, true);
	pid_t c = fork();
	if (c == 0) {
		set_handlers(SIG_DFL, 0, true);
		sigprocmask(SIG_SETMASK, old, NULL);
		close(life_r);
		close(status_w);
		execvp(cmd[0], cmd);
		int e = errno;
		fprintf(stderr, "corolease: acquire: cannot run %s: %s\n", cmd[0], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	if (c < 0) {
		int st = 126 << 8;
		fprintf(stderr, "corolease: acquire: fork: %s\n", strerror(errno));
		if (write(status_w, &st, sizeof(st)) < 0)
			_exit(126);
		_exit(126);
	}
	bool cmd_alive = true;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue;
		if (sig == SIGUSR1) {
			kill(-1, SIGTERM);   /* every process of this namespace but us */
		} else if (sig != SIGCHLD) {
			if (cmd_alive)
				kill(c, sig);
			else
				kill(-1, sig);
		}
		for (;;) {
			int st;
			pid_t p = waitpid(-1, &st, WNOHANG);
			if (p == c) {
				cmd_alive = false;
				if (write(status_w, &st, sizeof(st)) < 0)
					_exit(126);
			}
			if (p > 0 || (p < 0 && errno == EINTR))
				continue;
			if (p < 0 && errno == ECHILD)
				_exit(0);   /* nothing left */
			break;
		}
	}
}

struct acq_opts {
	int mode;
	bool wait;
	unsigned wait_ms;
	unsigned kill_after_ms;
};


static int cmd_acquire(int argc, char **argv)
{
	struct acq_opts o = { .mode = COROLEASE_EX, .kill_after_ms = 4000 };
	const char *name = NULL;
	char **cmd = NULL;

	/* flock(1)-like: options anywhere before CMD; CMD starts at the first
	 * operand after NAME, or after "--". */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (strcmp(a, "--") == 0) {
			cmd = &argv[i + 1];
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (!name) {
				name = a;
				continue;
			}
			cmd = &argv[i];
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(help_for("acquire"), stdout);
			return EXIT_OK;
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--shared") == 0) {
			o.mode = COROLEASE_SH;
		} else if (strcmp(a, "-x") == 0 || strcmp(a, "--exclusive") == 0) {
			o.mode = COROLEASE_EX;
		} else if (strcmp(a, "-n") == 0 || strcmp(a, "--nowait") == 0) {
			o.wait = false;
		} else if (strcmp(a, "-w") == 0 || strcmp(a, "--wait") == 0 ||
			   strncmp(a, "--wait=", 7) == 0) {
			val = a[1] == '-' && a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val || !parse_secs_ms(val, &o.wait_ms))
				return usage_error("acquire", "acquire: --wait needs SECS >= 0");
			o.wait = true;
		} else if (strcmp(a, "--kill-after") == 0 || strncmp(a, "--kill-after=", 13) == 0) {
			val = a[12] == '=' ? a + 13 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val || !parse_secs_ms(val, &o.kill_after_ms))
				return usage_error("acquire", "acquire: --kill-after needs SECS >= 0");
		} else if (strcmp(a, "--json") == 0) {
			opt_json = true;   /* accepted, nothing to print */
		} else {
			return usage_error("acquire", "acquire: unknown option '%s'", a);
		}
	}
	int ex;
	if (!name)
		return usage_error("acquire", "acquire: expected NAME and CMD");
	if (!check_name_arg("acquire", name, &ex))
		return ex;
	if (!cmd || !cmd[0])
		return usage_error("acquire", "acquire: expected a command to run");

	/*
	 * Callbacks first: what arrives during the acquire (a WANTED) is
	 * queued and runs in the loop below, once CMD runs.
	 */
	corolease_t *h = connect_or_exit();
	struct run run = { .kill_after_ms = o.kill_after_ms, .name = name, .cmd = cmd[0] };
	struct corolease_callbacks cb = { .wanted = acq_wanted, .revoked = acq_revoked,
					  .disconnected = acq_disconnected };
	corolease_set_callbacks(h, &cb, &run);
	if (o.wait && o.wait_ms == 0)
		corolease_set_timeout(h, 0);   /* --wait 0: without limit, --timeout too */
	corolease_lease_t *lease;
	uint32_t owner = 0;
	/*
	 * COROLEASE_KILL: should we be stopped ourselves (SIGSTOP) when the
	 * lease is revoked, the daemon kills us and CMD's tree at the revoke
	 * deadline, since we cannot.
	 */
	int r = corolease_acquire(h, name, strlen(name), o.mode,
				  (o.wait ? COROLEASE_WAIT : 0) | COROLEASE_KILL, o.wait_ms, &lease,
				  &owner);
	if (r == -ENOSYS || r == -EPERM) {
		/* the daemon cannot take a pidfd of us (a kernel before 5.3, seccomp) */
		warnx_("acquire %s: coroleased cannot kill this process should it be stopped past a "
		       "revoke (%s); going on without that", text(name, strlen(name)), strerror(-r));
		r = corolease_acquire(h, name, strlen(name), o.mode, o.wait ? COROLEASE_WAIT : 0,
				      o.wait_ms, &lease, &owner);
	}
	if (r < 0) {
		uint32_t self = corolease_nodeid(h);
		corolease_close(h);
		if (r == -ETIMEDOUT && !o.wait)
			return fail("acquire", name, strlen(name), r);   /* the daemon's answer, not a wait */
		if ((r == -EBUSY || r == -ETIMEDOUT) && owner) {
			warnx_("acquire %s: held by node %" PRIu32 "%s%s (%s)",
			       text(name, strlen(name)), owner, on_this_node(owner, self),
			       r == -ETIMEDOUT ? "; gave up waiting" : "", corolease_errname(r));
			return EXIT_BUSY;
		}
		if (r == -ETIMEDOUT) {
			warnx_("acquire %s: %s (%s)", text(name, strlen(name)), corolease_strerror(r),
			       corolease_errname(r));
			return EXIT_BUSY;
		}
		return fail("acquire", name, strlen(name), r);
	}

	/* the command must not keep our connection (and so the lease) alive */
	int lfd = corolease_get_fd(h);
	if (lfd >= 0)
		fcntl(lfd, F_SETFD, fcntl(lfd, F_GETFD) | FD_CLOEXEC);

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		warnx_("acquire: pipe: %s", strerror(errno));
		corolease_release(lease);
		corolease_close(h);
		return EXIT_OTHER;
	}
	sig_w = pfd[1];
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGUSR1);   /* kept pending for the namespace's init until it waits for it */
	for (size_t k = 0; k < sizeof(fwd_sigs) / sizeof(fwd_sigs[0]); k++)
		sigaddset(&block, fwd_sigs[k]);
	sigprocmask(SIG_BLOCK, &block, &old);
	set_handlers(on_signal, SA_RESTART, false);

	char epoch[32], node[16];
	snprintf(epoch, sizeof(epoch), "%" PRIu64, corolease_lease_epoch(lease));
	snprintf(node, sizeof(node), "%" PRIu32, corolease_nodeid(h));
	/* CMD's environment (our own is not used again) */
	setenv("COROLEASE_NAME", name, 1);
	setenv("COROLEASE_EPOCH", epoch, 1);
	setenv("COROLEASE_NODE", node, 1);
	fflush(NULL);
	run.lease = lease;
	pid_t parent = getpid();
	/* orphans of CMD come back to us, to be killed with it, not to init */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		warnx_("acquire: PR_SET_CHILD_SUBREAPER: %s (what the command leaves behind is not "
		       "followed)", strerror(errno));
	/*
	 * As root: CMD's tree in a pid namespace of its own, which the kernel
	 * kills whole with its init (ns_init()).  Otherwise (EPERM) the tree is
	 * walked (signal_tree()).
	 */
	int life[2] = { -1, -1 }, stp[2] = { -1, -1 };
	run.status_r = -1;
	run.child = -1;
	/*
	 * clone(2) as fork(2) with CLONE_NEWPID, not unshare(2): our own later
	 * children (a sanitizer's helper at exit) must not land in a namespace
	 * whose init is gone.  We are single-threaded here.
	 */
	if (pipe2(life, O_CLOEXEC) == 0 && pipe2(stp, O_CLOEXEC | O_NONBLOCK) == 0) {
#if defined(__s390__) || defined(__CRIS__)   /* the stack comes first there */
		run.child = (pid_t)syscall(SYS_clone, NULL, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL);
#else
		run.child = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
#endif
		run.ns = run.child >= 0;
		if (!run.ns && errno != EPERM && errno != EINVAL)
			warnx_("acquire: no pid namespace for the command (%s): its tree is walked "
			       "instead", strerror(errno));
	}
	if (!run.ns)
		run.child = fork();
	if (run.child == 0 && run.ns) {
		close(life[1]);
		close(stp[0]);
		close(pfd[0]);
		close(pfd[1]);
		ns_init(life[0], stp[1], cmd, &old);
	}
	if (run.child == 0) {
		/* the lease ends with us: CMD must not outlive us (a kill -9, kill_on_revoke) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(126);
		set_handlers(SIG_DFL, 0, false);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(cmd[0], cmd);
		int e = errno;
		fprintf(stderr, "corolease: acquire: cannot run %s: %s\n", cmd[0], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	for (int k = 0; k < 2; k++) {
		if (life[k] >= 0 && k == 0)
			close(life[k]);   /* life[1] stays open with us: the init sees it hang up */
		if (stp[k] >= 0 && k == 1)
			close(stp[k]);
	}
	run.status_r = run.ns ? stp[0] : -1;
	if (!run.ns && stp[0] >= 0)
		close(stp[0]);
	if (!run.ns && life[1] >= 0)
		close(life[1]);
	if (run.child < 0) {
		warnx_("acquire: fork: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		corolease_release(lease);
		corolease_close(h);
		return EXIT_OTHER;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);

	bool lib_dead = false;
	while (!run.done) {
		/*
		 * Wake for the library, the SIGKILL, every ACQ_CHECK_MS to read the
		 * lease's validity, and at the latest in time to kill CMD before the
		 * lease's stop deadline should the lease lapse unseen meanwhile.
		 */
		uint64_t now0 = boot_us(), wake = now0 + ACQ_CHECK_MS * 1000u;
		uint64_t sd = corolease_lease_stop_deadline(lease);
		uint64_t by = sd > ACQ_KILL_MARGIN_US ? sd - ACQ_KILL_MARGIN_US : 0;
		/*
		 * (past already while the lease is valid: revoke_timeout_ms under
		 * the margin; the lapse is then seen within ACQ_CHECK_MS)
		 */
		if (sd && by < wake && by > now0)
			wake = by;
		/* a stop deadline brought forward (a revoke, a retired page) brings the kill too */
		if (run.stopping && !run.killing && sd && by < run.kill_at)
			run.kill_at = by > now0 ? by : now0;
		if (run.kill_at && run.kill_at < wake)
			wake = run.kill_at;
		int ms = poll_ms(lib_dead ? UINT64_MAX : corolease_get_timeout(h), wake);
		struct pollfd fds[3] = {
			{ .fd = pfd[0], .events = POLLIN },
			{ .fd = lib_dead ? -1 : corolease_get_fd(h),
			  .events = (short)corolease_get_events(h) },
			{ .fd = run.exited ? -1 : run.status_r, .events = POLLIN },
		};
		int n = poll(fds, 3, ms);
		if (n < 0 && errno != EINTR) {
			warnx_("acquire: poll: %s", strerror(errno));
			break;
		}
		if (n > 0 && (fds[0].revents & POLLIN)) {
			unsigned char sigs[64];
			ssize_t got;
			while ((got = read(pfd[0], sigs, sizeof(sigs))) > 0) {
				for (ssize_t k = 0; k < got; k++) {
					if (sigs[k] == SIGCHLD)
						continue;
					if (run.ns)
						kill(run.child, sigs[k]);   /* its init forwards it */
					else if (!run.exited)
						kill(run.child, sigs[k]);
					else
						signal_tree(sigs[k]);   /* what CMD left */
				}
			}
		}
		reap(&run);
		if (run.exited && !run.exited_at)
			run.exited_at = boot_us();
		/* (a namespace's init exits a moment after CMD: give it that moment) */
		if (run.exited && !run.done && !run.orphans_told && !run.stopping &&
		    boot_us() >= run.exited_at + ACQ_REKILL_MS * 1000u) {
			run.orphans_told = true;
			warnx_("acquire %s: %s exited; processes it started still run and keep the "
			       "lease until they exit", text(name, strlen(name)), run.cmd);
		}
		acq_dispatch(h, &lib_dead);
		/*
		 * No revoke may come (our daemon stopped, or cut off with its
		 * corosync): the validity page says when the lease lapsed.
		 */
		if (!run.stopping && !run.done && !corolease_lease_valid(lease)) {
			/*
			 * A revoke clears the lease's slot after its event is
			 * sent (lockd/ipc_req.c): read it, and say revoked
			 * (acq_revoked()) rather than lapsed.
			 */
			acq_dispatch(h, &lib_dead);
			stop_child(&run, lib_dead ? "connection to coroleased lost"
						  : "lease no longer valid (the node's validity lapsed, "
						    "or coroleased stopped)");
		}
		uint64_t now = boot_us();
		if (run.kill_at && now >= run.kill_at && !run.done) {
			if (!run.killing)
				warnx_("acquire %s: %s still running %" PRIu64 " ms after the lease "
				       "was lost; killing it", text(name, strlen(name)),
				       run.exited ? "what the command started is" : "the command is",
				       (now - run.stop_at) / 1000u);
			run.killing = true;
			if (run.ns) {
				kill(run.child, SIGKILL);   /* the namespace dies with its init */
			} else {
				if (!run.exited)
					kill(run.child, SIGKILL);
				signal_tree(SIGKILL);
			}
			/* again until nothing is left: a fork may have raced the kill */
			run.kill_at = now + ACQ_REKILL_MS * 1000u;
		}
	}
	if (!run.done) {   /* poll failed: make sure nothing runs unguarded */
		do {
			if (!run.exited)
				kill(run.child, SIGKILL);
			signal_tree(SIGKILL);
			if (!run.exited)
				while (waitpid(run.child, &run.status, 0) < 0 && errno == EINTR)
					;
			run.exited = true;
			usleep(ACQ_REKILL_MS * 1000u);
			reap(&run);
		} while (!run.done);
	}
	corolease_release(lease);
	corolease_close(h);
	close(pfd[0]);
	close(pfd[1]);
	if (run.status_r >= 0)
		close(run.status_r);
	if (WIFEXITED(run.status))
		return WEXITSTATUS(run.status);
	if (WIFSIGNALED(run.status))
		return 128 + WTERMSIG(run.status);
	return EXIT_OTHER;
}

/* ------------------------------------------------------------------------ */
/* index */

static int index_get(int argc, char **argv)
{
	unsigned flags;
	int ex;
	int i = parse_flag_opt("index", argc, argv, "sync", 's', COROLEASE_GET_SYNC, &flags, &ex);
	if (i < 0)
		return ex;
	if (argc - i != 2)
		return usage_error("index", "index get: expected NAME KEY");
	const char *name = argv[i], *key = argv[i + 1];
	if (!check_name_arg("index", name, &ex) || !check_key_arg("index", key, &ex))
		return ex;

	static unsigned char val[COROLEASE_VALUE_MAX];
	size_t vallen;
	uint64_t version;
	corolease_t *h = connect_or_exit();
	int r = corolease_index_get(h, name, strlen(name), key, strlen(key), flags, val,
				    sizeof(val), &vallen, &version);
	corolease_close(h);
	if (r < 0) {
		warnx_("index get %s %s: %s (%s)", text(name, strlen(name)),
		       key, corolease_strerror(r), corolease_errname(r));
		return exit_for(r);
	}
	if (vallen > sizeof(val))
		vallen = sizeof(val);
	if (opt_json) {
		printf("{\"name\":");
		put_json(stdout, name, strlen(name));
		printf(",\"key\":");
		put_json(stdout, key, strlen(key));
		printf(",\"version\":%" PRIu64 ",\"value\":", version);
		put_json(stdout, val, vallen);
		printf("}\n");
	} else {
		fwrite(val, 1, vallen, stdout);
		putchar('\n');
	}
	return EXIT_OK;
}

/* Explains a put refused for the caller's index quota (-EDQUOT) or the index bound (-ENOSPC). */
static void index_limit_hint(corolease_t *h, int err)
{
	corolease_status_t *st = NULL;
	uint64_t uid = 0, mine = 0, quota = 0, max = 0;
	if (corolease_status_get(h, &st) == 0) {
		corolease_status_u64(st, "caller.uid", &uid);
		corolease_status_u64(st, "caller.index_bytes", &mine);
		corolease_status_u64(st, "index_bytes_per_uid", &quota);
		corolease_status_u64(st, "index_mem_max", &max);
		corolease_status_free(st);
	}
	if (err == -EDQUOT)
		warnx_("uid %" PRIu64 " would exceed its index quota: it has %" PRIu64 " bytes of "
		       "index data in the cluster, index_bytes_per_uid is %" PRIu64 " (corolease.conf(5)); "
		       "its indexes of names nobody holds were evicted first, so delete keys of names "
		       "it holds, or write less", uid, mine, quota);
	else
		warnx_("the index is full (index_mem_max %" PRIu64 ", corolease.conf(5)) with indexes "
		       "that cannot be evicted for this put: of names held%s", max,
		       quota ? ", or of other uids (a put evicts only its own uid's)" : "");
}

static int index_write(int argc, char **argv, bool del)
{
	const char *sub = del ? "index del" : "index put";
	int ex;
	int i = parse_opts("index", argc, argv, NULL, NULL, NULL, NULL, &ex);
	if (i < 0)
		return ex;
	if (argc - i != (del ? 2 : 3))
		return usage_error("index", "%s: expected NAME KEY%s", sub, del ? "" : " VALUE");
	const char *name = argv[i], *key = argv[i + 1], *val = del ? "" : argv[i + 2];
	if (!check_name_arg("index", name, &ex) || !check_key_arg("index", key, &ex))
		return ex;
	if (strlen(val) > COROLEASE_VALUE_MAX)
		return usage_error("index", "%s: a value is at most %u bytes", sub,
				   COROLEASE_VALUE_MAX);

	corolease_t *h = connect_or_exit();
	corolease_lease_t *lease;
	uint32_t owner = 0;
	int r = corolease_acquire(h, name, strlen(name), COROLEASE_EX, 0, 0, &lease, &owner);
	if (r < 0) {
		uint32_t self = corolease_nodeid(h);
		corolease_close(h);
		if (r == -EBUSY) {
			warnx_("%s %s: held by node %" PRIu32 "%s (%s)", sub, text(name, strlen(name)),
			       owner, on_this_node(owner, self), corolease_errname(r));
			return EXIT_BUSY;
		}
		if (r == -ETIMEDOUT)
			return fail(sub, name, strlen(name), r);
		warnx_("%s %s: %s (%s)", sub, text(name, strlen(name)), corolease_strerror(r),
		       corolease_errname(r));
		return exit_for(r);
	}
	uint64_t version;
	if (del)
		r = corolease_index_del(lease, key, strlen(key), &version);
	else
		r = corolease_index_put(lease, key, strlen(key), val, strlen(val), &version);
	corolease_release(lease);
	if (r == -ETIMEDOUT) {
		corolease_close(h);
		return fail(sub, name, strlen(name), r);
	}
	if (r < 0) {
		warnx_("%s %s %s: %s (%s)", sub, text(name, strlen(name)), key,
		       corolease_strerror(r), corolease_errname(r));
		if (r == -EDQUOT || r == -ENOSPC)
			index_limit_hint(h, r);
		else if (r == -EFBIG)
			warnx_("%s has %u keys, the most one name's index may have: delete some, or "
			       "spread the keys over more names", text(name, strlen(name)),
			       COROLEASE_KEYS_MAX);
	}
	corolease_close(h);
	return r < 0 ? exit_for(r) : EXIT_OK;
}

struct ilist_ctx {
	unsigned n;
};

static int ilist_one(void *ctx, const void *key, size_t keylen, const void *val,
		     size_t vallen, uint64_t version)
{
	struct ilist_ctx *c = ctx;
	if (opt_json) {
		printf("%s{\"key\":", c->n ? "," : "");
		put_json(stdout, key, keylen);
		printf(",\"version\":%" PRIu64 ",\"value\":", version);
		put_json(stdout, val, vallen);
		putchar('}');
	} else {
		put_text(stdout, key, keylen);
		putchar('\t');
		put_text(stdout, val, vallen);
		putchar('\n');
	}
	c->n++;
	return 0;
}

static int index_list(int argc, char **argv)
{
	int ex;
	int i = parse_opts("index", argc, argv, NULL, NULL, NULL, NULL, &ex);
	if (i < 0)
		return ex;
	if (argc - i != 1)
		return usage_error("index", "index list: expected NAME");
	const char *name = argv[i];
	if (!check_name_arg("index", name, &ex))
		return ex;

	corolease_t *h = connect_or_exit();
	struct ilist_ctx c = { 0 };
	if (opt_json) {
		printf("{\"name\":");
		put_json(stdout, name, strlen(name));
		printf(",\"keys\":[");
	}
	int r = corolease_index_list(h, name, strlen(name), ilist_one, &c);
	corolease_close(h);
	if (opt_json)
		printf("]}\n");
	if (r < 0)
		return fail("index list", name, strlen(name), r);
	return EXIT_OK;
}

static int stdout_errno;   /* a failed flush's errno, seen before output_written(); index watch stops on it */

struct watch_ctx {
	uint64_t seen, count;
};

static void watch_changed(corolease_t *h, const void *name, size_t namelen, const void *key,
			  size_t keylen, uint64_t version, int deleted, uint32_t writer,
			  void *udata)
{
	struct watch_ctx *w = udata;
	(void)h;
	if (w->count && w->seen >= w->count)
		return;
	if (opt_json) {
		printf("{\"name\":");
		put_json(stdout, name, namelen);
		printf(",\"key\":");
		put_json(stdout, key, keylen);
		printf(",\"version\":%" PRIu64 ",\"deleted\":%s,\"writer\":%" PRIu32 "}\n",
		       version, jbool(deleted), writer);
	} else {
		/* space-separated: a space in a name or key must not make a field */
		put_text_sep(stdout, name, namelen, true);
		putchar(' ');
		put_text_sep(stdout, key, keylen, true);
		printf(" %" PRIu64 " %s %" PRIu32 "\n", version, deleted ? "del" : "put", writer);
	}
	if (fflush(stdout) != 0)
		stdout_errno = errno ? errno : EIO;
	w->seen++;
}

static bool watch_opt(int c, const char *arg, void *ctx)
{
	uint32_t n;
	if (c != 'c' || !parse_u32(arg, &n, false))
		return false;
	((struct watch_ctx *)ctx)->count = n;
	return true;
}

static int index_watch(int argc, char **argv)
{
	static const struct option ext[] = { { "count", required_argument, NULL, 'c' },
					     { NULL, 0, NULL, 0 } };
	struct watch_ctx w = { 0, 0 };
	int ex;
	int i = parse_opts("index", argc, argv, "c:", ext, watch_opt, &w, &ex);
	if (i < 0)
		return ex;
	if (argc - i > 1)
		return usage_error("index", "index watch: at most one NAME");
	const char *name = i < argc ? argv[i] : "";
	if (*name && !check_name_arg("index", name, &ex))
		return ex;

	corolease_t *h = connect_or_exit();
	struct corolease_callbacks cb = { .index_changed = watch_changed };
	corolease_set_callbacks(h, &cb, &w);
	int r = corolease_watch(h, name, strlen(name));
	if (r < 0) {
		corolease_close(h);
		return fail("index watch", *name ? name : NULL, strlen(name), r);
	}
	while ((!w.count || w.seen < w.count) && !stdout_errno) {
		struct pollfd pfd = { .fd = corolease_get_fd(h),
				      .events = (short)corolease_get_events(h) };
		if (poll(&pfd, 1, poll_ms(corolease_get_timeout(h), 0)) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		r = corolease_dispatch(h);
		if (r < 0)
			break;
		r = 0;
	}
	corolease_close(h);
	if (r < 0)
		return fail("index watch", NULL, 0, r);
	return EXIT_OK;
}

static int cmd_index(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("index", "index: expected get, put, del, list or watch");
	const char *sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(help_for("index"), stdout);
		return EXIT_OK;
	}
	if (strcmp(sub, "get") == 0)
		return index_get(argc - 1, argv + 1);
	if (strcmp(sub, "put") == 0)
		return index_write(argc - 1, argv + 1, false);
	if (strcmp(sub, "del") == 0)
		return index_write(argc - 1, argv + 1, true);
	if (strcmp(sub, "list") == 0)
		return index_list(argc - 1, argv + 1);
	if (strcmp(sub, "watch") == 0)
		return index_watch(argc - 1, argv + 1);
	return usage_error("index", "index: unknown subcommand '%s'", sub);
}

/* ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },   { "list", cmd_list },   { "show", cmd_show },
	{ "owner", cmd_owner },     { "acquire", cmd_acquire }, { "evict", cmd_evict },
	{ "fence-ack", cmd_fence_ack }, { "index", cmd_index },
};

/*
 * A command's exit status, or EXIT_OTHER when what it printed did not all
 * reach standard output (a full disk, a closed pipe with SIGPIPE ignored):
 * 'corolease --json list > FILE' must not leave a cut file and exit 0.
 */
static int output_written(int ex)
{
	int e = fflush(stdout) == 0 ? stdout_errno : errno;
	if (!e && !ferror(stdout))
		return ex;
	warnx_("write error on standard output%s%s", e ? ": " : "", e ? strerror(e) : "");
	return ex == EXIT_OK ? EXIT_OTHER : ex;
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			opt_json = true;
		} else if (strcmp(a, "--timeout") == 0 || strncmp(a, "--timeout=", 10) == 0) {
			const char *val = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
			uint32_t ms = 0;
			if (!val || !parse_u32(val, &ms, false)) {
				fprintf(stderr, "corolease: --timeout needs MS >= 0 (0: no bound)\n");
				return EXIT_USAGE;
			}
			opt_timeout_ms = ms;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_main, stdout);
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("corolease %s (libcorolease %s)\n", PACKAGE_VERSION,
			       corolease_version());
			return EXIT_OK;
		} else {
			fprintf(stderr, "corolease: unknown option '%s'\n", a);
			fputs(usage_main, stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		fputs(i + 1 < argc ? help_for(argv[i + 1]) : usage_main, stdout);
		return EXIT_OK;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			return output_written(commands[k].fn(argc - i, argv + i));
	fprintf(stderr, "corolease: unknown command '%s'\n", argv[i]);
	fputs(usage_main, stderr);
	return EXIT_USAGE;
}
