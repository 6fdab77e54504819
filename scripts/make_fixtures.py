#!/usr/bin/env python3
"""Generate the tiny random-weight fixture models and the reference outputs.

The fixtures let the Rust tests check that precis (rust-bert 0.23 / libtorch 2.4.0)
tokenizes and decodes exactly like the reference implementation (transformers 4.44.2
on torch 2.4.0) without any real, downloaded weights.

What it writes (paths relative to the project root):

  tests/fixtures/models/bart-tiny/         BART, byte-level BPE tokenizer, save_pretrained safetensors
  tests/fixtures/models/bart-tiny-hubfmt/  same weights and tokenizer; model.safetensors laid out the way
                                           the Hub's SFconvertbot writes it since safetensors PR #384
                                           (tied embedding kept only as model.decoder.embed_tokens.weight)
  tests/fixtures/models/bart-tiny-fp16/    same model saved in float16
  tests/fixtures/models/bart-tiny-bin/     bart-tiny's weights as a PyTorch pickle only (pytorch_model.bin)
  tests/fixtures/models/bart-tiny-sharded/ bart-tiny's weights as sharded safetensors (+ model.safetensors.index.json)
  tests/fixtures/models/bart-tiny-bf16/    bart-tiny's weights saved in bfloat16
  tests/fixtures/models/t5-tiny/           T5 v1.0 (tied, relu), SentencePiece unigram tokenizer
  tests/fixtures/models/t5-v1_1-tiny/      T5 v1.1 / FLAN-T5 style (gated-gelu, untied LM head), weights as
                                           sharded PyTorch pickles (+ pytorch_model.bin.index.json)
  tests/fixtures/models/pegasus-tiny/      Pegasus, SentencePiece unigram tokenizer (offset 103)
  tests/fixtures/pickles/                  small torch.save checkpoints (zip and legacy format, a foreign
                                           global) for the Rust pickle reader, with the expected values
  tests/fixtures/reference_outputs.json    tokenizer ids and generate() ids for fixed inputs

The layout variants of a model (…-bin, …-sharded, …-bf16, t5-v1_1-tiny) link their tokenizer files
to the base model's directory (relative symlinks) instead of copying them.

The tokenizers are trained on the project's founding article only
(../shared/seeds/000_edc74ea974603a46.txt beside the project root, or --seed-text PATH).

Everything is deterministic: running the script twice gives byte-identical files.

Usage (from the project root):
    .venv/bin/python scripts/make_fixtures.py
    .venv/bin/python scripts/make_fixtures.py --out-dir /tmp/fixtures-check   # write elsewhere
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import logging
import re
import shutil
import struct
import sys
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

REQUIRED_TRANSFORMERS = "4.44.2"
REQUIRED_TORCH = "2.4.0"

SCRIPT_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = SCRIPT_DIR.parent
SEED_NAME = "000_edc74ea974603a46.txt"
DEFAULT_SEED = SCRIPT_DIR / ".." / ".." / "shared" / "seeds" / SEED_NAME

SEED = 20241128  # one fixed seed; each model derives its own from it
T5_V11_SEED_OFFSET = 0  # picked like the others (see WEIGHT_SEED)
MAX_POSITIONS = 256  # the models' (and tokenizers') window

# Random weights at the usual init scale (std 0.02) give a decoder that ignores the encoder
# (every input yields the same ids) and never emits EOS. A larger init scale makes the output
# depend on the input, and a longer EOS embedding row (tied, so it is also the EOS output row)
# makes some generations stop on their own, which exercises min_length, beam hypotheses finishing
# early and padded batch outputs. Both are plain weights: any engine must reproduce them.
BART_INIT_STD = 0.2
T5_INIT_FACTOR = 4.0
PEGASUS_INIT_STD = 0.2
EOS_ROW_SCALE = {"bart": 5.0, "t5": 3.0, "pegasus": 5.0, "t5-v1_1": 3.0}
# Weight seeds, picked by trying a handful so that every greedy step of the single-input cases wins
# by a processed-logit margin of at least 0.01 (0.02 in practice: float noise in another engine
# cannot flip it; see min_top2_logit_margin in the JSON) and so that some outputs stop on EOS
# while others run to max_length. The script warns if a margin drops below 0.001.
WEIGHT_SEED = {"bart": SEED + 191, "t5": SEED + 2, "pegasus": SEED + 23, "t5-v1_1": SEED + T5_V11_SEED_OFFSET}

BART_VOCAB_TARGET = 800
T5_SPM_PIECES = 340  # the seed article supports at most 347 unigram pieces
PEGASUS_SPM_PIECES = 320  # differs from T5 on purpose: a mixed-up tokenizer shows

T5_PREFIX = "summarize: "

# Shard sizes that split the tiny weights into a few files, as large checkpoints are on the Hub.
BART_SHARD_SIZE = "200KB"
T5_V11_SHARD_SIZE = "150KB"

# Extra strings whose ids are recorded (tokenizer parity only, no generation):
# unicode outside the training text, digits, odd whitespace, special-token text.
TOKENIZER_CHECKS = [
    "Café prices in Zürich rose 7.5% — to €3.50!",
    "  Leading spaces,\ttabs and\nnewlines  ",
    "U.N. peacekeeping: Japan’s “two-plus-two” talks (2015).",
]


# --------------------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------------------


def check_versions():
    import torch
    import transformers

    tv = transformers.__version__
    pv = torch.__version__
    print(f"found transformers=={tv}, torch=={pv}")
    problems = []
    if tv != REQUIRED_TRANSFORMERS:
        problems.append(f"transformers=={REQUIRED_TRANSFORMERS} required, found {tv}")
    if pv.split("+")[0] != REQUIRED_TORCH:
        problems.append(f"torch=={REQUIRED_TORCH} required, found {pv}")
    if problems:
        for p in problems:
            print("error: " + p, file=sys.stderr)
        print("refusing to run: the reference outputs must come from the pinned versions", file=sys.stderr)
        sys.exit(2)


def versions():
    import safetensors
    import sentencepiece
    import tokenizers
    import torch
    import transformers

    return {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "sentencepiece": sentencepiece.__version__,
        "safetensors": safetensors.__version__,
    }


# --------------------------------------------------------------------------------------
# seed text
# --------------------------------------------------------------------------------------


def load_seed(path: Path):
    raw = path.read_text(encoding="utf-8")
    text = raw.replace("\r\n", "\n").strip()
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    # the joined prefixes must be verbatim slices of the article
    for k in range(1, len(paragraphs) + 1):
        assert "\n\n".join(paragraphs[:k]) in text, "paragraph split is not verbatim"
    first_sentence = re.match(r"(.+?[.!?])(\s|$)", paragraphs[0], re.S).group(1)
    return raw, text, paragraphs, first_sentence


# --------------------------------------------------------------------------------------
# tokenizers
# --------------------------------------------------------------------------------------


def train_bart_tokenizer(paragraphs, out_dir: Path):
    """Byte-level BPE like roberta/bart: <s>=0 <pad>=1 </s>=2 <unk>=3 ... <mask>=last."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartTokenizerFast

    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(
        paragraphs,
        vocab_size=BART_VOCAB_TARGET - 1,  # <mask> is appended afterwards
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        show_progress=False,
    )
    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        vocab = json.loads(Path(tmp, "vocab.json").read_text(encoding="utf-8"))
        assert [vocab[t] for t in ["<s>", "<pad>", "</s>", "<unk>"]] == [0, 1, 2, 3]
        assert "<mask>" not in vocab
        vocab["<mask>"] = len(vocab)
        Path(tmp, "vocab.json").write_text(
            json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
        tok = BartTokenizerFast(
            vocab_file=str(Path(tmp, "vocab.json")),
            merges_file=str(Path(tmp, "merges.txt")),
            model_max_length=MAX_POSITIONS,
        )
        tok.save_pretrained(str(out_dir))
    assert tok.convert_tokens_to_ids("<mask>") == len(tok) - 1
    return tok


def train_spm(paragraphs, vocab_size: int) -> bytes:
    """SentencePiece unigram with T5/Pegasus ids: pad=0 eos=1 unk=2, no bos."""
    import sentencepiece as spm

    spm.set_random_generator_seed(SEED)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(paragraphs),
        model_writer=buf,
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        normalization_rule_name="nmt_nfkc",
        num_threads=1,
        minloglevel=2,
    )
    return buf.getvalue()


def build_t5_tokenizer(paragraphs, out_dir: Path):
    from transformers import T5TokenizerFast

    with tempfile.TemporaryDirectory() as tmp:
        spm_path = Path(tmp, "spiece.model")
        spm_path.write_bytes(train_spm(paragraphs, T5_SPM_PIECES))
        # legacy=True: the behaviour of t5-small/t5-base's own tokenizer files
        fast = T5TokenizerFast(
            vocab_file=str(spm_path), model_max_length=MAX_POSITIONS, legacy=True, from_slow=True
        )
        fast.save_pretrained(str(out_dir))
    return fast


def build_pegasus_tokenizer(paragraphs, out_dir: Path):
    from transformers import PegasusTokenizerFast

    with tempfile.TemporaryDirectory() as tmp:
        spm_path = Path(tmp, "spiece.model")
        spm_path.write_bytes(train_spm(paragraphs, PEGASUS_SPM_PIECES))
        fast = PegasusTokenizerFast(vocab_file=str(spm_path), model_max_length=MAX_POSITIONS, from_slow=True)
        fast.save_pretrained(str(out_dir))
    return fast


def slow_tokenizer_for(arch: str, model_dir: Path):
    from transformers import BartTokenizer, PegasusTokenizer, T5Tokenizer

    if arch == "bart":
        return BartTokenizer.from_pretrained(str(model_dir))
    if arch == "t5":
        return T5Tokenizer.from_pretrained(str(model_dir), legacy=True)
    return PegasusTokenizer.from_pretrained(str(model_dir))


def fast_tokenizer_for(arch: str, model_dir: Path):
    from transformers import BartTokenizerFast, PegasusTokenizerFast, T5TokenizerFast

    cls = {"bart": BartTokenizerFast, "t5": T5TokenizerFast, "pegasus": PegasusTokenizerFast}[arch]
    # tokenizer.json only: the same file the Rust side loads
    return cls.from_pretrained(str(model_dir))


# --------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------


def bart_config(vocab_size: int):
    from transformers import BartConfig

    return BartConfig(
        vocab_size=vocab_size,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=MAX_POSITIONS,
        init_std=BART_INIT_STD,
        activation_function="gelu",
        scale_embedding=False,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        architectures=["BartForConditionalGeneration"],
        # bart-large-cnn style knobs that rust-bert reads or that HF keeps in its config.json
        add_bias_logits=False,
        add_final_layer_norm=False,
        normalize_before=False,
        normalize_embedding=True,
        output_past=True,
        static_position_embeddings=False,
    )


def t5_config(vocab_size: int):
    from transformers import T5Config

    return T5Config(
        vocab_size=vocab_size,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=128,
        feed_forward_proj="relu",
        initializer_factor=T5_INIT_FACTOR,
        tie_word_embeddings=True,
        n_positions=MAX_POSITIONS,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        architectures=["T5ForConditionalGeneration"],
        output_past=True,
    )


def t5_v11_config(vocab_size: int):
    """T5 v1.1 / FLAN-T5: gated-GELU feed-forward, LM head not tied to the embeddings, and the
    task_specific_params FLAN-T5 and t5-small carry (all four tasks, so that rust-bert parses it)."""
    from transformers import T5Config

    tasks = {
        "summarization": {
            "early_stopping": True,
            "length_penalty": 2.0,
            "max_length": 200,
            "min_length": 30,
            "no_repeat_ngram_size": 3,
            "num_beams": 4,
            "prefix": T5_PREFIX,
        },
        "translation_en_to_de": {"early_stopping": True, "max_length": 300, "num_beams": 4, "prefix": "translate English to German: "},
        "translation_en_to_fr": {"early_stopping": True, "max_length": 300, "num_beams": 4, "prefix": "translate English to French: "},
        "translation_en_to_ro": {"early_stopping": True, "max_length": 300, "num_beams": 4, "prefix": "translate English to Romanian: "},
    }
    return T5Config(
        vocab_size=vocab_size,
        d_model=32,
        d_kv=8,
        d_ff=48,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu",
        initializer_factor=T5_INIT_FACTOR,
        tie_word_embeddings=False,
        n_positions=MAX_POSITIONS,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        architectures=["T5ForConditionalGeneration"],
        output_past=True,
        task_specific_params=tasks,
    )


def pegasus_config(vocab_size: int):
    from transformers import PegasusConfig

    return PegasusConfig(
        vocab_size=vocab_size,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=MAX_POSITIONS,
        init_std=PEGASUS_INIT_STD,
        activation_function="relu",  # as google/pegasus-*
        scale_embedding=True,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=1,
        architectures=["PegasusForConditionalGeneration"],
        normalize_before=True,
        output_past=True,
    )


def new_model(cls, config, seed: int, eos_row_scale: float):
    import torch

    torch.manual_seed(seed)
    model = cls(config)
    model.eval()
    emb = model.get_input_embeddings().weight
    out = model.get_output_embeddings().weight
    tied = getattr(config, "tie_word_embeddings", True)
    assert (out.data_ptr() == emb.data_ptr()) == tied, "embeddings must be tied exactly when the config says so"
    with torch.no_grad():
        emb[config.eos_token_id] *= eos_row_scale
        if not tied:
            out[config.eos_token_id] *= eos_row_scale
    return model


def link_tokenizer_files(base_dir: Path, out_dir: Path):
    """Relative symlinks to the base model's tokenizer files: the variants share its tokenizer."""
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "spiece.model"]:
        if (base_dir / name).exists():
            (out_dir / name).symlink_to(Path("..") / base_dir.name / name)


def rewrite_config_without(model_dir: Path, keys):
    """Drop keys from config.json, keeping key order and HF's formatting."""
    path = model_dir / "config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    for k in keys:
        cfg.pop(k, None)
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# SFconvertbot emulation (safetensors bindings/python/convert.py, since PR #384, 2023-11-17)
# --------------------------------------------------------------------------------------


def bot_remove_duplicate_names(state_dict, discard_names):
    """The bot's `_remove_duplicate_names` with preferred_names=None."""
    from safetensors.torch import _find_shared_tensors, _is_complete

    discard_names = set(discard_names)
    to_remove = defaultdict(list)
    for shared in _find_shared_tensors(state_dict):
        complete_names = {name for name in shared if _is_complete(state_dict[name])}
        if not complete_names:
            if len(shared) == 1:
                name = list(shared)[0]
                state_dict[name] = state_dict[name].clone()
                complete_names = {name}
            else:
                raise RuntimeError(f"no complete name among {shared}")
        keep_name = sorted(complete_names)[0]
        preferred = complete_names.difference(discard_names)
        if preferred:
            keep_name = sorted(preferred)[0]
        for name in sorted(shared):
            if name != keep_name:
                to_remove[keep_name].append(name)
    return to_remove


def write_bot_safetensors(model, path: Path, drop_lm_head=True):
    """Write model.safetensors as the bot's convert_file() does from a pytorch_model.bin.

    The bot loads the pickle (whose tied tensors share storage), discards the names in
    `<Arch>._tied_weights_keys` where it can, keeps the sorted-first remaining name and records
    the others as aliases in __metadata__.  For BART the kept name is
    model.decoder.embed_tokens.weight.

    facebook/bart-large-cnn's pickle dates from before BART had an lm_head module, so it has no
    lm_head.weight entry and its converted header aliases only model.shared.weight and
    model.encoder.embed_tokens.weight; drop_lm_head=True reproduces that layout.
    """
    import torch
    from safetensors.torch import load_file, save_file

    # round-trip through a real pickle so storage sharing is exactly what the bot sees
    buf = io.BytesIO()
    state = model.state_dict()
    if drop_lm_head:
        state = {k: v for k, v in state.items() if k != "lm_head.weight"}
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, map_location="cpu", weights_only=True)

    discard_names = getattr(type(model), "_tied_weights_keys", [])
    to_removes = bot_remove_duplicate_names(loaded, discard_names=discard_names)
    metadata = {"format": "pt"}
    for kept_name, group in to_removes.items():
        for name in group:
            if name not in metadata:
                metadata[name] = kept_name
            del loaded[name]
    loaded = {k: v.contiguous() for k, v in loaded.items()}
    save_file(loaded, str(path), metadata=metadata)
    sort_safetensors_metadata(path)
    reloaded = load_file(str(path))
    for k in loaded:
        assert torch.equal(loaded[k], reloaded[k]), k
    return metadata


def sort_safetensors_metadata(path: Path):
    """Rewrite the header with __metadata__ in sorted key order.

    safetensors serializes __metadata__ from a hash map, so its key order changes from run to run;
    sorting it (same bytes otherwise, same length) keeps the fixture byte-for-byte reproducible.
    """
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(bytes(data[8 : 8 + n]), object_pairs_hook=dict)
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert len(raw) <= n, "re-serialized header is longer"
    raw = raw + b" " * (n - len(raw))  # safetensors pads the header with spaces
    data[8 : 8 + n] = raw
    path.write_bytes(bytes(data))


def read_safetensors_header(path: Path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


WEIGHTS_FILES = [
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
]


def weights_file(model_dir: Path) -> str:
    """The weights file of a fixture directory (the first form present, as precis picks it)."""
    for name in WEIGHTS_FILES:
        if (model_dir / name).exists():
            return name
    raise FileNotFoundError(f"no weights in {model_dir}")


def file_state_dict(model_dir: Path):
    """Tensors of the directory's weights (any form) with the __metadata__ aliases (SFconvertbot) filled in."""
    import torch
    from safetensors.torch import load_file

    name = weights_file(model_dir)
    if name.endswith(".index.json"):
        shards = sorted(set(json.loads((model_dir / name).read_text())["weight_map"].values()))
        paths = [model_dir / shard for shard in shards]
    else:
        paths = [model_dir / name]
    sd = {}
    for path in paths:
        if path.suffix == ".safetensors":
            part = load_file(str(path))
            meta = read_safetensors_header(path).get("__metadata__", {})
            for alias, target in meta.items():
                if alias != "format" and target in part and alias not in part:
                    part[alias] = part[target]
        else:
            part = torch.load(str(path), map_location="cpu", weights_only=True)
        sd.update(part)
    return sd


def weights_mismatch(model, model_dir: Path):
    """Names whose loaded float32 value differs from the file (cast to float32).

    A name absent from the file is checked against a file tensor it is tied to (same storage in the
    model), as save_pretrained stores tied weights once.
    """
    import torch

    msd = model.state_dict()
    fsd = file_state_dict(model_dir)
    bad = []
    for name, t in msd.items():
        ref = fsd.get(name)
        if ref is None:
            tied = [n for n, u in msd.items() if n in fsd and u.data_ptr() == t.data_ptr()]
            if not tied:
                bad.append(name + " (absent from file, tied to nothing in it)")
                continue
            ref = fsd[tied[0]]
        if not torch.equal(t, ref.to(torch.float32)):
            bad.append(name)
    return sorted(bad)


def load_by_hand(model_dir: Path):
    """from_config + load_state_dict (in-place copies, so tied parameters stay tied)."""
    import torch
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    config = AutoConfig.from_pretrained(str(model_dir))
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(config, torch_dtype=torch.float32)
    model.tie_weights()
    sd = {k: v.to(torch.float32) for k, v in file_state_dict(model_dir).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    msd = model.state_dict()
    for name in missing:  # only tied copies of loaded tensors may be missing
        assert any(n in sd and msd[n].data_ptr() == msd[name].data_ptr() for n in msd), name
    model.eval()
    return model


# --------------------------------------------------------------------------------------
# reference generation
# --------------------------------------------------------------------------------------


def generation_settings(config, mode: str):
    common = {
        "do_sample": False,
        "min_length": 5,
        "max_length": 20,
        "no_repeat_ngram_size": 3,
        "num_return_sequences": 1,
        "repetition_penalty": 1.0,
        "encoder_no_repeat_ngram_size": 0,
        "num_beam_groups": 1,
        "diversity_penalty": 0.0,
        "bad_words_ids": None,
        "use_cache": True,
        # token ids: taken from config.json, nothing else
        "decoder_start_token_id": config.decoder_start_token_id,
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
        "pad_token_id": config.pad_token_id,
        "forced_bos_token_id": getattr(config, "forced_bos_token_id", None),
        "forced_eos_token_id": getattr(config, "forced_eos_token_id", None),
    }
    if mode == "greedy":
        return {"num_beams": 1, **common, "length_penalty": 1.0, "early_stopping": False}
    if mode == "beam":
        return {"num_beams": 4, **common, "length_penalty": 2.0, "early_stopping": True}
    raise ValueError(mode)


def run_generate(model, input_ids, attention_mask, settings):
    import torch
    from transformers import GenerationConfig

    gc = GenerationConfig(**settings)
    with torch.no_grad():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=gc,
            output_scores=True,
            return_dict_in_generate=True,
        )
    seqs = out.sequences.tolist()
    extra = {}
    if settings["num_beams"] == 1:
        # per step: processed-logit gap between the chosen token and the runner-up, a measure
        # of how robust each greedy choice is to float noise in another engine
        margins = []
        for step_scores in out.scores:
            top2 = torch.topk(step_scores.float(), 2, dim=-1).values
            margins.append((top2[:, 0] - top2[:, 1]).tolist())
        per_item = []
        eos = settings["eos_token_id"]
        for b in range(len(seqs)):
            # step i chose seqs[b][i + 1]; steps after this item's EOS only produced padding
            ends = [j for j in range(1, len(seqs[b])) if seqs[b][j] == eos]
            last_step = ends[0] - 1 if ends else len(margins) - 1
            vals = [m[b] for m in margins[: last_step + 1]]
            # forced steps (forced BOS/EOS) have an infinite gap: ignore them
            finite = [v for v in vals if v != float("inf")]
            per_item.append(round(min(finite), 6) if finite else None)
        extra["min_top2_logit_margin"] = per_item
    else:
        extra["sequences_scores"] = [round(float(s), 6) for s in out.sequences_scores]
    return seqs, extra


def encode(tok, texts, truncate=False):
    if truncate:
        enc = tok(texts, padding=True, return_tensors="pt", truncation=True, max_length=MAX_POSITIONS)
    else:
        enc = tok(texts, padding=True, return_tensors="pt", truncation=False)
    return enc["input_ids"], enc["attention_mask"]


def longest_fitting_prefix(tok, paragraphs, prefix):
    best = None
    for k in range(1, len(paragraphs) + 1):
        text = "\n\n".join(paragraphs[:k])
        n = len(tok(prefix + text, verbose=False)["input_ids"])
        if n <= MAX_POSITIONS:
            best = (k, text, n)
        else:
            break
    assert best is not None, "not even the first paragraph fits"
    return best


def reference_for_model(entry, model_dir: Path, paragraphs, first_sentence):
    import torch
    from tokenizers import Tokenizer as RawTokenizer
    from transformers import AutoModelForSeq2SeqLM

    arch = entry["model_type"]
    prefix = T5_PREFIX if arch == "t5" else ""
    tok = fast_tokenizer_for(arch, model_dir)
    slow = slow_tokenizer_for(arch, model_dir)
    raw_tok = RawTokenizer.from_file(str(model_dir / "tokenizer.json"))

    model = AutoModelForSeq2SeqLM.from_pretrained(str(model_dir), torch_dtype=torch.float32)
    model.eval()
    bad = weights_mismatch(model, model_dir)
    entry["transformers_from_pretrained_loads_weights_correctly"] = not bad
    if bad:
        # transformers 4.44.2 loads with assign=True when the file's first tensor has the model's
        # dtype, which replaces the tied Parameter that was loaded and then re-ties it to the
        # never-loaded model.shared.weight: the SFconvertbot layout comes out with random
        # embeddings and no warning. The reference must be the correctly loaded model.
        entry["transformers_from_pretrained_mismatched_tensors"] = bad
        print(f"  {model_dir.name}: transformers from_pretrained mis-loads {bad}; loading by hand")
        model = load_by_hand(model_dir)
        assert not weights_mismatch(model, model_dir)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    config = model.config

    settings = {m: generation_settings(config, m) for m in ("greedy", "beam")}

    k_full, text_full, n_full = longest_fitting_prefix(tok, paragraphs, prefix)
    inputs = [
        ("one_sentence", first_sentence, {"source": "first sentence of the seed article"}),
        ("two_paragraphs", "\n\n".join(paragraphs[:2]), {"source": "paragraphs 1-2 of the seed article"}),
        (
            "article_window",
            text_full,
            {
                "source": (
                    "whole seed article"
                    if k_full == len(paragraphs)
                    else f"longest prefix of whole paragraphs that fits {MAX_POSITIONS} tokens"
                ),
                "paragraphs": k_full,
                "paragraphs_in_article": len(paragraphs),
            },
        ),
        (
            "article_truncated",
            "\n\n".join(paragraphs),
            {
                "source": (
                    f"whole seed article, truncated by the tokenizer to {MAX_POSITIONS} ids "
                    f"(truncation=True, max_length={MAX_POSITIONS}: the special tokens are kept)"
                ),
                "truncation": {"max_length": MAX_POSITIONS, "strategy": "longest_first"},
            },
        ),
    ]

    cases = []
    for name, text, info in inputs:
        full = prefix + text
        truncate = "truncation" in info
        ids, mask = encode(tok, [full], truncate=truncate)
        ids_list = ids[0].tolist()
        if truncate:
            slow_ids = slow(full, truncation=True, max_length=MAX_POSITIONS)["input_ids"]
            raw_tok.enable_truncation(MAX_POSITIONS)
            json_ids = raw_tok.encode(full).ids
            raw_tok.no_truncation()
        else:
            slow_ids = slow(full)["input_ids"]
            json_ids = raw_tok.encode(full).ids
        assert len(ids_list) <= MAX_POSITIONS
        case = {
            "name": name,
            **info,
            "prefix": prefix,
            "text": text,
            "input_ids": ids_list,
            "num_input_ids": len(ids_list),
            "slow_tokenizer_agrees": slow_ids == ids_list,
            "tokenizer_json_agrees": json_ids == ids_list,
            "outputs": {},
        }
        same = [c["name"] for c in cases if c["prefix"] + c["text"] == full and c["input_ids"] == ids_list]
        if same:
            case["same_input_as"] = same[0]
        for mode in ("greedy", "beam"):
            seqs, extra = run_generate(model, ids, mask, settings[mode])
            margin = extra.get("min_top2_logit_margin", [None])[0]
            if margin is not None and margin < 1e-3:
                print(f"  warning: {model_dir.name}/{name}/{mode}: small greedy margin {margin}")
            case["outputs"][mode] = {
                "ids": seqs[0],
                "text": tok.decode(seqs[0], skip_special_tokens=True),
                **{k: v[0] for k, v in extra.items()},
            }
        cases.append(case)

    # batched: (a) and (b) together, right-padded, with attention mask
    batch_texts = [prefix + cases[0]["text"], prefix + cases[1]["text"]]
    ids, mask = encode(tok, batch_texts)
    batch = {
        "names": [cases[0]["name"], cases[1]["name"]],
        "prefix": prefix,
        "texts": [cases[0]["text"], cases[1]["text"]],
        "padding_side": tok.padding_side,
        "pad_token_id": tok.pad_token_id,
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "outputs": {},
    }
    for mode in ("greedy", "beam"):
        seqs, extra = run_generate(model, ids, mask, settings[mode])
        batch["outputs"][mode] = {
            "ids": seqs,
            "output_pad_token_id": settings[mode]["pad_token_id"],
            "texts": [tok.decode(s, skip_special_tokens=True) for s in seqs],
            "same_as_unbatched": [
                [t for t in seqs[i] if t != settings[mode]["pad_token_id"]]
                == [t for t in cases[i]["outputs"][mode]["ids"] if t != settings[mode]["pad_token_id"]]
                for i in range(2)
            ],
            **extra,
        }

    checks = []
    for text in TOKENIZER_CHECKS:
        fast_ids = tok(text)["input_ids"]
        checks.append(
            {
                "text": text,
                "input_ids": fast_ids,
                "tokens": tok.convert_ids_to_tokens(fast_ids),
                "slow_tokenizer_agrees": slow(text)["input_ids"] == fast_ids,
                "tokenizer_json_agrees": raw_tok.encode(text).ids == fast_ids,
                "decoded": tok.decode(fast_ids, skip_special_tokens=True),
            }
        )

    entry.update(
        {
            "vocab_size": config.vocab_size,
            "len_tokenizer": len(tok),
            "special_token_ids": {
                "pad": tok.pad_token_id,
                "eos": tok.eos_token_id,
                "unk": tok.unk_token_id,
                "bos": getattr(tok, "bos_token_id", None),
                "mask": getattr(tok, "mask_token_id", None),
            },
            "generation_settings": settings,
            "cases": cases,
            "batch": batch,
            "tokenizer_checks": checks,
        }
    )
    return entry


# --------------------------------------------------------------------------------------
# pickles for the Rust reader
# --------------------------------------------------------------------------------------


class ForeignGlobal:
    """Pickles as a call of os.system: what a hostile checkpoint looks like. Never unpickled here."""

    def __reduce__(self):
        import os

        return (os.system, ("echo precis must never run this",))


def pickle_state_dict():
    """A small state dict with what real checkpoints hold: fp32, fp16, bf16 and int64 tensors, a
    transposed (non-contiguous) view, a slice at an offset into a shared storage, two names for one
    tensor, and the `_metadata` attribute of module state dicts."""
    import torch
    from collections import OrderedDict

    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4 - 1
    sd = OrderedDict()
    sd["float"] = base
    sd["float_again"] = base  # one tensor under two names (tied weights)
    sd["transposed"] = base.t()
    sd["slice"] = base.flatten()[5:9]
    sd["half"] = torch.tensor([0.5, -1.25, 3.0e-3, 65504.0], dtype=torch.float16)
    sd["bfloat"] = torch.tensor([[1.5, -2.0], [1.0e30, -3.0e-20]], dtype=torch.bfloat16)
    sd["long"] = torch.tensor([0, 1, -5, 2**40], dtype=torch.int64)
    sd["scalar"] = torch.tensor(2.5)
    sd._metadata = OrderedDict({"": {"version": 1}})
    return sd


def write_pickle_fixtures(out: Path):
    import torch

    sd = pickle_state_dict()
    # The legacy format names storages by memory address, so its bytes change from run to run; an
    # existing file that holds the same tensors is kept, which keeps the fixtures reproducible.
    legacy = out / "state_dict_legacy.bin"
    previous_legacy = legacy.read_bytes() if legacy.is_file() else None
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    torch.save(sd, str(out / "state_dict.bin"))
    torch.save(sd, str(legacy), _use_new_zipfile_serialization=False)
    if previous_legacy is not None:
        old = torch.load(io.BytesIO(previous_legacy), weights_only=True)
        if old.keys() == sd.keys() and all(torch.equal(old[k], sd[k]) and old[k].stride() == sd[k].stride() for k in sd):
            legacy.write_bytes(previous_legacy)
    torch.save({"weight": torch.ones(2), "payload": ForeignGlobal()}, str(out / "foreign_global.bin"))
    expected = {
        name: {
            "dtype": str(t.dtype).replace("torch.", ""),
            "shape": list(t.shape),
            "values": t.float().flatten().tolist() if t.is_floating_point() else t.flatten().tolist(),
        }
        for name, t in sd.items()
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    for name in ("state_dict.bin", "state_dict_legacy.bin"):
        loaded = torch.load(str(out / name), weights_only=True)
        assert all(torch.equal(loaded[k], sd[k]) for k in sd), name
    print(f"pickles: {sorted(p.name for p in out.iterdir())}")


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def dir_summary(root: Path):
    rows = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            rows.append((str(p.relative_to(root)), p.stat().st_size))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed-text", type=Path, default=DEFAULT_SEED, help="article to train the tokenizers on")
    ap.add_argument(
        "--out-dir",
        type=Path,
        default=PROJECT_ROOT / "tests" / "fixtures",
        help="fixtures directory (default: tests/fixtures in the project)",
    )
    args = ap.parse_args()

    check_versions()

    import torch
    import transformers
    from transformers import BartForConditionalGeneration, PegasusForConditionalGeneration, T5ForConditionalGeneration

    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_warning()
    logging.captureWarnings(True)
    warnings.simplefilter("default")

    seed_path = args.seed_text.resolve()
    if not seed_path.is_file():
        sys.exit(f"error: seed article not found: {seed_path}")
    raw, text, paragraphs, first_sentence = load_seed(seed_path)
    print(f"seed article: {seed_path} ({len(paragraphs)} paragraphs, {len(raw)} chars)")

    out_dir = args.out_dir.resolve()
    models_dir = out_dir / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    names = [
        "bart-tiny",
        "bart-tiny-hubfmt",
        "bart-tiny-fp16",
        "bart-tiny-bf16",
        "bart-tiny-bin",
        "bart-tiny-sharded",
        "t5-tiny",
        "t5-v1_1-tiny",
        "pegasus-tiny",
    ]
    for n in names:
        if (models_dir / n).exists():
            shutil.rmtree(models_dir / n)
        (models_dir / n).mkdir()

    # ---- BART ----------------------------------------------------------------------
    bart_dir = models_dir / "bart-tiny"
    bart_tok = train_bart_tokenizer(paragraphs, bart_dir)
    bart = new_model(BartForConditionalGeneration, bart_config(len(bart_tok)), WEIGHT_SEED["bart"], EOS_ROW_SCALE["bart"])
    bart.save_pretrained(str(bart_dir), safe_serialization=True)
    print(f"bart-tiny: vocab {len(bart_tok)}")

    # same weights, SFconvertbot layout
    hub_dir = models_dir / "bart-tiny-hubfmt"
    for f in sorted(bart_dir.iterdir()):
        if f.name != "model.safetensors":
            shutil.copyfile(f, hub_dir / f.name)
    write_bot_safetensors(bart, hub_dir / "model.safetensors")
    hub_header = read_safetensors_header(hub_dir / "model.safetensors")
    print("bart-tiny-hubfmt header __metadata__:", json.dumps(hub_header["__metadata__"], sort_keys=True))
    print(
        "bart-tiny-hubfmt embedding entries:",
        json.dumps({k: v for k, v in hub_header.items() if "embed_tokens" in k or "shared" in k or "lm_head" in k}),
    )

    # same weights, float16
    fp16_dir = models_dir / "bart-tiny-fp16"
    for f in sorted(bart_dir.iterdir()):
        if f.name not in ("model.safetensors", "config.json"):
            shutil.copyfile(f, fp16_dir / f.name)
    bart_half = copy.deepcopy(bart).half()
    for (n1, p1), (n2, p2) in zip(bart.state_dict().items(), bart_half.state_dict().items()):
        assert n1 == n2 and torch.equal(p1.half(), p2), n1
    bart_half.save_pretrained(str(fp16_dir), safe_serialization=True)
    del bart_half

    # same weights, bfloat16
    bf16_dir = models_dir / "bart-tiny-bf16"
    link_tokenizer_files(bart_dir, bf16_dir)
    bart_bf16 = copy.deepcopy(bart).to(torch.bfloat16)
    bart_bf16.save_pretrained(str(bf16_dir), safe_serialization=True)
    del bart_bf16

    # same weights, only as a PyTorch pickle (the layout of many Hub repositories)
    bin_dir = models_dir / "bart-tiny-bin"
    link_tokenizer_files(bart_dir, bin_dir)
    bart.save_pretrained(str(bin_dir), safe_serialization=False)

    # same weights, sharded safetensors
    sharded_dir = models_dir / "bart-tiny-sharded"
    link_tokenizer_files(bart_dir, sharded_dir)
    bart.save_pretrained(str(sharded_dir), safe_serialization=True, max_shard_size=BART_SHARD_SIZE)
    assert len(json.loads((sharded_dir / "model.safetensors.index.json").read_text())["weight_map"]) > 0

    # ---- T5 ------------------------------------------------------------------------
    t5_dir = models_dir / "t5-tiny"
    t5_tok = build_t5_tokenizer(paragraphs, t5_dir)
    t5 = new_model(T5ForConditionalGeneration, t5_config(len(t5_tok)), WEIGHT_SEED["t5"], EOS_ROW_SCALE["t5"])
    t5.save_pretrained(str(t5_dir), safe_serialization=True)
    # rust-bert panics on a T5 task_specific_params lacking any of its four keys: never write one
    rewrite_config_without(t5_dir, ["task_specific_params"])
    print(f"t5-tiny: vocab {len(t5_tok)}")

    # ---- T5 v1.1 (FLAN-T5 style), sharded PyTorch pickles ---------------------------------
    t5v11_dir = models_dir / "t5-v1_1-tiny"
    link_tokenizer_files(t5_dir, t5v11_dir)
    t5v11 = new_model(T5ForConditionalGeneration, t5_v11_config(len(t5_tok)), WEIGHT_SEED["t5-v1_1"], EOS_ROW_SCALE["t5-v1_1"])
    t5v11.save_pretrained(str(t5v11_dir), safe_serialization=False, max_shard_size=T5_V11_SHARD_SIZE)
    shards = set(json.loads((t5v11_dir / "pytorch_model.bin.index.json").read_text())["weight_map"].values())
    assert len(shards) > 1, shards
    print(f"t5-v1_1-tiny: vocab {len(t5_tok)}, {len(shards)} shards")

    # ---- Pegasus -------------------------------------------------------------------
    peg_dir = models_dir / "pegasus-tiny"
    peg_tok = build_pegasus_tokenizer(paragraphs, peg_dir)
    peg = new_model(PegasusForConditionalGeneration, pegasus_config(len(peg_tok)), WEIGHT_SEED["pegasus"], EOS_ROW_SCALE["pegasus"])
    peg.save_pretrained(str(peg_dir), safe_serialization=True)
    print(f"pegasus-tiny: vocab {len(peg_tok)}")

    for d in (bart_dir, hub_dir, fp16_dir, bf16_dir, bin_dir, sharded_dir, t5_dir, peg_dir):
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
        assert "task_specific_params" not in cfg, d

    write_pickle_fixtures(out_dir / "pickles")

    # ---- reference outputs -----------------------------------------------------------
    entries = [
        {
            "dir": "bart-tiny",
            "architecture": "BartForConditionalGeneration",
            "model_type": "bart",
            "weights_file_dtype": "float32",
            "reference_dtype": "float32",
            "note": "save_pretrained(safe_serialization=True) layout: model.shared.weight is stored.",
        },
        {
            "dir": "bart-tiny-hubfmt",
            "architecture": "BartForConditionalGeneration",
            "model_type": "bart",
            "weights_file_dtype": "float32",
            "reference_dtype": "float32",
            "note": (
                "Same weights and tokenizer as bart-tiny; model.safetensors written like SFconvertbot since "
                "safetensors PR #384: the tied embedding is stored only as model.decoder.embed_tokens.weight, "
                "model.shared.weight and model.encoder.embed_tokens.weight are aliases in __metadata__, and "
                "there is no lm_head.weight (as facebook/bart-large-cnn main). transformers 4.44.2 "
                "from_pretrained silently mis-loads this layout (random embeddings, no warning; see "
                "transformers_from_pretrained_mismatched_tensors), so the reference ran on the model built from "
                "config.json with this file's tensors (aliases resolved) copied in; its ids equal bart-tiny's."
            ),
            "safetensors_metadata": dict(sorted(hub_header["__metadata__"].items())),
        },
        {
            "dir": "bart-tiny-fp16",
            "architecture": "BartForConditionalGeneration",
            "model_type": "bart",
            "weights_file_dtype": "float16",
            "reference_dtype": "float32",
            "note": (
                "bart-tiny's weights rounded to float16 and saved in float16. The reference ran on these "
                "float16 weights cast back to float32 (what a CPU engine does), so its ids may differ from "
                "bart-tiny's."
            ),
        },
        {
            "dir": "bart-tiny-bf16",
            "architecture": "BartForConditionalGeneration",
            "model_type": "bart",
            "weights_file_dtype": "bfloat16",
            "reference_dtype": "float32",
            "note": (
                "bart-tiny's weights rounded to bfloat16 and saved in bfloat16. The reference ran on these "
                "weights cast back to float32 (what a CPU engine does)."
            ),
        },
        {
            "dir": "bart-tiny-bin",
            "architecture": "BartForConditionalGeneration",
            "model_type": "bart",
            "weights_file_dtype": "float32",
            "reference_dtype": "float32",
            "note": "bart-tiny's weights as save_pretrained(safe_serialization=False) writes them: pytorch_model.bin only "
            "(a zip with a pickle; the tied embedding's four names share one storage). Its ids equal bart-tiny's.",
        },
        {
            "dir": "bart-tiny-sharded",
            "architecture": "BartForConditionalGeneration",
            "model_type": "bart",
            "weights_file_dtype": "float32",
            "reference_dtype": "float32",
            "note": f"bart-tiny's weights as sharded safetensors (max_shard_size={BART_SHARD_SIZE}) with "
            "model.safetensors.index.json. Its ids equal bart-tiny's.",
        },
        {
            "dir": "t5-tiny",
            "architecture": "T5ForConditionalGeneration",
            "model_type": "t5",
            "weights_file_dtype": "float32",
            "reference_dtype": "float32",
            "note": (
                "T5 v1.0 style (tied embeddings, relu FFN). config.json has no task_specific_params. "
                f"Inputs are prefixed with {T5_PREFIX!r} (see each case's prefix); the encoder ids include it."
            ),
        },
        {
            "dir": "t5-v1_1-tiny",
            "architecture": "T5ForConditionalGeneration",
            "model_type": "t5",
            "weights_file_dtype": "float32",
            "reference_dtype": "float32",
            "note": (
                "T5 v1.1 / FLAN-T5 style: gated-gelu feed-forward (gelu_new), LM head not tied to the embeddings "
                "(no d_model**-0.5 scaling), task_specific_params with all four tasks (summarization prefix "
                f"{T5_PREFIX!r}). Weights as sharded PyTorch pickles (max_shard_size={T5_V11_SHARD_SIZE}) with "
                "pytorch_model.bin.index.json; tokenizer files link to t5-tiny's."
            ),
        },
        {
            "dir": "pegasus-tiny",
            "architecture": "PegasusForConditionalGeneration",
            "model_type": "pegasus",
            "weights_file_dtype": "float32",
            "reference_dtype": "float32",
            "note": (
                "PegasusTokenizer layout: <pad>=0 </s>=1 <mask_1>=2 <mask_2>=3 <unk_2>..<unk_102>=4..104, "
                "SentencePiece piece i at id i+103 (so <unk>=105)."
            ),
        },
    ]
    for entry in entries:
        entry["weights_file"] = weights_file(models_dir / entry["dir"])
        reference_for_model(entry, models_dir / entry["dir"], paragraphs, first_sentence)
        print(f"reference: {entry['dir']} done")

    # the layouts of bart-tiny's own weights must reproduce bart-tiny exactly
    ref = {e["dir"]: e for e in entries}
    for layout in ("bart-tiny-hubfmt", "bart-tiny-bin", "bart-tiny-sharded"):
        for a, b in zip(ref["bart-tiny"]["cases"], ref[layout]["cases"]):
            assert a["outputs"] == b["outputs"], f"{layout} reference differs from bart-tiny"

    try:
        seed_rel = str(seed_path.relative_to(PROJECT_ROOT.parent))
    except ValueError:
        # A worktree elsewhere: name the article as it sits in the shared folder.
        seed_rel = "/".join(seed_path.parts[-3:]) if seed_path.parts[-3:-1] == ("shared", "seeds") else seed_path.name
    doc = {
        "generated_by": "scripts/make_fixtures.py",
        "versions": versions(),
        "transformers_version": REQUIRED_TRANSFORMERS,
        "torch_version": versions()["torch"],
        "seed_text": {
            "path": seed_rel,
            "sha256": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
            "paragraphs": len(paragraphs),
        },
        "max_input_tokens": MAX_POSITIONS,
        "conventions": {
            "input_ids": "transformers fast tokenizer (AutoTokenizer class of the model) output with special "
            "tokens; tokenizer_json_agrees: the bare `tokenizers` Tokenizer.from_file(tokenizer.json).encode "
            "gives the same ids; slow_tokenizer_agrees: the slow (vocab.json+merges.txt / spiece.model) "
            "tokenizer gives the same ids",
            "outputs.ids": "model.generate(...).sequences as returned, including the decoder start token",
            "outputs.text": "tokenizer.decode(ids, skip_special_tokens=True)",
            "generation": "generate(input_ids, attention_mask, generation_config=GenerationConfig(**settings)) "
            "with settings = generation_settings[mode]; all other GenerationConfig fields at transformers "
            "defaults (no sampling, so temperature/top_k/top_p are unused). Token-id knobs come from config.json.",
            "min_length/max_length": "count the decoder start token (transformers semantics)",
            "min_top2_logit_margin": "greedy only: smallest gap between best and second-best processed logit "
            "over the steps; small values mean a choice another engine could flip by float noise",
            "sequences_scores": "beam only: the returned length-penalised sequence score",
            "cases": "one_sentence (a), two_paragraphs (b), article_window (c: whole paragraphs that fit "
        f"{MAX_POSITIONS} ids), and the extra article_truncated (whole article cut to {MAX_POSITIONS} ids by the "
        "tokenizer). same_input_as names an earlier case with identical encoder ids (t5/pegasus: paragraph 3 "
        "does not fit, so (c) is (b)).",
        "tokenizer_checks": "extra strings, encoder ids only (no generation): characters, digits and whitespace "
        "outside the training text",
        "transformers_from_pretrained_loads_weights_correctly": "whether AutoModelForSeq2SeqLM.from_pretrained "
        "gave every tensor of model.safetensors (cast to float32); when false the reference used a correct "
        "hand load instead",
        "batch": "cases one_sentence and two_paragraphs encoded together (right padding, attention mask) "
            "and generated in one call; outputs.ids are padded with output_pad_token_id as returned",
        },
        "models": entries,
    }
    out_json = out_dir / "reference_outputs.json"
    text_out = json.dumps(doc, indent=1, ensure_ascii=False)
    # one line per list of ids (readable, diffable); the strings never hold such a pattern
    text_out = re.sub(
        r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]",
        lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
        text_out,
    )
    assert json.loads(text_out) == json.loads(json.dumps(doc))
    out_json.write_text(text_out + "\n", encoding="utf-8")
    print(f"wrote {out_json}")

    total = 0
    for n in names:
        for rel, size in dir_summary(models_dir / n):
            total += size
            print(f"{size:>10}  models/{n}/{rel}")
    print(f"{total:>10}  total in models/ (symlinks counted at their target's size)")


if __name__ == "__main__":
    main()
