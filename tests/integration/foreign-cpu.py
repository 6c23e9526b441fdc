#!/usr/bin/python3
"""foreign-cpu.py [SECS]: the CPU that processes outside the test suite use.

Prints the share of one CPU (a percentage, 100 = one CPU busy) that user
processes outside the suite used over SECS seconds (default 1).  The
suite's own processes are left out: the test scripts and the tools they
start have COROLEASE_IT in their environment (lib.sh and the Makefile's
AM_TESTS_ENVIRONMENT export it), and what runs in a test node (corosync,
coroleased, Dovecot, clients) is in that node's network namespace
(/run/netns/c[INSTANCE]tNUM-...).  Kernel threads (no command line) are
left out as well.  A process that started in the second counts with all
of its CPU; one that started and ended in it is not seen (fork-heavy load
reads low).
flood_lock (lib.sh) runs a flood alone when this is high: the machine is
busy with work of its own (stress-ng beside the suite).
"""
import os
import re
import sys
import time

MARK = b"COROLEASE_IT="
SUITE_NS = re.compile(r"^c[0-9]*t[0-9]+-")


def readlink(path):
    try:
        return os.readlink(path)
    except OSError:
        return None


def marked(path):
    """True when the environment in path has COROLEASE_IT"""
    try:
        with open(path, "rb") as f:
            return any(v.startswith(MARK) for v in f.read().split(b"\0"))
    except OSError:
        return False


def suite_nets():
    """the network namespaces of the suite's test nodes (cluster.sh names
    them c[INSTANCE]tNUM-...) as readlink shows them"""
    out = set()
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return out
    for n in names:
        if SUITE_NS.match(n):
            try:
                out.add("net:[%d]" % os.stat("/run/netns/" + n).st_ino)
            except OSError:
                pass
    return out


def foreign_ticks(nets):
    """pid -> (start time, utime + stime), in clock ticks, of each foreign
    process; one whose namespace or environment this may not read counts
    as foreign"""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        d = "/proc/" + pid
        if readlink(d + "/ns/net") in nets:
            continue
        try:
            with open(d + "/cmdline", "rb") as f:
                if not f.read(1):
                    continue
            with open(d + "/stat", "rb") as f:
                st = f.read()
        except OSError:
            continue
        if marked(d + "/environ"):
            continue
        fields = st[st.rindex(b")") + 2:].split()
        out[pid] = (int(fields[19]), int(fields[11]) + int(fields[12]))
    return out


def uptime_ticks(hz):
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) * hz


def main():
    try:
        secs = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    except ValueError:
        sys.exit("foreign-cpu.py: SECS must be a number, not %r" % sys.argv[1])
    if not 0 < secs <= 60:
        sys.exit("foreign-cpu.py: SECS must be over 0 and at most 60")
    nets = suite_nets()
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.monotonic()
    start = uptime_ticks(hz)
    a = foreign_ticks(nets)
    time.sleep(secs)
    b = foreign_ticks(nets)
    dt = time.monotonic() - t0
    used = 0
    for p, (born, ticks) in b.items():
        if p in a and a[p][0] == born:
            used += max(0, ticks - a[p][1])
        elif born >= start - 1:
            used += ticks        # started in between: all of its CPU
    print(int(round(100.0 * used / hz / dt)))


main()
