"""How good is a codec: ``maskvat codec eval --audio FILE_OR_DIR [--codec ...] [--json]``.

Per file: the round trip wav -> codes -> wav, scored by the multi-scale mel distance
(``maskvat.dsp.mel_distance``) and SI-SDR after best-lag alignment, and checked for
narrowband tones the round trip adds (``maskvat.evaluation.tones.added_tones``: frequency,
dB above the neighbourhood, dB more than the input has there; per file and recurring
across files); per level code usage and perplexity over all files; the same files through
libopus at 6, 8 and 12 kbps as anchors (their scores and how many files they add a tone
to); and, when DIR is a lab split (manifest.json), the lab onset F1 of the round trip
beside the truth's own (the ceiling any generator using this codec can reach).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import av
import numpy as np
import torch
from tqdm import tqdm

from maskvat.codec.usage import perplexity
from maskvat.data.corpus import list_media
from maskvat.dsp import best_lag, mel_distance, si_sdr
from maskvat.errors import MaskvatError
from maskvat.evaluation.tones import added_tones, tone_report
from maskvat.lab.score import score_dirs
from maskvat.media import read_audio, write_audio
from maskvat.media.audio import fit_length, resample

OPUS_KBPS = (6, 8, 12)
MAX_SECONDS = 10.0  # of each file scored


def opus_round_trip(wav: np.ndarray, kbps: int, sample_rate: int = 44100) -> np.ndarray:
    """wav [T] through libopus (48 kHz, mono, ``kbps``) and back to ``sample_rate``; same length."""

    x = resample(wav.astype(np.float32), sample_rate, 48000)
    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        stream.bit_rate = kbps * 1000
        for i in range(0, len(x), 960):
            chunk = np.zeros(960, np.float32)
            chunk[: len(x[i:i + 960])] = x[i:i + 960]
            frame = av.AudioFrame.from_ndarray(chunk[None], format="flt", layout="mono")
            frame.sample_rate = 48000
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    chunks = []
    with av.open(buf, "r") as inp:
        for frame in inp.decode(audio=0):
            chunks.append(frame.to_ndarray().reshape(-1).astype(np.float32))
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # libopus's pre-skip is applied by the decoder; the lookahead delay is found by best lag below
    return fit_length(resample(y, 48000, sample_rate), len(wav))


def _scores(rec: np.ndarray, ref: np.ndarray, sample_rate: int) -> tuple[float, float]:
    lag = best_lag(rec, ref, max_lag=int(0.01 * sample_rate))
    aligned = np.roll(rec, -lag)
    r, t = torch.from_numpy(aligned)[None], torch.from_numpy(ref)[None]
    return float(mel_distance(r, t)), float(si_sdr(r, t)[0])


def evaluate_codec(tok, audio_dir: str | os.PathLike, *, limit: int | None = None, anchors: bool = True,
                   max_seconds: float = MAX_SECONDS, progress: bool = True) -> dict:
    """Scores of codec ``tok`` (an AudioTokenizer) on the sound files under ``audio_dir`` (a folder,
    searched recursively, or one sound/video file), the first ``max_seconds`` of each. Returns
    {"codec", "files", "audio", "codec"/"opus_Nkbps": {"mel_distance" (mean over files),
    "si_sdr_db" (median)}, "codes_used_share" and "perplexity" (per level), and for a lab split
    "lab_onset_f1_round_trip" (per family)}; ``format_report`` prints it for people."""

    audio_dir = Path(audio_dir)
    files = list_media([audio_dir])[:limit]
    if not files:
        raise MaskvatError(f"{audio_dir}: no sound or video files")
    sr = tok.sample_rate
    rows = {"codec": []} | ({f"opus_{k}kbps": [] for k in OPUS_KBPS} if anchors else {})
    tones = {name: {} for name in rows}  # name -> {file: [Tone]}
    usage = torch.zeros(tok.n_levels, tok.codebook_size, dtype=torch.long)
    is_lab = (audio_dir / "manifest.json").is_file()
    tmp = tempfile.TemporaryDirectory(prefix="maskvat-codec-eval-") if is_lab else None
    try:
        for path in tqdm(files, desc="codec eval", unit="file", disable=not progress):
            wav = read_audio(path, sample_rate=sr)[: int(max_seconds * sr)]
            if np.abs(wav).max() < 1e-4:
                continue
            with torch.no_grad():
                codes = tok.encode(torch.from_numpy(wav)[None])
                rec = tok.decode(codes, num_samples=len(wav))[0].float().numpy().reshape(-1)
            for k in range(tok.n_levels):
                usage[k] += torch.bincount(codes[0, k].flatten().cpu(), minlength=tok.codebook_size)
            key = str(path.relative_to(audio_dir)) if audio_dir.is_dir() else path.name
            rows["codec"].append(_scores(rec, wav, sr))
            tones["codec"][key] = added_tones(rec, wav, sr)
            if tmp is not None:
                write_audio(Path(tmp.name) / f"{path.stem}.wav", rec, sr)
            if anchors:
                for k in OPUS_KBPS:
                    opus = opus_round_trip(wav, k, sr)
                    rows[f"opus_{k}kbps"].append(_scores(opus, wav, sr))
                    tones[f"opus_{k}kbps"][key] = added_tones(opus, wav, sr)
        if not rows["codec"]:
            raise MaskvatError(f"{audio_dir}: every file is silent ({len(files)} read): nothing to code")
        result = {"codec": tok.name, "files": len(rows["codec"]), "audio": str(audio_dir)}
        for name, vals in rows.items():
            arr = np.array(vals)
            result[name] = {"mel_distance": float(arr[:, 0].mean()), "si_sdr_db": float(np.median(arr[:, 1])),
                            "files_with_added_tones": sum(1 for found in tones[name].values() if found)}
        result["added_tones"] = tone_report(tones["codec"])
        result["codes_used_share"] = [float(u) for u in (usage > 0).float().mean(1)]
        result["perplexity"] = [float(p) for p in perplexity(usage)]
        if tmp is not None:
            trip = score_dirs(audio_dir, tmp.name)
            result["lab_onset_f1_round_trip"] = {fam: s.get("f1") for fam, s in trip["families"].items()}
    finally:
        if tmp is not None:
            tmp.cleanup()
    return result


METRIC_NOTES = (
    "mel distance: mean |difference| of log10 mel magnitudes, original against round trip, at 7 resolutions "
    "(0 = identical; 0.05 = 1 dB off on average), mean over files; lower is better.",
    "SI-SDR: scale-invariant signal-to-distortion ratio of the waveform in dB after best-lag alignment, median over "
    "files; higher is better (it punishes the phase changes a codec may make inaudibly: read it beside mel distance).",
    "codes used: share of each level's codebook the files used; perplexity: how many codes each level uses in "
    "effect (exp of the entropy, at most the codebook size); higher means a fuller codebook.",
)


def format_report(result: dict, codec_name: str, max_seconds: float = MAX_SECONDS) -> str:
    """``evaluate_codec``'s result as text for people: a table of each system's mel distance and
    SI-SDR with units, per-level code usage, the lab onsets, and one line on what each figure means.
    ``codec_name``: the codec's name (``result["codec"]`` holds its scores)."""
    rows = [(f"codec {codec_name}", result["codec"])]
    rows += [(f"libopus {k} kbps", result[f"opus_{k}kbps"]) for k in OPUS_KBPS if f"opus_{k}kbps" in result]
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"round trip of {result['files']} file(s) of {result['audio']} (the first {max_seconds:g} s of each)", "",
             f"{'':<{width}}{'mel distance (log10) ↓':>24}{'SI-SDR (dB) ↑':>16}"]
    lines += [f"{name:<{width}}{r['mel_distance']:>24.3f}{r['si_sdr_db']:>16.1f}" for name, r in rows]
    lines += ["", f"{'codes used per level':<{width}}" + " ".join(f"{u:.2f}" for u in result["codes_used_share"]),
              f"{'perplexity per level':<{width}}" + " ".join(f"{p:.0f}" for p in result["perplexity"])]
    if "lab_onset_f1_round_trip" in result:
        f1 = ", ".join(f"{fam} {v:.3f}" if v is not None else f"{fam} -"
                       for fam, v in result["lab_onset_f1_round_trip"].items())
        lines.append(f"{'lab onset F1 ±50 ms':<{width}}{f1} (the round trip against the truth JSONs; "
                     "higher is better)")
    return "\n".join(lines + [""] + list(METRIC_NOTES))
