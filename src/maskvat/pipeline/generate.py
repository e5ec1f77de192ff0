"""Silent video in, synchronised sound out: the whole pipeline behind ``maskvat generate``.

    pipe = maskvat.load()                           # Pipeline.load(): the shipped lab model, codec, encoders
    result = pipe.generate("clip.mp4", seed=0)      # Generation: wav [T] at 44.1 kHz, codes [K, L]

Videos longer than the model's window are generated in windows that overlap by
``overlap`` seconds: each later window takes the previous window's tokens in the overlap
as fixed (prompt) tokens and fills the rest, and the whole codegram is decoded once.
Three things put a thump where windows joined (BENCHMARKS.md, "Seams"); each is handled:
- the codec's edge codes: a codec codes the first and last few frames of a clip apart
  from the same sound inside a longer one (its convolutions see zeros beyond the clip);
  the generator learnt its training clips' codegrams, edges included, and ends every
  window with end-of-clip codes, a thump when decoded mid-codegram. Each window but the
  last leaves its last ``codec_edge_frames`` frames to the next, which samples them anew.
- guidance with a prompt: the unconditional pass sees no prompt tokens
  (``SamplerSettings.guide_prompt``); seeing them, it made a burst just after the prompt.
- the encoders' edges: a window's features are read with ``FEATURE_CONTEXT`` seconds of
  picture on each side, so a temporal (3-D convolution) encoder sees the video around a
  window, not an edge at its first and last frame; at the video's own ends it sees the
  edge, as in training.

Editing (``keep=``, ``regenerate=``; ``maskvat.pipeline.edit``) runs the same loop: the kept
sound's tokens outside the ranges start as fixed tokens, the windows with nothing to sample
are skipped, and ``variations=B`` samples B codegrams side by side, all returned.
"""

from __future__ import annotations

import json
import math
import os
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskvat.atomic import atomic_path
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.devices import checked_device
from maskvat.encoders.judge import sync_confidence
from maskvat.errors import MaskvatError
from maskvat.media import FrameArray, MediaInfo, SoundWriter, probe
from maskvat.model.config import model_config
from maskvat.model.generators import load_generator
from maskvat.model.maskvat import MaskVAT
from maskvat.model.vaura import VAURA, vaura_config
from maskvat.model.vtaldm import VTALDM, vtaldm_config
from maskvat.pipeline.edit import (
    check_keep_length,
    check_ranges,
    kept_codes,
    merge_spans,
    range_frames,
    read_keep,
    spans_of,
)
from maskvat.pipeline.features import FeaturePipeline, encoder_roles
from maskvat.pipeline.limits import MAX_BEAMS, MAX_SECONDS, MIN_SECONDS, requested_duration  # noqa: F401 (re-exported)
from maskvat.pipeline.stream import SoundStream
from maskvat.sampling.autoregressive import sample_autoregressive
from maskvat.sampling.flow import sample_latent
from maskvat.sampling.sampler import SamplerSettings, sample_codes
from maskvat.scav.model import SCAV
from maskvat.weights import (
    INDEX_FILE,
    is_shipped_name,
    pipeline_index,
    resolve,
    shipped,
    shipped_pipeline,
    snapshot,
)

DEFAULT_MODEL = "lab"
DECODE_PIECE = 2048  # codegram frames (24 s) decoded at a time in a long in-memory decode
FEATURE_CONTEXT = 0.5  # seconds of picture read on each side of a window (cut off its features again)


@dataclass
class Generation:
    """wav: [T] float32 at ``sample_rate`` (T = round(duration * sample_rate)), None when
    ``Pipeline.generate_to`` wrote it to a file; codes: [K, L];
    windows: (start frame, length) of each window sampled.

    regenerated: codegram frame spans [(f0, f1), ...] (end exclusive) whose tokens were sampled,
    [(0, L)] unless editing. changed: frame spans outside which the sound is exactly the kept
    sound's codec round trip when editing (``regenerated`` widened by the codec decoder's
    reach); sample s lies in frame s // hop_length. Both [(0, L)] for a plain generation.
    Units: codegram frames from the span's start, end exclusive; in seconds, frame f begins at
    f * ``Pipeline.frame_seconds`` (hop_length / sample_rate: 512 / 44100 s for the shipped
    codecs) after ``start``."""

    wav: np.ndarray | None
    sample_rate: int
    codes: torch.Tensor
    duration: float
    windows: list[tuple[int, int]] = field(default_factory=list)
    # per window: the beam selector's distance of each beam, lower kept (SCAV: its embedding
    # distance; the sync judge: 1 - its mean probability of offset 0, NaN for a window shorter
    # than the judge's, where the first beam is kept)
    beam_distances: list[list[float]] = field(default_factory=list)
    chosen: list[int] = field(default_factory=list)  # per window: the beam kept
    regenerated: list[tuple[int, int]] = field(default_factory=list)
    changed: list[tuple[int, int]] = field(default_factory=list)


def window_plan(total_frames: int, window: int, overlap: int, excess: int | None = None) -> list[tuple[int, int]]:
    """(start, length) codegram windows covering [0, total_frames). Pure function.

    Up to ``window + excess`` frames is one window of ``total_frames`` (``excess`` default
    ``window // 50``: 2 %, 0.2 s of a 10 s window; the model's sinusoidal positions run on past
    its window), so a 10.01 s video costs one window, not two. Longer spans are windows of
    ``window`` frames, each starting ``window - overlap`` frames after the previous one (so
    overlapping it by ``overlap`` frames), and a last one only as long as it needs to be
    (``overlap`` frames of the previous window and what is left), but at least a quarter
    window, which it then takes from further back: it is not a full window reaching back over
    frames already generated, nor a sliver too short for the encoders or the model's context."""
    excess = window // 50 if excess is None else excess
    if total_frames <= window + excess:
        return [(0, total_frames)]
    if not 0 < overlap < window:
        raise ValueError("overlap must be between 0 and the window length")
    plan = [(0, window)]
    while plan[-1][0] + plan[-1][1] < total_frames:
        start = plan[-1][0] + window - overlap
        length = max(min(window, total_frames - start), window // 4)
        plan.append((total_frames - length if start + length > total_frames else start, length))
    return plan


def kept_ends(plan: list[tuple[int, int]], trim: int) -> list[int]:
    """For each window of ``plan`` (as ``window_plan`` makes it), the frame where the tokens it
    keeps end: all but its last ``trim`` frames, the last window all of its frames. ``trim``
    is at most half of the smallest overlap, so each later window keeps a prompt. Pure function."""
    ends = [s + n for s, n in plan]
    if len(plan) > 1:
        overlap = min(e - s for e, (s, _) in zip(ends, plan[1:]))
        trim = max(0, min(trim, overlap // 2))
    return [e - trim for e in ends[:-1]] + ends[-1:]


def codec_edge_frames(codec, seconds: float = 3.0) -> int:
    """How many codegram frames at either end of an encoded clip differ from the codes the same
    sound gets inside a longer clip: the codec's edge (its convolutions pad with zeros). Measured
    on ``seconds`` of seeded noise, encoded whole and its middle half alone."""
    hop = codec.hop_length
    n = int(seconds * codec.sample_rate) // hop
    wav = torch.from_numpy(np.random.default_rng(0).standard_normal(n * hop).astype(np.float32) * 0.1)
    a, m = n // 4, n // 2
    with torch.no_grad():
        whole = codec.encode(wav[None].to(codec.device))[0, :, a:a + m].cpu()
        part = codec.encode(wav[None, a * hop:(a + m) * hop].to(codec.device))[0].cpu()
    diff = (part != whole).any(0).nonzero().flatten()
    head, tail = diff[diff < m // 2], diff[diff >= m // 2]
    return int(max(int(head.max()) + 1 if len(head) else 0, m - int(tail.min()) if len(tail) else 0))


def codec_decoder_reach(codec, frames: int = 64) -> int:
    """How many codegram frames either side of a token the decoded samples it changes reach:
    a sample in frame f depends on the tokens of frames f - reach ... f + reach (the codec
    decoder's receptive field). Measured exactly (any change of a sample counts) on seeded
    random codes of ``frames`` frames whose middle frame is changed at every level."""
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(0, codec.codebook_size, (1, codec.n_levels, frames), generator=g)
    m = frames // 2
    other = codes.clone()
    other[0, :, m] = (codes[0, :, m] + 1 + codes.new_tensor(range(codec.n_levels))) % codec.codebook_size
    with torch.no_grad():
        a, b = codec.decode(torch.cat([codes, other]).to(codec.device)).cpu()
    diff = (a != b).nonzero().flatten()
    if not len(diff):
        return 0
    hop = codec.hop_length
    return int(max(m - int(diff.min()) // hop, int(diff.max()) // hop - m))


SELECTORS = ("scav", "judge")


def check_selector(selector: str, features) -> str:
    """``selector`` if the pipeline can use it, else a MaskvatError naming why: "scav" always
    (SCAV is loaded apart), "judge" only where the model's sync encoder is a sync judge's video
    tower (``lab-sync``, e.g. the shipped lab and hits models), whose judge then scores each beam."""
    if selector not in SELECTORS:
        raise MaskvatError(f"beam selector must be one of {', '.join(SELECTORS)}, not {selector!r}")
    if selector == "judge" and not hasattr(getattr(features, "sync", None), "judge"):
        name = getattr(getattr(getattr(features, "sync", None), "config", None), "name", None)
        raise MaskvatError("the judge beam selector needs a model whose sync encoder is a sync judge (lab-sync); "
                           + (f"this one's is {name}" if name else "this model has no sync encoder"))
    return selector


class Pipeline:
    """A generator (MaskVAT, the autoregressive V-AURA: ``maskvat.model.vaura``, or the flow-matching
    VTA-LDM: ``maskvat.model.vtaldm``) with its codec and feature encoders, ready to generate."""

    def __init__(self, model, codec, features, device: str | torch.device = "cpu", scav=None,
                 encoder_sources: dict[str, str] | None = None, selector: str = "scav"):
        self.model, self.codec, self.features = model.eval(), codec, features
        self.device = torch.device(device)
        self.scav = scav
        self.selector = check_selector(selector, features)  # which beam to keep: "scav" or "judge"
        self.encoder_sources = dict(encoder_sources or {})  # role -> weights it was loaded with (non-default)
        self.feature_context = FEATURE_CONTEXT  # seconds of picture on each side of a window's features
        self.feature_edge = "none"  # what the encoders see before the video's start / after its end ("repeat": its edge frame)
        self.edge_trim: int | None = None  # frames a window does not keep at its end; None: the codec's edge
        self.edit_widen: int | None = None  # frames sampled beyond each side of a regenerated range; None: edge_frames
        self._decoder_reach: int | None = None
        self.summary: str | None = None  # the pipeline folder's one-line "_summary" (what its weights are for)

    @classmethod
    def debug(cls, variant: str = "adaln-b", *, seed: int = 0, device: str | torch.device = "cpu",
              **overrides) -> "Pipeline":
        """A tiny pipeline with *random* generator and codec weights (``debug-*`` model configs,
        the ``tiny`` codec preset, the shipped lab encoders), for tests and for trying the API
        offline in seconds. Its sound is noise. ``maskvat.load("debug")`` gives the same.
        ``variant="vaura"``: the tiny V-AURA (``debug-vaura``); ``"vtaldm"``: the tiny VTA-LDM
        (``debug-vtaldm``). ``overrides``: ModelConfig (VAURAConfig, VTALDMConfig) fields (e.g.
        ``max_frames``)."""
        tok = AudioTokenizer.from_preset("tiny", seed=seed).to(device)
        torch.manual_seed(seed)
        if variant == "vaura":
            net = VAURA(vaura_config("debug-vaura", **overrides))
        elif variant == "vtaldm":
            net = VTALDM(vtaldm_config("debug-vtaldm", **overrides))
        else:
            net = MaskVAT(model_config(f"debug-{variant}", **overrides))
        net = net.to(device).eval()
        return cls(net, tok, FeaturePipeline.for_model(net.config, device=device), device)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """A pipeline folder that ``Pipeline.load`` / ``maskvat.load`` / ``--model`` take:
        FOLDER/model_index.json naming generator/, codec/ and scav/ (when there is one), and the
        encoder weights this pipeline was loaded with (paths, as given). Returns FOLDER."""
        folder = Path(folder)
        self.model.save_pretrained(folder / "generator")
        self.codec.save_pretrained(folder / "codec")
        index = {"_class_name": "maskvat.Pipeline", "generator": "generator", "codec": "codec"}
        if self.scav is not None:
            self.scav.save_pretrained(folder / "scav")
            index["scav"] = "scav"
        for role, source in self.encoder_sources.items():
            index[role] = str(Path(source).resolve()) if Path(source).exists() else source
        with atomic_path(folder / INDEX_FILE) as tmp:
            tmp.write_text(json.dumps(index, indent=1))
        return folder

    @classmethod
    def load(cls, model: str | os.PathLike = DEFAULT_MODEL, *, codec: str | None = None,
             device: str = "cpu", encoder_sources: dict[str, str] | None = None,
             scav: str | os.PathLike | None = "lab", selector: str = "scav") -> "Pipeline":
        """``model``: "lab" (the shipped pipeline), "hits" (the shipped real-footage demonstration
        pipeline), a pipeline folder (``model_index.json`` naming
        its generator, codec, SCAV and encoder weights), a generator folder written by
        ``save_pretrained``, or a hub id of either. ``codec`` overrides the codec the model
        names ("lab" = shipped, or a folder / hub id). ``scav``: the beam selector ("lab" = the
        pipeline's own or the shipped one, a folder, or None); needed for beams > 1 with
        ``selector="scav"``. ``selector``: what keeps one of the beams, "scav" (the paper's) or
        "judge" (the model's sync judge, for models whose sync encoder is one: ``lab-sync``;
        :func:`check_selector`), which needs no SCAV.
        ``encoder_sources``: role ("semantic", "sync", "audio") -> weights, over the pipeline's.
        Every component is placed on ``device``."""

        checked_device(device)
        if str(model) == "debug":
            return cls.debug(device=device)
        root = shipped_pipeline(model) or snapshot(resolve(model, "generator"), "model")
        index = pipeline_index(root) or {}
        net = load_generator(index.get("generator", root), device=device)  # MaskVAT, V-AURA or VTA-LDM, by its kind
        tok = AudioTokenizer.from_pretrained(codec or index.get("codec") or net.config.codec, device=device)
        if tok.n_levels != net.config.n_levels or tok.codebook_size != net.config.codebook_size:
            raise MaskvatError(f"codec {tok.name} ({tok.n_levels} x {tok.codebook_size}) does not fit the model "
                               f"({net.config.n_levels} x {net.config.codebook_size})")
        if getattr(net, "continuous", False) and int(tok.model.config.hidden_size) != net.config.codec_hidden:
            raise MaskvatError(f"codec {tok.name} (latent width {int(tok.model.config.hidden_size)}) does not fit the "
                               f"model (latent width {net.config.codec_hidden})")
        scav_model = None
        if scav is not None and selector != "judge":
            where = index.get("scav", shipped("scav")) if is_shipped_name(scav) else scav
            scav_model = SCAV.from_pretrained(where).to(device)
            _check_scav_fits(scav_model.config, net.config, where)
        sources = {role: str(index[role]) for role in ("semantic", "sync", "audio") if index.get(role)}
        roles = {name: role for role, name in encoder_roles(net.config).items() if name}
        sources.update({roles.get(key, key): src for key, src in (encoder_sources or {}).items()})  # names -> roles
        features = FeaturePipeline.for_model(net.config, sources, audio=scav_model is not None, device=device)
        pipe = cls(net, tok, features, device, scav_model, encoder_sources=sources, selector=selector)
        pipe.summary = index.get("_summary") if isinstance(index.get("_summary"), str) else None
        return pipe

    # ------------------------------------------------------------------------------------
    def _check(self, video, start: float, duration: float | None, beams: int) -> tuple[float, int, MediaInfo | None]:
        """Validate one request; returns (duration in seconds, codegram frames, the file's probe
        or None for frames in memory). The one probe of the file in a call."""
        info = None if isinstance(video, FrameArray) else probe(video)
        duration = requested_duration(video, start, duration, info=info)
        if not 1 <= beams <= MAX_BEAMS:
            raise MaskvatError(f"beams must be between 1 and {MAX_BEAMS}, not {beams}")
        if beams > 1 and self.selector == "scav" and self.scav is None:
            raise MaskvatError("beams > 1 needs a SCAV beam selector (Pipeline.load(scav=FOLDER)) "
                               "or selector='judge'")
        if beams > 1 and self.selector == "judge":
            need = self.features.sync.judge.grid.window_frames / self.features.sync.config.fps
            span = min(duration, self.model.config.window_seconds)
            if span < need - 1e-6:
                raise MaskvatError(f"the judge beam selector needs windows of {need:.2f} s or more (its judge's window); "
                                   f"this one is {span:.2f} s")
        return duration, self.frames(duration), info

    @property
    def frame_seconds(self) -> float:
        return self.codec.hop_length / self.codec.sample_rate

    def frames(self, duration: float) -> int:
        """Codegram frames (of ``frame_seconds`` each) that hold ``duration`` seconds of sound."""
        return math.ceil(duration * self.codec.sample_rate / self.codec.hop_length)

    def windows(self, duration: float, overlap: float = 1.0) -> list[tuple[int, int]]:
        """(start frame, length in frames) of each window ``generate`` samples for ``duration``
        seconds with windows overlapping by ``overlap`` seconds: ``window_plan`` at the model's
        window (``max_frames``); one window when the sound fits in it. What ``Generation.windows``
        will hold, known before any work."""
        return self._window_plan(self.frames(duration), overlap)

    def _window_plan(self, total: int, overlap: float) -> list[tuple[int, int]]:
        cfg = self.model.config
        return window_plan(total, cfg.max_frames, min(max(1, round(overlap / self.frame_seconds)), cfg.max_frames // 2))

    @property
    def edge_frames(self) -> int:
        """Frames each window but the last leaves to the next: ``edge_trim``, or else the codec's
        edge (``codec_edge_frames``), measured once."""
        if self.edge_trim is None:
            self.edge_trim = codec_edge_frames(self.codec)
        return self.edge_trim

    @property
    def decoder_reach(self) -> int:
        """Frames either side of a token that the decoded samples it changes reach
        (``codec_decoder_reach``), measured once."""
        if self._decoder_reach is None:
            self._decoder_reach = codec_decoder_reach(self.codec)
        return self._decoder_reach

    def generate(self, video, *, settings: SamplerSettings = SamplerSettings(),
                 seed: int = 0, generator: torch.Generator | None = None, start: float = 0.0,
                 duration: float | None = None, overlap: float = 1.0, beams: int = 1,
                 fps: float | None = None, progress: bool = False, keep=None,
                 regenerate: list[tuple[float, float]] | None = None, keep_rate: int | None = None,
                 variations: int | None = None) -> Generation | list[Generation]:
        """Sound for ``video`` from ``start`` for ``duration`` seconds (default: to the end of the video).

        video: a file path, a ``FrameArray``, or frames [N, H, W, 3] uint8 with their ``fps``.
        beams: B candidates per window, sampled as one batch; SCAV keeps the one nearest the
        video (paper 3.2.4). Their distances are in ``Generation.beam_distances``.

        Editing (``maskvat.pipeline.edit``): ``keep`` is the sound of the span generated (a sound
        or ``.safetensors`` codes file, a waveform [T] at ``keep_rate`` Hz (default 44100), codes
        [K, L], or a previous Generation), lasting ``duration`` s to within one codegram frame;
        ``regenerate`` [(t0, t1), ...] are seconds on the video's timeline inside [start, start +
        duration]. Only the tokens of those ranges (widened by ``edit_widen``, default the codec's
        ``edge_frames``, on each side) are sampled, with the same schedule, guidance and beams; the
        others are the kept sound's, and the whole codegram is decoded once.
        ``Generation.regenerated``/``changed`` say which frames were sampled / may sound different
        from the kept sound's codec round trip.

        variations: B > 0 returns a list of B Generations sampled side by side (each with its
        own ``beams``, SCAV choosing only among those), none selected; None returns one.

        A file is probed once and decoded once, in one pass that serves every window and
        every encoder as sampling reaches it (``FeaturePipeline.visual_windows``); each beam is
        decoded once (for SCAV), and a one-window video's sound is its kept beam's."""
        if variations is not None and not 1 <= variations <= MAX_BEAMS:
            raise MaskvatError(f"variations must be between 1 and {MAX_BEAMS}, not {variations}")
        video, info, duration, total, base = self._request(video, fps, start, duration, beams, keep, regenerate,
                                                           keep_rate)
        out = self._generate(video, info, duration, total, settings, seed, generator, start, overlap, beams, progress,
                             base, variations or 1)
        return out if variations is not None else out[0]

    def generate_to(self, video, sound_path: str | os.PathLike, *, comment: str | None = None,
                    settings: SamplerSettings = SamplerSettings(), seed: int = 0, start: float = 0.0,
                    duration: float | None = None, overlap: float = 1.0, beams: int = 1, fps: float | None = None,
                    progress: bool = False, keep=None, regenerate: list[tuple[float, float]] | None = None,
                    keep_rate: int | None = None) -> Generation:
        """``generate``, writing the sound to ``sound_path`` (.wav or .flac, 16-bit) as it is made:
        after each window, the samples whose tokens are final are decoded and appended
        (``maskvat.pipeline.stream``), so memory stays bounded by the window however long the
        video (BENCHMARKS.md, "Long videos"). The file appears complete at the end; an exception
        or Ctrl-C leaves no partial file (and a file already there as it was). ``comment``: the
        file's comment tag. Returns the Generation with ``wav`` None (the sound is in the file);
        its ``codes`` equal ``generate``'s with the same arguments, and the written samples those of
        ``generate``'s ``wav`` to float rounding. Options as for ``generate``, one variation."""
        video, info, duration, total, base = self._request(video, fps, start, duration, beams, keep, regenerate,
                                                           keep_rate)
        with SoundWriter(sound_path, self.codec.sample_rate, comment=comment) as out:
            return self._generate(video, info, duration, total, settings, seed, None, start, overlap, beams, progress,
                                  base, 1, sinks=[out.write])[0]

    def _request(self, video, fps, start, duration, beams, keep, regenerate, keep_rate):
        """One call's checked request: (video, its probe, seconds, codegram frames, the codegram to
        start from or None). Everything is checked here, before any work."""
        video = as_video(video, fps)
        duration, total, info = self._check(video, start, duration, beams)
        base = None
        if keep is not None or regenerate is not None:
            base = self._edit_base(keep, regenerate, keep_rate, start, duration, total, str(video))
        return video, info, duration, total, base

    def _edit_base(self, keep, regenerate, keep_rate, start: float, duration: float, total: int,
                   name: str) -> torch.Tensor:
        """The codegram [K, total] an edit starts from: the kept sound's tokens, [MASK] in the
        (widened) ranges and in any frame the kept sound lacks. Checks everything first."""
        if keep is None or regenerate is None:
            raise MaskvatError("editing needs both keep= (the sound to keep) and regenerate= (the ranges to redo)")
        ranges = check_ranges(regenerate, start, duration, name)
        keep = read_keep(keep, self.codec.sample_rate, self.codec.hop_length, keep_rate)
        check_keep_length(keep, start, duration, self.frame_seconds)
        widen = self.edge_frames if self.edit_widen is None else self.edit_widen
        codes, n = kept_codes(keep, self.codec, total)
        base = torch.full((self.model.config.n_levels, total), self.model.config.mask_id, dtype=torch.long)
        base[:, :n] = codes
        for f0, f1 in range_frames(ranges, start, self.frame_seconds, total, widen):
            base[:, f0:f1] = self.model.config.mask_id
        return base

    def _generate(self, video, info, duration: float, total: int, settings, seed, generator, start: float,
                  overlap: float, beams: int, progress: bool, base: torch.Tensor | None = None,
                  variations: int = 1, sinks=None) -> list[Generation]:
        """``variations`` Generations. base: the codegram [K, total] to start from, [MASK] where
        to sample (None: everywhere); windows with no [MASK] left when they come are skipped.
        sinks: one callable per variation, handed the sound in order as float32 pieces [t] as
        soon as their tokens are final (decoded piecewise: memory bounded by the window, not the
        video); the Generations' ``wav`` are then None."""
        gen = generator or torch.Generator(device=self.device).manual_seed(seed)
        cfg = self.model.config
        frame_s = self.frame_seconds
        plan = self._window_plan(total, overlap)
        ends = kept_ends(plan, self.edge_frames if len(plan) > 1 else 0)
        if base is None:
            base = torch.full((cfg.n_levels, total), cfg.mask_id, dtype=torch.long)
        todo = (base == cfg.mask_id).any(0)  # frames to sample: a window takes those before its kept end
        runs = []
        for (w_start, w_len), end in zip(plan, ends):
            if todo[w_start:w_start + w_len].any():
                runs.append((w_start, w_len, end))
                todo[w_start:end] = False
        codes = base[None].repeat(variations, 1, 1)
        distances, chosen, kept = [[] for _ in codes], [[] for _ in codes], [None] * variations
        spans = [(start + w_start * frame_s, w_len * frame_s) for w_start, w_len, _ in runs]
        n = int(round(duration * self.codec.sample_rate))
        stream = None if sinks is None else SoundStream(self.codec, codes, n, self.decoder_reach, sinks)
        windows = self.features.visual_windows(video, spans, context=self.feature_context, edge=self.feature_edge, info=info)
        seconds = tqdm(total=round(duration, 1), desc="video", unit="s", disable=not progress or len(runs) < 2,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of video "
                                  "[{elapsed}<{remaining}]")
        with closing(windows), seconds:
            for k, ((w_start, w_len, end), feats) in enumerate(zip(runs, windows), 1):
                prompt = codes[:, :, w_start:w_start + w_len].repeat_interleave(beams, 0)  # rows v * beams + beam
                fixed = prompt != cfg.mask_id
                desc = f"window {k} of {len(runs)}" if len(runs) > 1 else "sampling"
                out = self._sample([feats], w_len, settings, gen, prompt if fixed.any() else None, fixed, progress,
                                   beams * variations, desc)
                for v in range(variations):
                    best, dist, kept[v] = self._select(feats, out[v * beams:(v + 1) * beams])
                    if dist is not None:
                        distances[v].append(dist)
                        chosen[v].append(best)
                    codes[v, :, w_start:end] = out[v * beams + best, :, :end - w_start].cpu()
                if stream is not None and k < len(runs):
                    stream.final_until(end)  # every token before this window's kept end is final
                seconds.update(round(min(end * frame_s, duration), 1) - seconds.n)
        # one window: its kept beams' sound, decoded for SCAV, is the sound; else the joined codegrams, once
        one = len(plan) == 1 and len(runs) == 1 and all(k is not None for k in kept)
        if stream is not None:
            stream.finish([k[:n] for k in kept] if one else None)
            wavs = [None] * variations
        elif one:
            wavs = [k[:n] for k in kept]
        else:
            wavs = self._decode(codes, [duration] * variations)
        sampled = spans_of((base == cfg.mask_id).any(0))
        reach = self.decoder_reach if sampled != [(0, total)] else 0
        changed = merge_spans([(max(0, a - reach), min(total, b + reach)) for a, b in sampled])
        return [Generation(wav, self.codec.sample_rate, c, duration, [(s, w) for s, w, _ in runs], d, ch,
                           sampled, changed)
                for wav, c, d, ch in zip(wavs, codes, distances, chosen)]

    def generate_many(self, videos, *, batch_size: int = 8, settings: SamplerSettings = SamplerSettings(),
                      seed: int = 0, start: float = 0.0, duration: float | None = None, overlap: float = 1.0,
                      beams: int = 1, fps: float | None = None, progress: bool = False):
        """Sound for many videos, batching across files: yields ``(index, video, Generation or
        the exception that stopped it)`` as each is done (not necessarily in input order), so
        that one bad file never ends the run (a MaskvatError for bad input, anything else a
        bug to report). Videos are paths or frames, as for ``generate`` (``fps`` applies to
        bare arrays).

        Videos that fit in one window and have the same codegram length are sampled together,
        ``batch_size`` at a time (times ``beams``); longer ones go through ``generate`` alone.
        Each video of a batch draws from its own generator seeded with ``seed``, so every result
        is ``generate(video, seed=seed)``'s whatever the batch (to float rounding in the batched
        model, which can change a rare near-tie draw)."""
        if batch_size < 1:
            raise MaskvatError(f"batch size must be at least 1, not {batch_size}")
        cfg = self.model.config
        pending: dict[tuple, list] = {}

        def shape(t):
            return None if t is None else tuple(t.shape)

        for i, video in enumerate(videos):
            done = None  # this video's result when it is not batched: a Generation or an exception
            try:
                video = as_video(video, fps)
                dur, total, info = self._check(video, start, duration, beams)
                if total > cfg.max_frames:
                    done = self._generate(video, info, dur, total, settings, seed, None, start, overlap, beams,
                                          progress)[0]
                else:
                    feats = self.features.visual(video, start, total * self.frame_seconds,
                                                 context=self.feature_context, edge=self.feature_edge, info=info)
            except Exception as exc:  # noqa: BLE001 - one file's failure, whatever it is, is that file's result
                done = exc
            if done is not None:
                yield i, video, done
                continue
            key = (total, shape(feats.semantic), shape(feats.sync))
            pending.setdefault(key, []).append((i, video, feats, dur))
            if len(pending[key]) == batch_size:
                yield from self._run_batch(pending.pop(key), key[0], settings, seed, beams, progress)
        for key in list(pending):
            yield from self._run_batch(pending.pop(key), key[0], settings, seed, beams, progress)

    def _run_batch(self, items, length, settings, seed, beams, progress):
        # one generator per video, each seeded alike: a video sampled beside others draws what it
        # draws alone (``sampling.steps``: row groups), so its sound does not depend on the batch
        gen = [torch.Generator(device=self.device).manual_seed(seed) for _ in items]
        out = self._sample([f for _, _, f, _ in items], length, settings, gen, None, None, progress, beams,
                           desc=f"sampling {len(items)} videos together" if len(items) > 1 else "sampling")
        picks, scores, kept = [], [], []
        for j, (_, _, feats, dur) in enumerate(items):
            best, dist, wav = self._select(feats, out[j * beams:(j + 1) * beams])
            picks.append(out[j * beams + best].cpu())
            scores.append((best, dist))
            kept.append(None if wav is None else wav[:int(round(dur * self.codec.sample_rate))])
        if any(w is None for w in kept):  # one beam each: decoded here, all at once
            kept = self._decode(torch.stack(picks), [d for *_, d in items])
        wavs = kept
        for (i, video, _, dur), codes, wav, (best, dist) in zip(items, picks, wavs, scores):
            yield i, video, Generation(wav, self.codec.sample_rate, codes, dur, [(0, length)],
                                       [] if dist is None else [dist], [] if dist is None else [best],
                                       [(0, length)], [(0, length)])

    def _select(self, feats, candidates: torch.Tensor) -> tuple[int, list[float] | None, np.ndarray | None]:
        """(index of the kept beam, SCAV distances of all beams, the kept beam's waveform [L * hop]
        as SCAV decoded it; None and None for a single candidate, which is not decoded here)."""
        if candidates.shape[0] == 1:
            return 0, None, None
        wav = self.codec.decode(candidates.to(self.codec.device))  # [B, L * hop], each beam decoded once
        dist = self.beam_distances(feats, wav)
        best = 0 if torch.isnan(dist).all() else int(dist.argmin())  # NaN: not scored, the first beam kept
        return best, dist.tolist(), wav[best].float().cpu().numpy().reshape(-1)

    @torch.no_grad()
    def _decode(self, codes: torch.Tensor, durations: list[float]) -> list[np.ndarray]:
        """codes [B, K, L] -> one float32 waveform per item, cut to its duration. A codegram
        longer than ``DECODE_PIECE`` frames is decoded in pieces of that many frames (with the
        decoder's reach as context: the same samples, the activations of one piece in memory)."""
        n = [int(round(d * self.codec.sample_rate)) for d in durations]
        if codes.shape[-1] <= DECODE_PIECE:
            wav = self.codec.decode(codes.to(self.codec.device), num_samples=max(n))
            return [w[:m].float().cpu().numpy().reshape(-1) for w, m in zip(wav, n)]
        out = [np.empty(m, np.float32) for m in n]
        stream = SoundStream(self.codec, codes, max(n), self.decoder_reach,
                             [_Filler(o) for o in out])
        for end in range(DECODE_PIECE, codes.shape[-1], DECODE_PIECE):
            stream.final_until(end + self.decoder_reach)
        stream.finish()
        return out

    def scav_distances(self, feats, candidates: torch.Tensor) -> torch.Tensor:
        """SCAV distance between the window's video and each candidate codegram [B, K, L] -> [B]."""
        return self.beam_distances(feats, self.codec.decode(candidates.to(self.codec.device)), "scav")

    @torch.no_grad()
    def beam_distances(self, feats, wavs: torch.Tensor, selector: str | None = None) -> torch.Tensor:
        """The beam selector's distance (lower kept) of each candidate sound wavs [B, T] (mono at the
        codec's rate, from the window's start) to one window's picture (``feats``, its features as
        generation reads them) -> [B]. ``selector``: "scav" (SCAV's embedding distance) or "judge"
        (1 - the model's sync judge's mean p(offset 0), ``encoders.judge.sync_confidence``; NaN for
        every beam of a window shorter than the judge's, where the first beam is kept); default
        the pipeline's own."""
        selector = check_selector(selector or self.selector, self.features)
        wavs = torch.as_tensor(wavs).float().reshape(wavs.shape[0], -1)
        if selector == "judge":
            judge = self.features.sync.judge
            if feats.sync.shape[0] < judge.grid.window_frames:
                return torch.full((wavs.shape[0],), float("nan"))
            return (1.0 - sync_confidence(judge, feats.sync.to(self.device), wavs, self.codec.sample_rate)).cpu()
        audio = torch.stack([self.features.audio_features(w.cpu().numpy()) for w in wavs])
        sem = None if feats.semantic is None else feats.semantic[None]
        syn = None if feats.sync is None else feats.sync[None]
        dev = next(self.scav.parameters()).device
        v = self.scav.video(sem.to(dev) if sem is not None else None, syn.to(dev) if syn is not None else None)
        return self.scav.distance(v, self.scav.audio(audio.to(dev)))[0].cpu()

    @torch.no_grad()
    def _sample(self, feats: list, length, settings, gen, prompt, fixed, progress, beams: int = 1,
                desc: str = "sampling") -> torch.Tensor:
        """Codes [len(feats) * beams, K, length]; item j's beams are rows j * beams ... (j + 1) * beams - 1.
        ``desc``: the progress bar's label (with ``progress``)."""

        dev = self.device
        conds, unconds = [], []
        for f in feats:  # conditioned one by one: feature lengths may differ by a frame
            sem = None if f.semantic is None else f.semantic[None].to(dev)
            syn = None if f.sync is None else f.sync[None].to(dev)
            c, u = self.model.condition_pair(sem, syn, length=length)
            conds.append(c)
            unconds.append(u)
        cond, uncond = conds[0], unconds[0]
        for c, u in zip(conds[1:], unconds[1:]):
            cond, uncond = type(cond).cat(cond, c), type(uncond).cat(uncond, u)
        if beams > 1:
            cond, uncond = cond.repeat(beams), uncond.repeat(beams)
        if getattr(self.model, "autoregressive", False):  # V-AURA: frame by frame, the prompt as prefix
            return sample_autoregressive(self.model, cond, length, settings, gen,
                                         uncond=uncond if settings.guidance > 0 else None,
                                         prompt=None if prompt is None else prompt.to(dev),
                                         prompt_mask=None if prompt is None else fixed.to(dev), progress=progress,
                                         desc=desc)
        if getattr(self.model, "continuous", False):  # VTA-LDM: a latent by ODE, then its nearest codes
            return self._sample_flow(cond, uncond, length, settings, gen, prompt, fixed, progress, desc)
        return sample_codes(self.model, cond, length, settings, gen, uncond=uncond if settings.guidance > 0 else None,
                            prompt=None if prompt is None else prompt.to(dev),
                            prompt_mask=None if prompt is None else fixed.to(dev), progress=progress, desc=desc)

    def _sample_flow(self, cond, uncond, length, settings, gen, prompt, fixed, progress, desc) -> torch.Tensor:
        """Codes [B, K, length] of a flow model: the latent integrated (fixed frames, those with
        every level fixed, held on their path: ``sample_latent``), then the codes nearest it
        (``AudioTokenizer.nearest_codes``); fixed tokens are put back as they were (a partly fixed
        frame keeps its fixed levels)."""
        dev, codec_dev = self.device, self.codec.device
        keep = known = None
        if prompt is not None:
            fixed = fixed.to(dev)
            keep = fixed.all(1)  # [B, L]
            known = self.codec.quantized(torch.where(fixed, prompt.to(dev), 0).to(codec_dev)).to(dev)
        latent = sample_latent(self.model, cond, length, settings, gen, uncond=uncond if settings.guidance > 0 else None,
                               prompt_latent=known, keep=keep, progress=progress, desc=desc)
        codes = self.codec.nearest_codes(latent.to(codec_dev)).to(dev)
        return codes if prompt is None else torch.where(fixed, prompt.to(dev), codes)


class _Filler:
    """A sink that fills a preallocated array [T] in order (longer input is cut at T)."""

    def __init__(self, out: np.ndarray):
        self.out, self.at = out, 0

    def __call__(self, piece: np.ndarray) -> None:
        piece = piece[:len(self.out) - self.at]
        self.out[self.at:self.at + len(piece)] = piece
        self.at += len(piece)


def as_video(video, fps: float | None = None):
    """A path or ``FrameArray`` as it is; frames [N, H, W, 3] uint8 with ``fps`` -> FrameArray."""

    if isinstance(video, np.ndarray) or (isinstance(video, torch.Tensor) and video.dim() == 4):
        if fps is None:
            raise MaskvatError("frames given as an array need their frame rate: pass fps=...")
        return FrameArray(np.asarray(video), float(fps))
    if fps is not None and not isinstance(video, FrameArray):
        raise MaskvatError(f"{video}: fps applies to frame arrays; a file brings its own frame rate")
    return video


def _check_scav_fits(scav_cfg, model_cfg, where) -> None:
    """SCAV scores the model's own features: it must read the encoders the model reads."""

    model_reads = encoder_roles(model_cfg)
    wrong = [f"{role}: {name} (the model: {model_reads[role] or 'does not read it'})"
             for role, name in encoder_roles(scav_cfg).items() if name is not None and name != model_reads[role]]
    if wrong:
        raise MaskvatError(f"SCAV {where} reads other features than the model: {'; '.join(wrong)}. Train a SCAV on "
                           "the model's features cache (`maskvat scav train --cache CACHE`)")
