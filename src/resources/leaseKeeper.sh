#!/bin/bash
# The lease keeper of one resource process group; the monitor's side is leaseKeeper.ts.
#
#   leaseKeeper.sh PGID STOP_MS DEADLINE_MS [RESOURCE]
#
# SIGKILLs process group PGID once DEADLINE_MS passes on /proc/uptime's clock (ms since boot:
# CLOCK_BOOTTIME, which wall-clock steps do not move). Each line on stdin is a new deadline on
# that clock (the lease was renewed), or "done" (the resource was stopped normally: exit, leave
# the group alone). End of input means the monitor is gone: SIGTERM the group at once, SIGKILL it
# STOP_MS later, or at the deadline if that comes first. Exits as soon as the group is empty
# (its id could then be reused), and at most a second after its SIGKILL: a process the kill
# leaves behind is a zombie or stuck in the kernel, and runs no code. RESOURCE names it in ps.
#
# It runs in a session of its own, apart from the node and the monitor, so it acts when both are
# killed or stopped together (kill -9, Ctrl-Z). It idles in `read -t`: no fork while it waits.
set -u
pgid=${1-} stop_ms=${2-} deadline=${3-}
if ! [[ $pgid =~ ^[1-9][0-9]{0,9}$ && $stop_ms =~ ^[0-9]{1,9}$ && $deadline =~ ^[0-9]{1,18}$ ]] ||
  ((pgid < 2)); then
  # Never group 1 or 0: `kill -- -1` would reach every process we may signal.
  echo 'usage: leaseKeeper.sh PGID STOP_MS DEADLINE_MS [RESOURCE]  (PGID > 1, integers)' >&2
  exit 2
fi
stop_ms=$((10#$stop_ms)) deadline=$((10#$deadline))
readonly poll_ms=100 after_kill_ms=1000

now_ms=0
# now_ms from /proc/uptime ("18434.91 ..."): builtins only.
clock() {
  local up _idle
  read -r up _idle </proc/uptime
  now_ms=$((10#${up/./} * 10))
}

alive() { kill -0 -- "-$pgid" 2>/dev/null; }
signal() { kill -s "$1" -- "-$pgid" 2>/dev/null; }

open=1      # the monitor still holds the other end of stdin
partial=''  # a line cut by a read timeout
nap=''      # after end of input: a descriptor that never has data, to wait on without forking
killed_at=''

while alive; do
  clock
  if [[ -n $killed_at ]]; then
    ((now_ms - killed_at >= after_kill_ms)) && exit 0
    signal KILL # whatever it forked meanwhile
    wait_ms=$poll_ms
  elif ((now_ms >= deadline)); then
    signal KILL
    killed_at=$now_ms
    continue
  else
    wait_ms=$((deadline - now_ms < poll_ms ? deadline - now_ms : poll_ms))
  fi
  printf -v secs '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000))
  if ((open)); then
    if read -r -t "$secs" line; then
      line=$partial$line partial=''
      [[ $line == done ]] && exit 0
      [[ -z $killed_at && $line =~ ^[0-9]{1,18}$ ]] && deadline=$((10#$line))
    elif (($? > 128)); then
      partial+=$line # timed out, maybe mid-line
    else
      open=0 # end of input: the monitor is gone
      signal TERM
      clock
      ((now_ms + stop_ms < deadline)) && deadline=$((now_ms + stop_ms))
      exec {nap}<> <(:) # a pipe we hold both ends of (one fork, once)
    fi
  elif [[ -n $nap ]]; then
    read -r -t "$secs" -u "$nap" _
  else
    sleep "$secs"
  fi
done
exit 0
