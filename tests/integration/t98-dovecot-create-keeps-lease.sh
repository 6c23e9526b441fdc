#!/bin/bash
# 98. BREAK TEST (fails on the code it was written against; not in TESTS).
# A mailbox lease is held while the mailbox is open and released on its
# last close (README: "taken when a mailbox is opened"; the plugin's
# header: "released on the last close").  IMAP CREATE opens the new
# mailbox (and INBOX) through the wrapped open, but the session keeps both
# leases until it logs out: seen with CREATE Sub, CREATE Fresh, CREATE Work
# ("mailbox/.../Maildir/.Work held" at the CREATE, "released" only at the
# logout).  Consequence seen: u1's session that had CREATEd a folder and
# then SELECTed it held INBOX too, so another user's SELECT of u1's INBOX
# through an ACL-shared namespace on node 2 ended u1's session on node 1
# ("node 2 wants mailbox//run/cl-mail/u1/Maildir: ending the session")
# although that session was not using INBOX.
#
# Here: a session on node 1 CREATEs Foo, SELECTs nothing, and NOOPs; once
# the linger is over, neither Foo's lease nor INBOX's may be held.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dovecot-lib.sh"
dv_start dovecot-create-keeps-lease 98
S1=$CLUSTER_DIR/n1/s1.log

printf '%s\n' 'CREATE Foo' 'REPEAT 300 NOOP ; SLEEP 0.1' >"$CLUSTER_DIR/s1.txt"
spawn 1 s1 python3 "$DV_SCRIPT" "$CLUSTER_SUBNET.1" u1 "$CLUSTER_DIR/s1.txt" >/dev/null
must_wait 20 "u1's session on node 1 created Foo" grep -q 'S: t1 OK' "$S1"
check "node 1 holds user/u1 for the session" [ "$(cl 2 owner user/u1)" = 1 ]
owner_is() { [ "$(cl 2 owner "$1")" = "$2" ]; }
# linger is 1 s: give the releases 10 s
wait_until 10 owner_is mailbox//run/cl-mail/u1/Maildir/.Foo 0
foo=$(cl 2 owner mailbox//run/cl-mail/u1/Maildir/.Foo)
wait_until 5 owner_is mailbox//run/cl-mail/u1/Maildir 0
inbox=$(cl 2 owner mailbox//run/cl-mail/u1/Maildir)
cl 2 list
grep 'corolease: mailbox/' "$CLUSTER_DIR/n1/dovecot-mail.log"
check "the session's CREATE left Foo's lease free (owner $foo)" [ "$foo" = 0 ]
check "the session's CREATE left INBOX's lease free (owner $inbox)" [ "$inbox" = 0 ]
it_pass
