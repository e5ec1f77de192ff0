"""Score a folder of generated sound against the reference: ``maskvat evaluate``.

Files pair by stem (``GEN/x.wav`` with ``REF/x.*``; a reference may be a video). Computed:

- FDD: Frechet distance of the codec's per-level latents (8 x K dims per frame), pooled over files.
- FDM: Frechet distance of MFCC frames (paper's front-end), pooled over files.
- NS: novelty score of the audio-semantic sequence (the model's audio encoder; BEATs in the
  paper, the lab log-mel stand-in here), mean over pairs.
- SS: the sync judge's mean |predicted offset| of generated sound against the reference
  video (when the reference files are videos).
- onsets: when the reference is a lab split (truth JSONs), onset P/R/F1 at +-50 ms, and the
  class accuracy: the share of files whose sound classes (heard by a classifier trained on
  the lab's true audio, ``evaluation.sound_class``) equal the truth's.

Not here yet: FAD (VGGish) and WaveCLIP/CycleCLIP (Wav2CLIP): their pretrained weights
cannot be fetched on the machine this was built on.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskvat.codec.corpus import AUDIO_SUFFIXES, VIDEO_SUFFIXES
from maskvat.errors import MaskvatError
from maskvat.evaluation.metrics import frechet_distance, mfcc_frames, novelty_score


def pair_files(generated: Path, reference: Path) -> list[tuple[Path, Path]]:
    """(generated, reference) pairs by file stem, sorted; a clear error if none pair."""
    for d in (generated, reference):
        if not d.is_dir():
            raise MaskvatError(f"{d}: no such folder")
    suffixes = AUDIO_SUFFIXES | VIDEO_SUFFIXES
    refs = {p.stem: p for p in sorted(reference.iterdir()) if p.suffix.lower() in suffixes}
    pairs = [(g, refs[g.stem]) for g in sorted(generated.iterdir())
             if g.suffix.lower() in AUDIO_SUFFIXES and g.stem in refs]
    if not pairs:
        raise MaskvatError(f"no file of {generated} has a same-name reference in {reference}")
    return pairs


@torch.no_grad()
def evaluate_dirs(generated: str | os.PathLike, reference: str | os.PathLike, *, codec: str = "lab",
                  judge: str | None = "lab", classifier: str | None = "lab", progress: bool = True,
                  reference_cache: dict | None = None) -> dict:
    """Score ``generated`` against ``reference`` (see the module doc). ``reference_cache``: a dict
    kept across calls (e.g. the rows of one table) so that each reference file's features are
    computed once."""
    from maskvat.codec.tokenizer import AudioTokenizer
    from maskvat.encoders.lab import LogMelAudioEncoder
    from maskvat.media import read_audio

    generated, reference = Path(generated), Path(reference)
    pairs = pair_files(generated, reference)
    tok = AudioTokenizer.from_pretrained(codec)
    audio_enc = LogMelAudioEncoder()
    judge_model = _load_judge(judge) if judge else None
    refs = reference_cache if reference_cache is not None else {}

    def features(wav: np.ndarray) -> dict:
        """FDD latents [L, 8K], MFCC frames, audio-semantic sequence [N, C] of one waveform."""
        return {"lat": tok.latents(tok.encode(torch.from_numpy(wav)[None]))[0].T.numpy(), "mfcc": mfcc_frames(wav),
                "sem": audio_enc.encode_audio(wav[None])[0]}

    fdd = {"gen": [], "ref": []}
    fdm = {"gen": [], "ref": []}
    ns, ss, gen_sem = [], [], []
    for gen_path, ref_path in tqdm(pairs, desc="evaluate", unit="file", disable=not progress):
        key = (str(ref_path.resolve()), tok.name)
        if key not in refs:
            ref = read_audio(ref_path)
            refs[key] = {"n": len(ref), **features(ref)}
        r = refs[key]
        gen = read_audio(gen_path)[: r["n"]]
        gen = np.pad(gen, (0, r["n"] - len(gen)))
        g = features(gen)
        for name, f in (("gen", g), ("ref", r)):
            fdd[name].append(f["lat"])
            fdm[name].append(f["mfcc"])
        ns.append(novelty_score(g["sem"].numpy(), r["sem"].numpy()))
        gen_sem.append(g["sem"])
        if judge_model is not None and ref_path.suffix.lower() in VIDEO_SUFFIXES:
            ss.append(_sync_offset(judge_model, ref_path, gen))
    result = {
        "n_files": len(pairs), "codec": tok.name,
        "fdd": frechet_distance(np.concatenate(fdd["gen"]), np.concatenate(fdd["ref"])),
        "fdm": frechet_distance(np.concatenate(fdm["gen"]), np.concatenate(fdm["ref"])),
        "ns": float(np.mean(ns)),
        "frames": {"fdd": int(sum(len(x) for x in fdd["gen"])), "fdm": int(sum(len(x) for x in fdm["gen"]))},
    }
    if ss:
        result["ss_seconds"] = float(np.mean(ss))
    if any(p.suffix == ".json" and p.name != "manifest.json" for p in reference.iterdir()):
        from maskvat.lab.score import score_dirs

        result["onsets"] = score_dirs(reference, generated)["families"]
        if classifier is not None:
            result["class_accuracy"] = _class_accuracy(classifier, pairs, gen_sem)
    return result


def _class_accuracy(source: str, pairs, gen_mels: list[torch.Tensor]) -> float | None:
    """Share of generated files whose heard class set equals the truth's (lab references only),
    from their lab log-mel sequences [N, 64]; None when the shipped classifier is absent and
    none was named."""
    from maskvat.assets import ROOT
    from maskvat.evaluation.sound_class import class_set, load_classifier, set_accuracy
    from maskvat.lab.truth import load_truth

    if source == "lab" and not (ROOT / "lab" / "sound_classifier").is_dir():
        return None
    model = load_classifier(source)
    predicted, truth = [], []
    for (_, ref_path), mel in zip(pairs, gen_mels):
        truth_path = ref_path.with_suffix(".json")
        if truth_path.is_file():
            predicted += model.predict_sets(mel[None])
            truth.append(class_set(load_truth(truth_path)))
    return set_accuracy(predicted, truth) if truth else None


def _load_judge(source: str):
    from maskvat.encoders.train_sync import load_judge

    if source == "lab":
        from maskvat.assets import asset

        source = asset("lab/sync_judge")
    return load_judge(source)


def _sync_offset(judge, video: Path, wav: np.ndarray) -> float:
    """Mean |offset| (s) the judge predicts between ``video``'s picture and ``wav``."""
    from maskvat.encoders.judge import predict_offsets
    from maskvat.media import decode_frames

    size = judge.cfg.size
    frames = decode_frames(video, 25.0, size=(size, size)).frames
    n = min(len(frames), int(len(wav) / 44100 * 25))
    return float(np.abs(predict_offsets(judge, frames[:n], wav[: int(n / 25 * 44100)])).mean())
