"""Read noise sampled on the outputs versus per-device noise clamped at zero conductance.

aimc draws read noise once per output with variance ``(V∘V)·(σ∘σ)`` (``aimc.array.crossbar``),
which equals independent Gaussian noise on every device only while no device's read conductance
``g + σ ξ`` would go negative. PCM's 1/f read noise grows with time (``σ/g`` reaches 0.76 at 1 s
and 1.13 at 1 year for conductances below 0.8 % of ``g_max``, where ``Q_s`` saturates at 0.2),
and the unused device of every differential pair sits near zero, so about half of all devices
are in that regime. This script compares both on one 256x256 Gaussian weight matrix programmed
on the default preset's PCM (ideal converters, no drift compensation, so only the read noise
differs). B, the explicit model, draws every device's conductance per read and clamps it at 0
(no upper clamp: ``g_max`` bounds programming targets, not reads). Its output mean and variance
are computed exactly from the clamped normal's moments (``E max(X, 0) = g Φ(z) + σ φ(z)``,
``E max(X, 0)² = (g² + σ²) Φ(z) + g σ φ(z)``, ``z = g/σ``) and checked by Monte Carlo
(``aimc.array.crossbar.per_device_currents``); A's std is measured from the tile's own reads.

Printed per time and input kind (signed: uniform in [-1, 1]; ReLU: uniform in [0, 1]):
``clamped`` the fraction of device reads that clamp; ``gain`` the least-squares slope of B's mean
output on the noise-free output minus 1 (clamping lifts near-zero devices: weights shrink toward
0, a common scale that drift compensation absorbs); ``bias`` the RMS of B's mean error after that
gain, relative to the std ``s_y`` of the noise-free outputs; ``std B/A`` the ratio of the
read-noise stds per output (exact B over measured A, with B's Monte Carlo check beside it).

``--demo N`` adds the demo CNN's test accuracy over N chip instances at 1 s and 1 year, with the
clamped and unclamped per-device reads paired on the same normal numbers.

Run: ``python benchmarks/study_read_noise_clamp.py [--reads 200] [--demo 5]``
"""

from __future__ import annotations

import argparse

import torch

from aimc.array.crossbar import per_device_currents
from aimc.devices import PCM
from aimc.periphery import ADC, DAC
from aimc.tile import Tile

TIMES = {"1 s": 1.0, "1 hour": 3600.0, "1 day": 86400.0, "1 year": 3.15e7}


def clamped_moments(g: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of ``max(g + sigma * N(0, 1), 0)``, elementwise."""
    z = g / sigma.clamp(min=1e-300)
    cdf, pdf = torch.special.ndtr(z), torch.exp(-0.5 * z * z) / (2 * torch.pi) ** 0.5
    mean = torch.where(sigma > 0, g * cdf + sigma * pdf, g)
    second = torch.where(sigma > 0, (g * g + sigma * sigma) * cdf + g * sigma * pdf, g * g)
    return mean, (second - mean * mean).clamp(min=0.0)


def compare(t: float, signed: bool = True, size: int = 256, batch: int = 64, reads: int = 200,
            seed: int = 0) -> dict:
    """aimc's output-noise read (A) against the clamped per-device read (B) at ``t`` seconds."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(size, size, generator=gen)
    tile = Tile(w, device=PCM(), dac=DAC(bits=None), adc=ADC(bits=None, full_scale=None),
                array_rows=size, array_cols=size)
    tile.program(seed=seed)
    tile.drift_to(t)
    g32 = tile.conductances(t)
    sigma = tile.device_model.read_noise_std(tile.state, g32, t).double()[:, 0]
    g = g32.double()[:, 0]  # [planes, rows, cols] (S)
    x = torch.rand(batch, size, generator=gen, dtype=torch.float64)
    x = x * 2 - 1 if signed else x
    v = x * tile.dac.v_read
    to_weight = tile.weight_per_siemens.double() / tile.dac.v_read  # A -> weight units, per column
    ideal = (v @ (g[0] - g[1])) * to_weight  # noise-free outputs [batch, cols]
    s_y = ideal.std()
    # A: the tile's own reads (one fresh normal number per output)
    a_reads = torch.stack([tile(x.float()).double() for _ in range(reads)])
    std_a = a_reads.std(0)
    # B exact: clamped moments per device, summed over the column
    (m_p, var_p), (m_m, var_m) = clamped_moments(g[0], sigma[0]), clamped_moments(g[1], sigma[1])
    mean_b = (v @ (m_p - m_m)) * to_weight
    std_b = ((v * v) @ (var_p + var_m)).sqrt() * to_weight
    gain = float((mean_b * ideal).sum() / (ideal * ideal).sum())
    bias = ((mean_b - gain * ideal) / s_y).pow(2).mean().sqrt()
    # B by Monte Carlo (checks the exact moments)
    b_reads = per_device_currents(v, g, sigma, tile.alpha, gen, reads) * to_weight
    clamped = torch.special.ndtr(-g / sigma.clamp(min=1e-300))[sigma > 0].sum() / g.numel()
    return {"clamped": float(clamped), "gain": gain - 1.0, "bias": float(bias),
            "std_ratio": float(std_b.mean() / std_a.mean()),
            "std_ratio_mc": float(b_reads.std(0).mean() / std_a.mean()),
            "gain_mc": float((b_reads.mean(0) * ideal).sum() / (ideal * ideal).sum()) - 1.0,
            "noise": float(std_a.mean() / s_y)}


def demo_accuracy(t: float, instances: int, epochs: int = 30) -> dict:
    """Test accuracy of the demo CNN (ibm-hermes-pcm with GDC) at ``t`` with three read models:
    A, aimc's output noise; B0, one per-device draw per image (shared by the image's patches and
    converters kept) without clamping; B, the same draws clamped at 0 S. B - B0 uses the same
    normal numbers, so it isolates the clamping (paired over chip instances)."""
    from aimc.data import digits
    from aimc.demo import train_demo_model
    from aimc.nn import convert, drift, program
    from aimc.nn.lifecycle import analog_tiles
    from aimc.tile import ReadMatrices

    data = digits(seed=0)
    model = train_demo_model(data, epochs=epochs, seed=0, progress=None)
    analog, _ = convert(model, "ibm-hermes-pcm")
    x, y = data.x_test, data.y_test
    acc = {"A": [], "B0": [], "B": []}
    for s in range(instances):
        program(analog, seed=s)
        drift(analog, t)
        with torch.no_grad():
            acc["A"].append(float((analog(x).argmax(1) == y).float().mean()))
        tiles = []
        for _, tile in analog_tiles(analog):
            g = tile.conductances(t)
            sigma = tile.device_model.read_noise_std(tile.state, g, t)
            to_codes = tile.dac.v_read / (tile.dac.full_scale_levels * tile._unit_current())
            tiles.append((tile, g, sigma, to_codes, tile._read))
        for key, clamp in (("B0", False), ("B", True)):
            gen = torch.Generator().manual_seed(1000 + s)  # the same draws for B0 and B
            correct = 0
            for i in range(len(x)):
                for tile, g, sigma, to_codes, read in tiles:
                    noisy = g + sigma * torch.randn(g.shape, generator=gen)
                    if clamp:
                        noisy.clamp_(min=0.0)
                    w = torch.zeros_like(read.w)  # same (output-major) layout
                    for d, (a, grp) in enumerate(zip(tile.alpha, tile.group, strict=True)):
                        w[grp] += (a * to_codes) * noisy[d]
                    tile._read, tile._layouts = ReadMatrices(w, None, read.bias, read.shot), {}
                with torch.no_grad():
                    correct += int(analog(x[i:i + 1]).argmax(1).item() == int(y[i]))
            acc[key].append(correct / len(x))
        for tile, *_, read in tiles:
            tile._read, tile._layouts = read, {}
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in acc.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=200, help="Monte Carlo reads per check")
    parser.add_argument("--demo", type=int, default=0, metavar="N",
                        help="also the demo CNN's accuracy over N chip instances (slow: ~1 min each)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("A: aimc (read noise on the outputs); B: per-device read noise clamped at 0 S;\n"
          "256x256 Gaussian weights on PCM (g_max 25 uS), ideal converters, no drift compensation")
    print(f"{'time':7} {'inputs':6} {'clamped':>8} {'noise/s_y':>9} {'gain B':>9} {'(MC)':>9} "
          f"{'bias/s_y':>9} {'std B/A':>8} {'(MC)':>7}")
    for label, t in TIMES.items():
        for signed in (True, False):
            r = compare(t, signed, reads=args.reads)
            print(f"{label:7} {'signed' if signed else 'ReLU':6} {r['clamped']:8.2%} "
                  f"{r['noise']:9.4f} {r['gain']:+9.2e} {r['gain_mc']:+9.2e} {r['bias']:9.2e} "
                  f"{r['std_ratio']:8.4f} {r['std_ratio_mc']:7.4f}")

    if args.demo:
        print(f"\ndemo CNN on ibm-hermes-pcm with GDC, test accuracy (%), mean over {args.demo} "
              "chip instances;\nB0/B: one per-device draw per image without/with clamping, "
              "B - B0 paired (same draws)")
        for label in ("1 s", "1 year"):
            acc = demo_accuracy(TIMES[label], args.demo)
            diff = acc["B"] - acc["B0"]
            se = float(diff.std() / len(diff) ** 0.5) if len(diff) > 1 else float("nan")
            print(f"{label:7} A {100 * acc['A'].mean():6.2f}  B0 {100 * acc['B0'].mean():6.2f}  "
                  f"B {100 * acc['B'].mean():6.2f}  B - B0 {100 * diff.mean():+6.2f} ± {100 * se:.2f}")


if __name__ == "__main__":
    main()
