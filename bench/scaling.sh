#!/usr/bin/env bash
# Time and peak memory against input size, for every input shape that has made a stage of precis
# slow or memory-hungry: a flat column of seconds per MB and of memory per input byte is the claim
# (README "Scaling"). Release build, extractive engine, one process per run.
#
#   bench/scaling.sh [SIZE_MB...]      default: 1 10 50 (MB = 10^6 bytes; the input limit is 50 MiB)
#
# Every text shape goes through `summarize --engine extractive`, `extract` and `check --article`
# (against a two-sentence summary); the feed and the JSONL file through `batch --engine extractive`.
# The process's fixed base is the peak RSS of `precis --version` (binary and libraries, no model);
# each command's start-up time is its best of three runs on a tiny input (a few KB) of the shape,
# subtracted from the real runs. Columns:
#   wall, cpu    wall-clock and CPU (user + system) seconds of the run, the start-up subtracted
#   wall/MB, cpu/MB  those per MB of input (the target: wall at most 0.5, i.e. 5 s per 10 MB)
#   peak_MB      peak resident memory of the run (GNU time's %M)
#   above_MB     peak minus the base (`precis --version`)
#   x_input      above_MB / input MB (the target: at most 8)
# Environment:
#   PRECIS=path/to/precis   use this binary instead of building target/release/precis
#   SHAPES="a b"            only these shapes (names as printed)
#   KEEP=1                  keep the generated inputs
#   TIMEOUT=600             seconds before a run is stopped (reported as "timeout")
# The generated inputs live in a temporary directory (SCALING_DIR to choose it), never committed. Timings are noisy on a busy
# machine: the load average is printed with the results.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1 10 50)
if [ -z "${PRECIS:-}" ]; then
  (cd "$root" && cargo build --release --locked --quiet)
  PRECIS="$root/target/release/precis"
fi
timeout_seconds=${TIMEOUT:-600}
work="${SCALING_DIR:-$(mktemp -d)}"
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

all_shapes="nested-divs empty-spans huge-attribute huge-comment entities one-word repeated-words tiny-sentences long-words mixed-scripts nested-quotes feed giant-jsonl"
shapes=${SHAPES:-$all_shapes}

# generate SHAPE BYTES PATH: writes an input of about BYTES bytes (never more) of that shape.
generate() {
  python3 - "$1" "$2" "$3" "$root/samples/abe-cameron-summit.txt" <<'PY'
import sys
shape, size, path, article_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
paragraphs = [p.strip() for p in open(article_path, encoding="utf-8").read().split("\n\n") if p.strip()]
title, body = paragraphs[0], paragraphs[1:]
article_html = "".join(f"<p>{p}</p>" for p in body)

def fill(unit, budget):
    """`unit` repeated to fill `budget` bytes."""
    return unit * max(0, budget // len(unit.encode()))

def page(inner):
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{inner}</body></html>"

def cycle(units, budget):
    out, used, i = [], 0, 0
    while True:
        unit = units[i % len(units)]
        n = len(unit.encode())
        if used + n > budget:
            return "".join(out)
        out.append(unit); used += n; i += 1

def syllable_words(count, seed=7):
    """Distinct-looking pseudo-words (letters only), deterministic."""
    letters = "bcdfghjklmnprstvwz"
    vowels = "aeiou"
    words, state = [], seed
    for _ in range(count):
        state = (state * 1103515245 + 12345) % 2**31
        n = 2 + state % 3
        w = "".join(letters[(state >> (3 * k)) % len(letters)] + vowels[(state >> (3 * k + 1)) % 5] for k in range(n))
        words.append(w)
    return words

overhead = len(page("").encode())
if shape == "nested-divs":
    # The article inside as many nested <div>s as fit (the nesting guard caps them at 256).
    levels = max(1, (size - overhead - len(article_html.encode())) // len("<div></div>"))
    text = page("<div>" * levels + article_html + "</div>" * levels)
elif shape == "empty-spans":
    half = max(0, (size - overhead - len(article_html.encode())) // 2)
    spans = fill("<span></span>", half)
    text = page("<div>" + spans + "</div><article>" + article_html + "</article><div>" + spans + "</div>")
elif shape == "huge-attribute":
    blob = fill("x", size - overhead - len(article_html.encode()) - 40)
    text = page(f'<div data-blob="{blob}"><article>{article_html}</article></div>')
elif shape == "huge-comment":
    blob = fill("comment text without end ", size - overhead - len(article_html.encode()) - 20)
    text = page(f"<!-- {blob} --><article>{article_html}</article>")
elif shape == "entities":
    sentence = ("Caf&eacute; owners &amp; their &#8220;regulars&#8221; paid &euro;5 &mdash; "
                "or &#x24;6 &ndash; for &lt;b&gt;bread&lt;/b&gt;&nbsp;today. ")
    paragraph = "<p>" + sentence * 8 + "</p>\n"
    text = page(cycle([paragraph], size - overhead))
elif shape == "one-word":
    # One line, no spaces, no punctuation.
    text = fill("abcdefghijklmnopqrstuvwxyz", size)
elif shape == "repeated-words":
    text = fill("word ", size)
elif shape == "tiny-sentences":
    # Three-letter sentences, a hundred to a line: "Bav. Kel. Tos. …"
    words = [w[:3].capitalize() for w in syllable_words(5000)]
    lines = [" ".join(f"{words[(i * 7919 + j) % len(words)]}." for i in range(100)) + "\n" for j in range(50)]
    text = cycle(lines, size)
elif shape == "long-words":
    scale = 1 if size >= 100_000 else 20   # tiny inputs get shorter words, so a whole sentence fits
    long_word = "".join(syllable_words(2000 // scale, seed=11))          # ~10 KB word
    url = "https://example.com/" + "/".join(syllable_words(800 // scale, seed=13)) + "?q=" + "&".join(f"k{i}=v{i}" for i in range(300 // scale))
    sentence = (f"The ministry published the report at {url} on Tuesday, and officials called it "
                f"{long_word} in a statement. Critics said the findings were incomplete.\n\n")
    text = cycle([sentence], size)
elif shape == "mixed-scripts":
    sentences = [
        "Премьер-министр Абэ встретился с Кэмероном в Лондоне в четверг.",
        "安倍晋三首相は木曜日にロンドンでキャメロン首相と会談した。",
        "التقى رئيس الوزراء آبي بكاميرون في لندن يوم الخميس.",
        "Zoë and Chloe\u0301 met Ñan\u0303du at the cafe\u0301 \U0001F600 on Thursday.",
        "Z\u0351\u0352\u0353a\u0354\u0355\u0356l\u0357\u0358\u0359g\u035a\u035b\u035co text is still text, officials said.",
        "प्रधानमंत्री आबे ने गुरुवार को लंदन में कैमरन से मुलाकात की।",
        "Ο πρωθυπουργός Άμπε συναντήθηκε με τον Κάμερον στο Λονδίνο.",
    ]
    paragraph = " ".join(sentences) + "\n\n"
    text = cycle([paragraph], size)
elif shape == "nested-quotes":
    # Markdown block quotes whose depth climbs to 500 and falls back, one sentence a line.
    lines = [">" * d + " The council met again on Tuesday to discuss the budget.\n" for d in list(range(1, 501)) + list(range(499, 0, -1))]
    text = "# Quotes\n\n" + cycle(lines, size - 10)
elif shape == "feed":
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>\n'
    tail = "</channel></rss>\n"
    items, used, i = [], len(head) + len(tail), 0
    while True:
        item = f"<item><guid>{i}</guid><description>Item {i} rose.</description></item>\n"
        if used + len(item) > size:
            break
        items.append(item); used += len(item); i += 1
    text = head + "".join(items) + tail
elif shape == "giant-jsonl":
    import json
    prose = "\n\n".join(body) + "\n\n"
    inner = cycle([prose], size - 40)
    text = json.dumps({"id": "giant", "text": inner}, ensure_ascii=False) + "\n"
else:
    sys.exit(f"unknown shape {shape}")
data = text.encode()
open(path, "wb").write(data)
PY
}

extension_of() {
  case "$1" in
    nested-divs|empty-spans|huge-attribute|huge-comment|entities) echo html ;;
    nested-quotes) echo md ;;
    feed) echo rss ;;
    giant-jsonl) echo jsonl ;;
    *) echo txt ;;
  esac
}

# commands_for SHAPE: the commands each input of that shape goes through.
commands_for() {
  case "$1" in
    feed|giant-jsonl) echo batch ;;
    *) echo summarize extract check ;;
  esac
}

# measure COMMAND FILE: prints "wall_seconds cpu_seconds peak_kb status" for one run.
measure() {
  local command=$1 file=$2 status=0
  local run=()
  case "$command" in
    version) run=("$PRECIS" --version) ;;
    batch) rm -f "$work/out.jsonl"; run=("$PRECIS" batch "$file" --engine extractive --out "$work/out.jsonl" --quiet) ;;
    summarize) run=("$PRECIS" summarize "$file" --engine extractive --format json --quiet) ;;
    extract) run=("$PRECIS" extract "$file" --format json) ;;
    check) run=("$PRECIS" check --article "$file" --summary "$work/summary.txt" --format json) ;;
  esac
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" timeout "$timeout_seconds" "${run[@]}" >"$work/out.txt" 2>"$work/err.txt" || status=$?
  read -r wall user system peak_kb < <(tail -1 "$work/time.txt")
  echo "$wall $(echo "$user + $system" | bc -l) $peak_kb $status"
}

# The summary `check` compares each input with: two sentences, a name and a number.
printf 'Abe met Cameron in London on Thursday. The two leaders agreed on 28 points.\n' >"$work/summary.txt"

echo "precis: $PRECIS"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# The fixed base: `precis --version` (binary and libraries, no model, no input), best of 3.
base_kb=999999999 version_wall=999
for _ in 1 2 3; do
  read -r wall cpu peak_kb status < <(measure version /dev/null)
  read -r base_kb version_wall < <(awk -v k="$peak_kb" -v bk="$base_kb" -v w="$wall" -v bw="$version_wall" \
    'BEGIN { print (k < bk ? k : bk), (w < bw ? w : bw) }')
done
echo "base: precis --version peak RSS $(echo "$base_kb * 1024 / 1000000" | bc -l | xargs printf '%.1f') MB, wall ${version_wall}s (best of 3)"
printf '%-15s %-9s %6s %8s %8s %7s %7s %8s %8s %7s  %s\n' shape command MB wall cpu wall/MB cpu/MB peak_MB above_MB x_input status
declare -A summary_time summary_mem
rows=()
for shape in $shapes; do
  ext=$(extension_of "$shape")
  tiny="$work/$shape-tiny.$ext"
  generate "$shape" 4000 "$tiny"
  for size_mb in "${sizes[@]}"; do
    generate "$shape" $((size_mb * 1000000)) "$work/$shape-$size_mb.$ext"
  done
  for command in $(commands_for "$shape"); do
    # Start-up and per-run overhead: the least of three runs on the tiny input, subtracted
    # from the times below (memory is measured against the --version base).
    base_wall=999 base_cpu=999
    for _ in 1 2 3; do
      read -r wall cpu peak_kb base_status < <(measure "$command" "$tiny")
      [ "$base_status" = 0 ] || { echo "$shape $command: the tiny input failed (exit $base_status): $(head -c 300 "$work/err.txt")" >&2; exit 1; }
      read -r base_wall base_cpu < <(awk -v w="$wall" -v c="$cpu" -v bw="$base_wall" -v bc="$base_cpu" \
        'BEGIN { print (w < bw ? w : bw), (c < bc ? c : bc) }')
    done
    printf '%-15s %-9s %6s %8s %8s %7s %7s %8.1f %8s %7s  %s\n' "$shape" "$command" tiny "$base_wall" "$base_cpu" - - "$(echo "$peak_kb * 1024 / 1000000" | bc -l)" - - "start-up, best of 3"
    row="$shape $command"
    for size_mb in "${sizes[@]}"; do
      file="$work/$shape-$size_mb.$ext"
      bytes=$(stat -c %s "$file")
      read -r wall cpu peak_kb status < <(measure "$command" "$file")
      note="exit $status"
      [ "$status" = 124 ] && note="timeout after ${timeout_seconds}s"
      [ "$status" != 0 ] && note="$note: $(head -c 200 "$work/err.txt" | tr '\n' ' ')"
      read -r net_wall net_cpu wall_mb cpu_mb peak_mb above_mb ratio < <(awk -v w="$wall" -v c="$cpu" -v bw="$base_wall" -v bc="$base_cpu" -v k="$peak_kb" -v bk="$base_kb" -v b="$bytes" \
        'function pos(x) { return x < 0 ? 0 : x }
         BEGIN { mb = b / 1e6; nw = pos(w - bw); nc = pos(c - bc); above = pos(k - bk) * 1024 / 1e6;
                 printf "%.2f %.2f %.3f %.3f %.1f %.1f %.2f\n", nw, nc, nw / mb, nc / mb, k * 1024 / 1e6, above, above / mb }')
      printf '%-15s %-9s %6.1f %8s %8s %7s %7s %8s %8s %7s  %s\n' "$shape" "$command" "$(echo "$bytes / 1000000" | bc -l)" "$net_wall" "$net_cpu" "$wall_mb" "$cpu_mb" "$peak_mb" "$above_mb" "$ratio" "$note"
      summary_time[$row]+=" $cpu_mb"
      summary_mem[$row]+=" $ratio"
    done
    rows+=("$row")
  done
  [ -n "${KEEP:-}" ] || rm -f "$work/$shape"-*
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| shape | command | CPU seconds per MB at ${sizes[*]} MB | peak RSS above base ÷ input size at ${sizes[*]} MB |"
echo "|---|---|---|---|"
for row in "${rows[@]}"; do
  set -- $row
  echo "| $1 | $2 | $(echo "${summary_time[$row]:-}" | sed 's/^ //; s/ / · /g') | $(echo "${summary_mem[$row]:-}" | sed 's/^ //; s/ / · /g') |"
done
