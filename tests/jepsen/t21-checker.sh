#!/bin/bash
# t21-checker.sh - the checker of the black-box fault test catches each kind of
# violation: crafted histories, one clean and one per violation kind, each
# run through jepsen-check.py.  Needs python3 only (no cluster, no root).
set -u -o pipefail

SRC=$(cd "$(dirname "$0")" && pwd)
CHECK=$SRC/jepsen-check.py
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
D=$(mktemp -d "${TMPDIR:-/tmp}/jepsen-t21.XXXXXX")
trap 'rm -rf "$D"' EXIT
PASSED=0 FAILED=0

J() { echo "J $*"; }
N() { echo "N $*"; }

# The clean history every case starts from (times in microseconds):
#  - node 1 pid 101 holds jp/a EX epoch 10, writes, puts k0 (version 50);
#  - node 2 pid 201 asks for jp/a while node 1 holds it, gets epoch 11 after
#    node 1 released, writes;
#  - node 3 pid 301 reads k0 after the put: the value;
#  - node 1 pid 102 holds jp/b EX epoch 12, checks lease_valid() and is
#    stopped by the nemesis inside its write; node 3 gets jp/b at epoch 13
#    meanwhile and writes; pid 102's write lands late: a stale-epoch write,
#    counted but not a violation;
#  - node 2 pid 202 holds jp/a SH epoch 14 (after node 2's EX ended);
#  - the final reads on every node find k0 = the put, k1 absent.
base() {
	local d=$1
	mkdir -p "$d/n1" "$d/n2" "$d/n3"
	{
		J ev=start n=1 p=101 mode=run names=jp/a,jp/b keys=k0,k1 seed=1 t=900000
		J ev=req n=1 p=101 id=1 op=connect t=900000
		J ev=ans n=1 p=101 id=1 op=connect t=900100 res=OK node=1
		J ev=req n=1 p=101 id=2 op=acquire name=jp/a mode=EX wait=1 timeout=2000 t=1000000
		J ev=ans n=1 p=101 id=2 op=acquire name=jp/a mode=EX t=1001000 res=OK epoch=10
		J ev=write n=1 p=101 name=jp/a mode=EX epoch=10 tc0=1002000 v0=1 t0=1002010 t1=1005000 v1=1 tc1=1005010
		J ev=req n=1 p=101 id=3 op=put name=jp/a key=k0 val=n1p101s1 epoch=10 t=1006000
		J ev=ans n=1 p=101 id=3 op=put t=1007000 res=OK version=50
		J ev=release n=1 p=101 name=jp/a epoch=10 res=OK t=1010000
		J ev=end n=1 p=101 t=1090000
	} >"$d/n1/jp-c1.log"
	{
		J ev=start n=1 p=102 mode=run names=jp/a,jp/b keys=k0,k1 seed=1 t=900000
		J ev=req n=1 p=102 id=1 op=acquire name=jp/b mode=EX wait=0 timeout=0 t=1029000
		J ev=ans n=1 p=102 id=1 op=acquire name=jp/b mode=EX t=1030000 res=OK epoch=12
		J ev=write n=1 p=102 name=jp/b mode=EX epoch=12 tc0=1031000 v0=1 t0=1031010 t1=1045000 v1=0 tc1=1045010
		J ev=release n=1 p=102 name=jp/b epoch=12 res=OK t=1046000
		J ev=end n=1 p=102 t=1090000
	} >"$d/n1/jp-c2.log"
	{
		J ev=start n=2 p=201 mode=run names=jp/a,jp/b keys=k0,k1 seed=1 t=900000
		J ev=req n=2 p=201 id=1 op=acquire name=jp/a mode=EX wait=1 timeout=3000 t=1003000
		J ev=ans n=2 p=201 id=1 op=acquire name=jp/a mode=EX t=1012000 res=OK epoch=11
		J ev=write n=2 p=201 name=jp/a mode=EX epoch=11 tc0=1013000 v0=1 t0=1013010 t1=1016000 v1=1 tc1=1016010
		J ev=release n=2 p=201 name=jp/a epoch=11 res=OK t=1020000
		J ev=end n=2 p=201 t=1090000
	} >"$d/n2/jp-c1.log"
	{
		J ev=start n=2 p=202 mode=run names=jp/a,jp/b keys=k0,k1 seed=1 t=900000
		J ev=req n=2 p=202 id=1 op=acquire name=jp/a mode=SH wait=1 timeout=3000 t=1021000
		J ev=ans n=2 p=202 id=1 op=acquire name=jp/a mode=SH t=1022000 res=OK epoch=14
		J ev=write n=2 p=202 name=jp/a mode=SH epoch=14 tc0=1023000 v0=1 t0=1023010 t1=1024000 v1=1 tc1=1024010
		J ev=release n=2 p=202 name=jp/a epoch=14 res=OK t=1025000
		J ev=end n=2 p=202 t=1090000
	} >"$d/n2/jp-c2.log"
	{
		J ev=start n=3 p=301 mode=run names=jp/a,jp/b keys=k0,k1 seed=1 t=900000
		J ev=req n=3 p=301 id=1 op=get name=jp/a key=k0 t=1008000
		J ev=ans n=3 p=301 id=1 op=get t=1009000 res=OK val=n1p101s1 version=50
		J ev=req n=3 p=301 id=2 op=acquire name=jp/b mode=EX wait=1 timeout=3000 t=1033000
		J ev=ans n=3 p=301 id=2 op=acquire name=jp/b mode=EX t=1040000 res=OK epoch=13
		J ev=write n=3 p=301 name=jp/b mode=EX epoch=13 tc0=1041000 v0=1 t0=1041010 t1=1042000 v1=1 tc1=1042010
		J ev=release n=3 p=301 name=jp/b epoch=13 res=OK t=1043000
		J ev=end n=3 p=301 t=1090000
	} >"$d/n3/jp-c1.log"
	{
		N fid=1 op=pause-client node=1 pid=102 phase=start t=1032000
		N fid=1 phase=end t=1044000
		N fid=2 op=pause-corosync node=2 phase=start t=1050000
		N fid=2 phase=end t=1052200
		N ev=run phase=end t=1100000
	} >"$d/nemesis.log"
	for i in 1 2 3; do
		{
			J ev=start n=$i p=$((900 + i)) mode=final names=jp/a,jp/b keys=k0,k1 seed=1 t=1095000
			J ev=final n=$i p=$((900 + i)) name=jp/a key=k0 res=OK val=n1p101s1 version=50 t=1095100
			J ev=final n=$i p=$((900 + i)) name=jp/a key=k1 res=ENOENT t=1095200
			J ev=end n=$i p=$((900 + i)) t=1095300
		} >"$d/n$i/final.log"
	done
}

# expect NAME RC KIND [checker options...]: the checker exits RC and, for a
# violation, names KIND in its verdict; the history is in $D/NAME
expect() {
	local name=$1 rc=$2 kind=$3; shift 3
	local out got
	out=$(python3 "$CHECK" "$@" "$D/$name" 2>&1); got=$?
	if [[ $got == "$rc" ]] && { [[ $kind == - ]] || grep -q "^VIOLATION $kind: \|^counted, not a violation: $kind: " <<<"$out"; }; then
		echo "ok: $name: exit $got${kind:+, $kind}"
		PASSED=$((PASSED + 1))
	else
		echo "FAIL: $name: exit $got (want $rc), kind $kind; checker said:"
		sed 's/^/    /' <<<"$out"
		FAILED=$((FAILED + 1))
	fi
}

# case NAME: a fresh copy of the clean history in $D/NAME
case_dir() { base "$D/$1"; echo "$D/$1"; }

c=$(case_dir clean)
expect clean 0 stale-epoch-write
out=$(python3 "$CHECK" "$c")
grep -q 'verdict: VALID' <<<"$out" && grep -q 'stale-epoch (late) writes 1' <<<"$out" && grep -q 'grants 5 ' <<<"$out" \
	&& { echo "ok: clean: summary counts 5 grants and 1 stale-epoch write"; PASSED=$((PASSED + 1)); } \
	|| { echo "FAIL: clean summary:"; echo "$out"; FAILED=$((FAILED + 1)); }

# two nodes write jp/c at once with one epoch (and the epoch is given twice)
c=$(case_dir overlap-same-epoch)
{
	J ev=req n=1 p=103 id=1 op=acquire name=jp/c mode=EX wait=0 timeout=0 t=1060000
	J ev=ans n=1 p=103 id=1 op=acquire name=jp/c mode=EX t=1061000 res=OK epoch=20
	J ev=write n=1 p=103 name=jp/c mode=EX epoch=20 tc0=1062000 v0=1 t0=1062010 t1=1066000 v1=1 tc1=1066010
	J ev=end n=1 p=103 t=1090000
	J ev=req n=2 p=203 id=1 op=acquire name=jp/c mode=EX wait=0 timeout=0 t=1060500
	J ev=ans n=2 p=203 id=1 op=acquire name=jp/c mode=EX t=1061500 res=OK epoch=20
	J ev=write n=2 p=203 name=jp/c mode=EX epoch=20 tc0=1063000 v0=1 t0=1063010 t1=1064000 v1=1 tc1=1064010
	J ev=end n=2 p=203 t=1090000
} >"$c/extra.log"
expect overlap-same-epoch 1 overlap-same-epoch
expect overlap-same-epoch 1 epoch-reused

# node 1 checks validity after node 2's newer grant was answered, and the writes overlap
c=$(case_dir overlap-valid)
{
	J ev=req n=1 p=103 id=1 op=acquire name=jp/c mode=EX wait=0 timeout=0 t=1060000
	J ev=ans n=1 p=103 id=1 op=acquire name=jp/c mode=EX t=1061000 res=OK epoch=20
	J ev=write n=1 p=103 name=jp/c mode=EX epoch=20 tc0=1062000 v0=1 t0=1062010 t1=1063000 v1=1 tc1=1063010
	J ev=write n=1 p=103 name=jp/c mode=EX epoch=20 tc0=1070000 v0=1 t0=1070010 t1=1072000 v1=1 tc1=1072010
	J ev=end n=1 p=103 t=1090000
	J ev=req n=2 p=203 id=1 op=acquire name=jp/c mode=EX wait=1 timeout=3000 t=1064000
	J ev=ans n=2 p=203 id=1 op=acquire name=jp/c mode=EX t=1068000 res=OK epoch=21
	J ev=write n=2 p=203 name=jp/c mode=EX epoch=21 tc0=1069000 v0=1 t0=1069010 t1=1071000 v1=1 tc1=1071010
	J ev=end n=2 p=203 t=1090000
} >"$c/extra.log"
expect overlap-valid 1 overlap-under-valid-lease
expect overlap-valid 1 valid-after-newer-grant

# node 1 reads lease_valid() = 1 after node 3's newer SH grant, writes not overlapping
c=$(case_dir valid-after-grant)
{
	J ev=req n=1 p=103 id=1 op=acquire name=jp/c mode=EX wait=0 timeout=0 t=1060000
	J ev=ans n=1 p=103 id=1 op=acquire name=jp/c mode=EX t=1061000 res=OK epoch=20
	J ev=write n=1 p=103 name=jp/c mode=EX epoch=20 tc0=1062000 v0=1 t0=1062010 t1=1063000 v1=1 tc1=1063010
	J ev=write n=1 p=103 name=jp/c mode=EX epoch=20 tc0=1080000 v0=1 t0=1080010 t1=1081000 v1=1 tc1=1081010
	J ev=end n=1 p=103 t=1090000
	J ev=req n=3 p=303 id=1 op=acquire name=jp/c mode=SH wait=1 timeout=3000 t=1064000
	J ev=ans n=3 p=303 id=1 op=acquire name=jp/c mode=SH t=1068000 res=OK epoch=21
	J ev=write n=3 p=303 name=jp/c mode=SH epoch=21 tc0=1069000 v0=1 t0=1069010 t1=1071000 v1=1 tc1=1071010
	J ev=release n=3 p=303 name=jp/c epoch=21 res=OK t=1072000
	J ev=end n=3 p=303 t=1090000
} >"$c/extra.log"
expect valid-after-grant 1 valid-after-newer-grant

# the late write of the clean history, but lease_valid() still reads 1 after
# it (the library has not read the revoke): a violation, excused only by
# --allow-post-pause-valid
c=$(case_dir valid-after-pause)
sed -i 's/t1=1045000 v1=0/t1=1045000 v1=1/' "$c/n1/jp-c2.log"
expect valid-after-pause 1 valid-after-newer-grant
expect valid-after-pause 0 "valid-after-pause (issue 7 defect 4)" --allow-post-pause-valid

# two clients of node 1 valid on jp/c EX and SH at once, with the node's one
# epoch: not a violation, the clients of a node share its lease
c=$(case_dir node-shares-lease)
{
	J ev=req n=1 p=103 id=1 op=acquire name=jp/c mode=EX wait=0 timeout=0 t=1060000
	J ev=ans n=1 p=103 id=1 op=acquire name=jp/c mode=EX t=1061000 res=OK epoch=20
	J ev=write n=1 p=103 name=jp/c mode=EX epoch=20 tc0=1062000 v0=1 t0=1062010 t1=1063000 v1=1 tc1=1063010
	J ev=write n=1 p=103 name=jp/c mode=EX epoch=20 tc0=1066000 v0=1 t0=1066010 t1=1067000 v1=1 tc1=1067010
	J ev=end n=1 p=103 t=1090000
	J ev=req n=1 p=104 id=1 op=acquire name=jp/c mode=SH wait=0 timeout=0 t=1063500
	J ev=ans n=1 p=104 id=1 op=acquire name=jp/c mode=SH t=1063600 res=OK epoch=20
	J ev=write n=1 p=104 name=jp/c mode=SH epoch=20 tc0=1064000 v0=1 t0=1064010 t1=1065000 v1=1 tc1=1065010
	J ev=end n=1 p=104 t=1090000
} >"$c/extra.log"
expect node-shares-lease 0 -

# one epoch granted on two names (to two nodes)
c=$(case_dir epoch-reused)
{
	J ev=req n=3 p=303 id=1 op=acquire name=jp/c mode=EX wait=0 timeout=0 t=1060000
	J ev=ans n=3 p=303 id=1 op=acquire name=jp/c mode=EX t=1061000 res=OK epoch=13
	J ev=release n=3 p=303 name=jp/c epoch=13 res=OK t=1062000
	J ev=end n=3 p=303 t=1090000
} >"$c/extra.log"
expect epoch-reused 1 epoch-reused

# a grant asked for after a conflicting grant elsewhere was answered, with a lower epoch
c=$(case_dir epoch-order)
{
	J ev=req n=3 p=303 id=1 op=acquire name=jp/a mode=EX wait=1 timeout=2000 t=1026000
	J ev=ans n=3 p=303 id=1 op=acquire name=jp/a mode=EX t=1027000 res=OK epoch=9
	J ev=release n=3 p=303 name=jp/a epoch=9 res=OK t=1028000
	J ev=end n=3 p=303 t=1090000
} >"$c/extra.log"
expect epoch-order 1 epoch-order

# the final state lost the acknowledged put of jp/a/k0 (on every node)
c=$(case_dir lost-write)
for i in 1 2 3; do sed -i 's/key=k0 res=OK val=n1p101s1 version=50/key=k0 res=ENOENT/' "$c/n$i/final.log"; done
expect lost-write 1 lost-write

# the final state has an older value of k0 on every node
c=$(case_dir lost-overwritten)
{
	J ev=req n=2 p=203 id=1 op=acquire name=jp/a mode=EX wait=0 timeout=0 t=1030000
	J ev=ans n=2 p=203 id=1 op=acquire name=jp/a mode=EX t=1031000 res=OK epoch=15
	J ev=req n=2 p=203 id=2 op=put name=jp/a key=k0 val=n2p203s1 epoch=15 t=1032000
	J ev=ans n=2 p=203 id=2 op=put t=1033000 res=OK version=60
	J ev=release n=2 p=203 name=jp/a epoch=15 res=OK t=1034000
	J ev=end n=2 p=203 t=1090000
} >"$c/extra.log"
expect lost-overwritten 1 lost-write

# node 2's final read differs from the others'
c=$(case_dir replicas-disagree)
cat "$D/lost-overwritten/extra.log" >"$c/extra.log"
sed -i 's/val=n1p101s1 version=50/val=n2p203s1 version=60/' "$c/n1/final.log" "$c/n3/final.log"
expect replicas-disagree 1 replicas-disagree

# a sync read started after the put was acknowledged returns nothing
c=$(case_dir stale-read-enoent)
{
	J ev=req n=3 p=303 id=1 op=get name=jp/a key=k0 t=1008000
	J ev=ans n=3 p=303 id=1 op=get t=1008500 res=ENOENT
	J ev=end n=3 p=303 t=1090000
} >"$c/extra.log"
expect stale-read-enoent 1 stale-read

# a sync read returns the older of two acknowledged values
c=$(case_dir stale-read-old)
{
	cat "$D/lost-overwritten/extra.log"
	J ev=req n=3 p=303 id=1 op=get name=jp/a key=k0 t=1040000
	J ev=ans n=3 p=303 id=1 op=get t=1040500 res=OK val=n1p101s1 version=50
	J ev=end n=3 p=303 t=1090000
} >"$c/extra.log"
sed -i 's/val=n1p101s1 version=50/val=n2p203s1 version=60/' "$c"/n*/final.log
expect stale-read-old 1 stale-read

# a read returns the value of a put that failed with ESTALE
c=$(case_dir failed-write-visible)
{
	J ev=req n=2 p=203 id=1 op=put name=jp/a key=k1 val=n2p203s9 epoch=11 t=1014000
	J ev=ans n=2 p=203 id=1 op=put t=1015000 res=ESTALE
	J ev=req n=2 p=203 id=2 op=get name=jp/a key=k1 t=1016000
	J ev=ans n=2 p=203 id=2 op=get t=1016500 res=OK val=n2p203s9 version=55
	J ev=end n=2 p=203 t=1090000
} >"$c/extra.log"
expect failed-write-visible 1 failed-write-visible

# a read returns a value nobody wrote
c=$(case_dir read-unwritten)
{
	J ev=req n=2 p=203 id=1 op=get name=jp/a key=k1 t=1016000
	J ev=ans n=2 p=203 id=1 op=get t=1016500 res=OK val=garbage version=55
	J ev=end n=2 p=203 t=1090000
} >"$c/extra.log"
expect read-unwritten 1 read-unwritten-value

# a put acknowledged after another one on the same key has a lower version
c=$(case_dir index-version-order)
{
	J ev=req n=2 p=203 id=1 op=acquire name=jp/a mode=EX wait=0 timeout=0 t=1030000
	J ev=ans n=2 p=203 id=1 op=acquire name=jp/a mode=EX t=1031000 res=OK epoch=15
	J ev=req n=2 p=203 id=2 op=put name=jp/a key=k0 val=n2p203s1 epoch=15 t=1032000
	J ev=ans n=2 p=203 id=2 op=put t=1033000 res=OK version=40
	J ev=release n=2 p=203 name=jp/a epoch=15 res=OK t=1034000
	J ev=end n=2 p=203 t=1090000
} >"$c/extra.log"
expect index-version-order 1 index-version-order

# a request never answered, long past its timeout and the bound
c=$(case_dir unanswered)
{
	J ev=req n=3 p=303 id=1 op=put name=jp/a key=k0 val=n3p303s1 epoch=11 t=1060000
	N ev=run phase=end t=20000000
} >"$c/extra.log"
expect unanswered 1 unanswered
# ... within the bound when the node's coroleased was stopped for most of it
N fid=7 op=pause-daemon node=3 phase=start t=1061000 >>"$c/extra.log"
N fid=7 phase=end t=19000000 >>"$c/extra.log"
expect unanswered 0 -

# an acquire with a 1 s timeout answered after 8 s; a put after 12 s
c=$(case_dir answered-late)
{
	J ev=req n=3 p=303 id=1 op=acquire name=jp/c mode=EX wait=1 timeout=1000 t=1060000
	J ev=ans n=3 p=303 id=1 op=acquire name=jp/c mode=EX t=9060000 res=ETIMEDOUT owner=1
	J ev=req n=3 p=303 id=2 op=get name=jp/a key=k0 t=9070000
	J ev=ans n=3 p=303 id=2 op=get t=21070000 res=ENOQUORUM
	J ev=end n=3 p=303 t=21090000
} >"$c/extra.log"
expect answered-late 1 answered-late

# an error the header does not document for the call
c=$(case_dir undocumented-error)
{
	J ev=req n=3 p=303 id=1 op=get name=jp/a key=k0 t=1060000
	J ev=ans n=3 p=303 id=1 op=get t=1060500 res=ESTALE
	J ev=end n=3 p=303 t=1090000
} >"$c/extra.log"
expect undocumented-error 1 undocumented-error

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
