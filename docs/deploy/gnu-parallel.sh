#!/bin/bash
# precis batch spread with GNU parallel, on one machine or over ssh, then merged.
# GNU parallel gives no scheduler variables, so each command gets its shard as {}/N.
set -euo pipefail

PRECIS=${PRECIS:-precis}
INPUTS=${INPUTS:-corpus/}
PARTS=${PARTS:-parts}
OUT=${OUT:-digest.jsonl}
SHARDS=${SHARDS:-8}
mkdir -p "$PARTS"

# One machine, 2 shards at a time (each shard is one process; add --jobs N for threads in it).
# Over ssh instead, in a directory every machine sees (NFS) with precis installed on each:
#   parallel --sshlogin 2/node1,2/node2 --workdir "$PWD" …same command…
# A shard that failed is rerun by running this script again: --resume finishes what is left and
# leaves finished shards as they are.
# shellcheck disable=SC2086  # INPUTS is a list
parallel --jobs 2 --halt never \
    "$PRECIS" batch $INPUTS --engine extractive --shard {}/"$SHARDS" --resume --out "$PARTS"/part-{}.jsonl \
    ::: $(seq "$SHARDS") || echo "some shards exited non-zero (failed items, or a crash); merge checks what is there"

# Every shard present, every item once, in input order; otherwise nothing is written (exit 1).
"$PRECIS" merge "$OUT" "$PARTS"/part-*.jsonl
