#!/usr/bin/python3
"""foreign-cpu.py [SECS]: the CPU that processes outside the test suite use.

Prints the share of one CPU (a percentage, 100 = one CPU busy) that user
processes in this one's network namespace (the host's), without
COROLEASE_IT in their environment, used over SECS seconds (default 1).  The suite's own
processes are left out: the test scripts and the tools they start have
COROLEASE_IT (lib.sh exports it), and what runs in a test node
(corosync, coroleased, Dovecot, clients) is in that node's network
namespace.  Kernel threads (no command line) are left out as well.
flood_lock (lib.sh) runs a flood alone when this is high: the machine is
busy with work of its own (stress-ng beside the suite).
"""
import os
import sys
import time

MARK = b"COROLEASE_IT="


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


def foreign_ticks(net):
    """pid -> utime + stime (clock ticks) of each foreign process; one whose
    namespace or environment this may not read counts as foreign"""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        d = "/proc/" + pid
        ns = readlink(d + "/ns/net")
        if ns is not None and ns != net:
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
        out[pid] = int(fields[11]) + int(fields[12])
    return out


def main():
    try:
        secs = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    except ValueError:
        sys.exit("foreign-cpu.py: SECS must be a number, not %r" % sys.argv[1])
    if not 0 < secs <= 60:
        sys.exit("foreign-cpu.py: SECS must be over 0 and at most 60")
    net = readlink("/proc/self/ns/net")
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.monotonic()
    a = foreign_ticks(net)
    time.sleep(secs)
    b = foreign_ticks(net)
    dt = time.monotonic() - t0
    used = sum(b[p] - a[p] for p in b if p in a and b[p] >= a[p])
    print(int(round(100.0 * used / hz / dt)))


main()
