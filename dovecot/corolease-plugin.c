/*
 * corolease-plugin.c - Dovecot 2.3 mail plugin: a user lease and mailbox
 * leases from coroleased, so that two nodes sharing one mail store never
 * work on one user or mailbox at once.
 *
 * One connection to the local coroleased per mail process, hosted in the
 * process's ioloop (io_add on corolease_get_fd(), a timeout from
 * corolease_get_timeout(), corolease_dispatch()); no threads.  Callbacks
 * run only from that dispatch.  Every lease is EX with
 * COROLEASE_NODE_SHARED: the mail processes of one node share it (Dovecot's
 * own locks order them), another node waits or is refused.
 *
 *   user lease     "user/<username>", taken when the mail user is created
 *                  (not for the internal users of raw storage and shared
 *                  namespaces, which are `autocreated`).
 *   mailbox lease  "mailbox/<mailbox directory>" (its canonical path),
 *                  taken by the wrapped mailbox open (any namespace:
 *                  private, shared, public) and for a rename (source,
 *                  destination, and every child of the source with its
 *                  new name), never for the raw storage of LMTP/LDA
 *                  input.
 *   store lease    "store/<mail root>" (canonical), taken before a mailbox
 *                  lease: the root of the mailbox's store, whose own files
 *                  (the mailbox list index, subscriptions) any mailbox's
 *                  sync writes; the own stores' (one per private
 *                  namespace root) for the rest of the session, another
 *                  user's or a public one while the mailbox is open
 *                  (cl_store_hold()).  A create, delete, update or
 *                  (un)subscribe runs under the store and mailbox leases
 *                  too (cl_with_leases()); with the mailbox list index on,
 *                  every iteration of a store's list runs under its store
 *                  lease (corolease_list_iter_init()), and so do a status,
 *                  existence or metadata read (cl_with_store()).
 *
 * A waiting acquire (cl_acquire_wait()) dispatches the connection's
 * callbacks while it waits: a revoke ends it, and a `wanted` from a node
 * with a lower id makes it give up (cld_wait_yields()), so that two
 * sessions that each wait for what the other holds do not both wait out;
 * a session told to go (then, or during an earlier wait of the command)
 * starts no new wait.
 *
 * Leases are counted per name within the process (one hold on the
 * connection however often a mailbox is opened) and released on the last
 * close.  A `wanted` (another node waits) or `revoked` (quorum or validity
 * lost) callback, the loss of the daemon, or a hold found no longer valid
 * by the process's own check (corolease_lease_valid() every 100 ms while it
 * holds a lease, during a wait for another one too: the daemon may be hung
 * or cut off and tell nothing) ends
 * the mail process: the ioloop stops after the current ioloop callback
 * (master_service_stop), so IMAP clients get "* BYE Server shutting down."
 * (or, with the IMAP module imap_corolease, which registers a stop hook
 * through corolease_plugin_set_stop_hook(), "* BYE [UNAVAILABLE] <why>")
 * and the log says why with the prefix "corolease:"; from then on every
 * storage access the plugin sees (open, sync, save, copy, rename, commit)
 * fails at once.  This needs client_limit = 1 in the
 * mail services (Dovecot's default for imap and pop3): stopping the process
 * must end only the sessions of this user.
 *
 * Copyright (c) 2026 the corolease authors.  LGPL-2.1-or-later.
 */
#include "lib.h"
#include "ioloop.h"
#include "module-context.h"
#include "master-service.h"
#include "mail-user.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "mail-namespace.h"
#include "mailbox-list-iter.h"
#include "mailbox-list-private.h"
#include "mailbox-list-index.h"
#include "index-storage.h"

#include <corolease.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "corolease-plugin.h"
#include "naming.h"

#define COROLEASE_USER_CONTEXT(obj) MODULE_CONTEXT(obj, corolease_user_module)
#define COROLEASE_BOX_CONTEXT(obj) MODULE_CONTEXT(obj, corolease_storage_module)
#define COROLEASE_USER_CONTEXT_REQUIRE(obj) MODULE_CONTEXT_REQUIRE(obj, corolease_user_module)
#define COROLEASE_BOX_CONTEXT_REQUIRE(obj) MODULE_CONTEXT_REQUIRE(obj, corolease_storage_module)

/* one lease name held by this process, counted */
struct cl_hold {
	struct cl_hold *next;
	corolease_lease_t *lease;
	unsigned refcount;
	char *name;
};

struct corolease_user {
	union mail_user_module_context module_ctx;
	struct cld_settings set;
	struct cl_hold *user_hold; /* NULL: no user lease (disabled, fail-open) */
	/* the own mail stores' leases (one per private namespace root), each
	   from its first open on */
	ARRAY(struct cl_hold *) store_holds;
};

struct corolease_mailbox {
	union mailbox_module_context module_ctx;
	struct cl_hold *hold;
	struct cl_hold *store_hold; /* another user's or a public store's, while open */
};

const char *corolease_plugin_version = DOVECOT_ABI_VERSION;
void corolease_plugin_init(struct module *module);
void corolease_plugin_deinit(void);

static MODULE_CONTEXT_DEFINE_INIT(corolease_user_module, &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(corolease_storage_module, &mail_storage_module_register);

/* the process's connection */
static corolease_t *cl_h;
static struct io *cl_io;
static struct timeout *cl_to;
static struct timeout *cl_valid_to; /* the validity check, while a hold exists */
static struct cl_hold *cl_holds;
static bool cl_revoked; /* a hold was revoked or the daemon lost: no storage access */
static bool cl_stopping;
static bool cl_dead; /* the connection is lost: its fd is no longer polled */
static corolease_stop_hook_t *cl_stop_hook; /* tells the clients why (imap_corolease) */

/*
 * A hung coroleased (stopped, not gone) must not hold a login or an open
 * longer than its wait: the connect and every call without a timeout of its
 * own (the sync after a timed-out acquire, an acquire that does not wait)
 * are bounded by the wait, at least CL_BOUND_MIN_MS (a healthy daemon
 * answers in far less), at most CL_BOUND_MAX_MS.  Such a timeout is
 * CL_ENOANSWER here: "cluster lease unavailable", fail_mode applies.
 */
#define CL_BOUND_MIN_MS 1000u
#define CL_BOUND_MAX_MS 10000u
#define CL_ENOANSWER (-ETIME) /* the plugin's own: coroleased did not answer in time */
/*
 * After a take that coroleased did not answer in time, the process's next
 * takes for CL_UNANSWERED_MS first ask it one question bounded by
 * CL_BOUND_MIN_MS (connect, or an OWNER), and are CL_ENOANSWER if that
 * goes unanswered too, as are the takes of the next CL_BOUND_MIN_MS
 * without asking while nothing is heard from it (cl_skip_question());
 * any answer ends it.  An LMTP delivery to R recipients
 * so waits about one bound and a short one on a hung daemon, not R bounds
 * (32 s for 4 recipients with corolease_user_wait = 8s), and not a bound
 * for each of the store and mailbox takes of each recipient either
 * (fail_mode open serves them all).
 */
#define CL_UNANSWERED_MS 60000u
#define CL_ESTOPPING (-ECANCELED) /* the plugin's own: the session is ending, no new wait */

/*
 * The waiting acquire in progress (cl_acquire_wait()): its handle (NULL
 * once a failed one is freed), whether it ended and how, and whether a
 * `wanted` that arrived meanwhile makes it give up (cld_wait_yields()).
 */
static struct {
	corolease_lease_t *lease;
	bool active, done, yield;
	int err;
} cl_wait;

/* a `wanted` that came during a wait that waits on: the session ends from
   the ioloop once the command that waited has been answered */
static struct {
	bool set;
	uint32_t node;
	char name[CLD_NAME_MAX + 1];
} cl_deferred;
static struct timeout *cl_deferred_to;

static void cl_schedule(void);
static void cl_disconnect(void);
static void cl_valid_arm(void);
static void cl_fence_arm(void);

static uint64_t cl_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

corolease_stop_hook_t *corolease_plugin_set_stop_hook(corolease_stop_hook_t *hook)
{
	corolease_stop_hook_t *old = cl_stop_hook;

	cl_stop_hook = hook;
	return old;
}

/*
 * Ends the process after the current ioloop callback: the sessions it
 * serves end.  reason goes to the log; the stop hook (a protocol module's)
 * tells the client why, from cause, node and lease_name (cld_bye_reason).
 */
static void cl_stop(const char *reason, enum cld_stop_cause cause, uint32_t node,
		    const char *lease_name)
{
	char bye[256];

	if (cl_stopping)
		return;
	cl_stopping = TRUE;
	i_info("corolease: %s: ending the session", reason);
	if (cl_stop_hook != NULL &&
	    cld_bye_reason(cause, node, lease_name, bye, sizeof(bye)) > 0)
		cl_stop_hook(bye);
	master_service_stop(master_service);
}

/* CLOCK_BOOTTIME us of the last sign of life from coroleased (see
   cl_skip_question()) */
static uint64_t cl_heard_at;

/* runs cl_h's events; any is a sign of life from coroleased */
static void cl_dispatch_events(void)
{
	if (corolease_dispatch(cl_h) > 0)
		cl_heard_at = cl_now_us();
}

static void cl_dispatch(void)
{
	if (cl_h == NULL)
		return;
	cl_dispatch_events();
	cl_schedule();
}

static void cl_io_cb(void *context ATTR_UNUSED)
{
	cl_dispatch();
}

static void cl_timeout_cb(void *context ATTR_UNUSED)
{
	cl_dispatch();
}

/* (re)arms the timeout from corolease_get_timeout(): after every library call */
static void cl_schedule(void)
{
	uint64_t when, now;
	unsigned ms;

	timeout_remove(&cl_to);
	if (cl_h == NULL || cl_dead)
		return;
	when = corolease_get_timeout(cl_h);
	if (when == UINT64_MAX)
		return;
	now = cl_now_us();
	ms = when <= now ? 0 : (unsigned)I_MIN((when - now + 999) / 1000, 3600000u);
	cl_to = timeout_add_short(ms, cl_timeout_cb, (void *)NULL);
}

static void cl_wanted(corolease_t *h ATTR_UNUSED, corolease_lease_t *lease, uint32_t node,
		      void *udata ATTR_UNUSED)
{
	const char *name = corolease_lease_name(lease, NULL);

	if (cl_wait.active) {
		if (!cl_wait.done && cld_wait_yields(corolease_nodeid(cl_h), node)) {
			i_info("corolease: node %u wants %s while this session waits: giving up the wait",
			       node, name);
			cl_wait.yield = TRUE;
		} else {
			/* wait on (or granted in this same dispatch): the
			   session ends after this command */
			if (!cl_deferred.set) {
				cl_deferred.set = TRUE;
				cl_deferred.node = node;
				i_strocpy(cl_deferred.name, name, sizeof(cl_deferred.name));
			}
			return;
		}
	}
	cl_stop(t_strdup_printf("node %u wants %s", node, name), CLD_STOP_WANTED, node, name);
}

static void cl_deferred_cb(void *context ATTR_UNUSED)
{
	timeout_remove(&cl_deferred_to);
	cl_stop(t_strdup_printf("node %u wants %s", cl_deferred.node, cl_deferred.name),
		CLD_STOP_WANTED, cl_deferred.node, cl_deferred.name);
}

static void cl_acquired(corolease_t *h ATTR_UNUSED, corolease_lease_t *lease, int err,
			void *udata ATTR_UNUSED)
{
	if (!cl_wait.active || lease != cl_wait.lease)
		return;
	cl_wait.done = TRUE;
	cl_wait.err = err;
	if (err < 0)
		cl_wait.lease = NULL; /* the library frees it after this callback */
}

static void cl_revoked_cb(corolease_t *h ATTR_UNUSED, corolease_lease_t *lease,
			  void *udata ATTR_UNUSED)
{
	cl_revoked = TRUE;
	i_error("corolease: %s revoked (not let go by the handover timeout, or quorum or validity lost): storage access stopped",
		(const char *)corolease_lease_name(lease, NULL));
	cl_stop("lease revoked", CLD_STOP_LOST, 0, NULL);
}

static void cl_disconnected(corolease_t *h ATTR_UNUSED, void *udata ATTR_UNUSED)
{
	/* a hung-up fd stays readable: stop polling it (the handle is closed,
	   and a new connection made, by the next cl_connect()) */
	cl_dead = TRUE;
	io_remove(&cl_io);
	if (cl_holds == NULL)
		return;
	cl_revoked = TRUE;
	i_error("corolease: lost the connection to coroleased: every lease is invalid, storage access stopped");
	cl_stop("coroleased gone", CLD_STOP_LOST, 0, NULL);
}

/*
 * The daemon may be unable to tell us (hung, stopped, cut off): every
 * CL_VALID_CHECK_MS while a hold exists, corolease_lease_valid() (a read of
 * the validity page, no IPC) decides alone.  Once a hold is no longer
 * valid, storage access stops and the session ends as after `revoked`.
 */
#define CL_VALID_CHECK_MS 100

/* FALSE (and the session ending) once a hold is no longer valid */
static bool cl_check_valid(void)
{
	const struct cl_hold *hold;

	if (cl_revoked)
		return FALSE;
	for (hold = cl_holds; hold != NULL; hold = hold->next) {
		if (corolease_lease_valid(hold->lease) != 1)
			break;
	}
	if (hold == NULL)
		return TRUE;
	cl_revoked = TRUE;
	timeout_remove(&cl_valid_to);
	i_error("corolease: %s no longer valid (validity lapsed, quorum or daemon lost): storage access stopped",
		hold->name);
	cl_stop("lease no longer valid", CLD_STOP_LOST, 0, NULL);
	return FALSE;
}

static void cl_valid_cb(void *context ATTR_UNUSED)
{
	(void)cl_check_valid();
}

/* the validity timer runs exactly while a hold exists and none failed */
static void cl_valid_arm(void)
{
	if (cl_holds == NULL || cl_revoked) {
		timeout_remove(&cl_valid_to);
		return;
	}
	if (cl_valid_to == NULL)
		cl_valid_to = timeout_add_short(CL_VALID_CHECK_MS, cl_valid_cb, (void *)NULL);
}

/*
 * Self-fence.  The checks above run between Dovecot's steps: at sync, save
 * and commit, and from the ioloop every CL_VALID_CHECK_MS.  One step can
 * take longer than a lease lasts: the first SELECT of a maildir with 40,000
 * new messages renamed and indexed for 24 s, without a check, and went on
 * writing the mailbox's files (35,156 writes and renames) after node 2 had
 * taken the mailbox over (helper-89, t185).  So, while the process holds a
 * lease, a POSIX timer (CLOCK_BOOTTIME, signal CL_FENCE_SIG, SA_RESTART)
 * fires at the later of the node's validity deadline and CL_FENCE_MARGIN_US
 * before the stop deadline, and is set again as they move on
 * (corolease_valid_until(): it reads only the validity page, no IPC, and may
 * run in a signal handler).  Once the validity has lapsed and the stop
 * deadline (the validity deadline plus the daemon's revoke_timeout_ms,
 * before which no other node grants the lease) is CL_FENCE_MARGIN_US away,
 * the process kills itself (SIGKILL) whatever it is doing: it had the
 * revoke timeout to end by itself, as it does from the ioloop within
 * CL_VALID_CHECK_MS.  Dovecot's master then logs the child killed with
 * signal 9; the handler writes why to stderr (the log) first.  A process
 * stuck in uninterruptible I/O dies when that returns.  The timer runs
 * exactly while a hold exists (cl_fence_h set), revoked or not.
 */
#define CL_FENCE_SIG (SIGRTMIN + 6)
#define CL_FENCE_MARGIN_US 200000u
/* a node with nothing valid yet: look again in */
#define CL_FENCE_IDLE_US 100000u

static corolease_t *volatile cl_fence_h;
static timer_t cl_fence_timer;
static bool cl_fence_ready;

/* arms the fence timer for the absolute CLOCK_BOOTTIME time at_us (0: disarm) */
static void cl_fence_at(uint64_t at_us)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(at_us / 1000000u);
	its.it_value.tv_nsec = (long)(at_us % 1000000u) * 1000;
	(void)timer_settime(cl_fence_timer, TIMER_ABSTIME, &its, NULL);
}

static void cl_fence_handler(int sig ATTR_UNUSED, siginfo_t *si ATTR_UNUSED,
			     void *uc ATTR_UNUSED)
{
	static const char msg[] =
		"corolease: self-fence: the node's validity lapsed and the lease's stop "
		"deadline is near, but the process has not stopped (stuck in one long step): "
		"killing it (SIGKILL) before another node may take over\n";
	int saved_errno = errno;
	corolease_t *h = cl_fence_h;
	uint64_t stop, until, now, by, next;

	if (h == NULL)
		return;
	until = corolease_valid_until(h, &stop);
	now = cl_now_us();
	by = stop > CL_FENCE_MARGIN_US ? stop - CL_FENCE_MARGIN_US : 0;
	if (until != 0 && now >= until && now >= by) {
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
			/* nothing to be done: the kill matters, not the line */
		}
		(void)kill(getpid(), SIGKILL);
	}
	if (until == 0)
		next = now + CL_FENCE_IDLE_US;
	else if (now < until)
		next = until > by ? until : by;
	else
		next = by;
	cl_fence_at(next);
	errno = saved_errno;
}

/* creates the timer once; FALSE (and an error logged once) if it cannot be */
static bool cl_fence_init(void)
{
	static bool failed = FALSE;
	struct sigaction sa;
	struct sigevent sev;

	if (cl_fence_ready || failed)
		return cl_fence_ready;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = cl_fence_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = CL_FENCE_SIG;
	if (sigaction(CL_FENCE_SIG, &sa, NULL) < 0 ||
	    timer_create(CLOCK_BOOTTIME, &sev, &cl_fence_timer) < 0) {
		failed = TRUE;
		i_error("corolease: self-fence unavailable (%m): a step that outlasts the lease "
			"is not stopped");
		return FALSE;
	}
	cl_fence_ready = TRUE;
	return TRUE;
}

/* the fence runs exactly while a hold exists (revoked or not) */
static void cl_fence_arm(void)
{
	if (cl_holds == NULL || cl_h == NULL) {
		cl_fence_h = NULL;
		if (cl_fence_ready)
			cl_fence_at(0);
		return;
	}
	if (cl_fence_h == cl_h || !cl_fence_init())
		return;
	cl_fence_h = cl_h;
	cl_fence_at(cl_now_us() + CL_FENCE_IDLE_US);
}

static const struct corolease_callbacks cl_callbacks = {
	.acquired = cl_acquired,
	.wanted = cl_wanted,
	.revoked = cl_revoked_cb,
	.disconnected = cl_disconnected,
};

static unsigned cl_bound_ms(unsigned wait_ms)
{
	return I_MIN(I_MAX(wait_ms, CL_BOUND_MIN_MS), CL_BOUND_MAX_MS);
}

/*
 * The holder of name, for a refusal after a take with wait_ms, in what is
 * left until end (CLOCK_BOOTTIME us: the take's start plus wait_ms plus
 * cl_bound_ms(wait_ms)), at most a bound, and not asked when nothing is
 * left; the handle's call timeout is the bound again afterwards.  Only
 * names the holder: the sync that settles a timeout's cause keeps a whole
 * bound, so that a refusal becomes "unavailable" (which fail-open serves)
 * only on the daemon's word (helper-90: with the sync's answer cut short,
 * a login was served open while node 3 held the user).  A hung coroleased
 * so costs a take the wait and one bound (the sync), not three
 * (helper-89: 25.5 s with corolease_user_wait = 8s).
 */
static void cl_owner_within(const char *name, uint64_t end, unsigned wait_ms, uint32_t *owner_r)
{
	uint64_t now = cl_now_us();

	if (now + 1000u <= end) {
		(void)corolease_set_timeout(cl_h, (unsigned)I_MIN((end - now) / 1000u,
								  (uint64_t)cl_bound_ms(wait_ms)));
		(void)corolease_owner(cl_h, name, strlen(name), owner_r);
	}
	(void)corolease_set_timeout(cl_h, cl_bound_ms(wait_ms));
}

/* connects once per process (again after a lost connection, once no hold is
   left on it), bounded by cl_bound_ms(wait_ms); 0 or a corolease error */
static int cl_connect(unsigned wait_ms)
{
	int ret;

	if (cl_h != NULL && cl_dead && cl_holds == NULL) {
		cl_disconnect();
		cl_dead = FALSE;
	}
	if (cl_h != NULL)
		return cl_dead ? COROLEASE_EDISCONNECTED : 0;
	if ((ret = corolease_connect_timeout(&cl_h, cl_bound_ms(wait_ms))) < 0) {
		cl_h = NULL;
		return ret == -ETIMEDOUT ? CL_ENOANSWER : ret;
	}
	corolease_set_callbacks(cl_h, &cl_callbacks, NULL);
	cl_io = io_add(corolease_get_fd(cl_h), IO_READ, cl_io_cb, (void *)NULL);
	cl_schedule();
	return 0;
}

static void cl_disconnect(void)
{
	/* the handler must not read the page of a handle being closed */
	cl_fence_h = NULL;
	io_remove(&cl_io);
	timeout_remove(&cl_to);
	cl_h = corolease_close(cl_h);
}

/* errors after which fail_mode=open may serve without a lease */
static bool cl_unavailable(int err)
{
	switch (err) {
	case COROLEASE_ENOQUORUM:
	case COROLEASE_ESYNCING:
	case COROLEASE_ENOCLUSTER:
	case COROLEASE_EDISCONNECTED:
	case COROLEASE_EFENCING:
	case COROLEASE_EGRACE:
	case -ECONNREFUSED:
	case -ENOENT:
	case -EAGAIN:
	case -ESHUTDOWN:
	case -EUSERS:
	case CL_ENOANSWER:
		return TRUE;
	default:
		return FALSE;
	}
}

/*
 * A waiting acquire of name (EX, node-shared, up to wait_ms) that keeps
 * dispatching the connection's callbacks while it waits, instead of
 * blocking in corolease_acquire() with them queued: a `wanted` or `revoked`
 * of a lease this process already holds is seen at once.  Two sessions
 * that each hold what the other waits for (two users opening each other's
 * shared folder on two nodes at once) would otherwise both wait out their
 * waits, and the daemon revoke both; here the one that cld_wait_yields()
 * picks gives up its wait (CL_ESTOPPING) and, told it is wanted, ends, so
 * that the other is served.  A revoke, the loss of the daemon, or the
 * lapse of a lease the session holds (checked every CL_VALID_CHECK_MS, as
 * the ioloop's timer would: a hung daemon says nothing) ends the wait too,
 * and the session with it.  The wait is bounded by the library's deadline and by wait_ms
 * plus cl_bound_ms(wait_ms) (CL_ENOANSWER).  0 and *lease_r, or an error
 * of corolease_acquire() (*owner_r the holder's node when it is in use).
 */
static int cl_acquire_wait(const char *name, unsigned wait_ms, corolease_lease_t **lease_r,
			   uint32_t *owner_r)
{
	uint64_t limit = cl_now_us() + ((uint64_t)wait_ms + cl_bound_ms(wait_ms)) * 1000u;
	struct pollfd pfd;
	int ret;

	i_zero(&cl_wait);
	ret = corolease_acquire_async(cl_h, name, strlen(name), COROLEASE_EX,
				      COROLEASE_NODE_SHARED | COROLEASE_WAIT, wait_ms, NULL,
				      &cl_wait.lease);
	if (ret < 0)
		return ret;
	cl_wait.active = TRUE;
	while (!cl_wait.done && !cl_wait.yield && !cl_revoked) {
		uint64_t now = cl_now_us(), when = corolease_get_timeout(cl_h);

		if (now >= limit)
			break;
		/* the ioloop's validity timer does not run during the wait:
		   the holds already taken are checked here as often */
		if (!cl_check_valid()) {
			i_info("corolease: the wait for %s ends: the session's leases are no longer valid",
			       name);
			break;
		}
		if (when > limit)
			when = limit;
		if (cl_holds != NULL && when > now + CL_VALID_CHECK_MS * 1000u)
			when = now + CL_VALID_CHECK_MS * 1000u;
		pfd.fd = corolease_get_fd(cl_h);
		pfd.events = (short)corolease_get_events(cl_h);
		pfd.revents = 0;
		if (poll(&pfd, 1, when <= now ? 0 : (int)((when - now + 999) / 1000)) < 0 &&
		    errno != EINTR)
			break;
		cl_dispatch_events();   /* not cl_dispatch(): Dovecot's timer stays as it is */
	}
	cl_wait.active = FALSE;
	if (cl_deferred.set && cl_deferred_to == NULL)
		cl_deferred_to = timeout_add_short(0, cl_deferred_cb, (void *)NULL);
	if (cl_wait.done && cl_wait.err == 0) {
		*lease_r = cl_wait.lease;
		cl_wait.lease = NULL;
		return 0;
	}
	if (cl_wait.done)
		ret = cl_wait.err;
	else
		ret = cl_wait.yield ? CL_ESTOPPING : cl_revoked ? COROLEASE_EREVOKED : CL_ENOANSWER;
	(void)corolease_release(cl_wait.lease); /* cancels a pending one; NULL: freed */
	cl_wait.lease = NULL;
	/* in use (the daemon answered): who holds it, for the refusal; a
	   timeout's cause is settled by cl_hold_get() (its sync) first */
	if (ret == -EBUSY)
		cl_owner_within(name, limit, wait_ms, owner_r);
	return ret;
}

/*
 * CLOCK_BOOTTIME us: the last take that coroleased did not answer in time,
 * while CL_UNANSWERED_MS have not passed since (0: none); the last question
 * of cl_probe() (or connect) that went unanswered, after which the takes of
 * CL_BOUND_MIN_MS do not ask again unless coroleased was heard from since
 * (the dozen takes of one delivery, user, store and mailbox, would each
 * wait).  cl_heard_at is the last sign of life from coroleased: an event
 * dispatched (a late answer to that question among them), or a take it
 * answered.
 */
static uint64_t cl_unanswered_at, cl_probe_failed_at;

/* the one question of a take after an unanswered one: 0 (coroleased
   answered, whatever it said), CL_ENOANSWER, or the error of a connection
   lost (with a hold on it) or not made again */
static int cl_probe(const char *name)
{
	uint32_t owner;
	int ret;

	(void)corolease_set_timeout(cl_h, CL_BOUND_MIN_MS);
	ret = corolease_owner(cl_h, name, strlen(name), &owner);
	if (ret == COROLEASE_EDISCONNECTED && cl_holds == NULL) {
		/* the daemon went (killed, restarted): ask the one there now
		   (helper-93: the lost connection counted as an answer) */
		cl_dead = TRUE;
		if ((ret = cl_connect(0)) < 0)
			return ret;
		(void)corolease_set_timeout(cl_h, CL_BOUND_MIN_MS);
		ret = corolease_owner(cl_h, name, strlen(name), &owner);
	}
	return ret == -ETIMEDOUT ? CL_ENOANSWER : ret == COROLEASE_EDISCONNECTED ? ret : 0;
}

/* whether a take's result ret came from coroleased (not from its silence,
   or from no daemon or connection to ask) */
static bool cl_daemon_answered(int ret)
{
	switch (ret) {
	case CL_ENOANSWER:
	case -ENOENT:
	case -ECONNREFUSED:
	case -EACCES:
	case -ENOMEM:
	case COROLEASE_EDISCONNECTED:
		return FALSE;
	default:
		return TRUE;
	}
}

static void cl_answered_again(void)
{
	if (cl_unanswered_at != 0)
		i_info("corolease: coroleased answered; takes wait for it as configured again");
	cl_unanswered_at = 0;
}

/* notes what a take (its result ret) found of coroleased */
static void cl_note_answer(int ret)
{
	if (cl_daemon_answered(ret)) {
		cl_heard_at = cl_now_us();
		cl_answered_again();
	} else if (ret == CL_ENOANSWER) {
		if (cl_unanswered_at == 0)
			i_info("corolease: coroleased did not answer in time; for %u s a take first "
			       "asks it one question of at most %u ms", CL_UNANSWERED_MS / 1000u,
			       CL_BOUND_MIN_MS);
		cl_unanswered_at = cl_now_us();
	}
	/* else no daemon or connection to ask: as it was */
}

/*
 * Whether a take in the unanswered state may skip its question: one went
 * unanswered less than CL_BOUND_MIN_MS ago and nothing was heard since (a
 * late answer is looked for first).  Fail-open serves on a silence only:
 * there the skip needs that question still waiting on the connection,
 * which a resumed coroleased would answer (helper-92: served u1 without the
 * lease while node 2 held it, 143 ms after a resume, the daemon answering).
 */
static bool cl_skip_question(uint64_t now, enum cld_fail_mode fail_mode)
{
	if (now >= cl_probe_failed_at + CL_BOUND_MIN_MS * 1000u)
		return FALSE;
	if (cl_h != NULL && !cl_dead)
		cl_dispatch();
	if (cl_heard_at > cl_probe_failed_at) {
		cl_answered_again();
		return FALSE;
	}
	/* no connection, or one just lost (helper-93: a daemon killed and
	   restarted in that second): nobody waits to answer the question */
	if (cl_h == NULL || cl_dead)
		return fail_mode != CLD_FAIL_OPEN;
	return TRUE;
}

/* the warning of a take fail-open serves without a lease: for each name at
   most one a second (helper-92: 452 in a second of STATUS commands, the
   same few names), counting the rest; a name not warned of in the last
   second always is (helper-93: a user served unnamed) */
#define CL_OPEN_WARNED 8
static void cl_open_warning(const char *name, int err)
{
	static struct {
		char name[CLD_NAME_MAX + 1];
		uint64_t at;
		unsigned more;
	} warned[CL_OPEN_WARNED];
	static unsigned next;
	uint64_t now = cl_now_us();
	const char *why = err == CL_ENOANSWER ? "coroleased did not answer in time" :
		corolease_strerror(err);
	unsigned i, more = 0;

	for (i = 0; i < CL_OPEN_WARNED; i++) {
		if (strcmp(warned[i].name, name) != 0)
			continue;
		if (now < warned[i].at + 1000000u) {
			warned[i].more++;
			return;
		}
		more = warned[i].more;
		break;
	}
	if (i == CL_OPEN_WARNED) {
		i = next;
		next = (next + 1) % CL_OPEN_WARNED;
		i_strocpy(warned[i].name, name, sizeof(warned[i].name));
	}
	warned[i].at = now;
	warned[i].more = 0;
	if (more == 0)
		i_warning("corolease: %s: %s; corolease_fail_mode=open: serving without the lease",
			  name, why);
	else
		i_warning("corolease: %s: %s; corolease_fail_mode=open: serving without the lease "
			  "(and %u takes more of it since the last such warning)", name, why, more);
}

/*
 * Takes (or counts one more use of) name.  Returns 0 and *hold_r (NULL when
 * fail-open served without a lease), -1 with *err_r set: the corolease
 * error, *owner_r the holder's node (0 if unknown).
 */
static int cl_hold_get(const char *name, unsigned wait_ms, enum cld_fail_mode fail_mode,
		       struct cl_hold **hold_r, int *err_r, uint32_t *owner_r)
{
	struct cl_hold *hold;
	corolease_lease_t *lease = NULL;
	int ret;

	*hold_r = NULL;
	*owner_r = 0;
	if (cl_revoked) {
		*err_r = COROLEASE_EREVOKED;
		return -1;
	}
	for (hold = cl_holds; hold != NULL; hold = hold->next) {
		if (strcmp(hold->name, name) == 0) {
			hold->refcount++;
			*hold_r = hold;
			return 0;
		}
	}
	uint64_t now = cl_now_us();
	uint64_t end = now + ((uint64_t)wait_ms + cl_bound_ms(wait_ms)) * 1000u;
	bool probe = cl_unanswered_at != 0 && now < cl_unanswered_at + CL_UNANSWERED_MS * 1000u;

	if (probe && cl_skip_question(now, fail_mode)) {
		ret = CL_ENOANSWER;
	} else {
		probe = probe && cl_unanswered_at != 0;   /* not if heard from just now */
		ret = cl_connect(probe ? 0 : wait_ms);
		if (ret == 0 && probe)
			ret = cl_probe(name);
		if (probe && ret == CL_ENOANSWER)
			cl_probe_failed_at = cl_now_us();
	}
	if (ret == 0) {
		(void)corolease_set_timeout(cl_h, cl_bound_ms(wait_ms));
		/* told to go (wanted), now or during an earlier wait of this
		   command: finish the command without waiting, and without
		   telling another node that holds name (a refused try would
		   end its session): a lease free or held on this node is
		   taken at once */
		bool leaving = (cl_stopping || cl_deferred.set) && wait_ms > 0;
		uint32_t holder = 0;

		if (leaving && (ret = corolease_owner(cl_h, name, strlen(name), &holder)) == 0 &&
		    holder != 0 && holder != corolease_nodeid(cl_h)) {
			*owner_r = holder;
			ret = CL_ESTOPPING;
		}
		if (ret == 0) {
			ret = wait_ms > 0 && !leaving ?
				cl_acquire_wait(name, wait_ms, &lease, owner_r) :
				corolease_acquire(cl_h, name, strlen(name), COROLEASE_EX,
						  COROLEASE_NODE_SHARED, 0, &lease, owner_r);
		}
		/* a WAIT acquire that ends without quorum says ENOQUORUM; a
		   timeout with no owner known (the library's own, when the
		   daemon does not answer in time) asks the daemon, so that a
		   node that is not quorate or syncing refuses as [UNAVAILABLE]
		   and fail-open applies */
		if (ret == -ETIMEDOUT && *owner_r == 0) {
			/* a whole bound: only the daemon's answer may turn
			   "in use" into "unavailable" (which fail-open serves);
			   then the holder's node, in what is left */
			int sret = corolease_sync(cl_h);

			if (sret < 0)
				ret = sret == -ETIMEDOUT ? CL_ENOANSWER : sret;
			else
				cl_owner_within(name, end, wait_ms, owner_r);
		}
		cl_schedule();
	}
	cl_note_answer(ret);
	if (ret < 0) {
		if (fail_mode == CLD_FAIL_OPEN && cl_unavailable(ret)) {
			cl_open_warning(name, ret);
			return 0;
		}
		*err_r = ret;
		return -1;
	}
	hold = i_new(struct cl_hold, 1);
	hold->lease = lease;
	hold->refcount = 1;
	hold->name = i_strdup(name);
	hold->next = cl_holds;
	cl_holds = hold;
	*hold_r = hold;
	i_info("corolease: %s held (epoch %llu)", name,
	       (unsigned long long)corolease_lease_epoch(lease));
	cl_valid_arm();
	cl_fence_arm();
	return 0;
}

/* drops one use of *holdp and sets it NULL; releases on the last */
static void cl_hold_put(struct cl_hold **holdp)
{
	struct cl_hold *hold = *holdp, **p;

	*holdp = NULL;
	if (hold == NULL || --hold->refcount > 0)
		return;
	for (p = &cl_holds; *p != NULL; p = &(*p)->next) {
		if (*p == hold) {
			*p = hold->next;
			break;
		}
	}
	i_info("corolease: %s released", hold->name);
	(void)corolease_release(hold->lease);
	cl_schedule();
	i_free(hold->name);
	i_free(hold);
	cl_valid_arm();
	cl_fence_arm();
	if (cl_holds == NULL && cl_h != NULL)
		cl_disconnect();
}

/* 1 if storage may be written under hold (NULL: no lease in fail-open) */
static bool cl_hold_valid(const struct cl_hold *hold)
{
	if (cl_revoked)
		return FALSE;
	return hold == NULL || corolease_lease_valid(hold->lease) == 1;
}

static const char *cl_refusal(const char *what, int err, uint32_t owner)
{
	if (err == -EBUSY || err == -ETIMEDOUT) {
		return owner != 0 ?
			t_strdup_printf("%s is in use on cluster node %u", what, owner) :
			t_strdup_printf("%s is in use on another cluster node", what);
	}
	if (err == CL_ESTOPPING)
		return t_strdup_printf("%s: not waited for, the session is ending (another "
				       "cluster node wants a lease it holds)", what);
	return t_strdup_printf("%s: cluster lease unavailable (%s)", what,
			       err == CL_ENOANSWER ? "coroleased did not answer in time" :
			       corolease_strerror(err));
}

/* ------------------------------------------------------------------------ */
/* mailboxes */

static int cl_realpath(const char *path, char *out, size_t outsize, void *ctx ATTR_UNUSED)
{
	char *r = realpath(path, NULL);
	size_t n;

	if (r == NULL)
		return -1;
	n = strlen(r);
	if (n + 1 > outsize) {
		free(r);
		return -1;
	}
	memcpy(out, r, n + 1);
	free(r);
	return 0;
}

/*
 * The mailbox lease name of box into name (CLD_NAME_MAX + 1 bytes): by its
 * directory's canonical path, so that every spelling of one directory
 * ("./", "//", a trailing '/', a symlink) is one lease; 0 or -1
 */
static int cl_mailbox_name(struct mailbox *box, char *name, const char **path_r)
{
	const char *path;
	char canon[PATH_MAX + 1];

	if (mailbox_get_path_to(box, MAILBOX_LIST_PATH_TYPE_MAILBOX, &path) <= 0 ||
	    path == NULL)
		path = t_strconcat(box->storage->user->username, "/", box->vname, NULL);
	else if (cld_path_canonical(path, cl_realpath, NULL, canon, sizeof(canon)) > 0)
		path = t_strdup(canon);
	*path_r = path;
	return cld_mailbox_lease_name(path, name, CLD_NAME_MAX + 1);
}

static bool cl_mailbox_commit_allowed(struct mailbox *box)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT(box);
	struct corolease_user *cuser = COROLEASE_USER_CONTEXT(box->storage->user);

	if (!cl_check_valid() || (cbox != NULL && !cl_hold_valid(cbox->hold)) ||
	    (cuser != NULL && !cl_hold_valid(cuser->user_hold)))
		return FALSE;
	return TRUE;
}

static void cl_set_lost(struct mailbox *box)
{
	mail_storage_set_error(box->storage, MAIL_ERROR_UNAVAILABLE,
			       "Cluster lease lost, session ending");
}

/* a sync reads and writes the mailbox's files (renames, index log) */
static struct mailbox_sync_context *
corolease_mailbox_sync_init(struct mailbox *box, enum mailbox_sync_flags flags)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	if (!cl_mailbox_commit_allowed(box)) {
		cl_set_lost(box);
		return index_mailbox_sync_init(box, flags, TRUE);
	}
	return cbox->module_ctx.super.sync_init(box, flags);
}

/* the mailbox context of a save or copy, NULL (the error set) once the
   leases are no longer valid */
static struct corolease_mailbox *cl_save_box(struct mail_save_context *ctx)
{
	struct mailbox *box = ctx->transaction->box;

	if (!cl_mailbox_commit_allowed(box)) {
		cl_set_lost(box);
		return NULL;
	}
	return COROLEASE_BOX_CONTEXT_REQUIRE(box);
}

static int corolease_save_begin(struct mail_save_context *ctx, struct istream *input)
{
	struct corolease_mailbox *cbox = cl_save_box(ctx);

	return cbox == NULL ? -1 : cbox->module_ctx.super.save_begin(ctx, input);
}

/*
 * A copy must finish or cancel its save context, whatever it returns:
 * Dovecot asserts that it is not left unfinished (helper-103: a COPY, MOVE
 * or LMTP delivery to a second recipient after the leases lapsed panicked
 * the process).
 */
static int corolease_copy(struct mail_save_context *ctx, struct mail *mail)
{
	struct corolease_mailbox *cbox = cl_save_box(ctx);

	if (cbox == NULL) {
		mailbox_save_cancel(&ctx);
		return -1;
	}
	return cbox->module_ctx.super.copy(ctx, mail);
}

/* where a refusal is reported: a mailbox's storage, or a list */
struct cl_errdest {
	struct mail_storage *storage;
	struct mailbox_list *list;
};

static void cl_errdest_set(const struct cl_errdest *d, enum mail_error error, const char *msg)
{
	if (d->storage != NULL)
		mail_storage_set_error(d->storage, error, msg);
	else
		mailbox_list_set_error(d->list, error, msg);
}

static void cl_errdest_critical(const struct cl_errdest *d, const char *msg)
{
	if (d->storage != NULL)
		mail_storage_set_critical(d->storage, "%s", msg);
	else
		mailbox_list_set_critical(d->list, "%s", msg);
}

/*
 * cl_hold_get() of name with the mailbox wait; a refusal is logged and set
 * on d ([INUSE] when held elsewhere, else [UNAVAILABLE]) with what (e.g.
 * "Mailbox INBOX") as its subject.
 */
static int cl_dest_hold_get(const struct cl_errdest *d, const struct corolease_user *cuser,
			    const char *name, const char *what, struct cl_hold **hold_r)
{
	uint32_t owner;
	int err;

	if (cl_hold_get(name, cuser->set.mailbox_wait_ms, cuser->set.fail_mode, hold_r,
			&err, &owner) < 0) {
		const char *msg = cl_refusal(what, err, owner);

		i_info("corolease: %s: %s", name, msg);
		cl_errdest_set(d, err == -EBUSY || err == -ETIMEDOUT ?
			       MAIL_ERROR_INUSE : MAIL_ERROR_UNAVAILABLE, msg);
		return -1;
	}
	return 0;
}

/* cl_dest_hold_get() with the refusal set on box's storage */
static int cl_box_hold_get(struct mailbox *box, const struct corolease_user *cuser,
			   const char *name, const char *what, struct cl_hold **hold_r)
{
	const struct cl_errdest d = { box->storage, NULL };

	return cl_dest_hold_get(&d, cuser, name, what, hold_r);
}

/*
 * Takes (or counts one more use of) box's mailbox lease into *hold_r (NULL
 * when the user takes no mailbox leases or fail-open served without one).
 * 0, or -1 with the error set on box's storage.
 */
static int cl_mailbox_hold(struct mailbox *box, struct cl_hold **hold_r)
{
	struct corolease_user *cuser = COROLEASE_USER_CONTEXT(box->storage->user);
	char name[CLD_NAME_MAX + 1];
	const char *path;

	*hold_r = NULL;
	if (cl_revoked) {
		mail_storage_set_error(box->storage, MAIL_ERROR_UNAVAILABLE,
				       "Cluster lease revoked, session ending");
		return -1;
	}
	if (cuser == NULL || !cuser->set.mailbox_lease)
		return 0;
	if (cl_mailbox_name(box, name, &path) < 0) {
		mail_storage_set_critical(box->storage, "corolease: no lease name for %s", path);
		return -1;
	}
	return cl_box_hold_get(box, cuser, name, t_strdup_printf("Mailbox %s", box->vname), hold_r);
}

/*
 * The store lease: files of a whole mail store are written by any of its
 * mailboxes' syncs (the mailbox list index dovecot.list.index*, the
 * subscriptions), so two nodes must never work in one store at once, even
 * through different mailboxes: a mailbox of another user's store opened
 * through an ACL-shared namespace, or the own store reached under two login
 * names (mail_location with %n).  Every open (and rename) first takes
 * store/<canonical root of the mailbox's list>, waiting as for a mailbox.
 * The own private stores' leases (one per root: a user may have several
 * private namespaces) are kept for the rest of the session (as the user
 * lease); another store's is released with the mailbox (*tmp_r, which the
 * caller puts).  A listing takes it too (corolease_list_iter_init()).
 * Here: list's store lease, the session's own (kept) or another's into
 * *tmp_r, a refusal naming what; 0, or -1 with the error set on d.
 */
static int cl_list_store_hold(struct mailbox_list *list, const char *what,
			      const struct cl_errdest *d, struct cl_hold **tmp_r)
{
	struct mail_user *user = mailbox_list_get_user(list);
	struct corolease_user *cuser = COROLEASE_USER_CONTEXT(user);
	/* the session's own store, not another user's (shared) or a public one */
	bool own = mailbox_list_get_namespace(list)->type == MAIL_NAMESPACE_TYPE_PRIVATE &&
		!user->autocreated;
	char name[CLD_NAME_MAX + 1], canon[PATH_MAX + 1];
	const char *root;
	struct cl_hold *own_hold = NULL, *const *hp;

	*tmp_r = NULL;
	/* a listing reads and may refresh the store's list index: not once
	   the session's leases are revoked or lapsed (as a STATUS is not) */
	if (!cl_check_valid()) {
		cl_errdest_set(d, MAIL_ERROR_UNAVAILABLE, "Cluster lease lost, session ending");
		return -1;
	}
	if (cuser == NULL || !cuser->set.mailbox_lease)
		return 0;
	if (!mailbox_list_get_root_path(list, MAILBOX_LIST_PATH_TYPE_DIR, &root) ||
	    root == NULL || root[0] != '/')
		return 0; /* no directory (e.g. a virtual store): its mailboxes' leases only */
	if (cld_path_canonical(root, cl_realpath, NULL, canon, sizeof(canon)) > 0)
		root = t_strdup(canon);
	if (cld_store_lease_name(root, name, sizeof(name)) < 0) {
		cl_errdest_critical(d, t_strdup_printf("corolease: no lease name for %s", root));
		return -1;
	}
	if (!own)
		return cl_dest_hold_get(d, cuser, name, what, tmp_r);
	array_foreach(&cuser->store_holds, hp) {
		if (strcmp((*hp)->name, name) == 0)
			return 0;
	}
	if (cl_dest_hold_get(d, cuser, name, what, &own_hold) < 0)
		return -1;
	if (own_hold != NULL) /* NULL: fail-open served without it */
		array_push_back(&cuser->store_holds, &own_hold);
	return 0;
}

/*
 * Puts a store hold taken for list.  Before its last reference goes, the
 * refresh of list's index that Dovecot put off (mailbox_list_index_
 * refresh_later(), a 1 s timer armed by a create, delete, rename, a
 * listing) runs now, under the lease, or not at all once the leases are no
 * longer valid (the refresh flag stays in the index header: the next holder
 * refreshes).  Run by the timer after the release, it wrote another user's
 * or a public store's list index with no lease, maybe while another node
 * held it (helper-103).
 */
static void cl_store_put(struct mailbox_list *list, struct cl_hold **holdp)
{
	struct mailbox_list_index *ilist;

	if (*holdp != NULL && (*holdp)->refcount == 1 && list != NULL &&
	    (ilist = INDEX_LIST_CONTEXT(list)) != NULL && ilist->to_refresh != NULL) {
		timeout_remove(&ilist->to_refresh);
		if (cl_check_valid())
			(void)mailbox_list_index_refresh(list);
	}
	cl_hold_put(holdp);
}

/* box's store lease (cl_list_store_hold()); the error set on box's storage */
static int cl_store_hold(struct mailbox *box, struct cl_hold **tmp_r)
{
	const struct cl_errdest d = { box->storage, NULL };

	return cl_list_store_hold(box->list, t_strdup_printf("The mail store of %s", box->vname),
				  &d, tmp_r);
}

/*
 * box's store lease, then its mailbox lease, into *store_r and *hold_r
 * (each taken only when still NULL), as an open takes them; when the
 * mailbox lease is refused the store lease is put again.  0, or -1 with
 * the error set on box's storage.
 */
static int cl_box_leases(struct mailbox *box, struct cl_hold **store_r, struct cl_hold **hold_r)
{
	if (*store_r == NULL && cl_store_hold(box, store_r) < 0)
		return -1;
	if (*hold_r == NULL && cl_mailbox_hold(box, hold_r) < 0) {
		cl_store_put(box->list, store_r);
		return -1;
	}
	return 0;
}

/*
 * Runs f(box) (a create, delete, update or subscription change, which write
 * the store's and the mailbox's files without an open, or after the close)
 * under box's store and mailbox leases, taken for it as an open takes them
 * and released after (a lease the process already holds is only counted
 * once more).  -1 with the error set on box's storage when a lease is
 * refused or lost.
 */
static int cl_with_leases(struct mailbox *box, int (*f)(struct mailbox *box, void *ctx), void *ctx)
{
	struct cl_hold *store_hold = NULL, *hold = NULL;
	int ret;

	if (cl_box_leases(box, &store_hold, &hold) < 0)
		return -1;
	if (!cl_mailbox_commit_allowed(box)) {
		cl_set_lost(box);
		ret = -1;
	} else {
		ret = f(box, ctx);
	}
	cl_hold_put(&hold);
	cl_store_put(box->list, &store_hold);
	return ret;
}

static int corolease_mailbox_open(struct mailbox *box)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	if (cl_box_leases(box, &cbox->store_hold, &cbox->hold) < 0)
		return -1;
	/*
	 * An open writes (maildir's tmp scan, the index created or fscked):
	 * not once a lease is revoked or lapsed, a lapse during the take's
	 * last wait or a revoke that came with the grant among them
	 * (helper-103: only a revoke was looked at)
	 */
	if (!cl_mailbox_commit_allowed(box))
		cl_set_lost(box);
	else if (cbox->module_ctx.super.open(box) == 0)
		return 0;
	cl_hold_put(&cbox->hold);
	cl_store_put(box->list, &cbox->store_hold);
	return -1;
}

ARRAY_DEFINE_TYPE(cl_hold_p, struct cl_hold *);

/*
 * Takes the mailbox lease of the mailbox vname of list (allocated for it,
 * not opened) as an open does, appending it to holds (nothing when no
 * lease is taken).  0, or -1 with the error copied to err_storage.
 */
static int cl_hold_by_vname(struct mailbox_list *list, const char *vname,
			    struct mail_storage *err_storage, ARRAY_TYPE(cl_hold_p) *holds)
{
	struct mailbox *box = mailbox_alloc(list, vname, 0);
	struct cl_hold *hold = NULL;
	int ret;

	ret = COROLEASE_BOX_CONTEXT(box) == NULL ? 0 : cl_mailbox_hold(box, &hold);
	if (ret < 0)
		mail_storage_copy_error(err_storage, box->storage);
	mailbox_free(&box);
	if (hold != NULL)
		array_push_back(holds, &hold);
	return ret;
}

/*
 * The children of src (with Maildir++ "a.b", "a.b.c" of "a": separate
 * directories that the rename moves too), listed as they are now, raw (no
 * ACL hides one the rename moves anyway).  NULL with the error set on
 * src's storage when the listing fails.
 */
static const ARRAY_TYPE(const_string) *cl_mailbox_children(struct mailbox *src)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	ARRAY_TYPE(const_string) *children = t_new(ARRAY_TYPE(const_string), 1);
	char sep = mail_namespace_get_sep(mailbox_list_get_namespace(src->list));
	const char *vname;

	t_array_init(children, 8);
	iter = mailbox_list_iter_init(src->list, t_strdup_printf("%s%c*", src->vname, sep),
				      MAILBOX_LIST_ITER_RAW_LIST | MAILBOX_LIST_ITER_NO_AUTO_BOXES |
				      MAILBOX_LIST_ITER_RETURN_NO_FLAGS);
	while ((info = mailbox_list_iter_next(iter)) != NULL) {
		/* "a*.*" also lists "ab.c": only real children */
		if (cld_mailbox_is_child(src->vname, sep, info->vname)) {
			vname = t_strdup(info->vname);
			array_push_back(children, &vname);
		}
	}
	if (mailbox_list_iter_deinit(&iter) < 0) {
		mail_storage_copy_list_error(src->storage, src->list);
		return NULL;
	}
	return children;
}

/*
 * The leases of every child of src and of the name it gets under dest,
 * appended to holds.  0, or -1 with the error (e.g. "NO [INUSE] Mailbox
 * a.b is in use on cluster node 2") set on src's storage.
 */
static int cl_rename_children_hold(struct mailbox *src, struct mailbox *dest,
				   ARRAY_TYPE(cl_hold_p) *holds)
{
	const ARRAY_TYPE(const_string) *children;
	const char *const *vnamep, *rest, *dest_vname;
	char src_sep, dest_sep;

	if ((children = cl_mailbox_children(src)) == NULL)
		return -1;
	src_sep = mail_namespace_get_sep(mailbox_list_get_namespace(src->list));
	dest_sep = mail_namespace_get_sep(mailbox_list_get_namespace(dest->list));
	array_foreach(children, vnamep) {
		if (cl_hold_by_vname(src->list, *vnamep, src->storage, holds) < 0)
			return -1;
		/* "a.b.c" renamed from "a" to "c" becomes "c.b.c" */
		rest = *vnamep + strlen(src->vname);
		if (src_sep != dest_sep)
			rest = t_str_replace(rest, src_sep, dest_sep);
		dest_vname = t_strconcat(dest->vname, rest, NULL);
		if (cl_hold_by_vname(dest->list, dest_vname, src->storage, holds) < 0)
			return -1;
	}
	return 0;
}

/*
 * A rename moves the source's directory (and makes the destination's)
 * without opening either, and with it the directories of the source's
 * children: the leases of all of them (source and destination, each child
 * and its new name) are taken for it, one at a time, each waiting as an
 * open does, so that no other node has any of them open meanwhile.  They
 * are released after the rename.
 */
static int corolease_mailbox_rename(struct mailbox *src, struct mailbox *dest)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(src);
	struct cl_hold *src_hold = NULL, *dest_hold = NULL, *store_hold = NULL, **holdp;
	struct cl_hold *dest_store_hold = NULL;
	ARRAY_TYPE(cl_hold_p) child_holds;
	int ret;

	if (cl_box_leases(src, &store_hold, &src_hold) < 0)
		return -1;
	/*
	 * The destination's store too: into another private namespace the
	 * rename moves the directory under that store's root and writes its
	 * list index (helper-103: only the source's was taken).  One the
	 * process holds already is only counted once more.
	 */
	if (COROLEASE_BOX_CONTEXT(dest) != NULL &&
	    (cl_store_hold(dest, &dest_store_hold) < 0 || cl_mailbox_hold(dest, &dest_hold) < 0)) {
		mail_storage_copy_error(src->storage, dest->storage);
		cl_store_put(dest->list, &dest_store_hold);
		cl_hold_put(&src_hold);
		cl_store_put(src->list, &store_hold);
		return -1;
	}
	t_array_init(&child_holds, 8);
	ret = cl_rename_children_hold(src, dest, &child_holds);
	if (ret == 0) {
		ret = cl_mailbox_commit_allowed(src) ?
			cbox->module_ctx.super.rename_box(src, dest) : -1;
		if (ret < 0 && cl_revoked)
			cl_set_lost(src);
	}
	array_foreach_modifiable(&child_holds, holdp)
		cl_hold_put(holdp);
	cl_hold_put(&dest_hold);
	cl_store_put(dest->list, &dest_store_hold);
	cl_hold_put(&src_hold);
	cl_store_put(src->list, &store_hold);
	return ret;
}

static void corolease_mailbox_close(struct mailbox *box)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	cbox->module_ctx.super.close(box);
	cl_hold_put(&cbox->hold);
	cl_store_put(box->list, &cbox->store_hold);
}

static void corolease_mailbox_free(struct mailbox *box)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);
	/* cbox lives in box->pool, which super.free() frees */
	struct cl_hold *hold = cbox->hold, *store_hold = cbox->store_hold;
	struct mailbox_list *list = box->list;   /* the namespace's: outlives box */

	cbox->hold = NULL;
	cbox->store_hold = NULL;
	cbox->module_ctx.super.free(box);
	cl_hold_put(&hold);
	cl_store_put(list, &store_hold);
}

static int corolease_transaction_commit(struct mailbox_transaction_context *t,
					struct mail_transaction_commit_changes *changes_r)
{
	struct mailbox *box = t->box;
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	if (!cl_mailbox_commit_allowed(box)) {
		i_error("corolease: %s: lease no longer valid, transaction not committed", box->vname);
		cbox->module_ctx.super.transaction_rollback(t);
		mail_storage_set_error(box->storage, MAIL_ERROR_UNAVAILABLE,
				       "Cluster lease lost, nothing written");
		return -1;
	}
	return cbox->module_ctx.super.transaction_commit(t, changes_r);
}

/* create, delete, update, (un)subscribe: under the store and mailbox leases */
struct cl_create_args {
	const struct mailbox_update *update;
	bool directory;
};

static int cl_do_create(struct mailbox *box, void *ctx)
{
	const struct cl_create_args *a = ctx;
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	return cbox->module_ctx.super.create_box(box, a->update, a->directory);
}

static int corolease_create_box(struct mailbox *box, const struct mailbox_update *update,
				bool directory)
{
	struct cl_create_args a = { update, directory };

	return cl_with_leases(box, cl_do_create, &a);
}

static int cl_do_update(struct mailbox *box, void *ctx)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	return cbox->module_ctx.super.update_box(box, ctx);
}

static int corolease_update_box(struct mailbox *box, const struct mailbox_update *update)
{
	return cl_with_leases(box, cl_do_update, (void *)update);
}

static int cl_do_delete(struct mailbox *box, void *ctx ATTR_UNUSED)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	return cbox->module_ctx.super.delete_box(box);
}

static int corolease_delete_box(struct mailbox *box)
{
	return cl_with_leases(box, cl_do_delete, NULL);
}

static int cl_do_subscribe(struct mailbox *box, void *ctx)
{
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	return cbox->module_ctx.super.set_subscribed(box, *(bool *)ctx);
}

/*
 * A mailbox of a namespace without its own subscriptions (a shared or
 * public one, commonly) is (un)subscribed in the namespace that keeps them:
 * Dovecot writes that list's subscriptions file and list index, so its
 * store lease is taken too (helper-103: only the mailbox's store was).
 */
static int corolease_set_subscribed(struct mailbox *box, bool set)
{
	struct mail_namespace *ns = mailbox_list_get_namespace(box->list), *sub_ns;
	struct mailbox_list *sub_list = NULL;
	struct cl_hold *sub_hold = NULL;
	const struct cl_errdest d = { box->storage, NULL };
	int ret;

	if ((ns->flags & NAMESPACE_FLAG_SUBSCRIPTIONS) == 0 &&
	    (sub_ns = mail_namespace_find_subscribable(ns->user->namespaces, box->vname)) != NULL &&
	    sub_ns->list != box->list) {
		sub_list = sub_ns->list;
		if (cl_list_store_hold(sub_list, "The mail store of the subscriptions", &d,
				       &sub_hold) < 0)
			return -1;
	}
	ret = cl_with_leases(box, cl_do_subscribe, &set);
	cl_store_put(sub_list, &sub_hold);
	return ret;
}

/*
 * Runs f(box) under box's store lease alone (taken as an open takes it:
 * the own store's kept for the session, another's released after): a
 * STATUS, an existence check or a metadata read of a mailbox that is not
 * open answers from the store's mailbox list index, and refreshes it
 * (writes dovecot.list.index*) when it is stale (t150).  -1 with the error
 * set on box's storage when the lease is refused or lost.  An open mailbox
 * holds its store lease already, and Dovecot's mailbox_get_open_status()
 * panics when a status of one fails: f runs directly (the open's own
 * checks, at sync, save and commit, stop its writes once a lease is lost).
 */
static int cl_with_store(struct mailbox *box, int (*f)(struct mailbox *box, void *ctx), void *ctx)
{
	struct cl_hold *store_hold = NULL;
	int ret;

	if (box->opened)
		return f(box, ctx);
	if (cl_revoked) {
		mail_storage_set_error(box->storage, MAIL_ERROR_UNAVAILABLE,
				       "Cluster lease revoked, session ending");
		return -1;
	}
	if (cl_store_hold(box, &store_hold) < 0)
		return -1;
	if (!cl_mailbox_commit_allowed(box)) {
		cl_set_lost(box);
		ret = -1;
	} else {
		ret = f(box, ctx);
	}
	cl_store_put(box->list, &store_hold);
	return ret;
}

struct cl_status_args {
	enum mailbox_status_items items;
	struct mailbox_status *status_r;
};

static int cl_do_get_status(struct mailbox *box, void *ctx)
{
	struct cl_status_args *a = ctx;
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	return cbox->module_ctx.super.get_status(box, a->items, a->status_r);
}

static int corolease_get_status(struct mailbox *box, enum mailbox_status_items items,
				struct mailbox_status *status_r)
{
	struct cl_status_args a = { items, status_r };

	return cl_with_store(box, cl_do_get_status, &a);
}

struct cl_metadata_args {
	enum mailbox_metadata_items items;
	struct mailbox_metadata *metadata_r;
};

static int cl_do_get_metadata(struct mailbox *box, void *ctx)
{
	struct cl_metadata_args *a = ctx;
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	return cbox->module_ctx.super.get_metadata(box, a->items, a->metadata_r);
}

static int corolease_get_metadata(struct mailbox *box, enum mailbox_metadata_items items,
				  struct mailbox_metadata *metadata_r)
{
	struct cl_metadata_args a = { items, metadata_r };

	return cl_with_store(box, cl_do_get_metadata, &a);
}

struct cl_exists_args {
	bool auto_boxes;
	enum mailbox_existence *existence_r;
};

static int cl_do_exists(struct mailbox *box, void *ctx)
{
	struct cl_exists_args *a = ctx;
	struct corolease_mailbox *cbox = COROLEASE_BOX_CONTEXT_REQUIRE(box);

	return cbox->module_ctx.super.exists(box, a->auto_boxes, a->existence_r);
}

static int corolease_exists(struct mailbox *box, bool auto_boxes,
			    enum mailbox_existence *existence_r)
{
	struct cl_exists_args a = { auto_boxes, existence_r };

	return cl_with_store(box, cl_do_exists, &a);
}

static void corolease_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	struct corolease_mailbox *cbox;

	if (strcmp(box->storage->name, "raw") == 0 ||
	    COROLEASE_USER_CONTEXT(box->storage->user) == NULL)
		return;
	cbox = p_new(box->pool, struct corolease_mailbox, 1);
	cbox->module_ctx.super = *v;
	box->vlast = &cbox->module_ctx.super;
	v->open = corolease_mailbox_open;
	v->close = corolease_mailbox_close;
	v->free = corolease_mailbox_free;
	v->transaction_commit = corolease_transaction_commit;
	v->sync_init = corolease_mailbox_sync_init;
	v->save_begin = corolease_save_begin;
	v->copy = corolease_copy;
	v->rename_box = corolease_mailbox_rename;
	v->create_box = corolease_create_box;
	v->update_box = corolease_update_box;
	v->delete_box = corolease_delete_box;
	v->set_subscribed = corolease_set_subscribed;
	v->get_status = corolease_get_status;
	v->get_metadata = corolease_get_metadata;
	v->exists = corolease_exists;
	MODULE_CONTEXT_SET(box, corolease_storage_module, cbox);
}

/* ------------------------------------------------------------------------ */
/* listings */

/*
 * A listing refreshes the mailbox list index (dovecot.list.index*, in the
 * store's root unless INDEX= puts it elsewhere) when it finds it stale, and
 * so writes the store's files without opening a mailbox: LIST of another
 * user's shared mailboxes wrote that user's list index while the user
 * worked on another node (t142).  With the list index on, every iteration
 * of a store's list runs under the store lease, taken as an open takes it
 * (the own store's kept for the session, another's for the iteration);
 * the root of a shared namespace (no store of its own: its users' lists
 * are iterated each on its own) takes none.
 */
struct corolease_list {
	union mailbox_list_module_context module_ctx;
};

#define COROLEASE_LIST_CONTEXT(obj) MODULE_CONTEXT(obj, corolease_list_module)
#define COROLEASE_LIST_CONTEXT_REQUIRE(obj) MODULE_CONTEXT_REQUIRE(obj, corolease_list_module)
static MODULE_CONTEXT_DEFINE_INIT(corolease_list_module, &mailbox_list_module_register);

/* an iteration of ours: the store lease it holds, or a refused one's own
   (failed) context */
struct cl_iter {
	struct cl_iter *next;
	struct mailbox_list_iterate_context *ctx;
	struct cl_hold *hold;
	bool refused;
	/* a refused one's error, set again at its deinit (the list's own may
	   be cleared by then) */
	enum mail_error error;
	char *msg;
};
static struct cl_iter *cl_iters;

static struct cl_iter *cl_iter_find(const struct mailbox_list_iterate_context *ctx, bool unlink)
{
	struct cl_iter **p, *it;

	for (p = &cl_iters; *p != NULL; p = &(*p)->next) {
		if ((*p)->ctx == ctx) {
			it = *p;
			if (unlink)
				*p = it->next;
			return it;
		}
	}
	return NULL;
}

static struct mailbox_list_iterate_context *
corolease_list_iter_init(struct mailbox_list *list, const char *const *patterns,
			 enum mailbox_list_iter_flags flags)
{
	struct corolease_list *clist = COROLEASE_LIST_CONTEXT_REQUIRE(list);
	struct mail_namespace *ns = mailbox_list_get_namespace(list);
	const struct cl_errdest d = { NULL, list };
	struct mailbox_list_iterate_context *ctx;
	struct cl_hold *hold = NULL;
	struct cl_iter *it;
	pool_t pool;

	int ret = cl_list_store_hold(list, t_strdup_printf("The mail store of %s",
							   ns->prefix_len > 1 ?
							   t_strndup(ns->prefix, ns->prefix_len - 1) :
							   "this user"),
				     &d, &hold);

	/* a listing refreshes the list index: not once the leases lapsed or
	   were revoked during the take (helper-103) */
	if (ret == 0 && !cl_check_valid()) {
		cl_store_put(list, &hold);
		mailbox_list_set_error(list, MAIL_ERROR_UNAVAILABLE, "Cluster lease lost, session ending");
		ret = -1;
	}
	if (ret < 0) {
		enum mail_error error;
		const char *msg = mailbox_list_get_last_error(list, &error);

		/* a failed iteration of our own: nothing listed, the error
		   set (again at its deinit, corolease_list_iter_deinit()) */
		pool = pool_alloconly_create("corolease refused list iter", 256);
		ctx = p_new(pool, struct mailbox_list_iterate_context, 1);
		ctx->pool = pool;
		ctx->list = list;
		ctx->flags = flags;
		ctx->failed = TRUE;
		p_array_init(&ctx->module_contexts, pool, 5);
		it = i_new(struct cl_iter, 1);
		it->ctx = ctx;
		it->refused = TRUE;
		it->error = error;
		it->msg = i_strdup(msg);
	} else {
		ctx = clist->module_ctx.super.iter_init(list, patterns, flags);
		if (hold == NULL)
			return ctx;
		it = i_new(struct cl_iter, 1);
		it->ctx = ctx;
		it->hold = hold;
	}
	it->next = cl_iters;
	cl_iters = it;
	return ctx;
}

static const struct mailbox_info *
corolease_list_iter_next(struct mailbox_list_iterate_context *ctx)
{
	struct corolease_list *clist = COROLEASE_LIST_CONTEXT_REQUIRE(ctx->list);
	const struct cl_iter *it = cl_iter_find(ctx, FALSE);

	if (it != NULL && it->refused)
		return NULL;
	return clist->module_ctx.super.iter_next(ctx);
}

static int corolease_list_iter_deinit(struct mailbox_list_iterate_context *ctx)
{
	struct corolease_list *clist = COROLEASE_LIST_CONTEXT_REQUIRE(ctx->list);
	struct cl_iter *it = cl_iter_find(ctx, TRUE);
	struct mailbox_list *list = ctx->list;   /* ctx goes with super.iter_deinit() */
	int ret;

	if (it != NULL && it->refused) {
		mailbox_list_set_error(ctx->list, it->error, it->msg);
		pool_unref(&ctx->pool);
		i_free(it->msg);
		i_free(it);
		return -1;
	}
	ret = clist->module_ctx.super.iter_deinit(ctx);
	if (it != NULL) {
		cl_store_put(list, &it->hold);
		i_free(it);
	}
	return ret;
}

static void corolease_mailbox_list_created(struct mailbox_list *list)
{
	struct mailbox_list_vfuncs *v = list->vlast;
	struct mail_namespace *ns = list->ns;
	struct corolease_list *clist;

	if (ns == NULL || !list->mail_set->mailbox_list_index ||
	    COROLEASE_USER_CONTEXT(ns->user) == NULL)
		return;
	/* the root of a shared namespace (no store of its own), and the
	   private lists of internal users (raw storage's) */
	if (ns->type == MAIL_NAMESPACE_TYPE_SHARED && (ns->flags & NAMESPACE_FLAG_AUTOCREATED) == 0)
		return;
	if (ns->type == MAIL_NAMESPACE_TYPE_PRIVATE && ns->user->autocreated)
		return;
	clist = p_new(list->pool, struct corolease_list, 1);
	clist->module_ctx.super = *v;
	list->vlast = &clist->module_ctx.super;
	v->iter_init = corolease_list_iter_init;
	v->iter_next = corolease_list_iter_next;
	v->iter_deinit = corolease_list_iter_deinit;
	MODULE_CONTEXT_SET(list, corolease_list_module, clist);
}

/* ------------------------------------------------------------------------ */
/* users */

static const char *cl_user_getenv(const char *key, void *ctx)
{
	return mail_user_plugin_getenv(ctx, key);
}

/*
 * The user's leases go last: Dovecot's own deinit frees the namespaces,
 * and with them the storages, whose index files (the mailboxes' kept in
 * Dovecot's index cache after their close too) are closed there: on NFS a
 * close writes back what the client still caches.  The user's pool, which
 * holds cuser, lives until after this returns.
 */
static void corolease_user_deinit(struct mail_user *user)
{
	struct corolease_user *cuser = COROLEASE_USER_CONTEXT_REQUIRE(user);
	struct cl_hold **hp;

	cuser->module_ctx.super.deinit(user);
	array_foreach_modifiable(&cuser->store_holds, hp)
		cl_hold_put(hp);
	array_clear(&cuser->store_holds);
	cl_hold_put(&cuser->user_hold);
}

static void corolease_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct corolease_user *cuser;
	char name[CLD_NAME_MAX + 1], err[256];
	uint32_t owner;
	int ret;

	cuser = p_new(user->pool, struct corolease_user, 1);
	p_array_init(&cuser->store_holds, user->pool, 2);
	if (cld_settings_parse(&cuser->set, cl_user_getenv, user, err, sizeof(err)) < 0) {
		user->error = p_strdup_printf(user->pool, "corolease: %s", err);
		return;
	}
	cuser->module_ctx.super = *v;
	user->vlast = &cuser->module_ctx.super;
	v->deinit = corolease_user_deinit;
	MODULE_CONTEXT_SET(user, corolease_user_module, cuser);

	/* raw storage's user and the owners of shared mailboxes */
	if (user->autocreated || !cuser->set.user_lease)
		return;
	if (cld_user_lease_name(user->username, name, sizeof(name)) < 0) {
		user->error = p_strdup_printf(user->pool, "corolease: user name too long for a lease");
		return;
	}
	if (cl_hold_get(name, cuser->set.user_wait_ms, cuser->set.fail_mode, &cuser->user_hold,
			&ret, &owner) < 0) {
		const char *msg = cl_refusal(t_strdup_printf("User %s", user->username), ret, owner);

		i_info("corolease: %s: %s: session refused", name, msg);
		user->error = p_strdup_printf(user->pool, "corolease: %s", msg);
	}
}

static struct mail_storage_hooks corolease_mail_storage_hooks = {
	.mail_user_created = corolease_mail_user_created,
	.mailbox_list_created = corolease_mailbox_list_created,
	.mailbox_allocated = corolease_mailbox_allocated,
};

void corolease_plugin_init(struct module *module)
{
	mail_storage_hooks_add(module, &corolease_mail_storage_hooks);
}

void corolease_plugin_deinit(void)
{
	mail_storage_hooks_remove(&corolease_mail_storage_hooks);
	while (cl_holds != NULL) {
		struct cl_hold *hold = cl_holds;

		hold->refcount = 1;
		cl_hold_put(&hold);
	}
	timeout_remove(&cl_valid_to);
	timeout_remove(&cl_deferred_to);
	cl_disconnect();
	/* no fence signal may reach a handler in a plugin being unloaded */
	if (cl_fence_ready) {
		(void)timer_delete(cl_fence_timer);
		(void)signal(CL_FENCE_SIG, SIG_IGN);
		cl_fence_ready = FALSE;
	}
}
