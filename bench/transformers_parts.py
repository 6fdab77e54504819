"""Where transformers' time goes on this machine, for bench/compare.sh's model (not a test).

usage: .venv/bin/python bench/transformers_parts.py MODEL_DIR [THREADS]
(MODEL_DIR: bench/compare.sh's model, e.g. target/bench-compare/model)

Prints the encoder over the 780-token article, one cached decoder step for 1 and 4 rows (40
steps in, cross-attention states per row as `generate()` keeps them), and the LM head's product
(50264 x 1024) for 1, 4 and 8 rows written the way transformers writes it (`F.linear`,
input · weightᵀ) and the way precis's fallback does (weight · inputᵀ). Medians of several runs.
"""

import json
import statistics
import sys
import time

import torch
from transformers import BartForConditionalGeneration


def median_ms(work, runs=10):
    work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main():
    model_dir = sys.argv[1]
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    model = BartForConditionalGeneration.from_pretrained(model_dir).eval()
    article = json.load(open(f"{model_dir}/inputs.json"))["article"]
    ids = torch.tensor([article])
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        encoded = model.model.encoder(input_ids=ids, attention_mask=mask)
        print(f"encoder over {ids.shape[1]} tokens: {median_ms(lambda: model.model.encoder(input_ids=ids, attention_mask=mask), 3):.0f} ms")
        for rows in (1, 4):
            states = encoded.last_hidden_state.expand(rows, -1, -1).contiguous()
            row_mask = mask.expand(rows, -1)
            past = model(encoder_outputs=(states,), attention_mask=row_mask, decoder_input_ids=torch.full((rows, 40), 5), use_cache=True).past_key_values
            last = torch.full((rows, 1), 7)
            step = lambda: model(encoder_outputs=(states,), attention_mask=row_mask, decoder_input_ids=last, past_key_values=past, use_cache=True)
            print(f"one cached decoder step, {rows} row(s): {median_ms(step):.1f} ms")
        head = model.model.shared.weight
        for rows in (1, 4, 8):
            hidden = torch.randn(rows, head.shape[1])
            as_transformers = median_ms(lambda: torch.nn.functional.linear(hidden, head))
            as_precis = median_ms(lambda: head @ hidden.t())
            print(f"LM head, {rows} row(s): F.linear {as_transformers:.1f} ms, weight · inputᵀ {as_precis:.1f} ms")


if __name__ == "__main__":
    main()
