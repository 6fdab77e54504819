#!/usr/bin/env python3
"""Random decoding settings on the fixture models: transformers 4.44.2's ids, for precis to match.

scripts/parity_random.sh runs this, then precis on the same cases (examples/parity_random.rs),
and prints how many of them gave identical ids. What "parity" means: docs/ARCHITECTURE.md.

  make OUT.json [--count 1000] [--seed 0]
      Draws COUNT cases: a fixture model (BART in fp32, fp16 and bf16, T5 v1.0, T5 v1.1,
      PEGASUS), a batch of 1-4 inputs (spans of the seed article, tokenized by the model's
      tokenizer, with its special tokens), and settings: beams 1-8, early stopping on or off,
      length penalty 0.5-3, no-repeat n-gram 0-4, min length 0-80, max length 2-142 (min <= max).
      Runs transformers' generate() on each and writes the cases with its ids.

Needs the reference packages (scripts/setup.sh --reference): transformers 4.44.2, torch 2.4.0.
"""

import argparse
import json
import random
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "models"
SEED_ARTICLE = ROOT.parent / "shared" / "seeds" / "000_edc74ea974603a46.txt"
MODELS = ["bart-tiny", "bart-tiny-fp16", "bart-tiny-bf16", "t5-tiny", "t5-v1_1-tiny", "pegasus-tiny"]


def draw_settings(rng: random.Random):
    max_length = rng.randint(2, 142)
    return {
        "num_beams": rng.randint(1, 8),
        "early_stopping": rng.random() < 0.5,
        "length_penalty": round(rng.uniform(0.5, 3.0), 3),
        "no_repeat_ngram_size": rng.randint(0, 4),
        "min_length": rng.randint(0, min(80, max_length)),
        "max_length": max_length,
    }


def make(out: Path, count: int, seed: int, article: Path):
    import torch
    import transformers
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig

    if transformers.__version__ != "4.44.2":
        sys.exit(f"transformers 4.44.2 required, found {transformers.__version__}")
    # The fixture models are tiny: more threads only add synchronization.
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    rng = random.Random(seed)
    text = article.read_text(encoding="utf-8")
    models, tokens = {}, {}
    for name in MODELS:
        model = AutoModelForSeq2SeqLM.from_pretrained(str(FIXTURES / name), torch_dtype=torch.float32).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(FIXTURES / name))
        ids = tokenizer(text)["input_ids"]
        models[name] = (model, tokenizer)
        # The article's ids without the special tokens at its ends: spans are drawn from these.
        head = 1 if model.config.model_type == "bart" else 0
        tokens[name] = (ids[:head], ids[head:-1], ids[-1:])
    cases = []
    started = time.time()
    for index in range(count):
        name = rng.choice(MODELS)
        model, tokenizer = models[name]
        first, body, last = tokens[name]
        window = min(model.config.to_dict().get("max_position_embeddings") or 256, 256) - len(first) - len(last)
        inputs = []
        for _ in range(rng.randint(1, 4)):
            length = rng.randint(1, min(window, len(body)))
            start = rng.randint(0, len(body) - length)
            inputs.append(first + body[start : start + length] + last)
        settings = draw_settings(rng)
        config = model.config
        generation = GenerationConfig(
            do_sample=False,
            num_return_sequences=1,
            use_cache=True,
            decoder_start_token_id=config.decoder_start_token_id,
            bos_token_id=config.bos_token_id,
            eos_token_id=config.eos_token_id,
            pad_token_id=config.pad_token_id,
            forced_bos_token_id=getattr(config, "forced_bos_token_id", None),
            forced_eos_token_id=getattr(config, "forced_eos_token_id", None),
            **settings,
        )
        width = max(map(len, inputs))
        input_ids = torch.tensor([row + [config.pad_token_id] * (width - len(row)) for row in inputs])
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in inputs])
        with torch.no_grad():
            output = model.generate(input_ids=input_ids, attention_mask=mask, generation_config=generation)
        cases.append({"index": index, "model": name, "inputs": inputs, "settings": settings, "ids": output.tolist()})
        if (index + 1) % 100 == 0:
            print(f"  {index + 1} cases, {time.time() - started:.0f} s", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__, "seed": seed, "cases": cases}))
    print(f"wrote {count} cases to {out}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make_parser = sub.add_parser("make")
    make_parser.add_argument("out", type=Path)
    make_parser.add_argument("--count", type=int, default=1000)
    make_parser.add_argument("--seed", type=int, default=0)
    make_parser.add_argument("--article", type=Path, default=SEED_ARTICLE)
    args = parser.parse_args()
    make(args.out, args.count, args.seed, args.article)
