"""Score generated sound against references: ``maskvat evaluate``.

Files pair by name (``evaluation.pairing``: ``GEN/X.wav``, ``X.mp4`` or ``X_maskvat.mp4`` with
``REF/X.*``; a reference may be a video). Any container, rate and channel count is read (mono,
then resampled as each metric's front end needs). Each pair is scored on its **common span**:
the first min(generated, reference) seconds of both; nothing is zero-padded. Pairs whose span is
under ``MIN_SECONDS`` are skipped with the reason, as are metrics whose window is longer than
the span (listed per metric).

Where the generated sound belongs in its reference: a file written by ``maskvat generate --start
S`` records its span (``pipeline.span``), and its reference is read from S seconds on (the muxed
copy, which holds the whole video, from S as well); ``start=`` (``--start``) says it for files
that record nothing. Pairs of files that record no span and differ in length by more than
``FRAME_S`` are listed (``spans["unknown_mismatch"]``): their sound may come from later in the
reference.

Model-free alignment (``evaluation.alignment``; any clips): onset P/R/F1 at +-50 and +-100 ms,
median |offset| of matched onsets, envelope cross-correlation |lag|, each beside its chance
controls (other clips' references; the reference shifted) and the gap.

With the shipped lab encoders (``semantic=``, ``codec=``):

- FDD: Frechet distance of the codec's per-level latents (8 x K dims per frame), pooled over files
  (``codec=None``: not computed; the codec's encoder is most of the evaluation's time).
- FDM: Frechet distance of MFCC frames (paper's front-end), pooled over files.
- FAD: Frechet distance of audio embeddings of consecutive 1 s windows, pooled over files:
  VGGish (``vggish=`` a local copy of the published weights) or, by default, the home-trained
  ``lab-audio`` encoder (not comparable to published VGGish FADs).
- WC (WaveCLIP-style): cosine of the generated and reference clip embeddings (``lab-audio``).
- NS: correlation of the novelty curves of the ``lab-audio`` sequences (valid positions only).
- CC (CycleCLIP-style) and SS (the lab sync judge's mean |predicted offset|): **lab references
  only** (a lab split: each reference has its truth JSON). Both read the picture with encoders
  trained on lab clips; on other clips they measure nothing (SS scored a real clip's true sound
  and the same sound shifted 200 ms alike), so they are refused there, with the reason.
- lab onsets and class accuracy: against the truth JSONs of a lab split.

The field's published metrics, each with a local copy of its published weights (nothing ships,
nothing downloads at run time; see the README for where to get each file):

- FAD with VGGish (``vggish=``).
- FD_PANNs and KL_PANNs with PANNs CNN14 (``panns=``; ``evaluation.panns``), as MMAudio's
  av-benchmark computes them: each clip's first ``published_seconds`` (8 s, av-benchmark's
  default) minus its mean, resampled with torchaudio's sinc resampler to the checkpoint's rate;
  FD_PANNs between the clips' 2048-d embeddings (one per clip, pooled over files); KL_PANNs the
  mean over clips of KL(softmax(reference logits) || softmax(generated logits)), nats.

- FD_PaSST and KL_PaSST with PaSST (``passt=``; ``evaluation.passt``), likewise: at 32 kHz, the
  first ``published_seconds`` zero-padded to the model's 10 s window; 768-d embeddings.

- DeSync with Synchformer (``synchformer=``; ``evaluation.synchformer``, ``evaluation.desync``), as
  av-benchmark computes it: the reference's picture (25 fps, 224 x 224) against the generated
  sound (16 kHz), in 0.64 s segments every 0.32 s over the first ``published_seconds``; the
  predicted offset of the first and of the last 4.8 s window, |offset| averaged (seconds, lower is
  better). Clips whose span read is under 4.8 s, or whose reference has no picture, are listed
  as not scored with the reason.

- IB-score with ImageBind (``imagebind=``; ``evaluation.imagebind``), as av-benchmark computes it:
  the cosine similarity between ImageBind's embedding of the reference's picture (frames at
  0.5 fps over the first ``published_seconds``, 3 crops x pairs of consecutive frames) and of
  the generated sound (three 2 s clips at 16 kHz); higher is better. Clips whose span read is
  under 4 s (two frames), or whose reference has no picture, are listed as not scored with the
  reason.

The clips reach the published metrics as every metric here reads them: mono at 44.1 kHz (soxr
from the file's own rate), then resampled as the metric's reference does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
from maskvat.evaluation import alignment
from maskvat.evaluation.anchors import anchor_sounds, verdicts
from maskvat.evaluation.desync import FPS as DESYNC_FPS
from maskvat.evaluation.desync import MIN_SECONDS as DESYNC_MIN_SECONDS
from maskvat.evaluation.desync import Desync, DesyncScorer, frame_size
from maskvat.evaluation.imagebind import MIN_SECONDS as IB_MIN_SECONDS
from maskvat.evaluation.imagebind import ImageBindScorer
from maskvat.evaluation.metrics import frechet_distance, kl_softmax, mfcc_frames, novelty_score
from maskvat.evaluation.pairing import Pairing, media_files, pair_files, require_folder
from maskvat.evaluation.panns import SECONDS as PUBLISHED_SECONDS
from maskvat.evaluation.panns import PANNsEmbedder
from maskvat.evaluation.passt import PaSSTEmbedder
from maskvat.evaluation.sound_class import class_set, load_classifier, set_accuracy
from maskvat.evaluation.stats import bootstrap_mean
from maskvat.evaluation.vggish import VGGishEmbedder
from maskvat.lab.score import score_dirs
from maskvat.lab.truth import load_truth
from maskvat.media import decode_frames, probe, read_audio
from maskvat.media.formats import VIDEO_SUFFIXES
from maskvat.pipeline.span import read_span
from maskvat.weights import ASSETS, resolve

SR = 44100
MIN_SECONDS = 1.0  # shortest common span scored at all (VGGish's example is 0.975 s)
SPAN_POLICY = "common span: each pair is scored on the first min(generated, reference) seconds of both; no padding"
FRAME_S = 0.04  # a video frame at 25 fps: lengths further apart than this differ (with no span recorded: a warning)


@dataclass(frozen=True)
class Metric:
    """label: as printed; higher: True when higher is better; kind: "alignment" (timing: must lose
    to a 200 ms shift), "pair" (per clip, content), "set" (one figure for the whole set)."""

    label: str
    higher: bool
    kind: str


METRICS: dict[str, Metric] = {
    "onset_f1_50": Metric("onset F1 ±50 ms", True, "alignment"),
    "onset_p_50": Metric("onset precision ±50 ms", True, "alignment"),
    "onset_r_50": Metric("onset recall ±50 ms", True, "alignment"),
    "onset_f1_100": Metric("onset F1 ±100 ms", True, "alignment"),
    "onset_p_100": Metric("onset precision ±100 ms", True, "alignment"),
    "onset_r_100": Metric("onset recall ±100 ms", True, "alignment"),
    "onset_offset_ms": Metric("onset |offset| ms", False, "alignment"),
    "env_lag_ms": Metric("envelope |lag| ms", False, "alignment"),
    "ss_seconds": Metric("SS s (lab judge)", False, "alignment"),
    "ns": Metric("NS (lab-audio)", True, "alignment"),
    "wc": Metric("WC (lab-audio)", True, "pair"),
    "cc": Metric("CC (lab pair)", True, "pair"),
    "fdd": Metric("FDD (lab codec)", False, "set"),
    "fdm": Metric("FDM (MFCC)", False, "set"),
    "fad": Metric("FAD", False, "set"),
    "fd_panns": Metric("FD_PANNs", False, "set"),
    "kl_panns": Metric("KL_PANNs", False, "pair"),
    "fd_passt": Metric("FD_PaSST", False, "set"),
    "kl_passt": Metric("KL_PaSST", False, "pair"),
    "desync": Metric("DeSync s (Synchformer)", False, "alignment"),
    "ib_score": Metric("IB-score (ImageBind)", True, "pair"),
}
# feature -> its Frechet distance
SET_FEATURES = {"lat": "fdd", "mfcc": "fdm", "fad": "fad", "panns": "fd_panns", "passt": "fd_passt"}
PUBLISHED = {"panns": PANNsEmbedder, "passt": PaSSTEmbedder}  # the published classifiers: FD_X and KL_X
LAB_ONLY = {"ss_seconds": "the SS judge was", "cc": "CC's frame and audio encoders were"}
LAB_ONLY_REASON = "{what} trained on lab clips only and measures nothing on other clips; refused (references are not a lab split)"


@dataclass(frozen=True)
class Cut:
    """Where a generated file's sound belongs: from ``start`` seconds of its reference, read from
    ``offset`` seconds into the generated file for ``duration`` seconds (None: to its end).
    ``source``: "recorded" (the span ``maskvat generate`` wrote in the file) or "--start"."""

    start: float
    duration: float | None
    offset: float
    source: str


def generated_cuts(files: dict[str, Path], start: float | None = None) -> dict[str, Cut]:
    """{stem: Cut} of the generated files {stem: file} that record their span (``pipeline.span``),
    or of all of them with ``start`` (seconds into the reference, over what a file records; a
    recorded offset and duration still say where the sound is in the file)."""
    out = {}
    for stem, path in files.items():
        span = read_span(path)
        if start is not None:
            out[stem] = Cut(start, span.duration if span else None, span.offset if span else 0.0, "--start")
        elif span is not None:
            out[stem] = Cut(span.start, span.duration, span.offset, "recorded")
    return out


@dataclass
class Reference:
    """One reference clip: ``wav`` [T] mono at 44.1 kHz, from ``start`` seconds of the file on;
    ``video``: the file when it has a picture; ``truth``: its lab truth JSON, if any."""

    stem: str
    path: Path
    wav: np.ndarray
    video: Path | None
    truth: Path | None
    start: float = 0.0

    @property
    def seconds(self) -> float:
        return len(self.wav) / SR


def load_references(paths: list[Path], starts: dict[str, float] | None = None
                    ) -> tuple[list[Reference], list[tuple[Path, str]]]:
    """Read each reference's sound, from ``starts[stem]`` seconds on (default 0); unreadable ones
    (or shorter than their start) are returned as (file, reason). MaskvatError naming the first
    unreadable file when none is readable."""
    refs, bad = [], []
    for p in paths:
        start = (starts or {}).get(p.stem, 0.0)
        try:
            wav = read_audio(p, start=start)
        except MaskvatError as exc:
            bad.append((p, str(exc).removeprefix(f"{p}: ")))
            continue
        truth = p.with_suffix(".json")
        has_video = p.suffix.lower() in VIDEO_SUFFIXES and probe(p).video is not None
        refs.append(Reference(p.stem, p, wav, p if has_video else None, truth if truth.is_file() else None, start))
    if bad and not refs:  # name the file and why, not only that nothing is left
        (f, why), more = bad[0], len(bad) - 1
        raise MaskvatError(f"{f}: {why}" + (f" (and {more} more unreadable reference{'s' * (more > 1)})" if more else "")
                           + "; no readable reference is left to score against")
    return refs, bad


class Evaluator:
    """Every metric of generated sounds against one set of references, with the models loaded
    once and each reference's features computed once per span (so that the rows of a table, the
    anchors and ``--compare`` systems share them).

        ev = Evaluator(references, codec="lab", vggish="vggish-10086976.pth", panns="Cnn14_16k_mAP=0.438.pth",
                       passt="passt-s-f128-p16-s10-ap.476-swa.pt", synchformer="synchformer_state_dict.pth")
        result = ev.score({"clip1": wav1, "clip2": path2})     # {stem: wav [T] at 44.1 kHz, or a file}
    """

    def __init__(self, references: list[Reference], *, codec: str | None = "lab", judge: str | None = "lab",
                 semantic: str = "lab", vggish: str | None = None, panns: str | None = None,
                 passt: str | None = None, synchformer: str | None = None, imagebind: str | None = None,
                 published_seconds: float | None = PUBLISHED_SECONDS, progress: bool = True):
        if not references:
            raise MaskvatError("no readable reference to score against")
        self.refs = references
        self.index = {r.stem: i for i, r in enumerate(references)}
        self.lab = all(r.truth is not None for r in references)
        self.progress = progress
        self.tok = AudioTokenizer.from_pretrained(codec) if codec is not None else None
        self.audio_enc = SemanticAudioEncoder.from_pretrained("shipped" if semantic == "lab" else semantic)
        self.frame_enc = SemanticFrameEncoder(self.audio_enc.pair, self.audio_enc.config.source)
        self.vggish = VGGishEmbedder.from_pretrained(vggish) if vggish else None
        self.published = {name: PUBLISHED[name].from_pretrained(source, seconds=published_seconds)
                          for name, source in (("panns", panns), ("passt", passt)) if source}
        self.desync = DesyncScorer.from_pretrained(synchformer, seconds=published_seconds) if synchformer else None
        self._desync_video: dict[tuple[str, int], torch.Tensor] = {}
        self.imagebind = ImageBindScorer.from_pretrained(imagebind, seconds=published_seconds) if imagebind else None
        self._ib_video: dict[tuple[str, int], torch.Tensor] = {}
        self.published_seconds = published_seconds
        self.refused: dict[str, str] = {}
        self.judge = None
        if judge and self.lab:
            self.judge = load_judge(resolve(judge, "ss_judge"))
        if not self.lab:
            self.refused = {k: LAB_ONLY_REASON.format(what=v) for k, v in LAB_ONLY.items()}
        self._ref_cache: dict[tuple[str, int], dict] = {}
        self._video_cache: dict[str, dict] = {}
        self._ref_tracks: dict[tuple[int, int], alignment.OnsetTrack] = {}  # (reference, samples) -> its track

    # ---- features ---------------------------------------------------------------------------
    def _features(self, wav: np.ndarray) -> dict:
        """FDD latents [L, 8K], MFCC frames, FAD window embeddings [W, E], the lab-audio sequence
        [N, C] and clip embedding [C] of one waveform [T] at 44.1 kHz (no FDD latents without a codec);
        with PANNs / PaSST, its clip embedding [1, D] ("panns", "passt") and logits [527]
        ("panns_logits", "passt_logits")."""
        mel = self.audio_enc.mel(wav)  # [64, M] at 100 Hz
        seq, emb = self.audio_enc.encode_mel(mel[None])
        out = {"mfcc": mfcc_frames(wav), "sem": seq[0].numpy(), "emb": emb[0],
               "fad": self.vggish.embed(wav, SR) if self.vggish else self.audio_enc.embed_mel_windows(mel, 1.0).numpy()}
        if self.tok is not None:
            out["lat"] = self.tok.latents(self.tok.encode(torch.from_numpy(wav)[None]))[0].T.numpy()
        for name, model in self.published.items():
            p = model.embed(wav, SR)
            out[name], out[f"{name}_logits"] = p.embedding[None], p.logits
        return out

    def _ref_features(self, ref: Reference, n: int) -> dict:
        key = (ref.stem, n)
        if key not in self._ref_cache:
            self._ref_cache[key] = self._features(ref.wav[:n])
        return self._ref_cache[key]

    def _video_embedding(self, ref: Reference) -> torch.Tensor:
        cache = self._video_cache.setdefault(ref.stem, {})
        if "cc" not in cache:
            v = probe(ref.video).video
            size = decode_size(*v.display_size, **frame_geometry(self.frame_enc.config))
            frames = decode_frames(ref.video, self.frame_enc.config.fps, size=size, start=ref.start).frames
            cache["cc"] = self.frame_enc.encode_frames(frames[None])[0].mean(0)
        return cache["cc"]

    def _desync(self, ref: Reference, wav: np.ndarray) -> tuple[Desync | None, str]:
        """(Desync of ``wav`` [T] at 44.1 kHz against ``ref``'s picture from ``ref.start``, "") or
        (None, why not). The reference's video features are computed once per length read."""
        if ref.video is None:
            return None, "the reference has no picture (DeSync compares its frames with the sound)"
        read = self.desync.span(len(wav) / SR)
        if read < DESYNC_MIN_SECONDS - 1e-9:
            return None, f"span read {read:.2f} s is shorter than DeSync's {DESYNC_MIN_SECONDS:g} s window"
        key = (ref.stem, int(read * DESYNC_FPS + 1e-6))  # frames read
        if key not in self._desync_video:
            size = frame_size(*probe(ref.video).video.display_size)
            frames = decode_frames(ref.video, DESYNC_FPS, size=size, start=ref.start, duration=read).frames
            self._desync_video[key] = self.desync.video_features(frames)
        d = self.desync.score(self._desync_video[key], wav, SR)
        return (d, "") if d is not None else (None, f"fewer than one {DESYNC_MIN_SECONDS:g} s window of segments")

    def _ib_score(self, ref: Reference, wav: np.ndarray) -> tuple[float | None, str]:
        """(IB-score of ``wav`` [T] at 44.1 kHz against ``ref``'s picture from ``ref.start``, "") or
        (None, why not). The reference's picture embedding is computed once per frame count."""
        if ref.video is None:
            return None, "the reference has no picture (IB-score compares its frames with the sound)"
        read = self.imagebind.span(len(wav) / SR)
        if read < IB_MIN_SECONDS - 1e-9:
            return None, f"span read {read:.2f} s is shorter than the {IB_MIN_SECONDS:g} s IB-score needs (two frames at 0.5 fps)"
        n = self.imagebind.frame_count(read)
        key = (ref.stem, n)
        if key not in self._ib_video:
            frames = decode_frames(ref.video, self.imagebind.fps, start=self.imagebind.frame_start(ref.start),
                                   duration=n / self.imagebind.fps).frames
            self._ib_video[key] = self.imagebind.video_embedding(frames)
        return self.imagebind.score(self._ib_video[key], wav, SR), ""

    def ref_track(self, i: int, samples: int | None = None) -> alignment.OnsetTrack:
        """The onset track of reference ``i``'s first ``samples`` samples (default: all of it). The
        detector's peak picking is relative to the envelope it is given, so a pair's tracks are made
        from its common span only: sound past the span never moves an onset inside it."""
        wav = self.refs[i].wav
        samples = len(wav) if samples is None else min(samples, len(wav))
        key = (i, samples)
        if key not in self._ref_tracks:
            self._ref_tracks[key] = alignment.onset_track(wav[:samples], SR)
        return self._ref_tracks[key]

    # ---- scoring ----------------------------------------------------------------------------
    @torch.no_grad()
    def score(self, generated: dict[str, np.ndarray | Path], *, name: str = "generated",
              bootstrap: bool = False, cuts: dict[str, Cut] | None = None) -> dict:
        """Score {stem: wav [T] at 44.1 kHz or a media file} against the references of the same
        stems (see the module doc). ``cuts``: where in each file its sound is (``generated_cuts``;
        the references were read from each cut's start). Returns the summary dict (``per_clip``
        rows included)."""
        rows, sets, skipped, not_scored = [], {}, [], {}
        tracks: dict[str, alignment.OnsetTrack] = {}
        seconds: dict[str, float] = {}
        wavs: dict[str, np.ndarray] = {}
        spans: dict[str, str] = {}  # stem -> how its span is known: "recorded", "--start", "unknown", "in memory"
        names = {stem: str(item) if isinstance(item, (str, os.PathLike)) else stem for stem, item in generated.items()}
        for stem, item in generated.items():
            if stem not in self.index:
                raise MaskvatError(f"{stem}: no reference of that name")
            spans[stem] = "in memory"
            if isinstance(item, (str, os.PathLike)):
                cut = (cuts or {}).get(stem)
                spans[stem] = cut.source if cut else "unknown"
                try:
                    item = read_audio(item, start=cut.offset if cut else 0.0)
                except MaskvatError as exc:
                    skipped.append((str(item), str(exc).removeprefix(f"{item}: ")))
                    continue
                if cut is not None and cut.duration is not None:
                    item = item[:int(round(cut.duration * SR))]
            wavs[stem] = np.asarray(item, np.float32)
        for stem, wav in tqdm(sorted(wavs.items()), desc=f"evaluate {name}", unit="file", disable=not self.progress):
            ref = self.refs[self.index[stem]]
            n = min(len(wav), len(ref.wav))
            span = n / SR
            if span < MIN_SECONDS:
                skipped.append((names[stem], f"common span {span:.2f} s (generated {len(wav) / SR:.2f} s, reference "
                                      f"{ref.seconds:.2f} s) is shorter than {MIN_SECONDS} s"))
                continue
            row = {"clip": stem, "span_s": span, "generated_s": len(wav) / SR, "reference_s": ref.seconds,
                   "reference_start_s": ref.start, "span_known": spans[stem]}
            g, r = self._features(wav[:n]), self._ref_features(ref, n)
            for k in (k for k in SET_FEATURES if k in g):
                sets.setdefault(k, ([], []))
                sets[k][0].append(np.atleast_2d(g[k]))
                sets[k][1].append(np.atleast_2d(r[k]))
            row["ns"] = novelty_score(g["sem"], r["sem"])
            row["wc"] = torch.cosine_similarity(g["emb"], r["emb"], dim=0).item()
            for name in self.published:
                row[f"kl_{name}"] = float(kl_softmax(g[f"{name}_logits"], r[f"{name}_logits"]))
            if self.desync is not None:
                d, why = self._desync(ref, wav[:n])
                if d is None:
                    not_scored.setdefault("desync", []).append((stem, why))
                else:
                    row["desync"] = d.seconds
            if self.imagebind is not None:
                ib, why = self._ib_score(ref, wav[:n])
                if ib is None:
                    not_scored.setdefault("ib_score", []).append((stem, why))
                else:
                    row["ib_score"] = ib
            if self.lab and ref.video is not None:
                row["cc"] = torch.cosine_similarity(g["emb"], self._video_embedding(ref), dim=0).item()
            if self.judge is not None and ref.video is not None:
                offset = _sync_offset(self.judge, ref.video, wav[:n], ref.start)
                if offset is None:
                    not_scored.setdefault("ss_seconds", []).append(
                        (stem, f"span {span:.2f} s is shorter than the judge's window"))
                else:
                    row["ss_seconds"] = offset
            tracks[stem] = alignment.onset_track(wav[:n], SR)  # the span only (see ref_track)
            seconds[stem] = n / SR
            if span < alignment.MIN_SPAN_S:
                not_scored.setdefault("alignment", []).append(
                    (stem, f"span {span:.2f} s is shorter than the {alignment.MIN_SPAN_S} s the shifted control needs"))
            else:
                i = self.index[stem]
                refs = [self.ref_track(j, n) for j in range(len(self.refs))]  # each cut to this span
                row.update(alignment.pair_alignment(refs[i], tracks[stem], span))
                ctl = alignment.controls(refs, tracks[stem], i, span, [min(x.seconds, span) for x in self.refs],
                                         seconds[stem])
                for which, vals in ctl.items():
                    row.update({f"{k}@{which}": v for k, v in vals.items()})
            rows.append(row)
        if not rows:
            raise MaskvatError("no pair could be scored: " + "; ".join(f"{f}: {why}" for f, why in skipped[:3]))
        return self._summary(rows, sets, skipped, not_scored, bootstrap)

    def _summary(self, rows, sets, skipped, not_scored, bootstrap: bool) -> dict:
        out: dict = {"n_files": len(rows), "codec": self.tok.name if self.tok is not None else None, "fad_embedding": "vggish" if self.vggish else "lab-audio",
                     "lab_references": self.lab}
        scorers = {**self.published, **({"synchformer": self.desync} if self.desync is not None else {}),
                   **({"imagebind": self.imagebind} if self.imagebind is not None else {})}
        if scorers:
            out["published"] = {name: {"weights": m.source, "sample_rate": m.sample_rate, "seconds": self.published_seconds}
                                for name, m in scorers.items()}
        names = SET_FEATURES
        out["frames"] = {names[k]: int(sum(len(x) for x in v[0])) for k, v in sets.items()}
        ci = {}
        for k, (gen, ref) in sets.items():
            m = names[k]
            if sum(len(x) for x in gen) < 2:
                not_scored.setdefault(m, []).append(("all", "fewer than 2 embeddings"))
                continue
            out[m] = frechet_distance(np.concatenate(gen), np.concatenate(ref))
        for m, spec in METRICS.items():
            if spec.kind == "set":
                continue
            vals = np.array([r[m] for r in rows if m in r], np.float64)
            if len(vals) and np.isfinite(vals).any():
                out[m] = float(np.nanmean(vals))
                if bootstrap:
                    ci[m] = bootstrap_mean(vals)
            for which in ("other_clip", "shifted"):
                cv = np.array([r[f"{m}@{which}"] for r in rows if f"{m}@{which}" in r], np.float64)
                if len(cv) and np.isfinite(cv).any():
                    out.setdefault("controls", {}).setdefault(which, {})[m] = float(np.nanmean(cv))
        if bootstrap:
            out["ci"] = ci
        if "ss_seconds" in out:
            out["ss_files"] = sum("ss_seconds" in r for r in rows)
        if "desync" in out:
            out["desync_files"] = sum("desync" in r for r in rows)
        if "ib_score" in out:
            out["ib_files"] = sum("ib_score" in r for r in rows)
        spans = np.array([r["span_s"] for r in rows])
        gen_s = np.array([r["generated_s"] for r in rows])
        ref_s = np.array([r["reference_s"] for r in rows])
        out["spans"] = {"policy": SPAN_POLICY, "min_s": float(spans.min()), "median_s": float(np.median(spans)),
                        "max_s": float(spans.max()), "generated_shorter": int((gen_s < ref_s - 0.01).sum()),
                        "generated_longer": int((gen_s > ref_s + 0.01).sum()),
                        "reference_cut": [{"clip": r["clip"], "start_s": r["reference_start_s"],
                                           "end_s": r["reference_start_s"] + r["span_s"], "source": r["span_known"]}
                                          for r in rows if r["reference_start_s"] > 0],
                        "unknown_mismatch": [{"clip": r["clip"], "generated_s": r["generated_s"],
                                              "reference_s": r["reference_s"]} for r in rows
                                             if r["span_known"] == "unknown"
                                             and abs(r["generated_s"] - r["reference_s"]) > FRAME_S]}
        out["skipped"] = [{"file": str(f), "reason": why} for f, why in skipped]
        out["not_scored"] = {m: [{"clip": c, "reason": why} for c, why in v] for m, v in not_scored.items()}
        if self.refused:
            out["refused"] = dict(self.refused)
        out["per_clip"] = rows
        return out


def evaluate_dirs(generated: str | os.PathLike, reference: str | os.PathLike, *, codec: str | None = "lab",
                  judge: str | None = "lab", classifier: str | None = "lab", semantic: str = "lab",
                  vggish: str | None = None, panns: str | None = None, passt: str | None = None,
                  synchformer: str | None = None, imagebind: str | None = None,
                  published_seconds: float | None = PUBLISHED_SECONDS,
                  progress: bool = True, reference_cache: dict | None = None, bootstrap: bool = False,
                  start: float | None = None) -> dict:
    """Score the folder ``generated`` against the folder ``reference`` (see the module doc).
    ``reference_cache``: a dict kept across calls (the rows of one table) holding the Evaluator,
    so that the models load once and each reference's features are computed once. ``start``:
    seconds into every reference where the generated sound begins (default: what each file
    records, else 0)."""
    generated, reference = Path(generated), Path(reference)
    pairing = pair_files(generated, reference)
    cuts = generated_cuts({r.stem: g for g, r in pairing.pairs}, start)
    ev = _evaluator(pairing, reference_cache, {stem: c.start for stem, c in cuts.items()}, codec=codec, judge=judge,
                    semantic=semantic, vggish=vggish, panns=panns, passt=passt, synchformer=synchformer,
                    imagebind=imagebind, published_seconds=published_seconds, progress=progress)
    result = ev.score({r.stem: g for g, r in pairing.pairs if r.stem in ev.index}, bootstrap=bootstrap, cuts=cuts)
    result["skipped"] = _pairing_skips(pairing, ev) + result["skipped"]
    result["unpaired_references"] = len(pairing.unpaired_references)
    if ev.lab and any(c.start > 0 for c in cuts.values()):
        result.setdefault("refused", {})["lab onsets and class accuracy"] = (
            "the truth JSONs time each clip's events from 0 s, these sounds are spans from later in it")
    elif ev.lab:
        result["onsets"] = score_dirs(reference, generated)["families"]
        if classifier is not None:
            result["class_accuracy"] = _class_accuracy(classifier, ev, result["per_clip"], generated)
    return result


def _evaluator(pairing: Pairing, cache: dict | None, starts: dict[str, float], **kwargs) -> Evaluator:
    key = (tuple(sorted(str(r) for _, r in pairing.pairs)), tuple(sorted(starts.items())),
           tuple(sorted((k, str(v)) for k, v in kwargs.items() if k != "progress")))
    if cache is not None and cache.get("key") == key:
        return cache["evaluator"]
    refs, bad = load_references([r for _, r in pairing.pairs], starts)
    ev = Evaluator(refs, **kwargs)
    ev.unreadable = bad
    if cache is not None:
        cache.update(key=key, evaluator=ev)
    return ev


def _pairing_skips(pairing: Pairing, ev: Evaluator) -> list[dict]:
    out = [{"file": str(f), "reason": why} for f, why in pairing.skipped]
    out += [{"file": str(f), "reason": f"reference unreadable: {why}"} for f, why in getattr(ev, "unreadable", [])]
    return out


def _class_accuracy(source: str, ev: Evaluator, rows: list[dict], generated: Path) -> float | None:
    """Share of generated files whose heard class set equals the truth's (lab references only);
    None when the shipped classifier is absent and none was named."""
    if source == "lab" and not (ASSETS / "lab" / "sound_classifier").is_dir():
        return None
    model = load_classifier(source)
    pairing = pair_files(generated, ev.refs[0].path.parent)
    files = {r.stem: g for g, r in pairing.pairs}
    predicted, truth = [], []
    for row in rows:
        ref = ev.refs[ev.index[row["clip"]]]
        if ref.truth is None:
            continue
        n = int(round(row["span_s"] * SR))
        mel = ev.audio_enc.mel(read_audio(files[row["clip"]])[:n])
        predicted += model.predict_sets(LogMelAudioEncoder.from_mel(mel)[None])
        truth.append(class_set(load_truth(ref.truth)))
    return set_accuracy(predicted, truth) if truth else None


def _sync_offset(judge, video: Path, wav: np.ndarray, start: float = 0.0) -> float | None:
    """Mean |offset| (s) the judge predicts between ``video``'s picture from ``start`` seconds on and
    ``wav``; None for a clip shorter than the judge's window."""
    size = judge.cfg.size
    frames = decode_frames(video, 25.0, size=(size, size), start=start).frames
    n = min(len(frames), int(len(wav) / SR * 25))
    if n < judge.grid.window_frames:
        return None
    return float(np.abs(predict_offsets(judge, frames[:n], wav[: int(n / 25 * SR)])).mean())


def evaluate_systems(reference: str | os.PathLike, systems: dict[str, str | os.PathLike] | None = None, *,
                     anchors: bool = False, codec: str | None = "lab", judge: str | None = "lab", semantic: str = "lab",
                     vggish: str | None = None, panns: str | None = None, passt: str | None = None,
                     synchformer: str | None = None, imagebind: str | None = None,
                     published_seconds: float | None = PUBLISHED_SECONDS,
                     progress: bool = True, seed: int = 0, start: float | None = None) -> dict:
    """Several systems (``{name: folder}``) and/or the anchors (``evaluation.anchors``) on the
    same references: the clips every system has (all readable references for anchors alone).
    ``start``: as for ``evaluate_dirs``; every system's file of a clip must belong at the same
    start in its reference (a MaskvatError names the clip otherwise).

    Returns {"columns": {name: summary}, "verdicts": {metric: ...} (with anchors), "skipped": [...],
    "n_clips": int}; each summary has bootstrap intervals over clips (``ci``)."""
    reference = Path(reference)
    systems = dict(systems or {})
    pairings = {name: pair_files(folder, reference) for name, folder in systems.items()}
    if pairings:
        stems = set.intersection(*({r.stem for _, r in p.pairs} for p in pairings.values()))
        if not stems:
            raise MaskvatError(f"no clip of {reference} is in every system ({', '.join(systems)})")
    else:
        require_folder(reference)
        found, _ = media_files(reference)
        stems = set(found)
        if not stems:
            raise MaskvatError(f"{reference}: no media file to use as references")
    ref_paths = {}
    skipped: list[dict] = []
    for name, p in pairings.items():
        skipped += [{"file": str(f), "reason": f"{name}: {why}"} for f, why in p.skipped]
        for g, r in p.pairs:
            if r.stem in stems:
                ref_paths[r.stem] = r
            else:
                skipped.append({"file": str(g), "reason": f"{name}: clip {r.stem} is not in every system"})
    if not pairings:
        ref_paths = found
    cuts = {name: generated_cuts({r.stem: g for g, r in p.pairs if r.stem in stems}, start)
            for name, p in pairings.items()}
    starts = _common_starts(cuts, stems, start)
    refs, bad = load_references([ref_paths[s] for s in sorted(stems)], starts)
    skipped += [{"file": str(f), "reason": f"reference unreadable: {why}"} for f, why in bad]
    ev = Evaluator(refs, codec=codec, judge=judge, semantic=semantic, vggish=vggish, panns=panns, passt=passt,
                   synchformer=synchformer, imagebind=imagebind, published_seconds=published_seconds,
                   progress=progress)
    columns: dict[str, dict] = {}
    out: dict = {"reference": str(reference), "n_clips": len(refs), "lab_references": ev.lab}
    if anchors:
        for name, sounds in anchor_sounds({r.stem: r.wav for r in refs}, SR, seed).items():
            columns[name] = ev.score(sounds, name=name)
        out["verdicts"] = verdicts(columns, METRICS)
        out["anchors"] = list(columns)
    for name, p in pairings.items():
        columns[name] = ev.score({r.stem: g for g, r in p.pairs if r.stem in ev.index}, name=name, bootstrap=True,
                                 cuts=cuts[name])
    out["columns"] = columns
    out["skipped"] = skipped
    if ev.refused:
        out["refused"] = dict(ev.refused)
    return out


def _common_starts(cuts: dict[str, dict[str, Cut]], stems: set[str], start: float | None) -> dict[str, float]:
    """{stem: where its reference is read from}, the same for every system; a MaskvatError naming
    the first clip whose systems' files belong at different starts."""
    out = {}
    for stem in sorted(stems):
        found = {name: c[stem].start if stem in c else 0.0 for name, c in cuts.items()}
        if len(set(found.values())) > 1:
            said = ", ".join(f"{name}'s from {s:.2f} s" for name, s in found.items())
            raise MaskvatError(f"clip {stem}: the systems' sounds belong at different times of the reference ({said}; "
                               "a file of `maskvat generate` records its --start); compare sounds of the same span, "
                               "or pass --start to say where all of them begin")
        out[stem] = next(iter(found.values()), start or 0.0)
    return out
