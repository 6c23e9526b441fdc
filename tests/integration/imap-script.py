#!/usr/bin/env python3
"""imap-script.py - one scripted IMAP session for the Dovecot break tests (t95..).

  imap-script.py HOST USER SCRIPT

Logs in to HOST:143 as USER (password "pass"), then runs SCRIPT line by line:

  WAIT PATH        wait until PATH exists (the test's go signal)
  SLEEP SECS       sleep
  REPEAT N A ; B   run A, then B, ... N times (each a line of this list but WAIT)
  IDLE SECS        IDLE, print what the server sends for SECS s, then DONE
  APPEND BOX       APPEND a small new message to BOX (Message-ID printed)
  anything else    sent as one IMAP command

Every line the server sends is printed as "<unix time> S: <line>", every
command as "<unix time> C: <tag> <command>", and after each tagged answer
"<unix time> took <secs> s <tag>".  A closed connection prints
"<unix time> EOF" (a reset: "EOF (connection reset)") and exits 2; the end of SCRIPT logs out and exits 0.
"""
import os
import select
import socket
import sys
import time


def main():
    host, user, script = sys.argv[1:4]
    s = socket.create_connection((host, 143), timeout=3600)
    # unbuffered: select() on the socket then tells whether a line is waiting
    f = s.makefile("rb", buffering=0)

    def say(x):
        print("%.3f %s" % (time.time(), x), flush=True)

    def eof(why=""):
        say("EOF" + why)
        sys.exit(2)

    def rd():
        # a server that closes with a command of ours unread resets the
        # connection: after its BYE, that is the end of the session too
        try:
            line = f.readline()
        except ConnectionResetError:
            eof(" (connection reset)")
        if not line:
            eof()
        say("S: " + line.decode(errors="replace").rstrip())
        return line

    def send(data):
        try:
            s.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            eof(" (connection reset)")

    def cmd(tag, c, lit=None):
        say("C: %s %s" % (tag, c))
        if lit is not None:
            send(b"%s %s {%d+}\r\n" % (tag.encode(), c.encode(), len(lit)) + lit + b"\r\n")
        else:
            send(b"%s %s\r\n" % (tag.encode(), c.encode()))
        t0 = time.time()
        while True:
            line = rd()
            if line.startswith(tag.encode() + b" "):
                say("took %.3f s %s" % (time.time() - t0, tag))
                return line

    n = [0]

    def run(line):
        n[0] += 1
        tag = "t%d" % n[0]
        if line.startswith("APPEND "):
            mid = "<s%d-%d@it>" % (n[0], int(time.time() * 1000))
            body = ("From: script@it\r\nTo: %s@it\r\nMessage-ID: %s\r\nSubject: s%d\r\n\r\n"
                    "body %s\r\n" % (user, mid, n[0], mid)).encode()
            say("message-id " + mid)
            cmd(tag, line, body)
        elif line.startswith("IDLE "):
            secs = float(line.split()[1])
            say("C: %s IDLE" % tag)
            send(b"%s IDLE\r\n" % tag.encode())
            rd()  # "+ idling"
            end = time.time() + secs
            while time.time() < end:
                if select.select([s], [], [], 0.2)[0]:
                    rd()
            say("C: DONE")
            send(b"DONE\r\n")
            while not rd().startswith(tag.encode() + b" "):
                pass
        else:
            cmd(tag, line)

    rd()
    cmd("a0", "LOGIN %s pass" % user)
    for line in open(script):
        line = line.strip()
        if not line:
            continue
        if line.startswith("WAIT "):
            while not os.path.exists(line[5:]):
                time.sleep(0.05)
            say("go: " + line[5:])
        elif line.startswith("SLEEP "):
            time.sleep(float(line[6:]))
        elif line.startswith("REPEAT "):
            _, count, rest = line.split(" ", 2)
            for _ in range(int(count)):
                for part in rest.split(" ; "):
                    if part.startswith("SLEEP "):
                        time.sleep(float(part[6:]))
                    else:
                        run(part)
        else:
            run(line)
    cmd("z", "LOGOUT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
