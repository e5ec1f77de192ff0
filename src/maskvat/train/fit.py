"""``maskvat fit VIDEOS_OR_FOLDERS... --out MODEL``: the whole stack from a user's own videos with
their sound and no labels, in one resumable command.

    summary = fit(["footage/"], "models/mine", FitConfig.from_file("configs/fit-hits.json"))
    pipe = maskvat.load("models/mine")

Stages, in order; each is a step of one run folder, MODEL/fit/, that a kill (Ctrl-C, kill -9)
anywhere leaves resumable: the same command goes on where it stopped, and a finished stage
(MODEL/fit/STAGE/done.json) is skipped.

  split      train / val / test files chosen BY FILE, never by time inside one file (neighbouring
             seconds of one video are near-duplicates); saved in MODEL/fit/split.json. The test
             files are read by no stage: they stay unseen for measuring the model.
  codec      the codec on the train files' sound (``maskvat.train.codec``): fine-tuned from
             ``codec.init_from`` (the shipped ``lab`` codec by default) or from scratch (null); its
             round trip on the val files is reported beside the codec it started from and libopus
             at 8 kbps, and with ``keep_better_codec`` the better of the two is kept
  sync       the sync judge (the S3D role, ``lab-sync``) as SparseSync trains it: a window's sound
             shifted against its picture by a known offset, the offset classified; nothing but the
             footage is needed (``maskvat.train.sync_judge`` on clips of the footage)
  semantic   the semantic pair (the CLIP role ``lab-semantic`` and the BEATs role ``lab-audio``),
             frames against their window's sound, the other clips as negatives (InfoNCE)
  cache      ``maskvat extract`` shard caches of the train and val files with the codec and the
             encoders just trained (a cache holds those encoders' features, hence this order)
  generator  the MaskVAT generator (``generator.model``: any variant, AdaLN, Seq2Seq or Hybrid)
  scav       SCAV, the beam selector, on the same caches
  pipeline   MODEL/ becomes a pipeline folder: model_index.json naming generator/, codec/,
             scav/, semantic/ and sync_judge/, all inside MODEL, so that ``maskvat generate
             --model MODEL`` and ``maskvat.load(MODEL)`` take it (MODEL/fit/ may be deleted then)

Every trainer is the project's own, on the one loop (``maskvat.train.loop``): each stage's folder
holds its config.json, checkpoint.pt, log.csv and curves.png. Every choice (split, clip lengths,
frame sizes, steps, the model) is one typed :class:`FitConfig`, saved as MODEL/fit/config.json.
A stage is skipped only when it finished with the same settings after the same earlier stages
(a chain of fingerprints); otherwise the run stops, before any work, with a one-line error.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from maskvat.atomic import atomic_path
from maskvat.codec.tokenizer import AudioTokenizer
from maskvat.config_checks import from_checked_dict, read_config_file
from maskvat.data.corpus import AudioCorpus
from maskvat.data.dataset import read_cache_info
from maskvat.data.extract import ExtractConfig, extract
from maskvat.data.filters import silence
from maskvat.data.footage import clip_frames, codec_round_trip_mels, load_footage
from maskvat.data.sources import list_sources
from maskvat.encoders.semantic import SemanticConfig
from maskvat.encoders.sync import SyncConfig
from maskvat.errors import MaskvatError, MediaError
from maskvat.evaluation.codec import evaluate_codec
from maskvat.media import probe, read_audio
from maskvat.model.config import model_config
from maskvat.pipeline.generate import Pipeline
from maskvat.train.augment import Augment
from maskvat.train.codec import CodecTrainConfig, CodecTrainer
from maskvat.train.generator import GeneratorTrainer, TrainConfig
from maskvat.train.scav import SCAVTrainConfig, SCAVTrainer
from maskvat.train.semantic import SemanticTrainConfig, SemanticTrainer
from maskvat.train.sync_judge import SyncJudgeTrainer, SyncTrainConfig
from maskvat.weights import INDEX_FILE

STAGES = ("split", "codec", "sync", "semantic", "cache", "generator", "scav", "pipeline")
VAL_TITLE = "validation (the val files)"  # the encoders' curves
SILENT_DBFS = -90.0  # a sound track quieter than this (RMS over the whole file) is no sound
AUDIO_ENCODERS = ("lab-audio", "lab-logmel")  # the BEATs role: the semantic pair's audio tower, or plain log-mel

# Fields of each stage's config that fit fills in itself (paths of earlier stages' results, the
# encoders it trained); a config file that sets them is refused.
SET_BY_FIT = {
    "semantic": ("codec",),
    "extract": ("codec", "semantic", "sync", "audio"),
    "generator": ("train_cache", "val_cache", "codec"),
    "scav": ("train_cache", "val_cache", "window_seconds"),
}
MODEL_SET_BY_FIT = ("semantic_dim", "sync_dim", "audio_dim", "semantic_fps", "sync_fps", "audio_fps",
                    "semantic_encoder", "sync_encoder", "audio_encoder", "codec", "codec_hidden")


def _codec_default() -> CodecTrainConfig:
    return CodecTrainConfig(preset="lab", init_from="lab", steps=150, batch_size=8, segment=8192, lr=1e-4, warmup=20,
                            eval_every=50, checkpoint_every=25)


def _sync_default() -> SyncTrainConfig:
    return SyncTrainConfig(steps=1500, batch=32, eval_windows=210, eval_every=100, checkpoint_every=100)


def _semantic_default() -> SemanticTrainConfig:
    return SemanticTrainConfig(steps=1000, batch=32, window_s=2.0, eval_every=100, checkpoint_every=100,
                               codec=None, codec_share=0.5)


def _extract_default() -> ExtractConfig:
    return ExtractConfig(clip_seconds=8.0, min_seconds=4.0, chunk_size=4)


def _generator_default() -> TrainConfig:
    return TrainConfig(model="lab-adaln-b", steps=1500, batch_size=16, lr=1e-3, lr_end=1e-6, warmup=100,
                       eval_every=100, checkpoint_every=100, val_items=64)


def _scav_default() -> SCAVTrainConfig:
    return SCAVTrainConfig(steps=600, batch_size=32, eval_every=100, checkpoint_every=100)


SECTIONS = {"codec": (CodecTrainConfig, _codec_default), "sync": (SyncTrainConfig, _sync_default),
            "semantic": (SemanticTrainConfig, _semantic_default), "extract": (ExtractConfig, _extract_default),
            "generator": (TrainConfig, _generator_default), "scav": (SCAVTrainConfig, _scav_default)}


@dataclass
class FitConfig:
    """Every choice of one ``maskvat fit`` run (``--config FILE.json``; saved as MODEL/fit/config.json).

    Top level: the split and what several stages share. Sections: each stage's own trainer config
    (``codec``: CodecTrainConfig, ``sync``: SyncTrainConfig with its ``model`` a SyncConfig,
    ``semantic``: SemanticTrainConfig with its ``model`` a SemanticConfig, ``extract``: the caches'
    ExtractConfig, ``generator``: TrainConfig, ``scav``: SCAVTrainConfig); a file gives only the keys
    it changes (nested ``model`` dicts too). The fields in ``SET_BY_FIT`` are fit's to fill in.
    Keys starting with "_" are comments."""

    seed: int = 0  # the split's draw
    val_files: int = 2  # files for validation curves and the codec's report (at least 1)
    test_files: int = 3  # files no stage reads: unseen, for measuring the model
    held_out: tuple[str, ...] = ()  # test files by name (as listed in split.json); overrides test_files
    group_pattern: str | None = None  # regex: files whose names match it alike go to one part (one take's pieces)
    clip_seconds: float = 4.0  # the sync judge's and semantic pair's clips of footage (a whole number of 25 fps frames)
    audio_encoder: str = "lab-audio"  # the BEATs role: the fitted semantic pair's audio tower, or "lab-logmel"
    keep_better_codec: bool = True  # keep the starting codec when the fine-tuned one measures worse on val
    codec_report_seconds: float = 30.0  # seconds of each val file in the codec's report
    workers: int = 0  # decoding processes for the footage and the caches (0: in the main process)
    codec: CodecTrainConfig = field(default_factory=_codec_default)
    sync: SyncTrainConfig = field(default_factory=_sync_default)
    semantic: SemanticTrainConfig = field(default_factory=_semantic_default)
    extract: ExtractConfig = field(default_factory=_extract_default)
    generator: TrainConfig = field(default_factory=_generator_default)
    scav: SCAVTrainConfig = field(default_factory=_scav_default)

    def __post_init__(self):
        self.held_out = tuple(self.held_out)
        if self.val_files < 1:
            raise MaskvatError("fit needs at least one val file (val_files >= 1): the curves and the codec's report "
                               "are measured on it")
        if self.test_files < 0:
            raise MaskvatError("test_files must be >= 0")
        if self.audio_encoder not in AUDIO_ENCODERS:
            raise MaskvatError(f"audio_encoder must be one of {', '.join(AUDIO_ENCODERS)}, not {self.audio_encoder!r}")
        file_groups([], self.group_pattern)  # a pattern that does not compile is one clear error
        grid = SyncConfig(**self.sync.model)
        need = (grid.window_frames + 2 * grid.half * grid.step_frames)
        if clip_frames(self.clip_seconds) < need:
            raise MaskvatError(f"clip_seconds {self.clip_seconds} is shorter than the sync judge's window and its "
                               f"largest shifts ({need} frames at 25 fps)")
        if self.semantic.window_s > self.clip_seconds:
            raise MaskvatError(f"semantic.window_s {self.semantic.window_s} is longer than clip_seconds {self.clip_seconds}")
        SemanticConfig(**self.semantic.model)
        for name in ("sync", "semantic"):
            try:
                Augment.from_setting(getattr(self, name).augment)
            except MaskvatError as e:
                raise MaskvatError(f"{name}.{e}") from None
        model_config(self.generator.model, **{k: v for k, v in self.generator.model_overrides.items()
                                              if k not in MODEL_SET_BY_FIT})
        self.extract.check()

    @classmethod
    def from_dict(cls, data: dict, where: str = "fit option") -> "FitConfig":
        data = {k: v for k, v in data.items() if not k.startswith("_")}
        sections = {}
        for name, (section_cls, default) in SECTIONS.items():
            given = data.pop(name, None) or {}
            if not isinstance(given, dict):
                raise MaskvatError(f"{where}: {name} must be an object of {section_cls.__name__} fields")
            given = {k: v for k, v in given.items() if not k.startswith("_")}
            fixed = sorted(set(given) & set(SET_BY_FIT.get(name, ())))
            if fixed:
                raise MaskvatError(f"{where}: {name}.{', '.join(fixed)} set by fit itself (from the earlier stages); "
                                   "leave it out")
            overrides = given.get("model_overrides", {}) if name == "generator" else {}
            if set(overrides) & set(MODEL_SET_BY_FIT):
                raise MaskvatError(f"{where}: generator.model_overrides."
                                   f"{', '.join(sorted(set(overrides) & set(MODEL_SET_BY_FIT)))} set by fit itself "
                                   "(from the codec and encoders it trains); leave it out")
            base = _section_dict(default())
            if name == "codec" and "lr_end" not in given:
                base["lr_end"] = None  # derived from lr (lr * lr_min_ratio) unless given
            merged = {k: ({**base[k], **v} if isinstance(base.get(k), dict) and isinstance(v, dict) else v)
                      for k, v in given.items()}
            sections[name] = _section_from_dict(section_cls, {**base, **merged}, f"{where}: {name}")
        return from_checked_dict(cls, {**data, **sections}, where)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "FitConfig":
        return cls.from_dict(read_config_file(path), f"{path}: fit option")

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in SECTIONS}
        out["held_out"] = list(self.held_out)
        for name in SECTIONS:  # the fields fit fills in are in each stage's own config.json, not here
            out[name] = {k: v for k, v in _section_dict(getattr(self, name)).items()
                         if k not in SET_BY_FIT.get(name, ())}
        return out


def _section_dict(section) -> dict:
    return section.to_dict() if hasattr(section, "to_dict") else asdict(section)


def _section_from_dict(section_cls, data: dict, where: str):
    if hasattr(section_cls, "from_dict"):
        return section_cls.from_dict(data, f"{where} option")
    return from_checked_dict(section_cls, data, f"{where} option")


# ---- inputs ---------------------------------------------------------------------------------------
@dataclass
class Footage:
    """One input video: its path, its name in the split (as ``list_sources`` names it), seconds."""

    path: Path
    name: str
    seconds: float
    size: int  # bytes: a changed file changes the split's fingerprint


def check_inputs(sources: list[str | os.PathLike]) -> list[Footage]:
    """Every input video, probed; a MaskvatError naming the first file without a picture or without
    sound (fit learns each video's sound from the video itself), or that cannot be read. Fast: no
    decoding. Lists with start/end are refused (fit splits and cuts whole files)."""
    items = list_sources(list(sources))
    out = []
    for it in items:
        if it.start or it.end is not None:
            raise MaskvatError(f"{it.path}: a start/end in a list; maskvat fit uses whole files (cut them first)")
        try:
            info = probe(it.path)
        except OSError as exc:
            raise MediaError(it.path, f"cannot be read ({exc.strerror or exc})") from None
        if info.video is None:
            raise MediaError(it.path, "has no video stream; maskvat fit learns from videos with their sound")
        if info.audio is None:
            raise MediaError(it.path, "has no sound (no audio stream); maskvat fit learns each video's sound from the "
                                      "video itself: leave this file out")
        out.append(Footage(it.path, it.name, min(info.video.duration, info.audio.duration), it.path.stat().st_size))
    if not out:
        raise MaskvatError("no videos to fit")
    return out


def file_groups(names: list[str], pattern: str | None) -> dict[str, list[str]]:
    """Files that must stay in one part of the split: those whose file names give the same first match
    of the regular expression ``pattern`` (e.g. a recording's timestamp, for the parts of one long
    take); a name it does not match, or every name when ``pattern`` is None, is a group of its own."""
    import re

    try:
        rx = re.compile(pattern) if pattern else None
    except re.error as exc:
        raise MaskvatError(f"group_pattern {pattern!r}: not a regular expression ({exc})") from None
    groups: dict[str, list[str]] = {}
    for name in sorted(names):
        found = rx.search(Path(name).name) if rx else None
        groups.setdefault(found.group(0) if found else name, []).append(name)
    return groups


def choose_split(names: list[str], cfg: FitConfig) -> dict[str, list[str]]:
    """train / val / test file names, by file (by group of files with ``group_pattern``): the groups of
    ``held_out`` (or groups drawn with ``seed`` until they hold ``test_files`` files) for test, then
    groups drawn until they hold ``val_files`` files for val, the rest for train. Pure function of
    the names and the config."""
    groups = file_groups(names, cfg.group_pattern)
    names = sorted(names)
    unknown = [n for n in cfg.held_out if n not in names]
    if unknown:
        raise MaskvatError(f"held_out names {', '.join(unknown)}, which is not among the inputs "
                           f"({', '.join(names[:3])}, ...)")
    keys = sorted(groups)
    order = [keys[i] for i in np.random.default_rng(cfg.seed).permutation(len(keys))]

    def take(candidates: list[str], n_files: int) -> list[str]:
        chosen, count = [], 0
        for key in candidates:
            if count >= n_files:
                break
            chosen.append(key)
            count += len(groups[key])
        return chosen

    if cfg.held_out:
        test = [k for k in order if set(groups[k]) & set(cfg.held_out)]
    else:
        test = take(order, cfg.test_files)
    val = take([k for k in order if k not in test], cfg.val_files)
    train = [k for k in order if k not in test and k not in val]
    if not train:
        raise MaskvatError(f"{len(names)} files leave none to train on after {cfg.test_files or len(cfg.held_out)} test "
                           f"and {cfg.val_files} val files; give more videos or lower test_files / val_files")
    return {part: sorted(n for k in ks for n in groups[k]) for part, ks in (("train", train), ("val", val),
                                                                            ("test", test))}


# Trainer options added after fit's first release, with the default that leaves a stage as it was:
# a stage's fingerprint includes them only when set otherwise.
_LOOP_ADDED = {"keep_best": ""}
ADDED_LATER = {"codec": {**_LOOP_ADDED, "loud_crops": 0.0}, "sync": {**_LOOP_ADDED, "init_from": None, "augment": False},
               "semantic": {**_LOOP_ADDED, "init_from": None, "augment": False}, "generator": _LOOP_ADDED, "scav": _LOOP_ADDED}


FEW_VAL_CLIPS = 5  # fewer val clips than this: the semantic pair's recall among them is said to say little

# ---- the run ---------------------------------------------------------------------------------------
class FitRun:
    """One ``maskvat fit`` run folder: stage folders, their fingerprints and done markers."""

    def __init__(self, model: str | os.PathLike, cfg: FitConfig, footage: list[Footage], *, device: str = "cpu",
                 progress: bool = True, log: Callable[[str], None] = print):
        self.model, self.cfg, self.footage = Path(model), cfg, {f.name: f for f in footage}
        self.root = self.model / "fit"
        self.device, self.progress, self.log = device, progress, log
        self.ids = self._fingerprints()
        self._clips: dict[tuple, tuple] = {}

    def folder(self, stage: str) -> Path:
        return self.root / stage

    def stage_settings(self, stage: str) -> dict:
        """What a stage's result depends on besides the earlier stages: its part of the config.
        Options added since fit began (``ADDED_LATER``) count only where they differ from their
        default, so that a run folder made before them is still taken as it is."""
        c, d = self.cfg, self.cfg.to_dict()
        for section, added in ADDED_LATER.items():
            for key, default in added.items():
                if d[section].get(key, default) == default:
                    d[section].pop(key, None)
        if stage == "split":
            return {"seed": c.seed, "val_files": c.val_files, "test_files": c.test_files, "held_out": list(c.held_out),
                    "group_pattern": c.group_pattern, "files": sorted([f.name, f.size] for f in self.footage.values())}
        if stage == "codec":
            return {"codec": d["codec"], "keep_better_codec": c.keep_better_codec,
                    "codec_report_seconds": c.codec_report_seconds}
        if stage in ("sync", "semantic"):
            return {stage: d[stage], "clip_seconds": c.clip_seconds}
        if stage == "cache":
            return {"extract": d["extract"], "audio_encoder": c.audio_encoder}
        if stage in ("generator", "scav"):
            return {stage: d[stage]}
        return {}

    def _fingerprints(self) -> dict[str, str]:
        ids, previous = {}, ""
        for stage in STAGES:
            text = json.dumps({"stage": stage, "settings": self.stage_settings(stage), "after": previous},
                              sort_keys=True)
            previous = ids[stage] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return ids

    def done(self, stage: str) -> dict | None:
        path = self.folder(stage) / "done.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return None  # torn by a kill: the stage is redone

    def check(self) -> None:
        """Before any work: the folder is a fit folder (or new), and every finished stage finished
        with today's settings after today's earlier stages, with no unfinished stage before it."""
        if self.model.exists() and not self.model.is_dir():
            raise MaskvatError(f"{self.model}: exists and is not a folder")
        if self.model.is_dir() and any(self.model.iterdir()) and not self.root.is_dir():
            raise MaskvatError(f"{self.model}: exists and is not a maskvat fit folder (no fit/ inside); choose a new "
                               "or empty folder")
        gap = None
        for stage in STAGES:
            done = self.done(stage)
            if done is None:
                gap = gap or stage
                continue
            if done.get("id") != self.ids[stage]:
                changed = self.changed_settings()
                later = [s for s in STAGES[STAGES.index(stage) + 1:] if self.folder(s).is_dir()]
                raise MaskvatError(f"{self.folder(stage)}: finished with other settings or after other earlier stages "
                                   "than this config gives"
                                   + (f" (changed since the last run: {', '.join(changed)})" if changed else "")
                                   + f"; use a new --out, or delete {self.folder(stage)}"
                                   + (f" and the stage folders after it ({', '.join(later)})" if later else "")
                                   + " to redo them")
            if gap:
                raise MaskvatError(f"{self.folder(stage)}: finished, but the earlier stage {gap} is not; delete "
                                   f"{self.folder(stage)} and the stage folders after it (or use a new --out)")

    def changed_settings(self) -> list[str]:
        """Dotted names of the settings that differ from the last run's MODEL/fit/config.json (empty
        if there is none or it cannot be read): what the 'other settings' error names."""
        try:
            before = json.loads((self.root / "config.json").read_text())
        except (OSError, json.JSONDecodeError):
            return []

        def flat(d: dict, prefix: str = "") -> dict:
            out = {}
            for k, v in d.items():
                out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
            return out

        a, b = flat(before), flat(json.loads(json.dumps(self.cfg.to_dict())))
        return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))

    def mark_done(self, stage: str, seconds: float, report: dict) -> None:
        with atomic_path(self.folder(stage) / "done.json") as tmp:
            tmp.write_text(json.dumps({**report, "stage": stage, "id": self.ids[stage], "seconds": round(seconds, 1),
                                       "finished": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))

    # ---- where the earlier stages' results are -------------------------------------------------
    @property
    def split(self) -> dict[str, list[str]]:
        return json.loads((self.root / "split.json").read_text())["files"]

    def paths(self, part: str) -> list[Path]:
        return [self.footage[n].path for n in self.split[part]]

    @property
    def codec_dir(self) -> Path:
        return self.folder("codec") / self.done("codec")["kept"]

    @property
    def judge_dir(self) -> Path:
        return self.folder("sync") / "sync_judge"

    @property
    def semantic_dir(self) -> Path:
        return self.folder("semantic") / "semantic"

    def encoder_sources(self) -> dict[str, str]:
        out = {"semantic": str(self.semantic_dir), "sync": str(self.judge_dir)}
        if self.cfg.audio_encoder == "lab-audio":
            out["audio"] = str(self.semantic_dir)
        return out

    def clips(self, part: str, size: int, codec: bool = False):
        """The footage of ``part`` as clips in memory (kept for the next stage of this process); with
        ``codec``, also their sound's log-mels after a round trip through the fitted codec."""
        key = (part, size)
        if key not in self._clips:
            self._clips = {k: v for k, v in self._clips.items() if k[1] == size}  # one frame size held at a time
            self._clips[key] = load_footage(self.paths(part), clip_seconds=self.cfg.clip_seconds, size=size,
                                            names=self.split[part], workers=self.cfg.workers, progress=self.progress)
        clips = self._clips[key]
        if codec and clips.codec_mels is None:
            paths = {n: self.footage[n].path for n in self.split[part]}
            clips.codec_mels = codec_round_trip_mels(AudioTokenizer.from_pretrained(self.codec_dir), clips, paths,
                                                     self.cfg.clip_seconds, progress=self.progress)
        return clips

    def check_clip_lengths(self, split: dict[str, list[str]]) -> None:
        """The sync and semantic stages cut the train and val files into clips of ``clip_seconds``
        (a file's remainder is left out): a MaskvatError, before any training, if a part has no
        file that long."""
        for part in ("train", "val"):
            seconds = [self.footage[n].seconds for n in split[part] if n in self.footage]
            if seconds and max(seconds) < self.cfg.clip_seconds:
                raise MaskvatError(f"clip_seconds {self.cfg.clip_seconds:g}: no {part} file is that long (the longest "
                                   f"is {max(seconds):.1f} s); the encoders train on clips of clip_seconds cut from "
                                   "each file: give a shorter clip_seconds")

    # ---- stages ------------------------------------------------------------------------------------
    def run_split(self) -> dict:
        """Refuse silent sound tracks (before any long work), then choose and save the split."""
        for f in tqdm(list(self.footage.values()), desc="check sound", unit="file", disable=not self.progress):
            quiet = silence(read_audio(f.path), SILENT_DBFS)
            if quiet:
                raise MediaError(f.path, f"its sound track is {quiet}: maskvat fit learns each video's sound from the "
                                         "video itself; leave this file out")
        split = choose_split(list(self.footage), self.cfg)
        self.check_clip_lengths(split)
        seconds = {part: round(sum(self.footage[n].seconds for n in names), 2) for part, names in split.items()}
        self.folder("split").mkdir(parents=True, exist_ok=True)
        with atomic_path(self.root / "split.json") as tmp:
            tmp.write_text(json.dumps({"rule": "by file: no file is in two parts; test files are read by no stage",
                                       "seed": self.cfg.seed, "group_pattern": self.cfg.group_pattern,
                                       "seconds": seconds, "files": split,
                                       "paths": {n: str(self.footage[n].path.resolve()) for n in sorted(self.footage)}},
                                      indent=1))
        return {"files": {k: len(v) for k, v in split.items()}, "footage_seconds": seconds}

    def run_codec(self) -> dict:
        cfg, out = self.cfg.codec, self.folder("codec")
        corpus = AudioCorpus.from_dirs(self.paths("train"), max_seconds=24 * 3600, progress=self.progress)
        CodecTrainer(cfg, out, corpus, progress=self.progress).run(device=self.device)
        fitted = AudioTokenizer.from_pretrained(out / "codec")
        report = {"fitted": codec_report(fitted, self.paths("val"), self.cfg.codec_report_seconds, anchors=True,
                                         progress=self.progress)}
        kept = "codec"
        if cfg.init_from:
            start = AudioTokenizer.from_pretrained(cfg.init_from)
            report["start"] = codec_report(start, self.paths("val"), self.cfg.codec_report_seconds, anchors=False,
                                           progress=self.progress)
            report["start"]["source"] = str(cfg.init_from)
            if self.cfg.keep_better_codec and report["start"]["mel_distance"] < report["fitted"]["mel_distance"]:
                kept = "start_codec"
                start.save_pretrained(out / kept)
        report["kept"] = kept
        with atomic_path(out / "report.json") as tmp:
            tmp.write_text(json.dumps(report, indent=1))
        f = report["fitted"]
        line = (f"codec round trip on {f['files']} val files: mel distance {f['mel_distance']:.3f} "
                f"(libopus 8 kbps {f['opus_8kbps_mel_distance']:.3f})")
        if "start" in report:
            line += f", the codec it started from {report['start']['mel_distance']:.3f}; kept: {kept}"
        self.log(line)
        return {"kept": kept, "round_trip": report}

    def run_sync(self) -> dict:
        cfg = self.cfg.sync
        size = SyncConfig(**cfg.model).size
        train, val = self.clips("train", size), self.clips("val", size)
        trainer = SyncJudgeTrainer(cfg, self.folder("sync"), clips=(train, val), progress=self.progress)
        trainer.val_title = VAL_TITLE
        last = trainer.run(device=self.device)
        return {"clips": {"train": len(train.frames), "val": len(val.frames)}, "last_validation": _plain(last)}

    def run_semantic(self) -> dict:
        codec = self.cfg.semantic.codec_share > 0
        cfg = replace(self.cfg.semantic, codec=str(self.codec_dir) if codec else None)
        size = SemanticConfig(**cfg.model).size
        train, val = self.clips("train", size, codec=codec), self.clips("val", size)
        if len(val.frames) < FEW_VAL_CLIPS:
            self.log(f"semantic: only {len(val.frames)} val clip(s) of {self.cfg.clip_seconds:g} s: its validation "
                     f"recall (retrieval among them) says little; more or longer val files, or a shorter clip_seconds, "
                     "give more")
        trainer = SemanticTrainer(cfg, self.folder("semantic"), clips=(train, val), progress=self.progress)
        trainer.val_title = VAL_TITLE
        last = trainer.run(device=self.device)
        return {"clips": {"train": len(train.frames), "val": len(val.frames)}, "last_validation": _plain(last)}

    def run_cache(self) -> dict:
        self._clips = {}  # the footage in memory is not needed from here on
        cfg = replace(self.cfg.extract, codec=str(self.codec_dir), semantic="lab-semantic", sync="lab-sync",
                      audio=self.cfg.audio_encoder)
        report = {}
        for part in ("train", "val"):
            listing = self.folder("cache") / f"{part}.jsonl"  # absolute paths: names unique across input folders
            with atomic_path(listing) as tmp:
                tmp.write_text("".join(json.dumps({"path": str(p.resolve())}) + "\n" for p in self.paths(part)))
            summary = extract([str(listing)], self.folder("cache") / part, cfg,
                              workers=self.cfg.workers, device=self.device, progress=self.progress,
                              encoder_sources=self.encoder_sources())
            if summary["unreadable_now"]:
                raise MaskvatError(f"{summary['unreadable_now'][0]} (while extracting the {part} cache)")
            if not summary["clips_in_cache"]:
                raise MaskvatError(f"no clip of the {part} files was kept ({summary['dropped_now']}); check the extract "
                                   "settings (clip_seconds, min_seconds, silence_dbfs)")
            report[part] = {k: summary[k] for k in ("clips_in_cache", "dropped_now")}
        return report

    def generator_config(self) -> TrainConfig:
        info = read_cache_info(self.folder("cache") / "train")
        enc = info["encoders"]
        overrides = {**self.cfg.generator.model_overrides,
                     "semantic_dim": enc["semantic"]["dim"], "semantic_fps": enc["semantic"]["rate"],
                     "semantic_encoder": enc["semantic"]["name"], "sync_dim": enc["sync"]["dim"],
                     "sync_fps": enc["sync"]["rate"], "sync_encoder": enc["sync"]["name"],
                     "audio_dim": enc["audio"]["dim"], "audio_fps": enc["audio"]["rate"],
                     "audio_encoder": enc["audio"]["name"]}
        return replace(self.cfg.generator, train_cache=str(self.folder("cache") / "train"),
                       val_cache=str(self.folder("cache") / "val"), codec=str(self.codec_dir), model_overrides=overrides)

    def run_generator(self) -> dict:
        last = GeneratorTrainer(self.generator_config(), self.folder("generator"), progress=self.progress).run(
            device=self.device)
        return {"last_validation": _plain(last)}

    def run_scav(self) -> dict:
        gen = self.generator_config()
        mcfg = model_config(gen.model, **gen.model_overrides)
        cfg = replace(self.cfg.scav, train_cache=gen.train_cache, val_cache=gen.val_cache,
                      window_seconds=mcfg.window_seconds, use_sync=self.cfg.scav.use_sync and mcfg.use_sync)
        last = SCAVTrainer(cfg, self.folder("scav"), progress=self.progress).run(device=self.device)
        return {"last_validation": _plain(last)}

    def run_pipeline(self) -> dict:
        """MODEL/{generator,codec,scav,semantic,sync_judge} and MODEL/model_index.json naming them
        (relative paths: the folder can move), loaded back as ``maskvat generate`` loads it."""
        pipe = Pipeline.load(self.folder("generator") / "model", codec=str(self.codec_dir),
                             scav=self.folder("scav") / "scav", encoder_sources=self.encoder_sources())
        index_path = self.model / INDEX_FILE
        index_path.unlink(missing_ok=True)  # the folder is a pipeline again only once complete
        pipe.save_pretrained(self.model)
        for src, dst in ((self.semantic_dir, "semantic"), (self.judge_dir, "sync_judge")):
            shutil.rmtree(self.model / dst, ignore_errors=True)
            shutil.copytree(src, self.model / dst)
        index = {"_class_name": "maskvat.Pipeline",
                 "_note": "Trained by `maskvat fit` (its run folder, fit/, holds every stage's config, log and "
                          "curves; split.json names the held-out files). Paths are relative to this file.",
                 "generator": "generator", "codec": "codec", "scav": "scav", "semantic": "semantic",
                 "sync": "sync_judge"}
        if self.cfg.audio_encoder == "lab-audio":
            index["audio"] = "semantic"
        with atomic_path(index_path) as tmp:
            tmp.write_text(json.dumps(index, indent=1))
        Pipeline.load(self.model)  # every part loads back, as `maskvat generate --model MODEL` will load it
        return {"pipeline": str(self.model)}


def codec_report(tok: AudioTokenizer, files: list[Path], max_seconds: float, *, anchors: bool,
                 progress: bool = True) -> dict:
    """Mean round-trip mel distance and median SI-SDR of ``tok`` on ``files`` (``maskvat codec eval``'s
    scores, ``max_seconds`` of each), and with ``anchors`` libopus at 8 kbps on the same sound."""
    rows = [evaluate_codec(tok, f, anchors=anchors, max_seconds=max_seconds, progress=False)
            for f in tqdm(files, desc=f"codec report ({tok.name})", unit="file", disable=not progress)]
    rows = [r for r in rows if r["files"]]
    if not rows:
        return {"files": 0, "mel_distance": float("nan"), "si_sdr_db": float("nan")}
    out = {"files": len(rows), "mel_distance": float(np.mean([r["codec"]["mel_distance"] for r in rows])),
           "si_sdr_db": float(np.median([r["codec"]["si_sdr_db"] for r in rows]))}
    if anchors:
        out["opus_8kbps_mel_distance"] = float(np.mean([r["opus_8kbps"]["mel_distance"] for r in rows]))
    return out


def _plain(row: dict) -> dict:
    return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()}


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def fit(sources: list[str | os.PathLike], model: str | os.PathLike, cfg: FitConfig | None = None, *,
        device: str = "auto", stop_after: str | None = None, progress: bool = True,
        log: Callable[[str], None] = print) -> dict:
    """Run (or resume) every stage of ``maskvat fit`` into the folder ``model`` (see the module doc).

    Checks first, before any long work: the inputs (each a video with its sound: a MaskvatError naming
    the first that is not), the folder (new, empty, or this fit's), and the finished stages (same
    settings). ``stop_after``: a stage name; leave after it (the same call later goes on).
    Returns {"stages": {stage: {"seconds", "skipped", ...report}}, "model": path}."""
    cfg = cfg or FitConfig()
    if stop_after is not None and stop_after not in STAGES:
        raise MaskvatError(f"stop after {stop_after!r}: not a stage ({', '.join(STAGES)})")
    footage = check_inputs(sources)
    run = FitRun(model, cfg, footage, device=resolve_device(device), progress=progress, log=log)
    run.check()
    if run.done("split") is not None:
        run.check_clip_lengths(run.split)  # a config changed since: before the codec's minutes
    run.root.mkdir(parents=True, exist_ok=True)
    with atomic_path(run.root / "config.json") as tmp:
        tmp.write_text(json.dumps(cfg.to_dict(), indent=1))
    summary = {"model": str(run.model), "stages": {}}
    for i, stage in enumerate(STAGES, 1):
        done = run.done(stage)
        if done is not None:
            log(f"[fit {i}/{len(STAGES)}] {stage}: finished before ({done['seconds']:.0f} s), skipped")
            summary["stages"][stage] = {**done, "skipped": True}
        else:
            log(f"[fit {i}/{len(STAGES)}] {stage} ...")
            run.folder(stage).mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            report = getattr(run, f"run_{stage}")()
            seconds = time.perf_counter() - t0
            run.mark_done(stage, seconds, report)
            log(f"[fit {i}/{len(STAGES)}] {stage}: done in {seconds:.0f} s")
            summary["stages"][stage] = {**run.done(stage), "skipped": False}
        if stage == stop_after:
            summary["stopped_after"] = stage
            break
    return summary
