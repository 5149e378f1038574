#!/usr/bin/env bash
# The background queue of the studies, two slots side by side (one thread each, nice 19), resumable across sessions.
#
#   bash experiments/in_progress/queue.sh start    # restore parked runs into runs/, freeze the code, start both slots
#   bash experiments/in_progress/queue.sh status   # the last progress line of each slot
#   bash experiments/in_progress/queue.sh pause    # SIGSTOP both slots (for a timing: the test suite, the bench)
#   bash experiments/in_progress/queue.sh resume   # SIGCONT
#   bash experiments/in_progress/queue.sh stop     # end both slots resumably, then keep their runs (snapshot.py)
#
# Slot A: the Reed study, then the paper budget. Slot B: the reference study's 250-epoch seeds, then the Reed study,
# then the paper budget. Each sweep skips finished runs and the run another sweep is training (busy), so two slots
# on one study share it. The paper budget trains the seven new 1,500-epoch series, then Baseline and LRx10 again
# with their weights kept (issue 20).
# The slots run from a frozen copy of the code (a git worktree of HEAD at start), so editing the checkout cannot
# change a running sweep; runs/ is the checkout's. Logs: $LOGS (default /tmp/t2i_queue).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LOGS=${LOGS:-/tmp/t2i_queue}
FROZEN=${FROZEN:-$ROOT/../t2i_queue_code}
T2I="$ROOT/.venv/bin/t2i"
SLOT="sweep.workers=1 trainer.threads=1"
PAPER="+ablation=shuffle,mbd,adam_params,img_noise,full_vocab,increment_vocab,rnn_init seed=0 budget=paper \
sweep.name=paper"
# Baseline and LRx10 at 1,500 epochs again, with their weights (to ship in experiments/models): a sweep of their own,
# so that their records in experiments/paper_budget stay as they are and the new curves can be compared with them.
MODELS="+ablation=baseline,lrx10 seed=0 budget=paper sweep.name=paper_models"

pgroups() { pgrep -f "t2i sweep" | xargs -r -n1 ps -o pgid= -p | sort -u; }

copy_missing() {  # copy_missing SRC DST: each run directory (and Part 1 record) of SRC that DST lacks, whole
  [ -d "$1" ] || return 0
  (cd "$1" && find . \( -type d -name 'seed=*' -o -type d -path './part1/*' -prune \) -print) | while read -r d; do
    if [ ! -e "$2/$d" ]; then mkdir -p "$(dirname "$2/$d")"; cp -r "$1/$d" "$2/$d"; fi
  done
}

restore() {  # parked runs first (they are further along than no run), then the finished runs' records
  copy_missing "$ROOT/experiments/in_progress/runs" "$ROOT/runs"
  copy_missing "$ROOT/experiments/ablation_study/runs" "$ROOT/runs/ablation_study"
  copy_missing "$ROOT/experiments/reed_study/runs" "$ROOT/runs/reed_study"
  copy_missing "$ROOT/experiments/paper_budget/runs" "$ROOT/runs/paper"
}

slot() {  # slot NAME SWEEP_ARGS... ; each sweep after the previous one ends
  local name=$1; shift
  local script="$LOGS/slot_$name.sh"
  {
    echo "cd '$FROZEN'"
    for args in "$@"; do
      echo "env PYTHONPATH='$FROZEN' nice -n 19 '$T2I' sweep $args $SLOT >> '$LOGS/slot_$name.log' 2>&1 < /dev/null"
      echo "[ -e '$LOGS/stopping' ] && exit 0"
    done
  } > "$script"
  setsid nohup bash "$script" > /dev/null 2>&1 < /dev/null &
}

case "${1:-status}" in
  start)
    if [ -n "$(pgroups)" ]; then echo "queue.sh: the slots are already running"; exit 1; fi
    mkdir -p "$LOGS"; rm -f "$LOGS/stopping"
    restore
    git -C "$ROOT" worktree remove --force "$FROZEN" 2>/dev/null || rm -rf "$FROZEN"
    git -C "$ROOT" worktree prune
    git -C "$ROOT" worktree add --detach "$FROZEN" HEAD > /dev/null
    ln -sfn "$ROOT/runs" "$FROZEN/runs"
    slot A "+study=reed" "$PAPER" "$MODELS"
    slot B "+study=reference" "+study=reed" "$PAPER" "$MODELS"
    echo "queue.sh: slots A and B started from $(git -C "$ROOT" rev-parse --short HEAD); logs in $LOGS"
    ;;
  status)
    for s in A B; do echo "slot $s: $(grep -a 'epoch\|t2i:' "$LOGS/slot_$s.log" 2>/dev/null | tail -n 1)"; done
    ;;
  pause) for pg in $(pgroups); do kill -STOP -- "-$pg"; done ;;
  resume) for pg in $(pgroups); do kill -CONT -- "-$pg"; done ;;
  stop)
    touch "$LOGS/stopping"
    # A stopped process holds a SIGTERM until SIGCONT: continue each sweep after the TERM.
    for pg in $(pgroups); do kill -TERM -- "-$pg"; kill -CONT -- "-$pg"; done
    for _ in $(seq 1 120); do [ -z "$(pgroups)" ] && break; sleep 1; done
    if [ -n "$(pgroups)" ]; then echo "queue.sh: still running after 2 minutes:"; pgrep -af "t2i sweep"; exit 1; fi
    "$ROOT/.venv/bin/python" "$ROOT/experiments/in_progress/snapshot.py"
    echo "queue.sh: stopped; commit experiments/in_progress"
    ;;
  *) echo "usage: queue.sh start|status|pause|resume|stop"; exit 2 ;;
esac
