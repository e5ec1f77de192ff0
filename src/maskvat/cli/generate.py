"""``maskvat generate VIDEO... -o OUT``: the main job.

Every input is checked before the model loads (readable, decodable, the asked span fits,
a container can hold the muxed copy); in a run of several inputs, a file that fails any
check, or fails later, is reported in one line and skipped, the others go on, and the exit
status is 1. A single input that fails is a one-line error with status 2.

Editing one video: ``--keep TAKE --regenerate 2.0-3.5 [--regenerate 5-6]`` keeps TAKE (the
sound of the span generated, e.g. an earlier run's wav, or a codes file) and generates only the
ranges anew (``maskvat.pipeline.edit``); ``--variations N`` writes N candidates,
NAME_var1.wav ... NAME_varN.wav (and their muxed copies). The keep file, the ranges and the
keep's length against the span are checked before the model loads.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from maskvat.pipeline.limits import MAX_BEAMS, MAX_SECONDS, MIN_SECONDS, span_problem


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="sound for silent video: writes OUT/NAME.wav and OUT/NAME_maskvat.mp4 (or .mkv, .webm...)",
        description="Sound for silent video: OUT/NAME.wav (the generated span) and OUT/NAME_maskvat.EXT, a copy "
        "of the whole video (video stream untouched) with the sound at its true time. The copy keeps the input's "
        "container where it can hold the video plus sound (mp4, m4v, mov, mkv, webm, ts, avi), else it is .mkv "
        f"(.mov for GIF). Spans of {MIN_SECONDS:g} to {MAX_SECONDS:.0f} s; generate longer videos in parts with "
        "--start/--duration. File names that begin with '-' work as they are when the file exists; otherwise "
        "put them after '--'.")
    p.add_argument("inputs", nargs="+", metavar="VIDEO",
                   help="video files, folders of videos, or .csv/.jsonl lists with a 'path' (or 'video') column")
    p.add_argument("-o", "--out", required=True, help="output folder (created)")
    p.add_argument("--model", default="lab", help="'lab' (shipped default), 'hits' (shipped demonstration weights for stick hits and scratches, trained on The Greatest Hits) or a model folder")
    p.add_argument("--codec", default=None, help="override the model's codec: 'lab', a folder or a hub id")
    p.add_argument("--steps", type=int, default=32, help="MaskVAT: decoding iterations N, 1 to 1024 (default and paper: 32; "
                                                         "fewer is faster and rougher); VTA-LDM: ODE steps; "
                                                         "V-AURA: not used (it samples every frame)")
    p.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance gamma (paper: 3)")
    p.add_argument("--diversity", type=float, default=8.0, help="MaskVAT: Gumbel confidence noise delta (paper: 8)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="MaskVAT and V-AURA: temperature of each code's draw, > 0 (default 1: the model's own "
                        "probabilities; lower draws the likelier codes more often)")
    p.add_argument("--top-k", type=int, default=None,
                   help="autoregressive (V-AURA) models: draw from the k most likely codes (0: all; default: the model's, 128)")
    p.add_argument("--top-p", type=float, default=None,
                   help="autoregressive (V-AURA) models: nucleus sampling, 0 to 1 (0: off; default: the model's, off)")
    p.add_argument("--solver", choices=("euler", "heun"), default=None,
                   help="flow (VTA-LDM) models: the ODE solver over --steps steps (default: the model's, heun)")
    p.add_argument("--beams", type=int, default=1,
                   help=f"candidates per window, 1 to {MAX_BEAMS}; --selector keeps one (default 1; the paper's 10 "
                        "costs 10x the time)")
    p.add_argument("--selector", choices=("scav", "judge"), default="scav",
                   help="what keeps one of the --beams: 'scav' (the paper's; default) or 'judge': the model's sync "
                        "judge, the candidate it finds most in sync (models whose sync encoder is a sync judge, e.g. "
                        "lab and hits; on the hits val files it picks better than SCAV: BENCHMARKS.md)")
    p.add_argument("--scav", default="lab", help="the SCAV of --selector scav: 'lab' (the model's own, else the "
                                                 "shipped one) or a folder")
    p.add_argument("--batch", type=int, default=8,
                   help="videos of the same length sampled together (one window each); 1 = one at a time")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the sampler (default 0): the same seed, options and video give the same sound; "
                        "change it for another take")
    p.add_argument("--start", type=float, default=0.0,
                   help="seconds into each video where the sound begins (the muxed copy still holds the whole "
                        "video, with the sound at its true time)")
    p.add_argument("--duration", type=float, default=None,
                   help=f"seconds to generate, {MIN_SECONDS:g} to {MAX_SECONDS:.0f} (default: to the end of the video)")
    p.add_argument("--keep", default=None, metavar="TAKE",
                   help="edit: keep this sound (the span generated, e.g. an earlier run's NAME.wav, or a .safetensors "
                        "codes file) and generate only the --regenerate ranges anew; one video only")
    p.add_argument("--regenerate", action="append", default=None, metavar="START-END",
                   help="edit: seconds on the video's timeline to generate anew, e.g. 2.0-3.5 (repeat for more ranges)")
    p.add_argument("--variations", type=int, default=None, metavar="N",
                   help="write N candidates, NAME_var1.wav ... NAME_varN.wav, all kept (none selected); one video only")
    p.add_argument("--format", choices=["wav", "flac"], default="wav")
    p.add_argument("--no-video", action="store_true", help="write only the sound file")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--encoder-weights", nargs="+", default=None, metavar="NAME_OR_ROLE=WEIGHTS",
                   help="weights of the model's feature encoders, by encoder name or role (semantic, sync, audio): "
                        "e.g. clip-vit-b32=/w/clip s3d-sparsesync=/w/sparsesync.pt beats=/w/BEATs.pt")
    p.add_argument("--device", default="cpu", help="where the model runs: cpu (default), cuda, cuda:1, mps")
    p.set_defaults(func=run)


def expand_inputs(items: list[str]) -> list[Path]:
    """Files, folders (their videos, sorted; not their subfolders) and lists (.csv/.jsonl, read
    as ``maskvat extract`` reads them: column 'path' or 'video', relative to the list)."""
    from maskvat.data.sources import is_list_file, read_list
    from maskvat.errors import MaskvatError
    from maskvat.media import is_video_file

    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if is_video_file(q)))
        elif is_list_file(p):
            rows = read_list(p)
            spans = [r.name for r in rows if r.start or r.end is not None]
            if spans:
                raise MaskvatError(f"{p}: per-row start/end ({spans[0]}) are read by `maskvat extract`; "
                                   "`maskvat generate` takes --start/--duration for every video")
            out.extend(r.path for r in rows)
        else:
            out.append(p)
    if not out:
        raise MaskvatError(f"no videos found in {', '.join(items)}")
    return out


@dataclass
class Plan:
    """One input's outputs, decided before any generation."""

    video: Path
    sound: Path
    muxed: Path | None  # None with --no-video
    duration: float = 0.0  # seconds of sound asked for


@dataclass
class Edit:
    """What an edit run keeps and redoes, checked before the model loads."""

    keep: object | None  # maskvat.pipeline.edit.Keep
    ranges: list[tuple[float, float]] | None
    variations: int | None


def plan_outputs(videos: list[Path], args) -> tuple[list[Plan], list[str]]:
    """(plans for the inputs that can be done, one line per input that cannot).

    Probes each input (readable, decodable video), checks the asked span against the video
    and the limits, and picks the muxed copy's container, so that nothing is generated for a
    file whose outputs could not be written.
    """
    from maskvat.errors import MaskvatError
    from maskvat.media import muxed_suffix
    from maskvat.pipeline.limits import requested_duration

    plans, refused = [], []
    out_dir = Path(args.out)
    for video in videos:
        try:
            duration = requested_duration(video, args.start, args.duration)
            suffix = None if args.no_video else muxed_suffix(video)
        except MaskvatError as exc:
            refused.append(str(exc))
            continue
        sound, muxed = output_paths(video, out_dir, args.format, suffix)
        plans.append(Plan(video, sound, None if args.no_video else muxed, duration))
    return plans, refused


def output_paths(video: Path, out_dir: Path, audio_format: str, video_suffix: str | None = None) -> tuple[Path, Path]:
    """(sound file, muxed video) for one input. The video takes ``video_suffix`` (what
    :func:`maskvat.media.muxed_suffix` chose for it), by default the input's own."""
    stem = video.stem
    suffix = video_suffix or video.suffix.lower() or ".mp4"
    return out_dir / f"{stem}.{audio_format}", out_dir / f"{stem}_maskvat{suffix}"


def plan_edit(videos: list[Path], plans: list[Plan], args) -> tuple[Edit | None, list[Plan]]:
    """(the edit asked for, or None; the plans, one per variation with --variations: NAME_varI.wav).

    Checks --keep, --regenerate and --variations before the model loads: one video only, the
    keep file readable, the ranges well formed, inside the span and apart, and the keep as long
    as the span to within one codegram frame. Any failure is a one-line MaskvatError."""
    from maskvat.errors import MaskvatError
    from maskvat.media import SAMPLE_RATE
    from maskvat.pipeline.edit import check_keep_length, check_ranges, default_frame_seconds, parse_range, read_keep

    if args.keep is None and args.regenerate is None and args.variations is None:
        return None, plans
    what = "--keep" if args.keep is not None else "--regenerate" if args.regenerate else "--variations"
    if len(videos) != 1:
        raise MaskvatError(f"{what} edits one video at a time; {len(videos)} were given")
    if (args.keep is None) != (args.regenerate is None):
        raise MaskvatError("--keep TAKE and --regenerate START-END go together: the take to keep and what to redo")
    if args.variations is not None and not 1 <= args.variations <= MAX_BEAMS:
        raise MaskvatError(f"--variations must be between 1 and {MAX_BEAMS}, not {args.variations}")
    keep = ranges = None
    if plans and args.keep is not None:
        plan = plans[0]
        ranges = check_ranges([parse_range(r) for r in args.regenerate], args.start, plan.duration, str(plan.video))
        keep = read_keep(args.keep, SAMPLE_RATE)
        frame = keep.hop_length / keep.sample_rate if keep.codes is not None else default_frame_seconds()
        check_keep_length(keep, args.start, plan.duration, frame)
    if args.variations is not None:
        plans = [_variation(p, i + 1) for p in plans for i in range(args.variations)]
    return Edit(keep, ranges, args.variations), plans


def _variation(plan: Plan, i: int) -> Plan:
    def named(path):
        stem = path.stem[:-len("_maskvat")] if path.stem.endswith("_maskvat") else path.stem
        tail = "_maskvat" if path.stem.endswith("_maskvat") else ""
        return path.with_name(f"{stem}_var{i}{tail}{path.suffix}")

    return Plan(plan.video, named(plan.sound), None if plan.muxed is None else named(plan.muxed), plan.duration)


def run(args: argparse.Namespace) -> int:
    from maskvat.errors import MaskvatError

    problem = span_problem(args.start, args.duration) or option_problem(args)  # whatever the videos
    if problem:
        raise MaskvatError(f"--{problem}")
    videos = expand_inputs(args.inputs)
    plans, refused = plan_outputs(videos, args)
    if len(videos) == 1 and refused:
        raise MaskvatError(refused[0])
    edit, plans = plan_edit(videos, plans, args)
    for line in refused:
        print(f"maskvat: skipped: {line}")
    _refuse_clashes(plans, args.overwrite)
    warning = lab_model_warning(args.model, [p.video for p in plans])
    if warning:
        print(f"maskvat: warning: {warning}", file=sys.stderr)
    failed = len(refused)
    if plans and edit is not None:
        _generate_edit(plans, args, edit)
    elif plans:
        failed += _generate(plans, args, len(videos))
    if failed:
        print(f"maskvat: {failed} of {len(videos)} videos failed (see above)")
    return 1 if failed else 0


def option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the sampler options, as "steps must be between 1 and 1024, not 0" (the
    caller puts "--" before it), or None. Checked in the first second (no torch), before any
    video is read or the model loads."""
    from maskvat.errors import MaskvatError
    from maskvat.sampling.settings import SamplerSettings

    try:
        SamplerSettings(steps=args.steps, guidance=args.guidance, diversity=args.diversity,
                        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, solver=args.solver)
    except MaskvatError as exc:
        return str(exc).replace("top_k", "top-k").replace("top_p", "top-p")  # the options' names
    if not 1 <= args.beams <= MAX_BEAMS:
        return f"beams must be between 1 and {MAX_BEAMS}, not {args.beams}"
    if args.batch < 1:
        return f"batch must be at least 1, not {args.batch}"
    return None


def ignored_options(args: argparse.Namespace, kind: str) -> str | None:
    """A one-line warning naming the sampler options given (not at their defaults) that a model of
    ``kind`` ("maskvat", "vaura", "vtaldm") does not read, or None: e.g. --top-k with MaskVAT,
    --steps with V-AURA (it samples every frame), --solver with either non-flow model."""
    from maskvat.sampling.settings import FAMILY_READS, SamplerSettings

    default = SamplerSettings()
    name, reads = FAMILY_READS.get(kind, FAMILY_READS["maskvat"])
    unread = [f"--{key.replace('_', '-')}" for key in ("steps", "diversity", "temperature", "top_k", "top_p", "solver")
              if key not in reads and getattr(args, key) != getattr(default, key)]
    if not unread:
        return None
    return f"{', '.join(unread)} not used: a {name} model reads only {', '.join(sorted('--' + k.replace('_', '-') for k in reads))}"


def lab_model_warning(model: str, videos: list[Path]) -> str | None:
    """One line for a run of the shipped lab model on videos that are not lab clips (a lab clip
    has its truth JSON beside it, as ``maskvat lab build`` writes it), else None. The lab model
    is ``model`` "lab" (or "shipped") or the shipped pipeline folder itself."""
    from maskvat.weights import is_shipped_name, shipped

    shipped_folder = Path(model).is_dir() and Path(model).resolve() == shipped("pipeline").resolve()
    if not (is_shipped_name(model) or shipped_folder):
        return None
    real = [v for v in videos if not _is_lab_clip(v)]
    if not real:
        return None
    which = f"{real[0]}" + (f" and {len(real) - 1} more" if len(real) > 1 else "")
    return (f"the lab model was trained only on synthetic lab scenes (balls, drums, bars, fans, taps) and will make "
            f"lab-like sounds for real footage ({which}); for stick hits and scratches try the shipped demonstration "
            "weights, --model hits; for your own videos, train a model with `maskvat fit` "
            "(README, \"Your own footage\") and pass it with --model")


LAB_TRUTH_KEYS = frozenset({"clip_id", "fps", "sample_rate", "sources", "events"})  # of a lab clip's VIDEO.json


def _is_lab_clip(video: Path) -> bool:
    """Whether ``video`` is a lab clip: its truth JSON (``VIDEO.json``, as ``maskvat lab build``
    writes it: ``maskvat.lab.truth.ClipTruth``) is beside it. Read as plain JSON by its keys, so
    that generating never imports the lab."""
    import json

    truth = video.with_suffix(".json")
    try:
        data = json.loads(truth.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and LAB_TRUTH_KEYS <= data.keys()


def _refuse_clashes(plans: list[Plan], overwrite: bool) -> None:
    from maskvat.errors import MaskvatError

    seen: dict[Path, Path] = {}
    for plan in plans:
        for path in (plan.sound, plan.muxed):
            if path is None:
                continue
            if path in seen:
                raise MaskvatError(f"{plan.video} and {seen[path]} would both write {path}; "
                                   "generate them into different folders")
            seen[path] = plan.video
            if not overwrite and path.exists():
                raise MaskvatError(f"{path}: already exists (pass --overwrite to replace it)")


def _load(args):
    """(the pipeline the options ask for, the sampler settings). Says so first: importing torch
    and loading the model take a while (1-2 min on a busy 2-core machine)."""
    print(f"maskvat: loading the {args.model} model ...", file=sys.stderr, flush=True)
    from maskvat.encoders.registry import parse_encoder_args
    from maskvat.pipeline.generate import Pipeline
    from maskvat.sampling.sampler import SamplerSettings

    chosen = parse_encoder_args(args.encoder_weights or [], "--encoder-weights", need_source=True)
    sources = {name or role: src for role, (name, src) in chosen.items()}
    settings = SamplerSettings(steps=args.steps, guidance=args.guidance, diversity=args.diversity,
                               temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                               solver=args.solver)
    scav = args.scav if args.beams > 1 and args.selector == "scav" else None
    pipe = Pipeline.load(args.model, codec=args.codec, device=args.device, scav=scav, selector=args.selector,
                         encoder_sources=sources)
    if pipe.summary:
        print(f"maskvat: {args.model}: {pipe.summary}", file=sys.stderr, flush=True)
    unread = ignored_options(args, getattr(pipe.model, "KIND", "maskvat"))
    if unread:
        print(f"maskvat: warning: {unread}", file=sys.stderr, flush=True)
    if args.selector != "scav" and args.beams == 1:
        print(f"maskvat: warning: --selector {args.selector} not used: one beam leaves nothing to choose (--beams B)",
              file=sys.stderr, flush=True)
    return pipe, settings


@contextmanager
def output_folder(path: str | os.PathLike):
    """Create ``path`` (and its parents) for the outputs; if this run created it and leaves it
    empty (every video refused, an error, Ctrl-C), remove it again: a failed run leaves nothing."""
    path = Path(path)
    made = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    finally:
        for p in made:  # the deepest first
            try:
                p.rmdir()  # only if empty
            except OSError:
                break


def _generate_edit(plans: list[Plan], args, edit: Edit) -> None:
    """One video: keep ``edit.keep`` and redo its ranges (or, without a keep, the whole span),
    once or ``edit.variations`` times; writes every plan (one per variation)."""
    pipe, settings = _load(args)
    with output_folder(args.out):
        _write_edit(pipe, settings, plans, args, edit)


def _write_edit(pipe, settings, plans: list[Plan], args, edit: Edit) -> None:
    from maskvat.media import mux_audio, write_audio
    from maskvat.pipeline.span import Span

    out = pipe.generate(plans[0].video, settings=settings, seed=args.seed, start=args.start, duration=args.duration,
                        beams=args.beams, progress=True, keep=edit.keep, regenerate=edit.ranges,
                        variations=edit.variations)
    for plan, result in zip(plans, out if isinstance(out, list) else [out]):
        write_audio(plan.sound, result.wav, result.sample_rate, comment=Span(args.start, result.duration).tag())
        if plan.muxed is not None:
            mux_audio(plan.video, result.wav, result.sample_rate, plan.muxed, start=args.start,
                      comment=Span(args.start, result.duration, offset=args.start).tag())
        line = _done_line(plan, args.start, result.duration) + beam_note(result.chosen, args.beams)
        if edit.ranges:
            line += " (generated anew: " + ", ".join(f"{a:g}-{b:g} s" for a, b in edit.ranges) + ")"
        print(line)


def _generate(plans: list[Plan], args, n_inputs: int) -> int:
    """Generate and write every plan; returns how many failed (each reported in one line).

    Videos of one window are sampled in batches (``Pipeline.generate_many``); longer ones one at
    a time, their sound written to its file as it is made (``Pipeline.generate_to``: memory
    bounded by the window, not the video) and muxed from that file."""
    pipe, settings = _load(args)
    windows = {id(p): pipe.windows(p.duration) for p in plans}
    for plan in plans:
        line = window_line(plan, windows[id(plan)], pipe.frame_seconds)
        if line:
            print(line, flush=True)
    with output_folder(args.out):
        return _write_all(pipe, settings, plans, args, n_inputs, windows)


def _write_all(pipe, settings, plans: list[Plan], args, n_inputs: int, windows: dict) -> int:
    from tqdm import tqdm

    from maskvat.errors import MaskvatError
    from maskvat.media import mux_audio, write_audio
    from maskvat.pipeline.span import Span

    short = [p for p in plans if len(windows[id(p)]) == 1]
    long = [p for p in plans if len(windows[id(p)]) > 1]
    failed = 0
    bar = tqdm(total=len(plans), desc="generate", unit="video", disable=len(plans) < 2)
    common = dict(settings=settings, seed=args.seed, start=args.start, duration=args.duration, beams=args.beams)
    # the sampling steps of each batch get their own bar: a batch of 8 short videos finishes all at once
    results = pipe.generate_many([p.video for p in short], batch_size=args.batch, progress=True, **common)

    def streamed():
        for plan in long:
            try:
                yield plan, pipe.generate_to(plan.video, plan.sound, progress=True, **common,
                                             comment=Span(args.start, plan.duration).tag())
            except Exception as exc:  # noqa: BLE001 - reported below, as a batched file's failure is
                yield plan, exc

    done = ((short[i], result) for i, _, result in results)
    for plan, result in itertools.chain(done, streamed()):
        bar.update(1)
        written = []
        try:
            if isinstance(result, BaseException):
                raise result
            sound = result.wav
            if sound is None:  # streamed into its file
                sound = plan.sound
            else:  # each file records its span, for `maskvat evaluate` (maskvat.pipeline.span)
                write_audio(plan.sound, sound, result.sample_rate, comment=Span(args.start, result.duration).tag())
            written.append(plan.sound)
            if plan.muxed is not None:
                mux_audio(plan.video, sound, result.sample_rate, plan.muxed, start=args.start,
                          comment=Span(args.start, result.duration, offset=args.start).tag())
        except Exception as exc:  # noqa: BLE001 - in a batch, one file's failure must not end the run
            if n_inputs == 1:
                raise
            failed += 1
            why = str(exc) if isinstance(exc, MaskvatError) else f"{plan.video}: {type(exc).__name__}: {exc}"
            kept = f" (kept {written[0]})" if written else ""
            tqdm.write(f"maskvat: skipped: {why}{kept}")
            continue
        tqdm.write(_done_line(plan, args.start, result.duration) + beam_note(result.chosen, args.beams))
    bar.close()
    return failed


def window_line(plan: Plan, windows: list[tuple[int, int]], frame_seconds: float) -> str | None:
    """How a video longer than the model's window is cut, e.g. "gh60.mp4: 60.0 s in 20 windows of
    4 s (1 s overlap)"; None for one window. ``windows``: (start, length) in codegram frames of
    ``frame_seconds`` (``Pipeline.windows``)."""
    if len(windows) < 2:
        return None
    (s0, n0), (s1, _) = windows[:2]
    return (f"{plan.video}: {plan.duration:.1f} s in {len(windows)} windows of {round(n0 * frame_seconds, 1):g} s "
            f"({round((s0 + n0 - s1) * frame_seconds, 1):g} s overlap)")


def beam_note(chosen: list[int], beams: int, most: int = 12) -> str:
    """Which candidate the selector kept, for the done line: " (beam 3 of 8 kept)" for one
    window, " (beams kept per window, of 8: 3 1 8 ...)" for several (the first ``most``); ""
    with one beam. ``chosen``: ``Generation.chosen``, 0-based; shown 1-based."""
    if beams < 2 or not chosen:
        return ""
    if len(chosen) == 1:
        return f" (beam {chosen[0] + 1} of {beams} kept)"
    shown = " ".join(str(c + 1) for c in chosen[:most]) + (" ..." if len(chosen) > most else "")
    return f" (beams kept per window, of {beams}: {shown})"


def _done_line(plan: Plan, start: float, duration: float) -> str:
    line = f"{plan.video} -> {plan.sound}"
    if plan.muxed is not None:
        line += f", {plan.muxed}"
        if plan.muxed.suffix != plan.video.suffix.lower():
            own = plan.video.suffix or "its container"
            line += f" (a {plan.muxed.suffix} copy: {own} cannot hold its video plus sound)"
        if start:
            line += f" (sound at {start:.2f}-{start + duration:.2f} s)"
    return line
