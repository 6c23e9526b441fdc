# nemesis.sh - the faults of the black-box fault test (sourced by run.sh,
# after tests/integration/lib.sh).
#
# nemesis_run SEED SECONDS [FAULTS] plays a seeded random schedule on the
# cluster until SECONDS have passed and at least FAULTS faults were played.
# The fault kinds come in decks: each deck is the seven kinds (NEM_KINDS) in
# a seeded random order, so a short run still has every kind.  One fault at
# a time; with 5 or more nodes a fault hits one or two nodes, so a majority
# always stays whole.  After each fault the nemesis undoes it, waits until
# the node is synced again (so no fault ever takes the last copy of the
# state), then pauses a seeded gap (0.3-2 s).
#
#   kill-corosync   kill -9 a node's corosync, restart it after 1-4 s
#   pause-corosync  SIGSTOP a node's corosync alone: mostly about token +
#                   consensus (+-25 %), sometimes 3-8 s
#   pause-daemon    SIGSTOP a node's coroleased alone for 0.5-4 s
#   pause-client    SIGSTOP one client (preferably one inside a write under a
#                   lease) for 4-7 s: longer than the handover and revoke
#                   timeouts, so the lease is taken elsewhere and the write
#                   lands late
#   kill-daemon     kill -9 a node's coroleased, restart it after 0.5-3 s
#   partition       cut a node's link (cluster.sh partition) for 2-8 s
#   loss            20-60 % packet loss in and out of a node for 3-8 s
#
# Every fault is logged to $CLUSTER_DIR/nemesis.log, for the checker, as
#   N fid=K op=KIND node=I [pid=P] [ms=DURATION] [pct=P] phase=start t=BOOT_US
#   N fid=K phase=end t=BOOT_US
# and said on stdout.  Times come from `jp-client now` (CLOCK_BOOTTIME, the
# clock of the clients' histories).

NEM_ALL_KINDS="kill-corosync pause-corosync pause-daemon pause-client kill-daemon partition loss"
# not dealt by default (JEPSEN_KINDS only): short-partition (a cut healed within
# 0.3-2 s), flap (a node's link cut/healed 3-8 times, 200-900 ms each)
NEM_EXTRA_KINDS="short-partition flap pause-daemon-cut pause-daemon-kill"
read -r -a NEM_KINDS <<<"$NEM_ALL_KINDS"   # the deck; run.sh's JEPSEN_KINDS narrows it
NEM_FID=0
NEM_LOG=
declare -A NEM_DTAG      # node -> tag of its current coroleased (pidfile nI/TAG.pid)
NEM_RESTARTS=0

mono() { "$JP" now; }

# nem_rand LO HI: NR = a seeded integer in [LO, HI].  Our own generator (a
# 31-bit LCG, two steps per number), not bash's RANDOM, whose sequence
# differs between bash versions and is reseeded in subshells; never call it
# in $(...), where its state would not advance.
NEM_STATE=1
nem_rand() {
	local a b
	NEM_STATE=$(( (NEM_STATE * 1103515245 + 12345) % 2147483648 )); a=$(( NEM_STATE >> 16 ))
	NEM_STATE=$(( (NEM_STATE * 1103515245 + 12345) % 2147483648 )); b=$(( NEM_STATE >> 16 ))
	NR=$(( $1 + (a * 32768 + b) % ($2 - $1 + 1) ))
}

nem_log() { echo "N $*" >>"$NEM_LOG"; }

# nem_start KIND NODE [fields...]: logs the start of fault NEM_FID + 1 (at
# NEM_T if set: a time taken just before the fault began)
nem_start() {
	NEM_FID=$((NEM_FID + 1))
	local kind=$1 node=$2; shift 2
	nem_log "fid=$NEM_FID op=$kind node=$node $* phase=start t=${NEM_T:-$(mono)}"
	say "nemesis #$NEM_FID: $kind node $node $*"
}
nem_end() { nem_log "fid=$1 phase=end t=$(mono)"; }

nem_sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# the pid of node I's coroleased, from its current pidfile
nem_daemon_pid() { daemon_pid "$1" "${NEM_DTAG[$1]:-coroleased}"; }

# nem_synced I SECS: wait until node I is synced (polling every 200 ms)
nem_synced() {
	local i=$1 secs=$2 t0
	t0=$(now_ms)
	while (( $(now_ms) < t0 + secs * 1000 )); do
		synced "$i" && return 0
		sleep 0.2
	done
	say "nemesis: node $i not synced after ${secs}s"
	return 1
}

# NPID = a client pid to stop: preferably one that holds a lease and sleeps
# in a write (wchan *nanosleep: jp-client's write is a clock_nanosleep), so
# its write lands late; else one that holds a lease; else any.  NWHERE says
# which.  One draw of nem_rand whatever happens, so the schedule stays the
# same for a seed.
nem_pick_client() {
	local tries f p last pids=() held=() writing=()
	for ((tries = 0; tries < 60; tries++)); do
		pids=() held=() writing=()
		for f in "$CLUSTER_DIR"/n*/jp-c*.pid; do
			[[ -f $f ]] || continue
			p=$(awk '{print $1}' "$f")
			alive "$p" || continue
			pids+=("$p")
			last=$(grep '^J ' "${f%.pid}.log" 2>/dev/null | tail -n 1)
			[[ $last == *"ev=write "* || ($last == *"op=acquire "* && $last == *"res=OK"*) ]] || continue
			held+=("$p")
			[[ $(cat "/proc/$p/wchan" 2>/dev/null) == *nanosleep* ]] && writing+=("$p")
		done
		((${#writing[@]})) && break
		sleep 0.03
	done
	NPID= NWHERE=
	if ((${#writing[@]})); then nem_rand 0 $((${#writing[@]} - 1)); NPID=${writing[NR]} NWHERE=writing
	elif ((${#held[@]})); then nem_rand 0 $((${#held[@]} - 1)); NPID=${held[NR]} NWHERE=holding
	elif ((${#pids[@]})); then nem_rand 0 $((${#pids[@]} - 1)); NPID=${pids[NR]} NWHERE=idle
	else nem_rand 0 0
	fi
	return 0
}
nem_client_node() { local f; f=$(grep -l "^$1 " "$CLUSTER_DIR"/n*/jp-c*.pid | head -n 1); f=${f#"$CLUSTER_DIR"/n}; echo "${f%%/*}"; }

# nem_signal_daemons SIG: logs the start of $kind on each of $nodes (lasting
# $ms) and sends SIG to the node's coroleased (nem_fault's variables)
nem_signal_daemons() {
	local i pid
	for i in "${nodes[@]}"; do
		pid=$(nem_daemon_pid "$i")
		nem_start "$kind" "$i" "pid=$pid ms=$ms"; fids+=("$NEM_FID")
		kill -"$1" "$pid"
	done
}

# nem_fault KIND NODE...: one fault on the given nodes, undone at its end
nem_fault() {
	local kind=$1; shift
	local nodes=("$@") i ms pct pid fids=() fid
	case $kind in
	kill-corosync)
		nem_rand 1000 4000; ms=$NR
		for i in "${nodes[@]}"; do nem_start "$kind" "$i" "ms=$ms"; fids+=("$NEM_FID"); cluster kill "$i" KILL >/dev/null; done
		nem_sleep_ms "$ms"
		for i in "${nodes[@]}"; do cluster start "$i" 2>/dev/null; done
		;;
	pause-corosync)
		# token + consensus (1.2 token) is when the others form a ring without it
		local tc=$((TOKEN * 22 / 10))
		nem_rand 1 100
		if ((NR <= 70)); then nem_rand $((tc * 3 / 4)) $((tc * 5 / 4)); else nem_rand 3000 8000; fi
		ms=$NR
		for i in "${nodes[@]}"; do nem_start "$kind" "$i" "ms=$ms"; fids+=("$NEM_FID"); cluster pause "$i" >/dev/null; done
		nem_sleep_ms "$ms"
		for i in "${nodes[@]}"; do cluster resume "$i" >/dev/null; done
		;;
	pause-daemon)
		nem_rand 500 4000; ms=$NR
		nem_signal_daemons STOP
		nem_sleep_ms "$ms"
		for i in "${nodes[@]}"; do kill -CONT "$(nem_daemon_pid "$i")"; done
		;;
	pause-client)
		nem_rand 4000 7000; ms=$NR
		nem_pick_client; pid=$NPID
		[[ -n $pid ]] || { say "nemesis: no client to stop"; return 0; }
		local t; t=$(mono)
		kill -STOP "$pid"
		i=$(nem_client_node "$pid")
		nodes=("$i")
		NEM_T=$t nem_start "$kind" "$i" "pid=$pid ms=$ms was=$NWHERE"; fids+=("$NEM_FID")
		nem_sleep_ms "$ms"
		kill -CONT "$pid"
		;;
	kill-daemon)
		nem_rand 500 3000; ms=$NR
		nem_signal_daemons KILL
		nem_sleep_ms "$ms"
		for i in "${nodes[@]}"; do
			NEM_RESTARTS=$((NEM_RESTARTS + 1))
			NEM_DTAG[$i]=coroleased-r$NEM_RESTARTS
			start_daemon "$i" "${NEM_DTAG[$i]}"
		done
		;;
	partition)
		nem_rand 2000 8000; ms=$NR
		for i in "${nodes[@]}"; do nem_start "$kind" "$i" "ms=$ms"; fids+=("$NEM_FID"); cluster partition "$i" >/dev/null; done
		nem_sleep_ms "$ms"
		for i in "${nodes[@]}"; do cluster heal "$i" >/dev/null; done
		;;
	short-partition)
		nem_rand 300 2000; ms=$NR
		for i in "${nodes[@]}"; do nem_start "$kind" "$i" "ms=$ms"; fids+=("$NEM_FID"); cluster partition "$i" >/dev/null; done
		nem_sleep_ms "$ms"
		for i in "${nodes[@]}"; do cluster heal "$i" >/dev/null; done
		;;
	flap)
		local k nf
		nem_rand 3 8; nf=$NR
		for i in "${nodes[@]}"; do nem_start "$kind" "$i" "n=$nf"; fids+=("$NEM_FID"); done
		for ((k = 0; k < nf; k++)); do
			nem_rand 200 900; ms=$NR
			for i in "${nodes[@]}"; do cluster partition "$i" >/dev/null; done
			nem_sleep_ms "$ms"
			nem_rand 200 900; ms=$NR
			for i in "${nodes[@]}"; do cluster heal "$i" >/dev/null; done
			nem_sleep_ms "$ms"
		done
		;;
	loss)
		nem_rand 3000 8000; ms=$NR
		nem_rand 20 60; pct=$NR
		for i in "${nodes[@]}"; do nem_start "$kind" "$i" "ms=$ms pct=$pct"; fids+=("$NEM_FID"); cluster loss "$i" "$pct" >/dev/null; done
		nem_sleep_ms "$ms"
		for i in "${nodes[@]}"; do cluster loss-clear "$i" >/dev/null; done
		;;
	pause-daemon-cut|pause-daemon-kill)
		# (breaker brk7) compound: node A's coroleased stopped (its corosync
		# runs) for 3-9 s; meanwhile another node B is cut off (-cut), or
		# B's coroleased is killed -9 and restarted and then a node other
		# than A is cut off (-kill); the sub-faults are logged under their
		# own kinds so the checker accounts for them
		local a=${nodes[0]} b d k stopms t_stop others=()
		for ((k = 1; k <= JEPSEN_NODES; k++)); do ((k != a)) && others+=("$k"); done
		nem_rand 0 $((${#others[@]} - 1)); b=${others[NR]}
		nem_rand 3000 9000; stopms=$NR
		pid=$(nem_daemon_pid "$a")
		t_stop=$(now_ms)
		nem_start pause-daemon "$a" "pid=$pid ms=$stopms"; fids+=("$NEM_FID"); local fstop=$NEM_FID
		kill -STOP "$pid"
		nem_rand 30 1500; nem_sleep_ms "$NR"
		if [[ $kind == pause-daemon-kill ]]; then
			nem_rand 300 2000; ms=$NR
			local bpid; bpid=$(nem_daemon_pid "$b")
			nem_start kill-daemon "$b" "pid=$bpid ms=$ms"; d=$NEM_FID
			kill -KILL "$bpid"
			nem_sleep_ms "$ms"
			NEM_RESTARTS=$((NEM_RESTARTS + 1))
			NEM_DTAG[$b]=coroleased-r$NEM_RESTARTS
			start_daemon "$b" "${NEM_DTAG[$b]}"
			nem_end "$d"
			nem_rand 0 $((${#others[@]} - 1)); b=${others[NR]}
			nem_rand 0 800; nem_sleep_ms "$NR"
		fi
		nem_rand 2000 5000; ms=$NR
		nem_start partition "$b" "ms=$ms"; d=$NEM_FID
		cluster partition "$b" >/dev/null
		nem_sleep_ms "$ms"
		cluster heal "$b" >/dev/null
		nem_end "$d"
		ms=$(( stopms - ($(now_ms) - t_stop) )); ((ms > 0)) && nem_sleep_ms "$ms"
		kill -CONT "$(nem_daemon_pid "$a")"
		nodes=("$a" "$b")
		;;
	esac
	for fid in "${fids[@]}"; do nem_end "$fid"; done
	for i in "${nodes[@]}"; do nem_synced "$i" 60 || NEM_UNSYNCED=$((NEM_UNSYNCED + 1)); done
}

# nem_heal_all: whatever an interrupted schedule left (run.sh calls it at the end)
nem_heal_all() {
	local i pid
	for ((i = 1; i <= JEPSEN_NODES; i++)); do
		cluster heal "$i" >/dev/null 2>&1
		cluster loss-clear "$i" >/dev/null 2>&1
		cluster start "$i" >/dev/null 2>&1
		cluster resume "$i" >/dev/null 2>&1
		pid=$(nem_daemon_pid "$i")
		if [[ -n $pid ]] && alive "$pid"; then kill -CONT "$pid"; else
			NEM_RESTARTS=$((NEM_RESTARTS + 1)); NEM_DTAG[$i]=coroleased-r$NEM_RESTARTS
			start_daemon "$i" "${NEM_DTAG[$i]}"
		fi
	done
	for f in "$CLUSTER_DIR"/n*/jp-c*.pid; do
		[[ -f $f ]] && kill -CONT "$(awk '{print $1}' "$f")" 2>/dev/null
	done
	return 0
}

# nemesis_run SEED SECONDS [FAULTS]
nemesis_run() {
	local seed=$1 secs=$2 min=${3:-0} t_end deck=() k kind n nodes i j tmp played=0
	NEM_STATE=$(( seed % 2147483648 ))
	NEM_UNSYNCED=0
	t_end=$(( $(now_ms) + secs * 1000 ))
	nem_log "ev=run phase=nemesis-start seed=$seed seconds=$secs t=$(mono)"
	# FAULTS counts faults played (deck draws), not fault ids: with 5 nodes
	# or more a fault may hit two nodes and take two ids, and a deck of
	# seven kinds then ended after five (seed 50: no pause-daemon, no
	# pause-client)
	while (( $(now_ms) < t_end || played < min )); do
		if ((${#deck[@]} == 0)); then
			deck=("${NEM_KINDS[@]}")
			for ((i = ${#deck[@]} - 1; i > 0; i--)); do   # Fisher-Yates
				nem_rand 0 "$i"; j=$NR; tmp=${deck[i]}; deck[i]=${deck[j]}; deck[j]=$tmp
			done
		fi
		kind=${deck[0]}; deck=("${deck[@]:1}")
		played=$((played + 1))
		n=1
		nem_rand 1 100
		(( JEPSEN_NODES >= 5 && NR <= 40 )) && n=2
		nodes=()
		while ((${#nodes[@]} < n)); do
			nem_rand 1 "$JEPSEN_NODES"; k=$NR
			[[ " ${nodes[*]} " == *" $k "* ]] || nodes+=("$k")
		done
		nem_fault "$kind" "${nodes[@]}"
		nem_rand 300 2000
		nem_sleep_ms "$NR"
	done
	nem_log "ev=run phase=nemesis-end faults=$NEM_FID t=$(mono)"
}
