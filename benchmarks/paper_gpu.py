"""Paper-scale speed and memory on one GPU (issue: the paper at full scale).

    python benchmarks/paper_gpu.py --out DIR                 # on a GPU: paper sizes, 10 s clips, bf16
    python benchmarks/paper_gpu.py --out DIR --tiny          # anywhere: the same code path at toy sizes
    python benchmarks/paper_gpu.py --out DIR --only paradigms  # MaskVAT vs V-AURA vs VTA-LDM alone (~1 min)

Every network has the published architecture and *random* weights (nothing is downloaded),
which is all speed and memory depend on:
- the three generators at the ``paper-*`` sizes of ``maskvat.model.config`` (our guess of
  the paper's widths: 24 blocks, d = 1024), a 10 s window (L = 862 codegram frames, K = 9);
- sampling as ``maskvat generate`` does it: N = 32 steps, CFG (conditional and [NULL]
  passes in one batch), Gumbel diversity; B = 1 and B = 10 beams batched;
- the encoders of one 10 s clip from frames already in memory (file decoding excluded):
  CLIP ViT-B/32 on 80 frames (8 fps), S3D on 250 frames (25 fps, 224 px), the DAC 44 kHz
  decoder on B codegrams;
- training: masked-token loss (+ the auxiliary losses for Seq2Seq/Hybrid), AdamW, bf16
  autocast, at the paper's per-GPU batch (AdaLN: 200 over 4 GPUs = 50; Seq2Seq/Hybrid: 400
  over 8 GPUs = 50), tokens/s (codegram positions L x K per second) and peak memory.
- paradigms (issue 25): the three generator paradigms on one 10 s window, B = 1, CFG, with the
  samplers of ``benchmarks/paradigm_speed.py`` (its CPU comparison at the lab size):
  MaskVAT paper-adaln-b (N = 32 parallel decoding steps) against V-AURA ``paper-vaura``
  (``maskvat.model.vaura``: the reference's llama_9cbs size, 24 blocks of width 1536, 707 M
  parameters; autoregressive with a KV cache, one call per sequence step: L + K - 1 = 870 for
  862 frames in the delay pattern; its top-k 128) and VTA-LDM ``paper-vtaldm``
  (``maskvat.model.vtaldm``: 12 blocks of width 768, 162 M; ``--flow-steps`` 16 Heun steps =
  32 velocity calls, the default of paradigm_speed.py; ``maskvat generate`` would take 32
  steps, twice the time); VTA-LDM's latent-to-codes search (``AudioTokenizer.nearest_codes``, 4
  sweeps) timed apart, over a random DAC 44 kHz (its tables are the paper codec's shape: 9 levels
  of 1024 codes, H = 1024). Per paradigm: network calls per clip, median seconds per clip,
  peak GPU memory, and V-AURA / MaskVAT (the paper: MaskVAT at least 5x faster per clip).
Also analytic FLOPs per clip (torch's FLOP counter on the meta device) against the GPU's
bf16 dense peak, so the CPU figures can be read against a GPU's.

Time budget on one H200 (every timing is a warm-up then ``--reps`` 3 runs, i.e. 4 runs; the
whole script must stay well under 8 minutes). Estimate per section, compute at a pessimistic
20-30 % of the 989 TFLOP/s bf16 peak (~250 TFLOP/s), sequential steps latency-bound:
- sampling: per variant 39-46 TFLOP per clip at B = 1 (launch-bound: 0.5-0.7 s measured), ~400
  TFLOP at B = 10 (1.6 s), 4 runs each: ~10 s per variant, ~30 s for three (+ ~60 s with
  ``--compile``); measured on 2026-11-29: 139 s for sampling + compile + encoders + training.
- encoders: 6-150 ms a call measured (CLIP, S3D, DAC decoder); ~5 s with model construction.
- paradigms: MaskVAT 39 TFLOP per clip, 0.6 s launch-bound, 4 runs ~3 s; V-AURA 2.9 GFLOP a
  step (2.5 TFLOP per clip: negligible compute) but 870 sequential steps at ~3-10 ms each =
  2.6-8.7 s per clip, 4 runs 10-35 s; VTA-LDM 0.42 TFLOP a call x 32 = 13 TFLOP per clip
  (~0.05 s of compute, ~0.2 s launch-bound), 4 runs ~1 s, nearest codes (45 distance searches
  of 862 x 1024 against 1024 x 1024, 0.1 TFLOP) under 1 s; plus building ~1.4 B random
  parameters on the host, ~10-20 s. Section: ~30-60 s.
- training: ~92 TFLOP a step at batch 50 (0.4-0.5 s measured), 7 steps x 3 variants ~15 s.
In all ~3-4 minutes, under 5 minutes at the pessimistic end (V-AURA at 10 ms a step): it fits
one lending of the GPU without cuts. If a run must be split, ``--only paradigms`` (~1 minute)
and ``--only sampling encoders training`` (the 2026-11-29 run, ~2.5 minutes) are the halves;
``--reps 1`` halves the V-AURA time.

Writes DIR/paper_gpu.json and DIR/paper_gpu.md (a table for BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # paradigm_speed, whose samplers the paradigms section runs

from maskvat.model.config import MODEL_CONFIGS, model_config  # noqa: E402
from maskvat.model.maskvat import MaskVAT  # noqa: E402
from maskvat.sampling.sampler import SamplerSettings, sample_codes  # noqa: E402

VARIANTS = ("paper-adaln-b", "paper-seq2seq", "paper-hybrid")
H200_BF16_PEAK = 989e12  # dense bf16 TFLOP/s of an H100/H200 SXM (NVIDIA data sheet)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, reps: int, warmup: int = 1) -> tuple[float, object]:
    """Median seconds of ``reps`` calls after ``warmup`` calls; returns (seconds, last result)."""
    out = None
    for _ in range(warmup):
        out = fn()
    sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], out


def peak_gb(device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def model_config_for(name: str, tiny: bool):
    cfg = MODEL_CONFIGS[name]
    if tiny:
        cfg = replace(cfg, d_model=64, n_layers=2, n_heads=4, enc_layers=1, codec_hidden=64, max_frames=86,
                      window_seconds=1.0)
    return cfg


def visual_inputs(cfg, batch: int, device, dtype, seconds: float):
    sem = torch.randn(batch, max(1, round(cfg.semantic_fps * seconds)), cfg.semantic_dim, device=device, dtype=dtype)
    syn = torch.randn(batch, max(1, round(cfg.sync_fps * seconds)), cfg.sync_dim, device=device, dtype=dtype)
    aud = torch.randn(batch, max(1, round(cfg.audio_fps * seconds)), cfg.audio_dim, device=device, dtype=dtype)
    return (sem if cfg.use_semantic else None), (syn if cfg.use_sync else None), aud


def flops_of(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return float(counter.get_total_flops())


def decode_flops(cfg, batch: int, cached: bool = True) -> float:
    """FLOPs of one decoder pass (what each sampling step runs) for ``batch`` rows, on the meta
    device; ``cached``: with the AdaLN modulations computed once per clip, as the sampler does."""
    with torch.device("meta"):
        model = MaskVAT(cfg)
        sem, syn, _ = visual_inputs(cfg, batch, torch.device("meta"), torch.float32, cfg.window_seconds)
        codes = torch.zeros(batch, cfg.n_levels, cfg.max_frames, dtype=torch.long)
        cond = model.condition(sem, syn, torch.zeros(batch, dtype=torch.bool), length=cfg.max_frames)
        if cached:
            cond = model.with_modulation(cond)
        return flops_of(lambda: model.decode(codes, cond))


def bench_sampling(name, args, device, results, compiled: bool = False):
    cfg = model_config_for(name, args.tiny)
    torch.manual_seed(0)
    model = MaskVAT(cfg).to(device=device, dtype=args.dtype).eval()
    if compiled:  # torch.compile of the decoder pass (shapes are fixed per beam count)
        model.decode = torch.compile(model.decode, dynamic=False)
    settings = SamplerSettings(steps=args.steps, guidance=3.0, diversity=8.0)
    row = {"model": name + (" (torch.compile)" if compiled else ""),
           "params_M": round(model.num_parameters() / 1e6, 1), "L": cfg.max_frames, "steps": args.steps}
    per_pass = decode_flops(cfg, 2)  # conditional + [NULL] rows of one clip
    row["tflop_per_clip_B1"] = round(per_pass * args.steps / 1e12, 2)
    row["tflop_per_clip_B1_uncached"] = round(decode_flops(cfg, 2, cached=False) * args.steps / 1e12, 2)
    for beams in args.beams:
        reset_peak(device)
        sem, syn, _ = visual_inputs(cfg, 1, device, args.dtype, cfg.window_seconds)
        gen = torch.Generator(device=device).manual_seed(0)

        def run():
            with torch.no_grad():
                cond, uncond = model.condition_pair(sem, syn, length=cfg.max_frames)
                if beams > 1:
                    cond, uncond = cond.repeat(beams), uncond.repeat(beams)
                return sample_codes(model, cond, cfg.max_frames, settings, gen, uncond=uncond)

        sec, codes = timed(run, device, args.reps)
        assert codes.shape == (beams, cfg.n_levels, cfg.max_frames) and int(codes.max()) < cfg.codebook_size
        row[f"s_B{beams}"] = round(sec, 3)
        row[f"peak_GB_B{beams}"] = None if peak_gb(device) is None else round(peak_gb(device), 2)
        row[f"achieved_TFLOPs_B{beams}"] = round(per_pass * beams * args.steps / sec / 1e12, 1)
        print(f"  {name} B={beams}: {sec:.3f} s per clip", flush=True)
    results["sampling"].append(row)
    del model
    reset_peak(device)


def bench_encoders(args, device, results):
    """CLIP ViT-B/32 (80 frames), S3D (250 frames, 224 px), DAC 44 kHz decoder (B codegrams) of one 10 s clip."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from maskvat.codec.presets import CODEC_PRESETS
    from maskvat.encoders.s3d import S3D

    seconds = 1.0 if args.tiny else 10.0
    row = {}
    torch.manual_seed(0)
    clip_cfg = CLIPVisionConfig(projection_dim=512) if not args.tiny else CLIPVisionConfig(
        projection_dim=32, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
    clip = CLIPVisionModelWithProjection(clip_cfg).to(device=device, dtype=args.dtype).eval()
    frames = torch.randn(round(8 * seconds), 3, 224, 224, device=device, dtype=args.dtype)
    with torch.no_grad():
        row["clip_s"] = round(timed(lambda: clip(pixel_values=frames).image_embeds, device, args.reps)[0], 4)
    del clip
    s3d = S3D().to(device=device, dtype=args.dtype).eval()
    n = round(25 * seconds)
    video = torch.randn(1, 3, n if not args.tiny else 16, 224 if not args.tiny else 64, 224 if not args.tiny else 64,
                        device=device, dtype=args.dtype)
    with torch.no_grad():
        row["s3d_s"] = round(timed(lambda: s3d.pooled_features(video), device, args.reps)[0], 4)
    del s3d
    from transformers import DacModel

    dac_cfg = CODEC_PRESETS["dac_44khz" if not args.tiny else "tiny"].dac_config()
    dac = DacModel(dac_cfg).to(device=device, dtype=args.dtype).eval()
    length = round(44100 / 512 * seconds)
    for beams in args.beams:
        codes = torch.randint(0, 1024, (beams, 9, length), device=device)
        with torch.no_grad():
            row[f"dac_decode_B{beams}_s"] = round(
                timed(lambda: dac.decode(audio_codes=codes).audio_values, device, args.reps)[0], 4)
    results["encoders"] = row
    print(f"  encoders: {row}", flush=True)


def bench_training(name, args, device, results):
    from maskvat.model.masking import cosine_mask
    from maskvat.model.objective import MaskedTokenObjective

    cfg = model_config_for(name, args.tiny)
    torch.manual_seed(0)
    model = MaskVAT(cfg).to(device)
    objective = MaskedTokenObjective(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-5, betas=(0.9, 0.95))
    b = args.train_batch
    reset_peak(device)
    sem, syn, aud = visual_inputs(cfg, b, device, torch.float32, cfg.window_seconds)
    codes = torch.randint(0, cfg.codebook_size, (b, cfg.n_levels, cfg.max_frames), device=device)
    g = torch.Generator().manual_seed(0)

    def step():
        mask = cosine_mask(b, cfg.n_levels, cfg.max_frames, generator=g).to(device)
        drop = (torch.rand(b, generator=g) < 0.1).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss, _ = objective(codes, mask, drop, sem, syn, aud if cfg.variant != "adaln" else None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    sec, loss = timed(step, device, args.train_reps, warmup=2)
    assert torch.isfinite(loss)
    row = {"model": name, "batch": b, "s_per_step": round(sec, 3),
           "tokens_per_s": round(b * cfg.n_levels * cfg.max_frames / sec),
           "clips_per_s": round(b / sec, 1), "peak_GB": None if peak_gb(device) is None else round(peak_gb(device), 1)}
    results["training"].append(row)
    print(f"  train {name}: {row}", flush=True)
    del model, opt, objective
    reset_peak(device)


PARADIGMS = ("paper-adaln-b", "paper-vaura", "paper-vtaldm")


def paradigm_config(name: str, tiny: bool):
    """The paper-size config of one paradigm (``model_config``: MaskVAT, V-AURA or VTA-LDM), or
    its toy size with ``tiny`` (1 s window, 86 frames, width 64, 2 blocks, the tiny codec's H = 64)."""
    cfg = model_config(name)
    if not tiny:
        return cfg
    if name.endswith("vaura"):
        return replace(cfg, d_model=64, n_layers=2, n_heads=4, visual_width=16, ffn_hidden=128, codec_hidden=64,
                       max_frames=86, window_seconds=1.0)
    if name.endswith("vtaldm"):
        return replace(cfg, d_model=64, n_layers=2, n_heads=4, codec_hidden=64, max_frames=86, window_seconds=1.0)
    return model_config_for(name, tiny)


def bench_paradigms(args, device, results):
    """MaskVAT (N steps, CFG) vs V-AURA (every sequence step, KV cache, CFG) vs VTA-LDM (ODE steps,
    CFG; the nearest-codes search timed apart) on one window, with paradigm_speed.py's samplers."""
    from paradigm_speed import Counter, features, maskvat_clip, vaura_clip, vtaldm_clip

    from maskvat.codec.tokenizer import AudioTokenizer
    from maskvat.model.vaura import VAURA
    from maskvat.model.vtaldm import VTALDM

    rows = results["paradigms"]
    for name, cls, method in (("paper-adaln-b", MaskVAT, "decode"), ("paper-vaura", VAURA, "step"),
                              ("paper-vtaldm", VTALDM, "velocity")):
        print(f"paradigms {name}", flush=True)
        cfg = paradigm_config(name, args.tiny)
        length = cfg.max_frames
        reset_peak(device)
        torch.manual_seed(0)
        model = cls(cfg).to(device=device, dtype=args.dtype).eval()
        sem, syn = (t.to(device=device, dtype=args.dtype) for t in features(cfg, cfg.window_seconds))
        row = {"model": name, "params_M": round(model.num_parameters() / 1e6, 1), "L": length}
        codec = None
        if cls is MaskVAT:
            settings = SamplerSettings(steps=args.steps, guidance=3.0, diversity=8.0)
            go, row["settings"] = maskvat_clip(model, sem, syn, length, settings), f"N = {args.steps}, CFG"
        elif cls is VAURA:
            settings = SamplerSettings(guidance=3.0)  # the model's top-k (128)
            go = vaura_clip(model, sem, syn, length, settings)
            row["settings"] = f"{cfg.pattern} pattern, {cfg.steps(length)} steps, KV cache, CFG, top-k {cfg.top_k}"
        else:
            settings = SamplerSettings(steps=args.flow_steps, guidance=3.0, solver=cfg.solver)
            go = vtaldm_clip(model, sem, syn, length, settings)
            row["settings"] = f"{cfg.solver}, {args.flow_steps} steps, CFG"
            # the paper's codebook shape (DAC 44 kHz: K = 9 levels of 1024 codes, H = 1024), random tables
            preset = "tiny" if args.tiny else "dac_44khz"
            codec = AudioTokenizer.from_preset(preset).to(device).eval()
            assert codec.n_levels == cfg.n_levels and int(codec.model.config.hidden_size) == cfg.codec_hidden
        counter = Counter(model, method)
        reps = args.reps
        sec, out = timed(go, device, reps)
        calls, rest = divmod(counter.n, reps + 1)  # the warm-up run and the timed ones
        assert rest == 0, (counter.n, reps)
        row.update(network_calls=calls, s_per_clip=round(sec, 3))
        if codec is not None:
            latent = out
            assert latent.shape == (1, cfg.codec_hidden, length)
            sec_nc, out = timed(partial(codec.nearest_codes, latent), device, reps)
            row["nearest_codes_s"] = round(sec_nc, 4)
            row["s_per_clip_with_codes"] = round(sec + sec_nc, 3)
            shape = "x".join(str(n) for n in codec.level_embeddings().shape)
            row["settings"] += f"; nearest codes: {preset} codec's tables ({shape}, random), 4 sweeps"
        assert out.shape == (1, cfg.n_levels, length) and int(out.max()) < cfg.codebook_size, out.shape
        row["peak_GB"] = None if peak_gb(device) is None else round(peak_gb(device), 2)
        rows.append(row)
        print(f"  {name}: {calls} calls, {sec:.3f} s per clip", flush=True)
        del model, codec, go
        reset_peak(device)
    by = {r["model"]: r for r in rows}
    m = by["paper-adaln-b"]["s_per_clip"]
    results["paradigm_ratios"] = {
        "vaura_over_maskvat": round(by["paper-vaura"]["s_per_clip"] / m, 1),
        "vtaldm_over_maskvat": round(by["paper-vtaldm"].get("s_per_clip_with_codes", by["paper-vtaldm"]["s_per_clip"])
                                     / m, 1)}


def markdown(results) -> str:
    lines = [f"Machine: {results['device_name']}, torch {results['torch']}, dtype {results['dtype']}, "
             f"{results['date']}.", ""]
    if results["sampling"]:
        lines += ["| generator | params | TFLOP per clip (B=1) | s per 10 s clip, B=1 | B=10 | peak GB B=10 | achieved TFLOP/s B=10 |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results["sampling"]:
        lines.append(f"| {r['model']} | {r['params_M']} M | {r['tflop_per_clip_B1']} | {r.get('s_B1')} | "
                     f"{r.get('s_B10')} | {r.get('peak_GB_B10')} | {r.get('achieved_TFLOPs_B10')} |")
    if results.get("encoders"):
        lines += ["", "Encoders of one 10 s clip (s): " + ", ".join(f"{k} {v}" for k, v in results["encoders"].items())]
    if results.get("paradigms"):
        lines += ["", ("| paradigm (one window, B = 1) | params | network calls | s per clip | "
                       "nearest codes s | peak GB | settings |"), "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in results["paradigms"]:
            if "error" in r:
                lines.append(f"| {r['model']} | {r['error']} | | | | | |")
                continue
            lines.append(f"| {r['model']} | {r['params_M']} M | {r['network_calls']} | {r['s_per_clip']} | "
                         f"{r.get('nearest_codes_s', '')} | {r['peak_GB']} | {r['settings']} |")
        ratios = results.get("paradigm_ratios", {})
        lines += ["", (f"V-AURA / MaskVAT: {ratios.get('vaura_over_maskvat')}x the time per clip (the paper: MaskVAT "
                       f"at least 5x faster); VTA-LDM (with the nearest codes) / MaskVAT: "
                       f"{ratios.get('vtaldm_over_maskvat')}x")]
    if results["training"]:
        lines += ["", "| training | per-GPU batch | s per step | tokens/s | clips/s | peak GB |", "| --- | --- | --- | --- | --- | --- |"]
        for r in results["training"]:
            lines.append(f"| {r['model']} | {r['batch']} | {r['s_per_step']} | {r['tokens_per_s']} | "
                         f"{r['clips_per_s']} | {r['peak_GB']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tiny", action="store_true", help="toy sizes (a CPU check of the script)")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--beams", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--train-batch", type=int, default=50)
    ap.add_argument("--train-reps", type=int, default=5)
    ap.add_argument("--flow-steps", type=int, default=16, help="VTA-LDM's ODE steps (paradigms; Heun: 2 calls each)")
    ap.add_argument("--only", nargs="*", default=["sampling", "encoders", "paradigms", "training"],
                    choices=["sampling", "encoders", "paradigms", "training"])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--compile", action="store_true", help="also time the first variant with torch.compile")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    args.dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"device_name": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
               "torch": torch.__version__, "dtype": str(args.dtype), "date": time.strftime("%Y-%m-%d"),
               "tiny": args.tiny, "sampling": [], "training": [], "encoders": {}, "paradigms": []}
    t0 = time.perf_counter()
    for part, fn in (("sampling", bench_sampling), ("training", bench_training)):
        if part in args.only:
            for name in args.variants:
                print(f"{part} {name}", flush=True)
                try:
                    fn(name, args, device, results)
                except torch.OutOfMemoryError as exc:
                    results[part].append({"model": name, "error": f"out of memory: {str(exc)[:200]}"})
                (out / "paper_gpu.json").write_text(json.dumps(results, indent=1))
        if part == "sampling" and "encoders" in args.only:
            bench_encoders(args, device, results)
        if part == "sampling" and args.compile:
            print("sampling paper-adaln-b, torch.compile", flush=True)
            try:
                bench_sampling(args.variants[0], args, device, results, compiled=True)
            except Exception as exc:  # a compiler failure must not cost the rest of the run
                results["sampling"].append({"model": "compiled", "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
        if part == "sampling" and "paradigms" in args.only:
            try:
                bench_paradigms(args, device, results)
            except torch.OutOfMemoryError as exc:
                results["paradigms"].append({"model": "paradigms", "error": f"out of memory: {str(exc)[:200]}"})
            (out / "paper_gpu.json").write_text(json.dumps(results, indent=1))
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    (out / "paper_gpu.json").write_text(json.dumps(results, indent=1))
    (out / "paper_gpu.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
