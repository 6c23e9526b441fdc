#!/usr/bin/env python3
"""jepsen-check.py - the checker of the black-box fault test (tests/jepsen/).

usage: jepsen-check.py [options] RUN_DIR | FILE...

Reads the histories of one run: every client's lines ("J ev=...", from
jp-client) and the nemesis' lines ("N ...", from nemesis.sh and run.sh), in
any files given, or in every *.log under RUN_DIR.  Times are CLOCK_BOOTTIME
microseconds, one clock for every network namespace.  Prints a verdict
(VALID or INVALID), the evidence of every violation (the log lines, with
file:line, times and epochs) and a summary; exits 0 if valid, 1 if not, 2
on a usage or input error.

What it proves, and how (the comments at each check say why it is sound):

  writes     no two writes on one name, on different nodes, in conflicting
             modes (EX against anything), overlap in time where both were
             under a valid lease (lease_valid() true right before the write),
             unless the one with the lower epoch had checked validity before
             the other's grant was answered: then it is a late write (the
             client was stopped between its check and its write, or inside
             the write) that storage fencing rejects by its epoch.  These
             are counted as "stale-epoch writes", not violations.
  validity   no client sees lease_valid() true after a grant of a newer
             epoch in a conflicting mode was answered on another node.  (The
             clients of one node share the node's lease, EX included, as
             libcorolease(3) says: conflicts are between nodes only.)
  epochs     one epoch is never granted to two (name, node) pairs; per name,
             a grant requested after a conflicting grant on another node was
             answered has a larger epoch (on the same node, not smaller).
  index      no acknowledged put lost (the final reads from every node, after
             healing, agree and hold each key's latest acknowledged put or a
             later one); acknowledged puts of a key have increasing versions
             in real-time order; no sync read stale (it returns a version at
             least as new as every put acknowledged before the read started);
             no read returns a value never written, written only later, or
             written by a put that failed definitely.
  requests   every request is answered: a call with its own timeout by
             that timeout plus --slack-ms, one without (NOWAIT acquire, put,
             sync get) within --bound-ms; either plus the time the nemesis
             kept its client (for the latter also its node's coroleased or
             corosync) stopped.  Every error is one that include/corolease.h
             or doc/state-machine.md documents for that call.

Options:
  --bound-ms MS         bound on a call without a timeout of its own (10000)
  --slack-ms MS         allowed past a call's own timeout (2000)
  --allow-post-pause-valid
                        count, but do not fail on, lease_valid() reading true
                        right after a write that spanned a nemesis stop of that
                        client, once a newer conflicting grant was answered:
                        the library then has not yet read the revoke
                        (issue 7 defect 4: lease_valid() must turn false at
                        once without a dispatch).  Only the check after such
                        a write is excused; every other check stays strict.
  --max-evidence N      evidence lines per violation kind (5)
  -q                    verdict and summary only
"""

import argparse
import bisect
import collections
import glob
import os
import sys

# ---------------------------------------------------------------------------
# documented errors per call: include/corolease.h ("the common errors" are
# EINVAL, ENOMEM, EPROTO, EDISCONNECTED) plus doc/state-machine.md, which
# documents ENOQUORUM for a sync read that is not linearizable
COMMON = {"EINVAL", "ENOMEM", "EPROTO", "EDISCONNECTED"}
DOCUMENTED = {
    "connect": COMMON | {"ENOENT", "ECONNREFUSED", "EAGAIN", "EACCES", "EUSERS", "ESHUTDOWN",
                         "ETIMEDOUT", "EUNTRUSTED", "EVERSION"},
    "acquire": COMMON | {"EBUSY", "ETIMEDOUT", "EALREADY", "EDQUOT", "EAGAIN",
                         "ENOQUORUM", "ESYNCING", "ENOCLUSTER", "ESHUTDOWN",
                         "EFENCING", "EGRACE", "ENOSPC"},
    "put": COMMON | {"ESTALE", "ENOTHELD", "EREVOKED", "ENOSPC", "EDQUOT", "EAGAIN",
                     "ENOQUORUM", "ENOCLUSTER", "EFENCING"},
    "get": COMMON | {"ENOENT", "ESYNCING", "EAGAIN", "ENOCLUSTER", "ENOQUORUM"},
}
# a put answered with one of these was not applied (corolease.h: refused, or
# "-ESTALE ... the write was lost with a minority partition"); any other
# error (ENOCLUSTER, EDISCONNECTED, ...) or no answer leaves it indeterminate
PUT_DEFINITE_FAIL = {"ESTALE", "ENOTHELD", "EREVOKED", "ENOSPC", "EDQUOT", "ENOQUORUM",
                     "EAGAIN", "EINVAL", "EFENCING"}
# the library waits this long past an acquire's timeout (client.c ACQUIRE_GRACE_US)
ACQUIRE_GRACE_US = 500000
CONNECT_TIMEOUT_US = 10000000
# nemesis faults that stop a request's path while they last
STOPPING_FAULTS = {"pause-client", "pause-daemon", "pause-corosync"}


class Line:
    __slots__ = ("src", "f")

    def __init__(self, src, f):
        self.src = src   # "file:line: text"
        self.f = f       # dict of fields


def parse_fields(text):
    f = {}
    for tok in text.split()[1:]:
        k, sep, v = tok.partition("=")
        if sep:
            f[k] = v
    return f


def num(f, k, default=None):
    v = f.get(k)
    if v is None:
        return default
    try:
        return int(v)
    except ValueError:
        return default


def fmt_t(us):
    return "%.6f" % (us / 1e6) if us is not None else "?"


class Grant:
    """One acquire answered OK to one client."""
    __slots__ = ("node", "pid", "name", "mode", "epoch", "t_req", "t_ans", "line",
                 "obs", "writes")

    def __init__(self, node, pid, name, mode, epoch, t_req, t_ans, line):
        self.node, self.pid, self.name, self.mode = node, pid, name, mode
        self.epoch, self.t_req, self.t_ans, self.line = epoch, t_req, t_ans, line
        self.obs = []      # (lo, hi, line, kind, write): lease_valid() true in [lo, hi]
        self.writes = []


class Write:
    __slots__ = ("grant", "node", "pid", "name", "mode", "epoch", "tc0", "t0", "t1",
                 "v1", "tc1", "line")


class Req:
    __slots__ = ("node", "pid", "id", "op", "f", "t_req", "t_ans", "res", "ans_f",
                 "line", "ans_line")


def conflicting(m1, m2):
    return m1 == "EX" or m2 == "EX"


class Checker:
    def __init__(self, args):
        self.args = args
        self.violations = collections.OrderedDict()   # kind -> [evidence text]
        self.notes = collections.OrderedDict()        # kind -> [text] (counted, not failing)
        self.grants = []
        self.writes = []
        self.reqs = {}           # (node, pid, id) -> Req
        self.clients = {}        # (node, pid) -> {"end": t or None, "file": path}
        self.faults = {}         # fid -> dict(op, node, pid, t0, t1, line)
        self.run = {}            # phase -> t
        self.finals = []         # (node, name, key, res, val, version, line)
        self.counts = collections.Counter()
        self.bad_lines = 0
        self.max_t = 0

    # ------------------------------------------------------------------ input
    def violation(self, kind, text):
        self.violations.setdefault(kind, []).append(text)

    def note(self, kind, text):
        self.notes.setdefault(kind, []).append(text)

    def load(self, paths):
        for path in paths:
            try:
                fh = open(path, errors="replace")
            except OSError as e:
                print("jepsen-check: %s" % e, file=sys.stderr)
                sys.exit(2)
            with fh:
                for no, raw in enumerate(fh, 1):
                    raw = raw.rstrip("\n")
                    if raw.startswith("J "):
                        self.client_line(Line("%s:%d: %s" % (path, no, raw), parse_fields(raw)), path)
                    elif raw.startswith("N "):
                        self.nemesis_line(Line("%s:%d: %s" % (path, no, raw), parse_fields(raw)))

    def client_line(self, ln, path):
        f = ln.f
        node, pid, ev = num(f, "n"), num(f, "p"), f.get("ev")
        if node is None or pid is None or ev is None:
            self.bad_lines += 1
            return
        for k in ("t", "t1", "tc1"):
            t = num(f, k)
            if t is not None and t > self.max_t:
                self.max_t = t
        c = self.clients.setdefault((node, pid), {"end": None, "file": path, "grant": None,
                                                  "final": False})
        if ev == "start":
            c["final"] = f.get("mode") == "final"
        elif ev == "end":
            c["end"] = num(f, "t")
        elif ev == "req":
            r = Req()
            r.node, r.pid, r.id, r.op, r.f = node, pid, num(f, "id"), f.get("op"), f
            r.t_req, r.t_ans, r.res, r.ans_f, r.line, r.ans_line = num(f, "t"), None, None, None, ln, None
            self.reqs[(node, pid, r.id)] = r
        elif ev == "ans":
            r = self.reqs.get((node, pid, num(f, "id")))
            if r is None:
                self.bad_lines += 1
                return
            r.t_ans, r.res, r.ans_f, r.ans_line = num(f, "t"), f.get("res"), f, ln
            if r.op == "acquire" and r.res == "OK":
                g = Grant(node, pid, r.f.get("name"), r.f.get("mode"), num(f, "epoch"), r.t_req,
                          r.t_ans, ln)
                self.grants.append(g)
                c["grant"] = g
        elif ev == "write":
            g = c["grant"]
            if g is None or g.name != f.get("name") or g.epoch != num(f, "epoch"):
                self.bad_lines += 1
                return
            self.counts["writes checked"] += 1
            if f.get("v0") != "1":
                self.counts["writes skipped (lease_valid() false)"] += 1
                return
            w = Write()
            w.grant, w.node, w.pid, w.name, w.mode, w.epoch = g, node, pid, g.name, g.mode, g.epoch
            w.tc0, w.t0, w.t1, w.v1, w.tc1, w.line = (num(f, "tc0"), num(f, "t0"), num(f, "t1"),
                                                      f.get("v1") == "1", num(f, "tc1"), ln)
            g.writes.append(w)
            g.obs.append((w.tc0, w.t0, ln, "before", w))
            if w.v1:
                g.obs.append((w.t1, w.tc1, ln, "after", w))
            self.writes.append(w)
        elif ev in ("release", "lost"):
            c["grant"] = None
            if ev == "lost":
                self.counts["leases lost with the connection"] += 1
        elif ev == "disconnected":
            self.counts["client disconnects"] += 1
        elif ev == "cb":
            self.counts["callbacks " + f.get("kind", "?")] += 1
        elif ev == "final":
            self.finals.append((node, f.get("name"), f.get("key"), f.get("res"), f.get("val"),
                                num(f, "version"), ln, f.get("gaveup") == "1"))

    def nemesis_line(self, ln):
        f = ln.f
        t = num(f, "t")
        if t is not None and t > self.max_t:
            self.max_t = t
        if f.get("ev") == "run":
            ph = f.get("phase")
            if t is not None:
                self.run[ph] = max(t, self.run.get(ph, t))
            return
        fid = num(f, "fid")
        if fid is None:
            return
        if f.get("phase") == "start":
            self.faults[fid] = {"op": f.get("op"), "node": num(f, "node"), "pid": num(f, "pid"),
                                "t0": t, "t1": None, "line": ln}
        elif f.get("phase") == "end" and fid in self.faults:
            self.faults[fid]["t1"] = t

    # ------------------------------------------------------------------ helpers
    def horizon(self):
        return self.run.get("end") or self.max_t

    def fault_end(self, fl):
        return fl["t1"] if fl["t1"] is not None else self.horizon()

    def stopped_us(self, node, pid, t0, t1, client_only=False):
        """Time within [t0, t1] that the nemesis kept this client (and unless
        client_only, its node's coroleased or corosync) stopped."""
        total = 0
        for fl in self.faults.values():
            if fl["op"] not in STOPPING_FAULTS or (client_only and fl["op"] != "pause-client"):
                continue
            if fl["op"] == "pause-client" and fl["pid"] != pid:
                continue
            if fl["op"] != "pause-client" and fl["node"] != node:
                continue
            a, b = max(t0, fl["t0"]), min(t1, self.fault_end(fl))
            if b > a:
                total += b - a
        return total

    def client_paused_during(self, pid, t0, t1):
        for fl in self.faults.values():
            if fl["op"] == "pause-client" and fl["pid"] == pid and \
               fl["t0"] < t1 and self.fault_end(fl) > t0:
                return fl
        return None

    # ------------------------------------------------------------------ checks
    def check_writes(self):
        """Overlapping writes under valid leases in conflicting modes on different nodes.

        Sound: each write's v0 was read in [tc0, t0] and the write ran in
        [t0, t1]; a grant of epoch e was made before its acquire was answered
        (t_ans).  If the lower-epoch write W_lo checked validity after the
        higher-epoch grant was answered, W_lo's node let it use a lease the
        cluster had already given away: a violation.  Otherwise W_lo checked
        before that answer and its write landed late; storage that fences by
        epoch rejects it once the higher epoch has written."""
        by_name = collections.defaultdict(list)
        for w in self.writes:
            by_name[w.name].append(w)
        for name, ws in by_name.items():
            ws.sort(key=lambda w: w.t0)
            active = []
            for w in ws:
                active = [a for a in active if a.t1 > w.t0]
                for a in active:
                    if a.node == w.node or not conflicting(a.mode, w.mode):
                        continue
                    self.counts["overlapping conflicting writes"] += 1
                    lo, hi = (a, w) if a.epoch <= w.epoch else (w, a)
                    if lo.epoch == hi.epoch:
                        self.violation("overlap-same-epoch",
                                       "writes on %s by node %d and node %d overlap with the same epoch %d\n    %s\n    %s"
                                       % (name, a.node, w.node, a.epoch, a.line.src, w.line.src))
                    elif lo.tc0 > hi.grant.t_ans:
                        self.violation("overlap-under-valid-lease",
                                       "write on %s by node %d (epoch %d) checked lease_valid() at %s, after node %d's "
                                       "conflicting grant of epoch %d was answered at %s, and overlaps its write\n"
                                       "    %s\n    %s\n    %s"
                                       % (name, lo.node, lo.epoch, fmt_t(lo.tc0), hi.node, hi.epoch,
                                          fmt_t(hi.grant.t_ans), lo.line.src, hi.grant.line.src, hi.line.src))
                    else:
                        fl = self.client_paused_during(lo.pid, lo.tc0, lo.t1)
                        why = ("its client was stopped by the nemesis (%s)" % fl["line"].src) if fl else \
                              "no nemesis stop of its client: it was descheduled"
                        self.note("stale-epoch-write",
                                  "late write on %s by node %d pid %d epoch %d [%s, %s] overlaps node %d's epoch %d "
                                  "write [%s, %s]; fencing storage rejects it; %s\n    %s\n    %s"
                                  % (name, lo.node, lo.pid, lo.epoch, fmt_t(lo.t0), fmt_t(lo.t1), hi.node,
                                     hi.epoch, fmt_t(hi.t0), fmt_t(hi.t1), why, lo.line.src, hi.line.src))
                active.append(w)

    def check_validity(self):
        """lease_valid() true after a newer conflicting grant was answered on another node.

        Sound: epochs only grow (checked below), so a grant of epoch eY > eX
        in a conflicting mode on another node was made after X's node-level
        hold ended, and X's validity must end before its hold does (release
        after the local holders are gone; recovery only after the fence
        delay).  A true reading of X whose lower time bound is after Y's
        answer proves X valid after Y's grant.  (The clients of one node
        share the node's lease, EX included: see libcorolease(3).)"""
        by_name = collections.defaultdict(list)
        for g in self.grants:
            by_name[g.name].append(g)
        for name, gs in by_name.items():
            gs.sort(key=lambda g: g.epoch)
            n = len(gs)
            for node in sorted({g.node for g in gs}):
                # suffix minima of t_ans over the other nodes' grants: any mode, and EX only
                best_any = [None] * (n + 1)
                best_ex = [None] * (n + 1)
                for i in range(n - 1, -1, -1):
                    best_any[i], best_ex[i] = best_any[i + 1], best_ex[i + 1]
                    g = gs[i]
                    if g.node == node:
                        continue
                    if best_any[i] is None or g.t_ans < best_any[i].t_ans:
                        best_any[i] = g
                    if g.mode == "EX" and (best_ex[i] is None or g.t_ans < best_ex[i].t_ans):
                        best_ex[i] = g
                j = 0
                for x in gs:
                    while j < n and gs[j].epoch <= x.epoch:
                        j += 1
                    if x.node != node:
                        continue
                    y = best_any[j] if x.mode == "EX" else best_ex[j]
                    if y is None:
                        continue
                    late = [o for o in x.obs if o[0] > y.t_ans]
                    if late:
                        self.valid_after(name, x, y, min(late, key=lambda o: o[0]))

    def valid_after(self, name, x, y, o):
        w = o[4]
        paused = self.client_paused_during(x.pid, w.t0, w.t1) if o[3] == "after" else None
        text = ("lease_valid() true on node %d pid %d for %s %s epoch %d at %s (%s a write), after node %d "
                "was answered a grant of %s epoch %d at %s\n    %s\n    %s"
                % (x.node, x.pid, name, x.mode, x.epoch, fmt_t(o[0]), o[3], y.node, y.mode, y.epoch,
                   fmt_t(y.t_ans), y.line.src, o[2].src))
        if paused:
            text += "\n    the write spanned a stop of its client: %s" % paused["line"].src
        if paused and self.args.allow_post_pause_valid:
            self.note("valid-after-pause (issue 7 defect 4)", text)
        else:
            self.violation("valid-after-newer-grant", text)

    def check_epochs(self):
        """Epochs: unique per (name, node), and increasing in grant order.

        One counter serves every grant of the machine, and a node keeps one
        hold per name, so an epoch seen on two (name, node) pairs was granted
        twice.  A grant Y requested after a conflicting grant X on another
        node was answered is a later node-level grant (X's hold had to end
        first, and Y's node asked after X's was made): eY > eX.  On one node
        the hold's epoch never goes back: eY >= eX."""
        owners = {}
        for g in sorted(self.grants, key=lambda g: g.t_ans):
            k = (g.name, g.node)
            prev = owners.get(g.epoch)
            if prev is None:
                owners[g.epoch] = (k, g)
            elif prev[0] != k:
                self.violation("epoch-reused",
                               "epoch %d granted on %s to node %d and on %s to node %d\n    %s\n    %s"
                               % (g.epoch, prev[1].name, prev[1].node, g.name, g.node, prev[1].line.src,
                                  g.line.src))
        by_name = collections.defaultdict(list)
        for g in self.grants:
            by_name[g.name].append(g)
        for name, gs in by_name.items():
            answered = sorted(gs, key=lambda g: g.t_ans)
            requested = sorted(gs, key=lambda g: g.t_req)
            best = {}     # (node, mode) -> grant with the highest epoch answered so far
            i = 0
            for y in requested:
                while i < len(answered) and answered[i].t_ans < y.t_req:
                    x = answered[i]
                    b = best.get((x.node, x.mode))
                    if b is None or x.epoch > b.epoch:
                        best[(x.node, x.mode)] = x
                    i += 1
                for (node, mode), x in best.items():
                    if node == y.node:
                        bad = x.epoch > y.epoch
                    else:
                        bad = conflicting(mode, y.mode) and x.epoch >= y.epoch
                    if bad:
                        self.violation("epoch-order",
                                       "%s: node %d's %s grant of epoch %d (requested at %s) came after node %d's %s "
                                       "grant of epoch %d was answered at %s\n    %s\n    %s"
                                       % (name, y.node, y.mode, y.epoch, fmt_t(y.t_req), x.node, x.mode, x.epoch,
                                          fmt_t(x.t_ans), x.line.src, y.line.src))
                        break

    def check_index(self):
        puts = collections.defaultdict(list)       # (name, key) -> [Req]
        for r in self.reqs.values():
            if r.op == "put":
                puts[(r.f.get("name"), r.f.get("key"))].append(r)
                if r.res == "OK":
                    self.counts["puts acknowledged"] += 1
                elif r.res in PUT_DEFINITE_FAIL:
                    self.counts["puts failed"] += 1
                else:
                    self.counts["puts indeterminate"] += 1
        acked = {k: sorted([r for r in v if r.res == "OK"], key=lambda r: r.t_ans) for k, v in puts.items()}
        by_val = {}
        for k, v in puts.items():
            for r in v:
                by_val[(k, r.f.get("val"))] = r

        # acknowledged puts: versions grow in real-time order; one version per name
        seen_ver = {}
        for k, rs in acked.items():
            for r in rs:
                v = num(r.ans_f, "version")
                other = seen_ver.get((k[0], v))
                if other is not None and other is not r:
                    self.violation("index-version-reused",
                                   "%s: two acknowledged puts with version %d\n    %s\n    %s"
                                   % (k[0], v, other.ans_line.src, r.ans_line.src))
                seen_ver[(k[0], v)] = r
            by_req = sorted(rs, key=lambda r: r.t_req)
            i, best = 0, None
            for r in by_req:
                while i < len(rs) and rs[i].t_ans < r.t_req:
                    if best is None or num(rs[i].ans_f, "version") > num(best.ans_f, "version"):
                        best = rs[i]
                    i += 1
                if best is not None and num(r.ans_f, "version") <= num(best.ans_f, "version"):
                    self.violation("index-version-order",
                                   "%s/%s: put acknowledged with version %d, though a put acknowledged before it "
                                   "was sent has version %d\n    %s\n    %s"
                                   % (k[0], k[1], num(r.ans_f, "version"), num(best.ans_f, "version"),
                                      best.ans_line.src, r.ans_line.src))

        # per key: answer times of the acknowledged puts, and the put with the
        # highest version among the first i of them
        prefix = {}
        for k, rs in acked.items():
            best, bests = None, []
            for r in rs:
                if best is None or num(r.ans_f, "version") > num(best.ans_f, "version"):
                    best = r
                bests.append(best)
            prefix[k] = ([r.t_ans for r in rs], bests)

        def latest_acked_before(k, t):
            """The acknowledged put of k with the highest version answered before t."""
            if k not in prefix:
                return None
            times, bests = prefix[k]
            i = bisect.bisect_left(times, t)
            return bests[i - 1] if i else None

        def judge_read(k, res, val, ver, t_start, t_end, line, kind):
            """kind "read": sync read started at t_start; "final": after the run."""
            p = latest_acked_before(k, t_start)
            if res == "ENOENT":
                if p is not None:
                    self.violation("stale-read" if kind == "read" else "lost-write",
                                   "%s/%s: %s found no value, but a put was acknowledged at %s with version %d\n"
                                   "    %s\n    %s"
                                   % (k[0], k[1], kind, fmt_t(p.t_ans), num(p.ans_f, "version"), p.ans_line.src,
                                      line.src))
                return
            if res != "OK":
                return
            w = by_val.get((k, val))
            if w is None:
                self.violation("read-unwritten-value",
                               "%s/%s: %s returned %s (version %s), which no put wrote\n    %s"
                               % (k[0], k[1], kind, val, ver, line.src))
                return
            if w.t_req is not None and t_end is not None and w.t_req > t_end:
                self.violation("read-from-future",
                               "%s/%s: %s returned %s before its put was sent\n    %s\n    %s"
                               % (k[0], k[1], kind, val, line.src, w.line.src))
            if w.res in PUT_DEFINITE_FAIL:
                self.violation("failed-write-visible",
                               "%s/%s: %s returned %s, whose put failed with %s\n    %s\n    %s"
                               % (k[0], k[1], kind, val, w.res, w.ans_line.src, line.src))
            if w.res == "OK" and num(w.ans_f, "version") != ver:
                self.violation("read-version-mismatch",
                               "%s/%s: %s returned %s at version %s, acknowledged with version %d\n    %s\n    %s"
                               % (k[0], k[1], kind, val, ver, num(w.ans_f, "version"), w.ans_line.src, line.src))
            if p is not None and p is not w and (ver is None or ver <= num(p.ans_f, "version")):
                self.violation("stale-read" if kind == "read" else "lost-write",
                               "%s/%s: %s returned %s (version %s), older than %s (version %d) acknowledged at %s\n"
                               "    %s\n    %s"
                               % (k[0], k[1], kind, val, ver, p.f.get("val"), num(p.ans_f, "version"),
                                  fmt_t(p.t_ans), p.ans_line.src, line.src))

        for r in self.reqs.values():
            if r.op != "get" or r.res is None:
                continue
            self.counts["sync reads " + ("OK" if r.res == "OK" else r.res)] += 1
            judge_read((r.f.get("name"), r.f.get("key")), r.res, r.ans_f.get("val"), num(r.ans_f, "version"),
                       r.t_req, r.t_ans, r.ans_line, "read")

        # final state, read from every node after healing
        per_key = collections.defaultdict(list)
        for (node, name, key, res, val, ver, line, gaveup) in self.finals:
            self.counts["final reads"] += 1
            if gaveup:
                self.violation("final-read-failed", "node %d: the final read of %s/%s failed (%s)\n    %s"
                               % (node, name, key, res, line.src))
                continue
            per_key[(name, key)].append((node, res, val, ver, line))
            judge_read((name, key), res, val, ver, float("inf"), None, line, "final")
        for k, rows in per_key.items():
            if len({(r[1], r[2], r[3]) for r in rows}) > 1:
                self.violation("replicas-disagree", "%s/%s: the nodes' final reads differ\n    %s"
                               % (k[0], k[1], "\n    ".join(r[4].src for r in rows)))
        if self.finals:
            for k, rs in acked.items():
                if rs and k not in per_key:
                    self.violation("lost-write", "%s/%s: acknowledged puts, but no final read of the key"
                                   % k)

    def check_requests(self):
        """Every request answered in time, with a documented error.

        A call with its own timeout (an acquire with WAIT and a timeout, which
        the library enforces itself; connect's 10 s handshake) must return by
        that timeout plus --slack-ms, plus any time the nemesis kept its
        client stopped.  A call without one (NOWAIT acquire, put, sync get)
        must return within --bound-ms, plus any time the nemesis kept its
        client, its node's coroleased or its node's corosync stopped."""
        self.slowest = {}
        for r in self.reqs.values():
            self.counts["requests " + (r.op or "?")] += 1
            if r.res is not None and r.res != "OK":
                self.counts["errors %s %s" % (r.op, r.res)] += 1
                if r.op in DOCUMENTED and r.res not in DOCUMENTED[r.op]:
                    self.violation("undocumented-error", "%s answered %s, which corolease.h does not document "
                                   "for it\n    %s\n    %s" % (r.op, r.res, r.line.src, r.ans_line.src))
            timeout = None
            if r.op == "acquire" and r.f.get("wait") == "1" and num(r.f, "timeout", 0):
                timeout = num(r.f, "timeout") * 1000 + ACQUIRE_GRACE_US
            elif r.op == "connect":
                timeout = CONNECT_TIMEOUT_US
            end = r.t_ans
            if end is None:
                c = self.clients.get((r.node, r.pid), {})
                end = c.get("end") or self.horizon()
            if timeout is not None:
                allowed = timeout + self.args.slack_ms * 1000 + \
                    self.stopped_us(r.node, r.pid, r.t_req, end, client_only=True)
                cls = "%s with a timeout" % r.op
            else:
                allowed = self.args.bound_ms * 1000 + self.stopped_us(r.node, r.pid, r.t_req, end)
                cls = "%s without a timeout" % r.op
            if r.t_ans is None:
                if end - r.t_req > allowed:
                    self.violation("unanswered", "%s unanswered for %.3f s (allowed %.3f s)\n    %s"
                                   % (r.op, (end - r.t_req) / 1e6, allowed / 1e6, r.line.src))
                else:
                    self.counts["requests in flight at the end"] += 1
                continue
            past = r.t_ans - r.t_req - (timeout or 0)
            if cls not in self.slowest or past > self.slowest[cls][0]:
                self.slowest[cls] = (past, r)
            if r.t_ans - r.t_req > allowed:
                self.violation("answered-late", "%s answered %s after %.3f s (allowed %.3f s)\n    %s\n    %s"
                               % (r.op, r.res, (r.t_ans - r.t_req) / 1e6, allowed / 1e6, r.line.src,
                                  r.ans_line.src))

    # ------------------------------------------------------------------ report
    def report(self):
        a = self.args
        kinds = collections.Counter(fl["op"] for fl in self.faults.values())
        ex = sum(1 for g in self.grants if g.mode == "EX")
        c = self.counts
        nodes = sorted({k[0] for k in self.clients})
        ok = not self.violations
        if not a.quiet:
            for head, table in (("VIOLATION", self.violations), ("counted, not a violation:", self.notes)):
                for kind, items in table.items():
                    print("%s %s: %d" % (head, kind, len(items)))
                    for t in items[:a.max_evidence]:
                        print("  " + t)
                    if len(items) > a.max_evidence:
                        print("  ... %d more" % (len(items) - a.max_evidence))
        print("summary:")
        print("  clients %d on nodes %s; grants %d (EX %d, SH %d); epochs %d distinct"
              % (sum(1 for v in self.clients.values() if not v["final"]), ",".join(map(str, nodes)),
                 len(self.grants), ex, len(self.grants) - ex, len({g.epoch for g in self.grants})))
        print("  writes under a valid lease %d (checked %d, skipped %d); overlapping conflicting %d; "
              "stale-epoch (late) writes %d"
              % (len(self.writes), c["writes checked"], c["writes skipped (lease_valid() false)"],
                 c["overlapping conflicting writes"], len(self.notes.get("stale-epoch-write", []))))
        print("  puts acknowledged %d, failed %d, indeterminate %d; sync reads %d (%s); final reads %d"
              % (c["puts acknowledged"], c["puts failed"], c["puts indeterminate"],
                 sum(v for k, v in c.items() if k.startswith("sync reads ")),
                 ", ".join("%s %d" % (k[len("sync reads "):], v) for k, v in sorted(c.items())
                           if k.startswith("sync reads ")) or "none",
                 c["final reads"]))
        print("  requests %d (%s); in flight at the end %d; client disconnects %d"
              % (sum(v for k, v in c.items() if k.startswith("requests ") and k != "requests in flight at the end"),
                 ", ".join("%s %d" % (k[len("requests "):], v) for k, v in sorted(c.items())
                           if k.startswith("requests ") and k != "requests in flight at the end"),
                 c["requests in flight at the end"], c["client disconnects"]))
        if self.slowest:
            print("  slowest answers (past their own timeout): %s"
                  % "; ".join("%s %.3f s" % (k, v[0] / 1e6) for k, v in sorted(self.slowest.items())))
        errs = ", ".join("%s %d" % (k[len("errors "):], v) for k, v in sorted(c.items()) if k.startswith("errors "))
        print("  errors: %s" % (errs or "none"))
        print("  faults %d (%s)" % (len(self.faults), ", ".join("%s %d" % kv for kv in sorted(kinds.items())) or "none"))
        if self.notes.get("valid-after-pause (issue 7 defect 4)"):
            print("  lease_valid() true after a client stop, excused (--allow-post-pause-valid): %d"
                  % len(self.notes["valid-after-pause (issue 7 defect 4)"]))
        if self.bad_lines:
            print("  unparsable or unmatched lines: %d" % self.bad_lines)
        if ok:
            print("verdict: VALID (no violation of the five invariants)")
        else:
            print("verdict: INVALID: %s" % ", ".join("%s %d" % (k, len(v)) for k, v in self.violations.items()))
        return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description="checker of the corolease black-box fault test")
    ap.add_argument("paths", nargs="+", help="a run directory, or history files")
    ap.add_argument("--bound-ms", type=int, default=10000)
    ap.add_argument("--slack-ms", type=int, default=2000)
    ap.add_argument("--allow-post-pause-valid", action="store_true")
    ap.add_argument("--max-evidence", type=int, default=5)
    ap.add_argument("-q", dest="quiet", action="store_true")
    args = ap.parse_args()
    files = []
    for p in args.paths:
        if os.path.isdir(p):
            files += sorted(glob.glob(os.path.join(p, "**", "*.log"), recursive=True))
        else:
            files.append(p)
    ck = Checker(args)
    ck.load(files)
    if not ck.clients:
        print("jepsen-check: no client history in %s" % " ".join(args.paths), file=sys.stderr)
        return 2
    ck.check_writes()
    ck.check_validity()
    ck.check_epochs()
    ck.check_index()
    ck.check_requests()
    return ck.report()


if __name__ == "__main__":
    sys.exit(main())
