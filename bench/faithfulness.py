#!/usr/bin/env python3
"""Measures `precis check` against human judgements (FRANK) on faithfulness-dev.jsonl.

Called by bench/faithfulness.sh with the dev file and precis's --format jsonl output on it
(one line per record, in order). Prints:

1. all-dev: Pearson / Spearman of precis's `faithfulness` with `factuality`, per dataset, beside
   the FRANK baseline metrics stored in the records (same records);
2. cross-validated by article: 5 folds over doc_id; the four weights of the score (word, fact,
   elsewhere, splice; see src/faithfulness/mod.rs) are chosen on 4 folds from a small grid
   (objective: mean of the four correlations) and the 5th fold is scored with them; the
   correlations of the pooled held-out scores are the honest numbers;
3. how often a flagged summary has an entity / circumstance / out-of-article error
   (errors.EntE, CircE, OutE > 0), and how often an unflagged one has none;
4. what a lexical check cannot see, measured: summaries whose only human-labelled error is a
   wrong relation (RelE), and probes made from the articles themselves: one sentence copied
   as it is, with a negation inserted, and with two of its names swapped (`probes` writes
   them; `probe-report` reads precis's check of them).

The score is recomputed here from the spans precis reports (kind, elsewhere_in_source, weight)
and each sentence's `pieces`; with precis's default weights the recomputation must equal
precis's own `faithfulness` (checked), so the grid evaluates exactly what precis would print.
Standard library only.
"""
import hashlib
import itertools
import json
import math
import sys

DEFAULT = dict(word=0.5, fact=1.0, elsewhere=0.25, splice=0.1)
GRID = dict(word=[0.5, 1.0, 2.0], fact=[0.5, 1.0, 2.0, 4.0], elsewhere=[0.25, 0.5, 1.0], splice=[0.0, 0.05, 0.1, 0.2])
FOLDS = 5
BASELINES = ["BertScore P Art", "FactCC", "Dep Entail", "QAGS", "FEQA", "Rouge 1"]
WORD_KINDS = {"word"}


def ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    vx = sum((a - mx) ** 2 for a in x)
    vy = sum((b - my) ** 2 for b in y)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else float("nan")


def spearman(x, y):
    return pearson(ranks(x), ranks(y))


def sentence_parts(sentence):
    """(words, facts) per standing, and pieces, from precis's spans at default weights."""
    parts = {"word_absent": 0.0, "word_elsewhere": 0.0, "fact_absent": 0.0, "fact_elsewhere": 0.0}
    for span in sentence["unsupported"]:
        elsewhere = span["elsewhere_in_source"]
        if span["kind"] in WORD_KINDS:
            words = span["weight"] / (DEFAULT["word"] * (DEFAULT["elsewhere"] if elsewhere else 1.0))
            parts["word_elsewhere" if elsewhere else "word_absent"] += words
        else:
            parts["fact_elsewhere" if elsewhere else "fact_absent"] += 1
    parts["splices"] = max(0, sentence["pieces"] - 1)
    return parts


def score(summary_parts, w):
    scores = []
    for p in summary_parts:
        penalty = (
            w["word"] * (p["word_absent"] + w["elsewhere"] * p["word_elsewhere"])
            + w["fact"] * (p["fact_absent"] + w["elsewhere"] * p["fact_elsewhere"])
            + w["splice"] * p["splices"]
        )
        scores.append(1 / (1 + penalty))
    return sum(scores) / len(scores)


def correlations(records, scores):
    out = {}
    for dataset in ("cnndm", "xsum"):
        idx = [i for i, r in enumerate(records) if r["dataset"] == dataset]
        x = [scores[i] for i in idx]
        y = [records[i]["factuality"] for i in idx]
        out[dataset] = (pearson(x, y), spearman(x, y))
    return out


def objective(corr):
    return sum(sum(pair) for pair in corr.values()) / 4


def fold_of(doc_id):
    return int(hashlib.sha256(doc_id.encode()).hexdigest(), 16) % FOLDS


def main():
    data_path, checked_path = sys.argv[1], sys.argv[2]
    records = [json.loads(line) for line in open(data_path, encoding="utf-8") if line.strip()]
    checked = [json.loads(line) for line in open(checked_path, encoding="utf-8") if line.strip()]
    assert len(records) == len(checked), "one precis line per record"
    bad = [c for c in checked if "error" in c]
    assert not bad, f"precis could not check {len(bad)} records: {bad[:3]}"
    parts = [[sentence_parts(s) for s in c["sentences"]] for c in checked]
    precis_scores = [c["faithfulness"] for c in checked]
    recomputed = [score(p, DEFAULT) for p in parts]
    worst = max(abs(a - b) for a, b in zip(precis_scores, recomputed))
    assert worst < 1e-9, f"recomputed scores differ from precis's by {worst}"

    print("## all dev records (precis's default weights)\n")
    print(f"{'metric':28s} {'cnndm P':>8s} {'cnndm S':>8s} {'xsum P':>8s} {'xsum S':>8s}")
    corr = correlations(records, precis_scores)
    print(f"{'precis faithfulness':28s} {corr['cnndm'][0]:8.3f} {corr['cnndm'][1]:8.3f} {corr['xsum'][0]:8.3f} {corr['xsum'][1]:8.3f}")
    for name in BASELINES:
        row = []
        for dataset in ("cnndm", "xsum"):
            idx = [i for i, r in enumerate(records) if r["dataset"] == dataset and r["baselines"].get(name) is not None]
            x = [records[i]["baselines"][name] for i in idx]
            y = [records[i]["factuality"] for i in idx]
            row += [pearson(x, y), spearman(x, y)]
        print(f"{'FRANK ' + name:28s} " + " ".join(f"{v:8.3f}" for v in row))

    print(f"\n## cross-validated by article ({FOLDS} folds over doc_id; weights chosen on 4 folds, scored on the 5th)\n")
    grid = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    held_out = [None] * len(records)
    chosen = []
    for fold in range(FOLDS):
        train = [i for i, r in enumerate(records) if fold_of(r["doc_id"]) != fold]
        test = [i for i, r in enumerate(records) if fold_of(r["doc_id"]) == fold]
        train_records = [records[i] for i in train]
        best = max(grid, key=lambda w: (objective(correlations(train_records, [score(parts[i], w) for i in train])), -abs(w["fact"] - 1)))
        chosen.append(best)
        for i in test:
            held_out[i] = score(parts[i], best)
        print(f"fold {fold + 1}: {len(test):3d} held-out records, weights chosen on the other folds: {best}")
    cv = correlations(records, held_out)
    print(f"\n{'metric':28s} {'cnndm P':>8s} {'cnndm S':>8s} {'xsum P':>8s} {'xsum S':>8s}")
    print(f"{'precis (cross-validated)':28s} {cv['cnndm'][0]:8.3f} {cv['cnndm'][1]:8.3f} {cv['xsum'][0]:8.3f} {cv['xsum'][1]:8.3f}")
    best_all = max(grid, key=lambda w: objective(correlations(records, [score(p, w) for p in parts])))
    print(f"(the grid's best on all 900 records: {best_all}; precis's defaults: {DEFAULT})")

    print("\n## flagged summaries and human error labels (EntE, CircE or OutE > 0)\n")
    for label, flagged_of in (
        ("any flagged span", lambda c: any(s["unsupported"] for s in c["sentences"])),
        ("a name or number not in the article", lambda c: any(
            sp["kind"] not in ("word", "quote") and not sp["elsewhere_in_source"] for s in c["sentences"] for sp in s["unsupported"])),
    ):
        print(f"flagged = {label}:")
        for dataset in ("cnndm", "xsum"):
            idx = [i for i, r in enumerate(records) if r["dataset"] == dataset]
            has_error = {i: any(records[i]["errors"].get(e, 0) > 0 for e in ("EntE", "CircE", "OutE")) for i in idx}
            flagged = [i for i in idx if flagged_of(checked[i])]
            unflagged = [i for i in idx if not flagged_of(checked[i])]
            base = sum(has_error.values()) / len(idx)
            p_err = sum(has_error[i] for i in flagged) / len(flagged) if flagged else float("nan")
            p_clean = sum(not has_error[i] for i in unflagged) / len(unflagged) if unflagged else float("nan")
            print(f"  {dataset:6s} flagged {len(flagged):3d}/{len(idx)}: {p_err:6.1%} had such an error · "
                  f"unflagged {len(unflagged):3d}: {p_clean:6.1%} had none · (all records: {base:.1%} had one)")

    print("\n## wrong relations (RelE) between supported words\n")
    for dataset in ("cnndm", "xsum"):
        groups = {
            "no error at all": lambda e: not any(v > 0 for v in e.values()),
            "RelE only": lambda e: e.get("RelE", 0) > 0 and not any(v > 0 for k, v in e.items() if k != "RelE"),
        }
        for name, keep in groups.items():
            idx = [i for i, r in enumerate(records) if r["dataset"] == dataset and keep(r["errors"])]
            if not idx:
                continue
            flagged = sum(any(s["unsupported"] for s in checked[i]["sentences"]) for i in idx) / len(idx)
            mean = sum(precis_scores[i] for i in idx) / len(idx)
            print(f"  {dataset:6s} {name:16s} {len(idx):3d} summaries: flagged {flagged:6.1%}, mean score {mean:.3f}")


AUXILIARIES = ("is", "was", "are", "were", "has", "have", "had", "will", "would", "can", "could")


def sentences_of(text):
    import re
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if s.strip()]


def probes(data_path):
    """One probe of each kind per article: (kind, article, summary) as JSON Lines on stdout."""
    import re
    seen = set()
    for line in open(data_path, encoding="utf-8"):
        record = json.loads(line)
        if record["doc_id"] in seen:
            continue
        seen.add(record["doc_id"])
        article = record["article"]
        candidates = [s for s in sentences_of(article) if 8 <= len(s.split()) <= 40]
        for sentence in candidates:
            words = sentence.split()
            aux = next((i for i, w in enumerate(words) if w in AUXILIARIES and i > 0), None)
            if aux is None:
                continue
            negated = " ".join(words[: aux + 1] + ["not"] + words[aux + 1:])
            print(json.dumps({"kind": "copied", "article": article, "summary": sentence}))
            print(json.dumps({"kind": "negated", "article": article, "summary": negated}))
            break
        for sentence in candidates:
            words = sentence.split()
            # Single-word names inside the sentence (capitalised, not first, neighbours lower-case).
            names = [i for i in range(1, len(words)) if re.fullmatch(r"[A-Z][a-z]+", words[i])
                     and not words[i - 1][:1].isupper() and (i + 1 == len(words) or not words[i + 1][:1].isupper())]
            distinct = [i for i in names if words[i] != words[names[0]]]
            if not names or not distinct:
                continue
            a, b = names[0], distinct[0]
            words[a], words[b] = words[b], words[a]
            print(json.dumps({"kind": "names swapped", "article": article, "summary": " ".join(words)}))
            break


def probe_report(probes_path, checked_path):
    kinds = [json.loads(line)["kind"] for line in open(probes_path, encoding="utf-8")]
    checked = [json.loads(line) for line in open(checked_path, encoding="utf-8")]
    print("\n## probes made from the articles (one sentence each)\n")
    for kind in ("copied", "negated", "names swapped"):
        rows = [c for k, c in zip(kinds, checked) if k == kind and "faithfulness" in c]
        if not rows:
            continue
        flagged = sum(c["flagged"] for c in rows)
        mean = sum(c["faithfulness"] for c in rows) / len(rows)
        print(f"  {kind:14s} {len(rows):3d} sentences: flagged {flagged / len(rows):6.1%}, mean score {mean:.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "probes":
        probes(sys.argv[2])
    elif sys.argv[1] == "probe-report":
        probe_report(sys.argv[2], sys.argv[3])
    else:
        main()
