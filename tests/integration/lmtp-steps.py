#!/usr/bin/env python3
# lmtp-steps.py HOST STEP...: one LMTP session to HOST:24 that runs each STEP
# in turn.  A STEP is "wait:PATH" (wait until PATH exists) or a comma list of
# recipients, delivered one message in one transaction.  Prints, line by line:
#   RCPT R CODE          the RCPT TO answer for recipient R
#   DATA STEP CODE       DATA refused (the transaction is reset)
#   REPLY R CODE         the answer for R after the message's end
#   DATA_MS N            how long from the message's end to the last answer
import os
import smtplib
import sys
import time

c = smtplib.LMTP(sys.argv[1], 24, timeout=900)
c.ehlo()
for step in sys.argv[2:]:
    if step.startswith("wait:"):
        while not os.path.exists(step[5:]):
            time.sleep(0.002)
        continue
    rcpts = step.split(",")
    c.mail("sender@it")
    for r in rcpts:
        print("RCPT %s %s" % (r, c.rcpt(r)[0]), flush=True)
    code, m = c.docmd("DATA")
    if code != 354:
        print("DATA %s %s" % (step, code), flush=True)
        c.rset()
        continue
    msg = "From: sender@it\r\nSubject: lmtp-steps\r\nMessage-ID: <%d@lmtp-steps>\r\n\r\nbody\r\n" % int(time.time() * 1000)
    t1 = time.time()
    c.send(smtplib.quotedata(msg).encode() + b"\r\n.\r\n")
    for r in rcpts:
        print("REPLY %s %s" % (r, c.getreply()[0]), flush=True)
    print("DATA_MS %d" % ((time.time() - t1) * 1000), flush=True)
c.quit()
