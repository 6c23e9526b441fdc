#!/usr/bin/env python3
# etcd_bench.py - etcd v3 timed through its JSON gRPC gateway (HTTP/1.1 keep-alive, a
# client written on a socket),
# for bench/bench_peers.sh.  Copyright (c) 2026 the corolease authors.  GPL-2.0-or-later.
#
#   etcd_bench.py cycle HOST:PORT ITERS
#       one client, ITERS cycles (after ITERS/10 of warm-up) of: POST /v3/lease/grant
#       (TTL 10), /v3/kv/txn put-if-absent (create_revision == 0) with that lease,
#       /v3/kv/deleterange; p50/p99 per cycle, and the client's own CPU per cycle
#       (the Python overhead, an upper bound of what a C client would save)
#   etcd_bench.py handover HOST:PORT NAME SECS FILE ID [HOLD_MS]
#       the lock recipe, as bench-ipc handover does for corolease: POST /v3/lock/lock
#       (blocks until held); read the other side's unlock stamp from FILE; hold HOLD_MS
#       (default 20); write this side's stamp (CLOCK_MONOTONIC ns, ID) to FILE; POST
#       /v3/lock/unlock.  Run on two nodes at once; prints the p50/p99 of the other
#       side's unlock stamp to this side's lock return
#   etcd_bench.py overhead ITERS
#       the same HTTP/JSON client against a canned responder on 127.0.0.1 (a forked
#       process answering each request at once with a fixed etcd-like body): the
#       per-request cost of this client stack, p50 and client CPU
#   etcd_bench.py status HOST:PORT
#       member id, leader id, version
# Figures only, no assertions.
import base64
import json
import os
import socket
import struct
import sys
import time


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Etcd:
    """One HTTP/1.1 keep-alive connection, written by hand on a socket (http.client
    costs about 100 us of CPU per request here): a POST of a JSON body, and its
    answer (Content-Length or chunked) parsed as JSON."""

    def __init__(self, hostport):
        host, port = hostport.rsplit(':', 1)
        self.host = hostport.encode()
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''

    def _need(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise RuntimeError('connection closed')
            self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b'\r\n')
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._need(len(self.buf) + 1)

    def post(self, path, obj):
        body = json.dumps(obj).encode()
        self.sock.sendall(b'POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n'
                          b'Content-Length: %d\r\n\r\n%s' % (path.encode(), self.host, len(body), body))
        status = self._line()
        clen, chunked = None, False
        while True:
            h = self._line()
            if not h:
                break
            k, _, v = h.partition(b':')
            k = k.strip().lower()
            if k == b'content-length':
                clen = int(v)
            elif k == b'transfer-encoding' and b'chunked' in v.lower():
                chunked = True
        if chunked:
            data = b''
            while True:
                n = int(self._line().split(b';')[0], 16)
                self._need(n + 2)
                data, self.buf = data + self.buf[:n], self.buf[n + 2:]
                if n == 0:
                    break
        else:
            self._need(clen or 0)
            data, self.buf = self.buf[:clen or 0], self.buf[clen or 0:]
        if b' 200 ' not in status:
            raise RuntimeError('%s: %s %s' % (path, status, data[:200]))
        return json.loads(data)

    def close(self):
        self.sock.close()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, len(v) * p // 100)]


def summary(v):
    return 'p50 %.1f us p99 %.1f us mean %.1f us' % (
        pct(v, 50) / 1e3, pct(v, 99) / 1e3, sum(v) / len(v) / 1e3)


def cycle(hostport, iters):
    e = Etcd(hostport)
    key = b64('bench/peers/%d' % os.getpid())
    lat, failed = [], 0
    warm = iters // 10
    cpu0 = t0 = None
    for i in range(iters + warm):
        if i == warm:
            t0, cpu0 = time.monotonic_ns(), time.process_time_ns()
        a = time.monotonic_ns()
        lease = e.post('/v3/lease/grant', {'TTL': 10})['ID']
        r = e.post('/v3/kv/txn', {
            'compare': [{'key': key, 'target': 'CREATE', 'result': 'EQUAL', 'create_revision': '0'}],
            'success': [{'request_put': {'key': key, 'value': b64('v'), 'lease': lease}}]})
        if not r.get('succeeded'):
            failed += 1
            continue
        e.post('/v3/kv/deleterange', {'key': key})
        b = time.monotonic_ns()
        if i >= warm:
            lat.append(b - a)
    tot = time.monotonic_ns() - t0
    cpu = time.process_time_ns() - cpu0
    print('etcd cycle %s: n %d %s %.0f cycles/s failed %d; client CPU %.1f us per cycle (3 requests)' % (
        hostport, len(lat), summary(lat), len(lat) / (tot / 1e9), failed, cpu / len(lat) / 1e3))


def handover(hostport, name, secs, path, me, hold_ms):
    e = Etcd(hostport)
    lease = e.post('/v3/lease/grant', {'TTL': int(secs) * 3 + 30})['ID']
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    end = time.monotonic_ns() + int(secs * 1e9)
    lat, grants = [], 0
    t0 = time.monotonic_ns()
    while time.monotonic_ns() < end:
        key = e.post('/v3/lock/lock', {'name': b64(name), 'lease': lease})['key']
        t = time.monotonic_ns()
        grants += 1
        b = os.pread(fd, 12, 0)
        if len(b) == 12:
            rel, who = struct.unpack('=QI', b)
            if who != me and 0 < rel < t:
                lat.append(t - rel)
        time.sleep(hold_ms / 1000)
        os.pwrite(fd, struct.pack('=QI', time.monotonic_ns(), me), 0)
        e.post('/v3/lock/unlock', {'key': key})
    tot = time.monotonic_ns() - t0
    e.post('/v3/lease/revoke', {'ID': lease})
    out = 'etcd node %d: %d locks of %s in %.1f s, hold %d ms' % (me, grants, name, tot / 1e9, hold_ms)
    if len(lat) > 2:
        out += '; handover (other node\'s unlock to this lock) n %d p50 %.0f us p99 %.0f us mean %.0f us' % (
            len(lat), pct(lat, 50) / 1e3, pct(lat, 99) / 1e3, sum(lat) / len(lat) / 1e3)
    print(out)


CANNED = json.dumps({'header': {'cluster_id': '1', 'member_id': '2', 'revision': '3', 'raft_term': '4'},
                     'succeeded': True, 'ID': '5', 'TTL': '10'}).encode()


def responder(ls):
    resp = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(CANNED) + CANNED
    c, _ = ls.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b''
    while True:
        d = c.recv(65536)
        if not d:
            os._exit(0)
        buf += d
        while True:
            h = buf.find(b'\r\n\r\n')
            if h < 0:
                break
            n = 0
            for line in buf[:h].split(b'\r\n'):
                if line.lower().startswith(b'content-length:'):
                    n = int(line.split(b':')[1])
            if len(buf) < h + 4 + n:
                break
            buf = buf[h + 4 + n:]
            c.sendall(resp)


def overhead(iters):
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(1)
    pid = os.fork()
    if pid == 0:
        responder(ls)
    e = Etcd('127.0.0.1:%d' % ls.getsockname()[1])
    key = b64('bench/peers/x')
    lat = []
    cpu0 = time.process_time_ns()
    for i in range(iters):
        a = time.monotonic_ns()
        e.post('/v3/kv/txn', {
            'compare': [{'key': key, 'target': 'CREATE', 'result': 'EQUAL', 'create_revision': '0'}],
            'success': [{'request_put': {'key': key, 'value': b64('v'), 'lease': '5'}}]})
        lat.append(time.monotonic_ns() - a)
    cpu = time.process_time_ns() - cpu0
    e.close()
    os.waitpid(pid, 0)
    print('python client overhead: one request to a canned responder %s; client CPU %.1f us per request' % (
        summary(lat), cpu / iters / 1e3))


def status(hostport):
    s = Etcd(hostport).post('/v3/maintenance/status', {})
    print('etcd %s: member %s leader %s version %s' % (
        hostport, s['header']['member_id'], s['leader'], s['version']))


def main(a):
    if len(a) == 3 and a[0] == 'cycle':
        cycle(a[1], int(a[2]))
    elif len(a) in (6, 7) and a[0] == 'handover':
        handover(a[1], a[2], float(a[3]), a[4], int(a[5]), int(a[6]) if len(a) == 7 else 20)
    elif len(a) == 2 and a[0] == 'overhead':
        overhead(int(a[1]))
    elif len(a) == 2 and a[0] == 'status':
        status(a[1])
    else:
        sys.exit('usage: etcd_bench.py cycle HOST:PORT ITERS | handover HOST:PORT NAME SECS FILE ID [HOLD_MS]'
                 ' | overhead ITERS | status HOST:PORT')


if __name__ == '__main__':
    main(sys.argv[1:])
