"""Side-by-side speed of precis, transformers and CTranslate2 on one model (bench/compare.sh).

Subcommands (each side runs in its own process, so that its peak RSS is its own):
  make-model DIR [SHAPE]
                        random weights with the shape of SHAPE (transformers 4.44.2, seed 0)
                        saved as safetensors, a synthetic tokenizer of the model's vocabulary
                        size, and DIR/inputs.json (one article, a batch of 32 inputs, the decoding
                        settings). Shapes (SHAPES below): distilbart-cnn-12-6 (the default;
                        780-token article, batch of 200-1024 tokens), t5-small (512-token article,
                        batch of 200-512: T5's window), pegasus-cnn_dailymail (780, 200-1024)
  transformers DIR THREADS RUNS BATCH_SIZE
  ctranslate2 DIR THREADS RUNS BATCH_SIZE COMPUTE_TYPE
  targets RESULTS.jsonl DIR   the fp32 reference's outputs as teacher-forcing targets (JSON)
  report RESULTS.jsonl BATCH_INPUTS   the tables, the ratios, and the accuracy against fp32

Every side decodes the same ids the same way: a warm-up, then RUNS timed decodings of the article
with 4 beams and RUNS greedy, then the batch once (sorted by length, BATCH_SIZE inputs per call).

Accuracy: when BENCH_TARGETS names a targets file (transformers' fp32 outputs: the article with 4
beams and greedy, every batch input with 4 beams), each side also scores those outputs teacher-
forced, untimed: the log-probability its model gives each target token after the input and the
target tokens before it (CTranslate2's `score_batch`; transformers' forward pass; precis's
`Seq2SeqModel::score`). The report compares every side's log-probabilities with transformers'
(fp32), position by position, and counts the outputs whose ids equal transformers'.
"""

import json
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

NEW_TOKENS = 80
BEAMS = 4
NO_REPEAT_NGRAM = 3
LENGTH_PENALTY = 2.0
ARTICLE_TOKENS = 780
BATCH_INPUTS = 32
BATCH_LENGTHS = (200, 1024)
VOCAB = 50264

# sshleifer/distilbart-cnn-12-6's config.json, minus its generation defaults (passed explicitly).
DISTILBART_12_6 = dict(
    vocab_size=VOCAB, d_model=1024, encoder_layers=12, decoder_layers=6,
    encoder_attention_heads=16, decoder_attention_heads=16,
    encoder_ffn_dim=4096, decoder_ffn_dim=4096, max_position_embeddings=1024,
    activation_function="gelu", normalize_before=False, add_final_layer_norm=False,
    scale_embedding=False, normalize_embedding=True, static_position_embeddings=False,
    add_bias_logits=False, extra_pos_embeddings=2,
    bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2,
    forced_bos_token_id=0, forced_eos_token_id=2,
    dropout=0.1, attention_dropout=0.0, activation_dropout=0.0, init_std=0.02,
)


# google-t5/t5-small's config.json (T5 v1.0: relu, tied embeddings), minus task_specific_params.
T5_SMALL = dict(
    vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6, num_heads=8,
    relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="relu",
    tie_word_embeddings=True, n_positions=512, layer_norm_epsilon=1e-6, dropout_rate=0.1,
    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, initializer_factor=1.0,
)

# google/pegasus-cnn_dailymail's config.json, minus its generation defaults.
PEGASUS_CNN_DAILYMAIL = dict(
    vocab_size=96103, d_model=1024, encoder_layers=16, decoder_layers=16,
    encoder_attention_heads=16, decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096,
    max_position_embeddings=1024, activation_function="relu", scale_embedding=True, normalize_before=True,
    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, forced_eos_token_id=1,
    dropout=0.1, attention_dropout=0.1, activation_dropout=0.1, init_std=0.02,
)

# shape -> (model type, config, article tokens, batch input lengths)
SHAPES = {
    "distilbart-cnn-12-6": ("bart", DISTILBART_12_6, ARTICLE_TOKENS, BATCH_LENGTHS),
    "t5-small": ("t5", T5_SMALL, 512, (200, 512)),
    "pegasus-cnn_dailymail": ("pegasus", PEGASUS_CNN_DAILYMAIL, ARTICLE_TOKENS, BATCH_LENGTHS),
}


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_model(out_dir: Path, shape: str = "distilbart-cnn-12-6"):
    import torch

    if shape not in SHAPES:
        sys.exit(f"unknown shape {shape}; shapes: {', '.join(SHAPES)}")
    model_type, config, article_tokens, batch_lengths = SHAPES[shape]
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if model_type == "bart":
        from transformers import BartConfig, BartForConditionalGeneration

        model = BartForConditionalGeneration(BartConfig(**config)).eval()
        write_bart_tokenizer(out_dir, config["vocab_size"])
        first, last, low = [0], [2], 4
    else:
        from transformers import PegasusConfig, PegasusForConditionalGeneration, T5Config, T5ForConditionalGeneration

        if model_type == "t5":
            model = T5ForConditionalGeneration(T5Config(**config)).eval()
        else:
            model = PegasusForConditionalGeneration(PegasusConfig(**config)).eval()
        write_word_tokenizer(out_dir, config["vocab_size"])
        first, last, low = [], [1], 4
    model.save_pretrained(out_dir, safe_serialization=True)
    vocab = config["vocab_size"]

    rng = random.Random(0)
    def article(length):
        return first + [rng.randrange(low, vocab - 1) for _ in range(length - len(first) - len(last))] + last
    inputs = {
        "shape": shape,
        "article": article(article_tokens),
        "batch": [article(rng.randint(*batch_lengths)) for _ in range(BATCH_INPUTS)],
        "new_tokens": NEW_TOKENS, "beams": BEAMS,
        "no_repeat_ngram": NO_REPEAT_NGRAM, "length_penalty": LENGTH_PENALTY,
    }
    (out_dir / "inputs.json").write_text(json.dumps(inputs))


def write_bart_tokenizer(out_dir: Path, vocab_size: int):
    """A byte-level BPE vocabulary of exactly the model's size: BART's four specials, the 256 byte
    symbols, filler tokens and <mask>. No merges: text tokenizes to bytes (the benchmark feeds
    ids), and CTranslate2's converter finds the vocabulary size it expects."""
    from transformers import BartTokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    byte_symbols = list(bytes_to_unicode().values())
    fillers = [f"tok{i}" for i in range(vocab_size - len(specials) - len(byte_symbols) - 1)]
    tokens = specials + byte_symbols + fillers + ["<mask>"]
    assert len(tokens) == vocab_size == len(set(tokens))
    (out_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (out_dir / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = BartTokenizerFast(vocab_file=str(out_dir / "vocab.json"), merges_file=str(out_dir / "merges.txt"))
    tokenizer.save_pretrained(out_dir)
    assert len(tokenizer) == vocab_size, len(tokenizer)


def write_word_tokenizer(out_dir: Path, vocab_size: int):
    """A word-level tokenizer.json of the model's vocabulary size with T5's and PEGASUS's special
    ids (<pad> 0, </s> 1, <unk> 2); the benchmark feeds ids, so the words are placeholders."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    tokens = ["<pad>", "</s>", "<unk>"] + [f"tok{i}" for i in range(vocab_size - 3)]
    tokenizer = Tokenizer(WordLevel({t: i for i, t in enumerate(tokens)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = WhitespaceSplit()
    tokenizer.add_special_tokens(["<pad>", "</s>", "<unk>"])
    tokenizer.save(str(out_dir / "tokenizer.json"))
    (out_dir / "special_tokens_map.json").write_text(json.dumps({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}))


def full_batch(inputs):
    """The batch, or its first BATCH_INPUTS inputs (a quicker run)."""
    return inputs["batch"][: int(os.environ.get("BATCH_INPUTS", len(inputs["batch"])))]


def batch_of(inputs):
    """The part of the batch this run times: BATCH_PART=R/N (bench/compare.sh's rounds) keeps
    inputs R-1, R-1+N, R-1+2N, … of `full_batch`; BATCH_PART=none keeps none (a scoring run)."""
    part = os.environ.get("BATCH_PART", "1/1")
    if part == "none":
        return []
    round_, rounds = (int(n) for n in part.split("/"))
    return full_batch(inputs)[round_ - 1 :: rounds]


def merge_rounds(records):
    """One side's records of the timed rounds (in round order, round R timing batch part R/N) as
    one: every per-article time, the batch's seconds summed and its outputs in input order, the
    median load time, the highest peak RSS."""
    if len(records) == 1:
        return records[0]
    rounds = len(records)
    parts = [r["batch_ids"] for r in records]
    batch_ids = [parts[i % rounds][i // rounds] for i in range(sum(len(p) for p in parts))]
    merged = dict(records[-1])
    merged.update(
        load_seconds=statistics.median(r["load_seconds"] for r in records),
        beam_seconds=[t for r in records for t in r["beam_seconds"]],
        greedy_seconds=[t for r in records for t in r["greedy_seconds"]],
        batch_seconds=sum(r["batch_seconds"] for r in records),
        peak_rss_mb=max(r["peak_rss_mb"] for r in records),
        batch_ids=batch_ids,
    )
    return merged


def side_records(results_path: Path):
    """{side: merged record} from a results file, in the order sides first appear."""
    records = {}
    for line in results_path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            records.setdefault(record["side"], []).append(record)
    return {side: merge_rounds(rs) for side, rs in records.items()}


def sorted_chunks(batch, size):
    order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
    return [order[i:i + size] for i in range(0, len(order), size)]


def timed_runs(generate, article, beams: int, runs: int):
    """Seconds of each of `runs` generations of one article, and the ids of the last."""
    seconds, ids = [], None
    for _ in range(runs):
        start = time.perf_counter()
        ids = generate([article], beams)[0]
        seconds.append(time.perf_counter() - start)
    return seconds, ids


def targets_of(record, inputs):
    """Teacher-forcing pairs (input ids, target ids after the decoder start) from a side's outputs:
    the article's 4-beam and greedy outputs, then each batch input's; each target cut after its
    first end-of-sequence token (what follows is padding)."""
    def cut(ids):
        ids = ids[1:]
        return ids[: ids.index(2) + 1] if 2 in ids[1:] else ids
    pairs = {"beam": [(inputs["article"], cut(record["beam_ids"]))], "greedy": [(inputs["article"], cut(record["greedy_ids"]))]}
    pairs["batch"] = [(source, cut(ids)) for source, ids in zip(full_batch(inputs), record["batch_ids"])]
    return pairs


def load_targets():
    path = os.environ.get("BENCH_TARGETS")
    return json.loads(Path(path).read_text()) if path else None


def score_all(targets, score, batch_size):
    """{"beam": [[log-prob, …]], "greedy": …, "batch": …} from `score(list of (input, target))`, in
    chunks of `batch_size` pairs sorted by input length."""
    scored = {}
    for name, pairs in targets.items():
        out = [None] * len(pairs)
        for chunk in sorted_chunks([source for source, _ in pairs], batch_size):
            for i, log_probs in zip(chunk, score([pairs[i] for i in chunk])):
                out[i] = log_probs
        scored[name] = out
    return scored


def run_transformers(model_dir: Path, threads: int, runs: int, batch_size: int):
    import torch
    from transformers import AutoModelForSeq2SeqLM

    torch.set_num_threads(threads)
    started = time.perf_counter()
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir).eval()
    pad = model.config.pad_token_id
    load_seconds = time.perf_counter() - started
    inputs = json.loads((model_dir / "inputs.json").read_text())
    length = inputs["new_tokens"] + 1  # max_length counts the decoder start token

    def generate(rows, beams):
        width = max(map(len, rows))
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids, attention_mask=mask, num_beams=beams, min_length=length, max_length=length,
                no_repeat_ngram_size=inputs["no_repeat_ngram"], length_penalty=inputs["length_penalty"],
                early_stopping=False, do_sample=False,
            )
        return out.tolist()

    article = inputs["article"]
    generate([article], 1)  # warm-up

    beam_seconds, beam_ids = timed_runs(generate, article, inputs["beams"], runs)
    greedy_seconds, greedy_ids = timed_runs(generate, article, 1, runs)
    batch = batch_of(inputs)
    batch_ids = [None] * len(batch)
    start = time.perf_counter()
    for chunk in sorted_chunks(batch, batch_size):
        for i, out in zip(chunk, generate([batch[i] for i in chunk], inputs["beams"])):
            batch_ids[i] = out
    batch_seconds = time.perf_counter() - start
    record = dict(side="transformers", load_seconds=load_seconds, beam_seconds=beam_seconds,
                  greedy_seconds=greedy_seconds, batch_seconds=batch_seconds, peak_rss_mb=peak_rss_mb(),
                  beam_ids=beam_ids, greedy_ids=greedy_ids, batch_ids=batch_ids)

    def score(pairs):
        # One forward pass per chunk: decoder input = start token + target[:-1]; positions past a
        # shorter target are padding and not kept (the decoder is causal).
        width = max(len(s) for s, _ in pairs)
        length = max(len(t) for _, t in pairs)
        # The model's own pad and decoder start ids (BART: 1 and 2; T5: 0 and 0; PEGASUS: 0 and 0).
        pad, start = model.config.pad_token_id, model.config.decoder_start_token_id
        ids = torch.tensor([s + [pad] * (width - len(s)) for s, _ in pairs])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s, _ in pairs])
        decoder = torch.tensor([[start] + t[:-1] + [pad] * (length - len(t)) for _, t in pairs])
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder).logits
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        return [[log_probs[row, i, token].item() for i, token in enumerate(t)] for row, (_, t) in enumerate(pairs)]

    targets = load_targets()
    if targets:
        record["log_probs"] = score_all(targets, score, batch_size)
    print(json.dumps(record))


def run_ctranslate2(model_dir: Path, threads: int, runs: int, batch_size: int, compute_type: str):
    import ctranslate2

    converted = model_dir / "ct2"
    if not (converted / "model.bin").is_file():
        sys.exit(f"{converted} is missing: convert first (bench/compare.sh does)")
    started = time.perf_counter()
    translator = ctranslate2.Translator(str(converted), device="cpu", compute_type=compute_type,
                                        intra_threads=threads, inter_threads=1)
    load_seconds = time.perf_counter() - started
    inputs = json.loads((model_dir / "inputs.json").read_text())
    vocab = json.loads((model_dir / "vocab.json").read_text())
    token_of = {i: t for t, i in vocab.items()}
    new_tokens = inputs["new_tokens"]

    def generate(rows, beams):
        # transformers forces <s> as BART's first generated token; here it is a target prefix, so
        # one more decoding step is allowed to give the same 80 generated tokens.
        results = translator.translate_batch(
            [[token_of[i] for i in r] for r in rows], target_prefix=[["<s>"]] * len(rows),
            beam_size=beams, length_penalty=inputs["length_penalty"], no_repeat_ngram_size=inputs["no_repeat_ngram"],
            min_decoding_length=new_tokens, max_decoding_length=new_tokens, max_batch_size=batch_size,
            batch_type="examples",
        )
        return [[vocab[t] for t in r.hypotheses[0]] for r in results]

    article = inputs["article"]
    generate([article], 1)  # warm-up

    beam_seconds, beam_ids = timed_runs(generate, article, inputs["beams"], runs)
    greedy_seconds, greedy_ids = timed_runs(generate, article, 1, runs)
    batch = batch_of(inputs)
    start = time.perf_counter()
    # CTranslate2 sorts by length and splits into max_batch_size itself.
    batch_ids = generate(batch, inputs["beams"]) if batch else []
    batch_seconds = time.perf_counter() - start
    record = dict(side=f"ctranslate2 {compute_type}", load_seconds=load_seconds, beam_seconds=beam_seconds,
                  greedy_seconds=greedy_seconds, batch_seconds=batch_seconds, peak_rss_mb=peak_rss_mb(),
                  beam_ids=beam_ids, greedy_ids=greedy_ids, batch_ids=batch_ids)

    def score(pairs):
        # score_batch starts the decoder with its start token and scores each target token (and
        # an end-of-sequence token it appends, not kept here).
        results = translator.score_batch([[token_of[i] for i in s] for s, _ in pairs], [[token_of[i] for i in t] for _, t in pairs])
        return [list(r.log_probs[: len(t)]) for r, (_, t) in zip(results, pairs)]

    targets = load_targets()
    if targets:
        record["log_probs"] = score_all(targets, score, batch_size)
    print(json.dumps(record))


def write_targets(results_path: Path, model_dir: Path):
    """The transformers (fp32) side's outputs as teacher-forcing targets, for BENCH_TARGETS."""
    inputs = json.loads((model_dir / "inputs.json").read_text())
    reference = side_records(results_path).get("transformers")
    if reference:
        print(json.dumps(targets_of(reference, inputs)))
        return
    sys.exit("no transformers side in the results: run it first (SIDES must include transformers)")


def decided(ids):
    """The tokens a model chose: without the decoder start token (transformers and precis return
    it, CTranslate2 does not) and without the last token (forced to end-of-sequence by
    transformers and precis at max_length; CTranslate2 has no such rule)."""
    return ids[1:-1] if ids and ids[0] == 2 else ids[:-1]


def speed_line(name, reference_name, side, reference, batch_inputs):
    """Speed relative to the reference (time of the reference / time of the side): >1 is faster."""
    beam = statistics.median(reference["beam_seconds"]) / statistics.median(side["beam_seconds"])
    greedy = statistics.median(reference["greedy_seconds"]) / statistics.median(side["greedy_seconds"])
    batch = reference["batch_seconds"] / side["batch_seconds"]
    return f"per article, {name} speed / {reference_name} speed: 4 beams {beam:.2f}x, greedy {greedy:.2f}x; batch {batch:.2f}x"


def report(results_path: Path, batch_inputs: int, scores_path: Path | None = None):
    sides = side_records(results_path)
    # The scoring run's log-probabilities (bench/compare.sh scores after the timed rounds).
    if scores_path and scores_path.is_file():
        for line in scores_path.read_text().splitlines():
            if line.strip():
                scored = json.loads(line)
                if scored["side"] in sides and scored.get("log_probs"):
                    sides[scored["side"]]["log_probs"] = scored["log_probs"]
    reference = sides.get("transformers")
    print(f"{'side':<20} {'load s':>7} {'4 beams s/article':>18} {'greedy s/article':>17} {'batch articles/s':>17} {'peak RSS MB':>12}   generated tokens")
    for name, r in sides.items():
        beam, greedy = statistics.median(r["beam_seconds"]), statistics.median(r["greedy_seconds"])
        print(f"{name:<20} {r['load_seconds']:>7.2f} {beam:>18.2f} {greedy:>17.2f} {batch_inputs / r['batch_seconds']:>17.3f} {r['peak_rss_mb']:>12.0f}   "
              f"{len(r['beam_ids'])} / {len(r['greedy_ids'])}")
    if reference:
        for name, r in sides.items():
            if name != "transformers":
                print(speed_line(name, "transformers", r, reference, batch_inputs))
    # precis against CTranslate2 at the matching precision (bf16 against float32: CTranslate2's
    # CPU build has no bf16 mode).
    for ours, theirs in (("precis", "ctranslate2 float32"), ("precis bf16", "ctranslate2 float32"), ("precis int8", "ctranslate2 int8")):
        if ours in sides and theirs in sides:
            print(speed_line(ours, theirs, sides[ours], sides[theirs], batch_inputs))
    if "precis int8" in sides and "ctranslate2 int8" in sides:
        print(f"peak RSS, precis int8 / ctranslate2 int8: {sides['precis int8']['peak_rss_mb']:.0f} MB / {sides['ctranslate2 int8']['peak_rss_mb']:.0f} MB")
    if not reference:
        return
    precis = sides.get("precis")
    if precis:
        same = all(precis[k] == reference[k] for k in ("beam_ids", "greedy_ids", "batch_ids"))
        print(f"ids identical (precis vs transformers, article 4 beams + greedy + batch): {'yes' if same else 'no'}")
        if not same:
            for k in ("beam_ids", "greedy_ids"):
                print(f"  {k}: {'same' if precis[k] == reference[k] else 'differ'}")
            differing = sum(a != b for a, b in zip(precis["batch_ids"], reference["batch_ids"]))
            print(f"  batch: {differing} of {len(reference['batch_ids'])} outputs differ")
    if "log_probs" not in reference:
        return
    reference_scores = reference["log_probs"]
    positions = sum(len(seq) for kind in reference_scores.values() for seq in kind)
    outputs = 2 + len(reference["batch_ids"])
    print()
    print(f"accuracy against transformers fp32: next-token log-probabilities of its outputs, teacher-forced ({positions} positions:")
    print(f"article 4 beams and greedy, {len(reference['batch_ids'])} batch inputs 4 beams), and outputs whose ids equal its ids ({outputs}: the same)")
    print(f"{'side':<20} {'mean |Δ log-prob|':>18} {'worst |Δ log-prob|':>19} {'ids as fp32':>12}")
    print(f"(ids compared without the decoder start and the final forced end-of-sequence token)")
    for name, r in sides.items():
        if name == "transformers" or not r.get("log_probs"):
            continue
        deltas = [abs(a - b) for kind in reference_scores for ours, theirs in zip(r["log_probs"][kind], reference_scores[kind]) for a, b in zip(ours, theirs)]
        if len(deltas) != positions:
            print(f"{name:<20} scored {len(deltas)} positions of {positions}: not comparable")
            continue
        equal = (decided(r["beam_ids"]) == decided(reference["beam_ids"])) + (decided(r["greedy_ids"]) == decided(reference["greedy_ids"]))
        equal += sum(decided(a) == decided(b) for a, b in zip(r["batch_ids"], reference["batch_ids"]))
        print(f"{name:<20} {statistics.fmean(deltas):>18.2e} {max(deltas):>19.2e} {equal:>7} / {outputs}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "make-model":
        make_model(Path(args[0]), *args[1:2])
    elif command == "transformers":
        run_transformers(Path(args[0]), int(args[1]), int(args[2]), int(args[3]))
    elif command == "ctranslate2":
        run_ctranslate2(Path(args[0]), int(args[1]), int(args[2]), int(args[3]), args[4])
    elif command == "targets":
        write_targets(Path(args[0]), Path(args[1]))
    elif command == "report":
        report(Path(args[0]), int(args[1]), Path(args[2]) if len(args) > 2 else None)
    else:
        sys.exit(f"unknown command {command}")
