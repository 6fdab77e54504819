#!/usr/bin/env bash
# `precis batch` on very large feeds and JSONL lines: seconds per MB and peak memory at 1, 10 and
# 50 MB, for a million-item RSS feed, a million-entry Atom feed, a JSON Feed, many small JSONL lines
# and one giant JSONL line (release build, extractive engine, whole command: reading, decoding,
# parsing, summarizing every item, writing the records). A flat s/MB column and a flat
# "x input" column are the claim (issue 18: at most 5 s per 10 MB, peak RSS above the fixed base
# at most 8 x the input). The fixed base is `precis --version`'s peak RSS. Not a test; timings
# are noisy while other builds run, so the load average is printed.
# SIZES="1 10" SHAPES="rss atom" to choose; PRECIS=path to use another binary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [ -z "${PRECIS:-}" ]; then
  cargo build --release --locked --quiet
  PRECIS=$root/target/release/precis
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes=${SIZES:-1 10 50}
shapes=${SHAPES:-rss atom jsonfeed jsonl giant-jsonl}

generate() { # SHAPE MEGABYTES PATH
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
shape, size, path = sys.argv[1], int(float(sys.argv[2]) * 1_000_000), sys.argv[3]
sentence = "The council approved item {i} on Tuesday after a short debate."
def fill(head, unit, tail):
    parts, used, i = [head], len(head) + len(tail), 0
    while True:
        part = unit(i)
        if used + len(part) > size:
            break
        parts.append(part); used += len(part); i += 1
    parts.append(tail)
    return "".join(parts)
if shape == "rss":
    text = fill('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Wire</title>\n',
                lambda i: f"<item><guid>{i}</guid><description>{sentence.format(i=i)}</description></item>\n",
                "</channel></rss>\n")
elif shape == "atom":
    text = fill('<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>\n',
                lambda i: f"<entry><id>{i}</id><title>T</title><summary>{sentence.format(i=i)}</summary></entry>\n",
                "</feed>\n")
elif shape == "jsonfeed":
    body = fill("", lambda i: json.dumps({"id": str(i), "content_text": sentence.format(i=i)}) + ",\n", "")
    text = '{"version": "https://jsonfeed.org/version/1.1", "title": "Wire", "items": [\n' + body + '{"id": "last", "content_text": "The end."}]}\n'
elif shape == "jsonl":
    text = fill("", lambda i: json.dumps({"id": i, "text": sentence.format(i=i)}) + "\n", "")
elif shape == "giant-jsonl":
    prose = fill("", lambda i: sentence.format(i=i) + " ", "")[: size - 40]
    text = json.dumps({"id": "giant", "text": prose}) + "\n"
else:
    sys.exit(f"unknown shape {shape}")
open(path, "w", encoding="utf-8").write(text)
PY
}

extension_of() { case "$1" in rss) echo rss ;; atom) echo atom ;; jsonfeed) echo json ;; *) echo jsonl ;; esac; }

/usr/bin/time -f '%M' -o "$work/base.txt" "$PRECIS" --version >/dev/null
base_kb=$(tail -1 "$work/base.txt")
echo "precis: $PRECIS; fixed base (precis --version peak RSS): $((base_kb / 1024)) MB; $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %5s %9s %8s %8s %8s %8s %8s %8s  %s\n' shape MB items wall_s cpu_s s/10MB peak_MB above_MB x_input status
for shape in $shapes; do
  for mb in $sizes; do
    file=$work/input.$(extension_of "$shape")
    generate "$shape" "$mb" "$file"
    bytes=$(stat -c %s "$file")
    rm -f "$work/out.jsonl"
    status=0
    /usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" \
      "$PRECIS" batch "$file" --engine extractive --out "$work/out.jsonl" --quiet 2>"$work/err.txt" || status=$?
    read -r wall user system peak_kb < <(tail -1 "$work/time.txt")
    records=$(wc -l <"$work/out.jsonl" 2>/dev/null || echo 0)
    python3 - "$shape" "$bytes" "$records" "$wall" "$user" "$system" "$peak_kb" "$base_kb" "$status" <<'PY'
import sys
shape, size, records, wall, user, system, peak, base, status = sys.argv[1:]
size, wall, cpu, peak, base = int(size), float(wall), float(user) + float(system), int(peak) * 1024, int(base) * 1024
mb = size / 1e6
print("%-12s %5.1f %9s %8.2f %8.2f %8.2f %8.0f %8.0f %8.2f  %s" % (
    shape, mb, records, wall, cpu, wall / mb * 10, peak / 1e6, (peak - base) / 1e6, (peak - base) / size, "ok" if status == "0" else "exit " + status))
PY
    if [ "$status" != 0 ]; then tail -3 "$work/err.txt"; fi
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
