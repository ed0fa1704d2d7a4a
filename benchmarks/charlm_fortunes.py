"""Character-level language model on the Debian fortunes: perplexity digital vs analog over time.

Command: ``python benchmarks/charlm_fortunes.py`` (tables for the README; 11 min with the
machine's two cores shared, load average 3-7),
``python benchmarks/charlm_fortunes.py --select --lrs 6e-3,1.2e-2`` (learning-rate choice on the
validation split; about 10 min shared) and ``python benchmarks/charlm_fortunes.py --adc-check
--chips 3`` (the 1 s penalty with an ideal ADC and a doubled ADC range; 4 min shared). Needs the
Debian package ``fortunes``.

Setup. The corpus (:func:`aimc.data.text.fortunes_text`, seed 0) is split by fortune entry:
90 % train, 5 % validation, 5 % test; the character vocabulary holds the characters seen at least
10 times in the training text (rarer ones, and unseen ones, map to one unknown id). The model is
the GPT-2 architecture at character scale (:func:`aimc.models.gpt.char_small`: 4 layers, 4
heads, 128 features, context 64 characters; 0.8 M weights), trained with AdamW (weight decay
0.1, betas 0.9/0.99, gradient clip 1, linear warm-up for 50 steps then cosine decay to 10 %) on
random 64-character windows of the training text, batch 32, 600 steps (1.2 M characters, about
half an epoch), one CPU thread. The learning rate is the best validation loss of ``--select`` on
training seed 100 (not a reported seed), 8,192 validation characters: at 300 steps 1e-3, 3e-3,
6e-3 gave 2.506, 2.329, 2.265 nats/char (the grid's edge), so the grid was extended at the full
600 steps: 6e-3 2.014, 1.2e-2 2.044; 6e-3 is the default. The test split is never used to
choose.

Evaluation. Perplexity = exp(mean cross-entropy per character) over the first ``--eval-tokens``
characters of a split, cut into non-overlapping 64-character windows (each character predicted
from the characters before it in its window). The trained network is converted to the 64-core
PCM preset ``ibm-hermes-pcm`` (every ``nn.Linear``: q/k/v, attention output, MLP and the output
head on tiles; embeddings, LayerNorm, softmax, QKᵀ and AV digital), programmed on ``--chips``
chip instances and read 1 s, 1 h, 1 day, 1 month and 1 year after programming, global drift
compensation (GDC) on. Each chip instance is one programming draw; every forward is a fresh
read (read noise). Statistics: with one training seed, mean ± standard error over the chip
instances (n = chips; the training run's own variation is then NOT covered); with two or more
seeds, the mean over seeds of each seed's chip mean ± the standard error of those per-seed means
(n = seeds; this covers both training seeds and chip instances).

Samples: 200 characters from the same prompt and the same sampling seed (temperature 0.8), from
the digital network and from chip instance 0 of seed 0 at 1 s and at 1 year.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch
from rich.progress import Progress

import aimc
from aimc.data.text import CharVocab, fortunes_text
from aimc.models.gpt import GPT, GPTConfig, char_small

DAY = 86400.0
TIMES = {"1 s": 1.0, "1 h": 3600.0, "1 day": DAY, "1 month": 30 * DAY, "1 year": 365 * DAY}
CONTEXT = 64
PROMPT = "The secret of life is "


def load(min_count: int = 10):
    corpus = fortunes_text(seed=0)
    train_text = corpus.text("train")
    vocab = CharVocab.build([train_text], min_count=min_count)
    ids = {name: vocab.encode(corpus.text(name)) for name in ("validation", "test")}
    ids["train"] = vocab.encode(train_text)
    return vocab, ids


def train(vocab_size: int, data: torch.Tensor, seed: int, lr: float, steps: int, batch: int,
          progress: Progress | None = None) -> GPT:
    """One network: initialisation and batch order from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    model = GPT(char_small(vocab_size, CONTEXT), generator=generator)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))
    warmup = 50

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    task = progress.add_task(f"training seed {seed}, lr {lr:g}", total=steps) if progress else None
    model.train()
    offsets = torch.arange(CONTEXT + 1)
    for _ in range(steps):
        start = torch.randint(0, len(data) - CONTEXT - 1, (batch, 1), generator=generator)
        chunk = data[start + offsets]
        loss = model.loss(chunk[:, :-1], chunk[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if task is not None:
            progress.advance(task)
    if task is not None:
        progress.remove_task(task)
    return model.eval()


def windows(ids: torch.Tensor, tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = min(tokens, len(ids) - 1) // CONTEXT
    x = ids[:n * CONTEXT].view(n, CONTEXT)
    y = ids[1:n * CONTEXT + 1].view(n, CONTEXT)
    return x, y


@torch.no_grad()
def nll(model: torch.nn.Module, data: tuple[torch.Tensor, torch.Tensor], batch: int = 64) -> float:
    """Mean cross-entropy (nats per character)."""
    x, y = data
    total = 0.0
    for i in range(0, len(x), batch):
        logits = model(x[i:i + batch])
        total += float(torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y[i:i + batch].reshape(-1), reduction="sum"))
    return total / y.numel()


def sample(model: torch.nn.Module, vocab: CharVocab, chars: int = 200) -> str:
    prompt = vocab.encode(PROMPT).unsqueeze(0)
    out = model.generate(prompt, chars, temperature=0.8, generator=torch.Generator().manual_seed(7))
    return vocab.decode(out[0])


def select(args, vocab, ids) -> None:
    lrs = [float(v) for v in args.lrs.split(",")]
    val = windows(ids["validation"], args.eval_tokens)
    print(f"learning-rate choice: training seed 100, {args.steps} steps of batch {args.batch}; "
          f"validation loss (nats/char) on {val[1].numel()} characters of the validation split")
    print("\n| lr | validation loss | validation perplexity |\n|---|---|---|")
    best = None
    with Progress(transient=True) as bar:
        for lr in lrs:
            loss = nll(train(len(vocab), ids["train"], 100, lr, args.steps, args.batch, bar), val)
            print(f"| {lr:g} | {loss:.4f} | {math.exp(loss):.3f} |", flush=True)
            best = (loss, lr) if best is None or loss < best[0] else best
    print(f"\nchosen: lr {best[1]:g}")


def adc_check(args, vocab, ids) -> None:
    """Training seed 1 read on the preset, with an ideal ADC, and with the ADC's full scale
    doubled: is the 1 s penalty ADC saturation (which drift relieves as the currents fall)?"""
    chip = aimc.load_chip(args.chip)
    ideal_adc = aimc.load_chip("ideal").adc
    variants = {
        f"{args.chip}": chip,
        "ideal ADC (no clipping, no rounding)": chip.model_copy(update={"adc": ideal_adc}),
        f"ADC full scale x2 ({2 * chip.adc.full_scale:g})": chip.model_copy(
            update={"adc": chip.adc.model_copy(update={"full_scale": 2 * chip.adc.full_scale})}),
    }
    times = {"1 s": 1.0, "1 h": 3600.0, "1 year": 365 * DAY}
    val = windows(ids["validation"], args.eval_tokens)
    with Progress(transient=True) as bar:
        model = train(len(vocab), ids["train"], 1, args.lr, args.steps, args.batch, bar)
    chip_seeds = [int(v) for v in np.random.SeedSequence(1001).generate_state(args.chips)]
    print(f"ADC check: training seed 1, validation perplexity, mean over {args.chips} chip instances "
          f"(the main run's first ones) ± SE over them; GDC on; digital {math.exp(nll(model, val)):.3f}")
    print("\n| chip | " + " | ".join(times) + " |\n|---|" + "---|" * len(times))
    for name, spec in variants.items():
        converted, _ = aimc.convert(model, spec)
        ppl = np.zeros((len(chip_seeds), len(times)))
        for c, chip_seed in enumerate(chip_seeds):
            aimc.program(converted, seed=chip_seed)
            for k, t in enumerate(times.values()):
                aimc.drift(converted, t, compensate=True)
                ppl[c, k] = math.exp(nll(converted, val))
        se = ppl.std(axis=0, ddof=1) / math.sqrt(len(chip_seeds))
        print(f"| {name} | " + " | ".join(f"{m:.3f} ± {e:.3f}" for m, e in zip(ppl.mean(0), se, strict=True))
              + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="training seeds")
    parser.add_argument("--chips", type=int, default=5, help="chip instances per trained network")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=6e-3, help="chosen by --select")
    parser.add_argument("--eval-tokens", type=int, default=8192, help="characters per split evaluated")
    parser.add_argument("--chip", default="ibm-hermes-pcm")
    parser.add_argument("--select", action="store_true", help="choose the learning rate instead")
    parser.add_argument("--adc-check", action="store_true",
                        help="seed 1 with an ideal ADC and a doubled ADC range instead (use --chips 3)")
    parser.add_argument("--lrs", default="1e-3,3e-3,6e-3", help="learning rates tried by --select")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    vocab, ids = load()
    print(f"fortunes: {len(ids['train'])} / {len(ids['validation'])} / {len(ids['test'])} characters "
          f"(train / validation / test), vocabulary {len(vocab)}; 1 torch thread; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    if args.adc_check:
        adc_check(args, vocab, ids)
        print(f"\n{(time.perf_counter() - start) / 60:.1f} min, load average {os.getloadavg()[0]:.1f}")
        return
    if args.select:
        select(args, vocab, ids)
        print(f"\n{(time.perf_counter() - start) / 60:.1f} min, load average {os.getloadavg()[0]:.1f}")
        return
    config: GPTConfig = char_small(len(vocab), CONTEXT)
    print(f"model: GPT-2 architecture, {config.layers} layers, {config.heads} heads, {config.dim} "
          f"features, context {CONTEXT}, {config.parameter_count():,} parameters; {args.steps} steps "
          f"of batch {args.batch}, lr {args.lr:g}; {args.seeds} training seed(s) x {args.chips} chip "
          f"instances on {args.chip}, GDC on", flush=True)
    evals = {split: windows(ids[split], args.eval_tokens) for split in ("validation", "test")}
    digital = {split: np.zeros(args.seeds) for split in evals}
    analog = {split: np.zeros((args.seeds, args.chips, len(TIMES))) for split in evals}
    samples: dict[str, str] = {}
    chip = aimc.load_chip(args.chip)
    with Progress(transient=True) as bar:
        for s in range(args.seeds):
            t0 = time.perf_counter()
            model = train(len(vocab), ids["train"], s, args.lr, args.steps, args.batch, bar)
            t_train = time.perf_counter() - t0
            for split, data in evals.items():
                digital[split][s] = nll(model, data)
            if s == 0:
                samples["digital"] = sample(model, vocab)
            converted, _ = aimc.convert(model, chip)
            chip_seeds = [int(v) for v in np.random.SeedSequence(1000 + s).generate_state(args.chips)]
            task = bar.add_task(f"analog seed {s}", total=args.chips * len(TIMES))
            for c, chip_seed in enumerate(chip_seeds):
                aimc.program(converted, seed=chip_seed)
                for k, (label, t) in enumerate(TIMES.items()):
                    aimc.drift(converted, t, compensate=True)
                    for split, data in evals.items():
                        analog[split][s, c, k] = nll(converted, data)
                    if s == 0 and c == 0 and label in ("1 s", "1 year"):
                        samples[f"analog, {label}"] = sample(converted, vocab)
                    bar.advance(task)
            bar.remove_task(task)
            print(f"seed {s}: trained in {t_train / 60:.1f} min; validation perplexity digital "
                  f"{math.exp(digital['validation'][s]):.3f}, analog 1 s "
                  f"{np.exp(analog['validation'][s, :, 0]).mean():.3f} "
                  f"({(time.perf_counter() - start) / 60:.1f} min, load average "
                  f"{os.getloadavg()[0]:.1f})", flush=True)

    n_chars = {split: data[1].numel() for split, data in evals.items()}
    if args.seeds >= 2:
        how = (f"mean over {args.seeds} training seeds of each seed's mean over {args.chips} chip "
               f"instances ± standard error over seeds (n = {args.seeds})")
    else:
        how = (f"one training seed: mean over {args.chips} chip instances ± standard error over chip "
               f"instances (n = {args.chips}; training variation not covered)")
    print(f"\nperplexity per character ({how}); {n_chars['validation']} validation and "
          f"{n_chars['test']} test characters; {args.chip}, GDC on\n")
    print("| time after programming | validation, analog | test, analog |\n|---|---|---|")

    def cell(ppl_per_seed: np.ndarray, per_chip: np.ndarray) -> str:
        if args.seeds >= 2:
            se = ppl_per_seed.std(ddof=1) / math.sqrt(args.seeds)
        else:
            se = per_chip.std(ddof=1) / math.sqrt(len(per_chip)) if len(per_chip) > 1 else float("nan")
        return f"{ppl_per_seed.mean():.3f} ± {se:.3f}"

    dig = {split: np.exp(digital[split]) for split in evals}
    dse = {split: (dig[split].std(ddof=1) / math.sqrt(args.seeds) if args.seeds > 1 else None)
           for split in evals}
    print("| digital | " + " | ".join(
        f"{dig[split].mean():.3f}" + (f" ± {dse[split]:.3f}" if dse[split] is not None else "")
        for split in evals) + " |")
    for k, label in enumerate(TIMES):
        cells = []
        for split in evals:
            ppl = np.exp(analog[split][:, :, k])  # [seeds, chips]
            cells.append(cell(ppl.mean(axis=1), ppl[0]))
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\nsamples: 200 characters after the prompt {PROMPT!r}, temperature 0.8, sampling seed 7 "
          "(training seed 0; analog: chip instance 0)\n")
    for label, text in samples.items():
        print(f"--- {label} ---\n{text}\n")
    print(f"{(time.perf_counter() - start) / 60:.1f} min, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
