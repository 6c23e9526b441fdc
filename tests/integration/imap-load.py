#!/usr/bin/env python3
"""imap-load.py - IMAP load for the Dovecot tests (t90, t91).

  imap-load.py load --hosts H1,H2,.. --users u1,u2,.. --seconds S --workers W --out FILE
      W workers, each in a loop: log in as a random user on a random host,
      SELECT INBOX, then a few operations (APPEND a "keep" or a "victim"
      message, STORE +/-FLAGS \\Seen or \\Flagged on random messages, FETCH
      FLAGS, mark the victims \\Deleted and EXPUNGE), LOGOUT.  Only victims
      are ever expunged.  Every APPEND answered OK of a keep message is
      written to FILE as "user message-id"; errors are counted, not fatal
      (a refused login, NO [INUSE], a BYE are what the plugin is for).
      Prints one summary line "appended N failed_logins N no N bye N ops N
      bye_moved N bye_lost N" (bye: sessions that ended with an error; of
      them bye_moved with imap_corolease's "[UNAVAILABLE] Session moved:" or
      "Session ended:" BYE, bye_lost with its "Cluster lease lost").

  imap-load.py session --hosts H --users U [--select] [--seconds S] [--timed]
      One login to H as U (and SELECT INBOX, then NOOP every 0.2 s for S
      seconds); prints each answer ("LOGIN OK ...", "SELECT NO [INUSE] ...",
      "ERROR ..." for a BYE or a refused connection); exit 0 if all were OK.
      --timed: then "ELAPSED SECS", from the connect to the end (the
      interpreter's start-up and the caller's not counted: t96's bound).

  imap-load.py lmtp --hosts H --users U --out FILE
      Delivers one message to U through LMTP on H (port 24); on success
      appends "U message-id" to FILE (as load does) and prints the id.

  imap-load.py check --hosts H1,.. --users u1,.. --appended FILE [--patience S]
      Reads INBOX of every user from every host (one at a time; a login or
      SELECT that fails is retried for S seconds, default 60), and checks: UIDs unique, every keep
      message of FILE present exactly once, the (UID, Message-ID) lists equal
      on every host.  Prints what it found; exit 0 only if all hold.
"""
import argparse
import imaplib
import random
import re
import sys
import threading
import time

PASSWORD = "pass"


def connect(host, user, timeout=20):
    c = imaplib.IMAP4(host, 143, timeout=timeout)
    c.login(user, PASSWORD)
    return c


def message(user, kind, n):
    mid = "<%s-%s-%d-%d@it>" % (kind, user, n, random.getrandbits(48))
    body = ("From: load@it\r\nTo: %s@it\r\nSubject: %s %d\r\nMessage-ID: %s\r\n\r\n"
            "body of %s\r\n%s\r\n" % (user, kind, n, mid, mid, "x" * random.randint(10, 2000)))
    return mid, body.encode()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = dict(appended=0, failed_logins=0, no=0, bye=0, ops=0, bye_moved=0, bye_lost=0)

    def add(self, k, n=1):
        with self.lock:
            self.c[k] += n


def worker(args, stats, out, out_lock, deadline, seed):
    rnd = random.Random(seed)
    n = 0
    while time.time() < deadline:
        host = rnd.choice(args.hosts)
        user = rnd.choice(args.users)
        try:
            c = connect(host, user)
        except Exception:
            stats.add("failed_logins")
            time.sleep(0.05)
            continue
        try:
            typ, _ = c.select("INBOX")
            if typ != "OK":
                stats.add("no")
                c.logout()
                continue
            for _ in range(rnd.randint(3, 12)):
                if time.time() >= deadline:
                    break
                op = rnd.random()
                n += 1
                if op < 0.45:
                    kind = "keep" if rnd.random() < 0.7 else "victim"
                    mid, body = message(user, kind, n)
                    typ, _ = c.append("INBOX", None, None, body)
                    if typ == "OK":
                        if kind == "keep":
                            with out_lock:
                                out.write("%s %s\n" % (user, mid))
                                out.flush()
                            stats.add("appended")
                    else:
                        stats.add("no")
                elif op < 0.7:
                    typ, data = c.search(None, "ALL")
                    ids = data[0].split() if typ == "OK" and data and data[0] else []
                    if ids:
                        seq = rnd.choice(ids).decode()
                        flag = rnd.choice(["\\Seen", "\\Flagged"])
                        typ, _ = c.store(seq, rnd.choice(["+FLAGS", "-FLAGS"]), flag)
                        if typ != "OK":
                            stats.add("no")
                elif op < 0.85:
                    typ, _ = c.fetch("1:*", "(UID FLAGS)")
                    if typ != "OK":
                        stats.add("no")
                else:
                    typ, data = c.uid("SEARCH", None, "HEADER", "Subject", "victim")
                    uids = data[0].split() if typ == "OK" and data and data[0] else []
                    if uids:
                        c.uid("STORE", b",".join(uids).decode(), "+FLAGS", "\\Deleted")
                        typ, _ = c.expunge()
                        if typ != "OK":
                            stats.add("no")
                stats.add("ops")
            c.logout()
        except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError) as e:
            stats.add("bye")
            # the reason imap_corolease puts in the BYE
            if "Cluster lease lost" in str(e):
                stats.add("bye_lost")
            elif "[UNAVAILABLE] Session moved:" in str(e) or "[UNAVAILABLE] Session ended:" in str(e):
                stats.add("bye_moved")
            try:
                c.shutdown()
            except Exception:
                pass


def cmd_load(args):
    stats = Stats()
    deadline = time.time() + args.seconds
    out_lock = threading.Lock()
    with open(args.out, "a") as out:
        ts = [threading.Thread(target=worker, args=(args, stats, out, out_lock, deadline, i * 7919 + 1))
              for i in range(args.workers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    print(" ".join("%s %d" % kv for kv in stats.c.items()))
    return 0


def read_inbox(host, user, tries_until):
    last = None
    while time.time() < tries_until:
        try:
            c = connect(host, user, timeout=max(5, min(30, tries_until - time.time())))
            typ, data = c.select("INBOX", readonly=True)
            if typ != "OK":
                raise imaplib.IMAP4.error("SELECT failed")
            if int(data[0]) == 0:
                c.logout()
                return []
            typ, data = c.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            c.logout()
            if typ != "OK":
                raise imaplib.IMAP4.error("FETCH failed")
            msgs = []
            for item in data:
                if not isinstance(item, tuple):
                    continue
                uid = re.search(rb"UID (\d+)", item[0])
                mid = re.search(rb"<[^>]+>", item[1])
                if uid and mid:
                    msgs.append((int(uid.group(1)), mid.group(0).decode()))
            return msgs
        except Exception as e:  # a refused or ended login: the lease moves, retry
            last = e
            time.sleep(0.5)
    raise RuntimeError("cannot read INBOX of %s on %s: %s" % (user, host, last))


def cmd_check(args):
    appended = {}
    with open(args.appended) as f:
        for line in f:
            u, mid = line.split()
            appended.setdefault(u, []).append(mid)
    ok = True
    for user in args.users:
        lists = {}
        try:
            for host in args.hosts:
                lists[host] = read_inbox(host, user, time.time() + args.patience)
        except RuntimeError as e:
            print("check %s: %s" % (user, e))
            ok = False
            continue
        first = args.hosts[0]
        msgs = lists[first]
        uids = [u for u, _ in msgs]
        mids = [m for _, m in msgs]
        dup_uids = len(uids) - len(set(uids))
        keep = appended.get(user, [])
        missing = [m for m in keep if mids.count(m) == 0]
        twice = [m for m in keep if mids.count(m) > 1]
        same = all(lists[h] == msgs for h in args.hosts)
        print("check %s: %d messages on %s, %d appended keep, missing %d, more than once %d, "
              "duplicate uids %d, same list on all %d hosts: %s"
              % (user, len(msgs), first, len(keep), len(missing), len(twice), dup_uids,
                 len(args.hosts), "yes" if same else "no"))
        for m in missing[:5]:
            print("  missing %s" % m)
        for m in twice[:5]:
            print("  more than once %s" % m)
        if not same:
            for h in args.hosts:
                print("  %s: %d messages, uids %s..." % (h, len(lists[h]), [u for u, _ in lists[h]][:10]))
        if missing or twice or dup_uids or not same:
            ok = False
    return 0 if ok else 1


def cmd_session(args):
    t0 = time.monotonic()
    try:
        return session_run(args)
    finally:
        if args.timed:
            print("ELAPSED %.3f" % (time.monotonic() - t0), flush=True)


def session_run(args):
    try:
        c = imaplib.IMAP4(args.hosts[0], 143, timeout=30)
        typ, data = c.login(args.users[0], PASSWORD)
        print("LOGIN", typ, data[0].decode(errors="replace"), flush=True)
        if args.select:
            typ, data = c.select("INBOX")
            print("SELECT", typ, data[0].decode(errors="replace"), flush=True)
            if typ != "OK":
                return 1
            end = time.time() + args.seconds
            while time.time() < end:
                c.noop()
                time.sleep(0.2)
        c.logout()
        return 0
    except (imaplib.IMAP4.error, imaplib.IMAP4.abort, OSError) as e:
        print("ERROR", e, flush=True)
        return 1


def cmd_lmtp(args):
    import smtplib
    user = args.users[0]
    mid, body = message(user, "keep", 0)
    try:
        with smtplib.LMTP(args.hosts[0], 24, timeout=60) as c:
            refused = c.sendmail("load@it", [user], body)
    except (smtplib.SMTPException, OSError) as e:
        print("ERROR", e)
        return 1
    if refused:
        print("REFUSED", refused)
        return 1
    with open(args.out, "a") as out:
        out.write("%s %s\n" % (user, mid))
    print(mid)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["load", "check", "session", "lmtp"])
    p.add_argument("--hosts", required=True)
    p.add_argument("--users", required=True)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--out", default="/dev/null")
    p.add_argument("--appended")
    p.add_argument("--select", action="store_true")
    p.add_argument("--timed", action="store_true")
    p.add_argument("--patience", type=float, default=60,
                   help="check: seconds to retry a login or SELECT that fails")
    args = p.parse_args()
    args.hosts = args.hosts.split(",")
    args.users = args.users.split(",")
    return {"load": cmd_load, "check": cmd_check, "session": cmd_session, "lmtp": cmd_lmtp}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
