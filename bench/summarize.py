"""The whole `precis summarize` against transformers doing the same generations (bench/summarize.sh).

Subcommands:
  make WORK ARTICLES.jsonl
      Random-weight models with the shapes of the default presets — the abstract and bullets
      model (sshleifer/distilbart-cnn-12-6: its config.json, prefix " ") in WORK/abstract-model,
      the headline model (JulesBelveze/t5-small-headline-generator, a t5-small) as that preset's
      pinned snapshot in a Hugging Face cache at WORK/hf-cache — built by transformers 4.44.2
      (seed 0), with one byte-level BPE tokenizer trained on the articles of ARTICLES.jsonl
      (real news text tokenizes at a realistic rate). Then the first 20 of those articles that
      fit the abstract model's window in one pass (precis would otherwise summarize chunks:
      other generations), written to WORK/articles/NN.txt.
  transformers WORK THREADS BATCH
      Loads both models and generates what precis generates for each article, with the
      presets' settings (models/*.toml): the abstract (bullets share its decoding), then the
      headline from the article's opening that fits the headline window. Inputs are batched as
      precis batches them (sorted by length, up to BATCH, the longest at most 1.5 × the
      shortest); BATCH=1 is one article at a time. Prints one JSON line.
"""

import json
import random
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = 20
# sshleifer/distilbart-cnn-12-6's config.json (its generation settings are the preset's).
DISTILBART_12_6 = dict(
    vocab_size=50264, d_model=1024, encoder_layers=12, decoder_layers=6,
    encoder_attention_heads=16, decoder_attention_heads=16,
    encoder_ffn_dim=4096, decoder_ffn_dim=4096, max_position_embeddings=1024,
    activation_function="gelu", normalize_before=False, add_final_layer_norm=False,
    scale_embedding=False, normalize_embedding=True, static_position_embeddings=False,
    add_bias_logits=False, extra_pos_embeddings=2, prefix=" ",
    bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2,
    forced_bos_token_id=0, forced_eos_token_id=2, init_std=0.02,
)
# t5-small's config.json (JulesBelveze/t5-small-headline-generator is a fine-tuned t5-small).
T5_SMALL = dict(
    vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6, num_heads=8,
    relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="relu",
    tie_word_embeddings=True, n_positions=512, layer_norm_epsilon=1e-6,
    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, initializer_factor=1.0,
)


def preset(name):
    return tomllib.loads((ROOT / "models" / f"{name}.toml").read_text())


def train_tokenizer(texts, vocab_size, specials, template):
    """Byte-level BPE trained on `texts`, with `specials` first and `template` ("$A </s>" or
    "<s> $A </s>") around every input, as the model's own tokenizer adds them."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, tokenizer.token_to_id(t)) for t in specials if t in template]
    )
    return tokenizer


def make(work: Path, articles_path: Path):
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, T5Config, T5ForConditionalGeneration

    rows = [json.loads(line) for line in articles_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [row["article"] for row in rows]
    work.mkdir(parents=True, exist_ok=True)

    abstract_dir = work / "abstract-model"
    abstract_dir.mkdir(exist_ok=True)
    torch.manual_seed(0)
    BartForConditionalGeneration(BartConfig(**DISTILBART_12_6)).eval().save_pretrained(abstract_dir, safe_serialization=True)
    bart_tok = train_tokenizer(texts, 50264, ["<s>", "<pad>", "</s>", "<unk>"], "<s> $A </s>")
    bart_tok.save(str(abstract_dir / "tokenizer.json"))
    (abstract_dir / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "sep_token": "</s>", "cls_token": "<s>"}))

    headline = preset("t5-small-headline")
    snapshot = work / "hf-cache" / f"models--{headline['repo'].replace('/', '--')}" / "snapshots" / headline["revision"]
    snapshot.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    T5ForConditionalGeneration(T5Config(**T5_SMALL)).eval().save_pretrained(snapshot, safe_serialization=True)
    t5_tok = train_tokenizer(texts, 32128, ["<pad>", "</s>", "<unk>"], "$A </s>")
    t5_tok.save(str(snapshot / "tokenizer.json"))
    (snapshot / "special_tokens_map.json").write_text(json.dumps({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}))

    window = preset("distilbart-cnn-12-6")["window"]
    articles = work / "articles"
    articles.mkdir(exist_ok=True)
    chosen = 0
    for row in rows:
        # precis reads normalized text; 100 tokens of margin keep it within the window there too.
        if len(bart_tok.encode(" " + " ".join(row["article"].split())).ids) <= window - 100:
            (articles / f"{chosen:02}.txt").write_text(row["article"] + "\n", encoding="utf-8")
            chosen += 1
            if chosen == ARTICLES:
                break
    if chosen < ARTICLES:
        sys.exit(f"only {chosen} articles of {articles_path} fit the window")
    print(f"built the models in {work}; {chosen} articles in {articles}", file=sys.stderr)


def settings(preset_settings, model):
    config = model.config
    return dict(
        min_length=preset_settings["min_tokens"], max_length=preset_settings["max_tokens"], num_beams=preset_settings["beams"],
        length_penalty=preset_settings["length_penalty"], no_repeat_ngram_size=preset_settings["no_repeat_ngram"],
        early_stopping=preset_settings["early_stopping"], do_sample=False,
        decoder_start_token_id=config.decoder_start_token_id, bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id, forced_bos_token_id=getattr(config, "forced_bos_token_id", None),
        forced_eos_token_id=getattr(config, "forced_eos_token_id", None),
    )


def batches(lengths, size):
    """precis's `pipeline::length_batches`: sorted by length, up to `size`, longest ≤ 1.5 × shortest."""
    groups = []
    for index in sorted(range(len(lengths)), key=lambda i: (lengths[i], i)):
        if groups and len(groups[-1]) < size and lengths[index] <= max(lengths[groups[-1][0]], 1) * 1.5:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def run_transformers(work: Path, threads: int, batch_size: int):
    started = time.perf_counter()
    import torch
    from transformers import AutoModelForSeq2SeqLM, GenerationConfig, PreTrainedTokenizerFast

    torch.set_num_threads(threads)
    abstract_preset, headline_preset = preset("distilbart-cnn-12-6"), preset("t5-small-headline")
    snapshot = work / "hf-cache" / f"models--{headline_preset['repo'].replace('/', '--')}" / "snapshots" / headline_preset["revision"]
    abstract_model = AutoModelForSeq2SeqLM.from_pretrained(work / "abstract-model").eval()
    headline_model = AutoModelForSeq2SeqLM.from_pretrained(snapshot).eval()
    abstract_tok = PreTrainedTokenizerFast(tokenizer_file=str(work / "abstract-model" / "tokenizer.json"), pad_token="<pad>")
    headline_tok = PreTrainedTokenizerFast(tokenizer_file=str(snapshot / "tokenizer.json"), pad_token="<pad>")
    loaded = time.perf_counter() - started

    texts = [" ".join(p.read_text(encoding="utf-8").split()) for p in sorted((work / "articles").glob("*.txt"))]
    abstract_inputs = [abstract_tok(abstract_preset["prefix"] + t)["input_ids"] for t in texts]
    # The headline model reads the article's opening: as many whole sentences as its window holds.
    headline_inputs = []
    for text in texts:
        sentences = [s for s in text.replace("? ", "?\n").replace("! ", "!\n").replace(". ", ".\n").split("\n") if s]
        ids = headline_tok(headline_preset["prefix"] + sentences[0])["input_ids"][: headline_preset["window"]]
        for count in range(2, len(sentences) + 1):
            longer = headline_tok(headline_preset["prefix"] + " ".join(sentences[:count]))["input_ids"]
            if len(longer) > headline_preset["window"]:
                break
            ids = longer
        headline_inputs.append(ids)

    def generate(model, inputs, config):
        outputs = [None] * len(inputs)
        for group in batches([len(i) for i in inputs], batch_size):
            rows = [inputs[i] for i in group]
            width = max(map(len, rows))
            ids = torch.tensor([r + [model.config.pad_token_id] * (width - len(r)) for r in rows])
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
            for i, row in zip(group, out.tolist()):
                outputs[i] = row
        return outputs

    generation_started = time.perf_counter()
    abstract_config = GenerationConfig(**settings(abstract_preset["generation"]["abstract"], abstract_model))
    headline_config = GenerationConfig(**settings(headline_preset["generation"]["headline"], headline_model))
    abstracts = generate(abstract_model, abstract_inputs, abstract_config)
    headlines = generate(headline_model, headline_inputs, headline_config)
    print(json.dumps(dict(
        side="transformers", articles=len(texts), load_seconds=loaded, generate_seconds=time.perf_counter() - generation_started,
        abstract_input_tokens=[len(i) for i in abstract_inputs], headline_input_tokens=[len(i) for i in headline_inputs],
        abstract_tokens=[len(a) for a in abstracts], headline_tokens=[len(h) for h in headlines],
    )))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "make":
        make(Path(args[0]), Path(args[1]))
    elif command == "transformers":
        run_transformers(Path(args[0]), int(args[1]), int(args[2]))
    else:
        sys.exit(f"unknown command {command}")
