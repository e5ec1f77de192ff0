"""Score a folder of generated sound against the reference: ``maskvat evaluate``.

Files pair by stem (``GEN/x.wav`` with ``REF/x.*``; a reference may be a video). Computed:

- FDD: Frechet distance of the codec's per-level latents (8 x K dims per frame), pooled over files.
- FDM: Frechet distance of MFCC frames (paper's front-end), pooled over files.
- FAD: Frechet distance of audio embeddings of consecutive 1 s windows, pooled over files:
  VGGish (``vggish=`` a local copy of the published weights) or, by default, our home-trained
  audio encoder (``lab-audio``, the offline stand-in; its figures are not comparable to
  published VGGish FADs).
- WC (WaveCLIP-style): cosine of the generated and reference clip embeddings in the
  audio-semantic space, mean over pairs.
- CC (CycleCLIP-style): cosine of the generated clip's audio embedding and the reference
  video's mean frame embedding, in the joint space of the contrastive pair (video references).
- NS: novelty score of the audio-semantic sequence (BEATs in the paper; the ``lab-audio``
  sequence here), mean over pairs.
- SS: the sync judge's mean |predicted offset| of generated sound against the reference
  video (when the reference files are videos). ``judge="lab"``: the shipped SS judge (2.4 s
  windows), not the 1.6 s judge whose video tower is the generator's ``lab-sync`` encoder.
- onsets: when the reference is a lab split (truth JSONs), onset P/R/F1 at +-50 ms, and the
  class accuracy: the share of files whose sound classes (heard by a classifier trained on
  the lab's true audio, ``evaluation.sound_class``) equal the truth's.

WC, CC, FAD's default embedding and NS come from the semantic pair (``semantic=``: ``lab``,
the shipped one, or a folder); Wav2CLIP and BEATs weights are not loaded here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.encoders.base import decode_size, frame_geometry
from maskvat.encoders.judge import predict_offsets
from maskvat.encoders.lab import LogMelAudioEncoder
from maskvat.encoders.semantic import SemanticAudioEncoder, SemanticFrameEncoder
from maskvat.encoders.sync import load_judge
from maskvat.errors import MaskvatError
from maskvat.evaluation.metrics import frechet_distance, mfcc_frames, novelty_score
from maskvat.evaluation.sound_class import class_set, load_classifier, set_accuracy
from maskvat.evaluation.vggish import VGGishEmbedder
from maskvat.lab.score import score_dirs
from maskvat.lab.truth import load_truth
from maskvat.media import decode_frames, probe, read_audio
from maskvat.media.formats import AUDIO_SUFFIXES, VIDEO_SUFFIXES
from maskvat.weights import ASSETS, resolve


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
                  judge: str | None = "lab", classifier: str | None = "lab", semantic: str = "lab",
                  vggish: str | None = None, progress: bool = True, reference_cache: dict | None = None) -> dict:
    """Score ``generated`` against ``reference`` (see the module doc). ``reference_cache``: a dict
    kept across calls (e.g. the rows of one table) so that each reference file's features are
    computed once."""

    generated, reference = Path(generated), Path(reference)
    pairs = pair_files(generated, reference)
    tok = AudioTokenizer.from_pretrained(codec)
    audio_enc = SemanticAudioEncoder.from_pretrained("shipped" if semantic == "lab" else semantic)
    frame_enc = SemanticFrameEncoder(audio_enc.pair, audio_enc.config.source)
    fad_embed = _fad_embedder(vggish, audio_enc)
    judge_model = _load_judge(judge) if judge else None
    refs = reference_cache if reference_cache is not None else {}

    def features(wav: np.ndarray) -> dict:
        """FDD latents [L, 8K], MFCC frames, FAD window embeddings [W, E], the audio-semantic
        sequence [N, C] and clip embedding [C], and the lab log-mel [N, 64] of one waveform
        (one log-mel, one pass of the audio encoder)."""
        mel = audio_enc.mel(wav)  # [64, M] at 100 Hz
        seq, emb = audio_enc.encode_mel(mel[None])
        return {"lat": tok.latents(tok.encode(torch.from_numpy(wav)[None]))[0].T.numpy(), "mfcc": mfcc_frames(wav),
                "fad": fad_embed(wav, mel), "sem": seq[0].numpy(), "emb": emb[0],
                "logmel": LogMelAudioEncoder.from_mel(mel)}

    sets = {k: {"gen": [], "ref": []} for k in ("fdd", "fdm", "fad")}
    ns, ss, ss_short, wc, cc, gen_mels = [], [], [], [], [], []
    for gen_path, ref_path in tqdm(pairs, desc="evaluate", unit="file", disable=not progress):
        key = (str(ref_path.resolve()), tok.name, audio_enc.config.source, vggish)
        if key not in refs:
            ref = read_audio(ref_path)
            refs[key] = {"n": len(ref), **features(ref)}
            if ref_path.suffix.lower() in VIDEO_SUFFIXES:
                refs[key]["video_emb"] = _video_embedding(frame_enc, ref_path)
        r = refs[key]
        gen = read_audio(gen_path)[: r["n"]]
        gen = np.pad(gen, (0, r["n"] - len(gen)))
        g = features(gen)
        for name, f in (("gen", g), ("ref", r)):
            sets["fdd"][name].append(f["lat"])
            sets["fdm"][name].append(f["mfcc"])
            sets["fad"][name].append(f["fad"])
        ns.append(novelty_score(g["sem"], r["sem"]))
        wc.append(torch.cosine_similarity(g["emb"], r["emb"], dim=0).item())
        if "video_emb" in r:
            cc.append(torch.cosine_similarity(g["emb"], r["video_emb"], dim=0).item())
        gen_mels.append(g["logmel"])
        if judge_model is not None and ref_path.suffix.lower() in VIDEO_SUFFIXES:
            offset = _sync_offset(judge_model, ref_path, gen)
            if offset is None:
                ss_short.append(ref_path.name)
            else:
                ss.append(offset)
    fd = {k: frechet_distance(np.concatenate(v["gen"]), np.concatenate(v["ref"])) for k, v in sets.items()}
    result = {
        "n_files": len(pairs), "codec": tok.name, **fd, "fad_embedding": "vggish" if vggish else "lab-audio",
        "wc": float(np.mean(wc)), "ns": float(np.mean(ns)),
        "frames": {k: int(sum(len(x) for x in v["gen"])) for k, v in sets.items()},
    }
    if cc:
        result["cc"] = float(np.mean(cc))
    if ss:
        result["ss_seconds"] = float(np.mean(ss))
        result["ss_files"] = len(ss)
    if ss_short:  # shorter than the judge's window: no SS for them
        result["ss_skipped_too_short"] = ss_short
    if any(p.suffix == ".json" and p.name != "manifest.json" for p in reference.iterdir()):
        result["onsets"] = score_dirs(reference, generated)["families"]
        if classifier is not None:
            result["class_accuracy"] = _class_accuracy(classifier, pairs, gen_mels)
    return result


def _class_accuracy(source: str, pairs, gen_mels: list[torch.Tensor]) -> float | None:
    """Share of generated files whose heard class set equals the truth's (lab references only),
    from their lab log-mel sequences [N, 64]; None when the shipped classifier is absent and
    none was named."""

    if source == "lab" and not (ASSETS / "lab" / "sound_classifier").is_dir():
        return None
    model = load_classifier(source)
    predicted, truth = [], []
    for (_, ref_path), mel in zip(pairs, gen_mels):
        truth_path = ref_path.with_suffix(".json")
        if truth_path.is_file():
            predicted += model.predict_sets(mel[None])
            truth.append(class_set(load_truth(truth_path)))
    return set_accuracy(predicted, truth) if truth else None


def _fad_embedder(vggish: str | None, audio_enc):
    """(wav [T] at 44.1 kHz, its log-mel [64, M]) -> FAD embeddings [W, E]: VGGish's 0.96 s
    examples of the wav when a VGGish state dict is named, else the semantic audio encoder's
    1 s windows of the log-mel."""
    if vggish:
        model = VGGishEmbedder.from_pretrained(vggish)
        return lambda wav, mel: model.embed(wav, 44100)
    return lambda wav, mel: audio_enc.embed_mel_windows(mel, 1.0).numpy()


def _video_embedding(frame_enc, video: Path) -> torch.Tensor:
    """Mean frame embedding [C] of ``video`` read at the frame encoder's fps and size."""

    v = probe(video).video
    size = decode_size(*v.display_size, **frame_geometry(frame_enc.config)) if v is not None else None
    frames = decode_frames(video, frame_enc.config.fps, size=size).frames
    return frame_enc.encode_frames(frames[None])[0].mean(0)


def _load_judge(source: str):
    return load_judge(resolve(source, "ss_judge"))


def _sync_offset(judge, video: Path, wav: np.ndarray) -> float | None:
    """Mean |offset| (s) the judge predicts between ``video``'s picture and ``wav``; None for a
    clip shorter than the judge's window."""

    size = judge.cfg.size
    frames = decode_frames(video, 25.0, size=(size, size)).frames
    n = min(len(frames), int(len(wav) / 44100 * 25))
    if n < judge.grid.window_frames:
        return None
    return float(np.abs(predict_offsets(judge, frames[:n], wav[: int(n / 25 * 44100)])).mean())
