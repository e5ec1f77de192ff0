"""``maskvat bench lab``: the paper's results table (Tables 1-2) on a lab test split.

    maskvat bench lab runs/lab --model AdaLN-B=lab --model Hybrid=runs/lab-hybrid/model \\
        --best AdaLN-B --beams 10 --n 30 --out runs/bench

Rows: "codec reconstruct" (the true sound through the codec: the bound on every generator),
"retrieval" (the true sound of the training clip nearest in the visual features, when the
lab's feature caches exist), one row per ``--model``, and the ``--best`` model again with B
beams (SCAV keeps one). Columns: FDD, FDM, NS, SS (``maskvat evaluate``), onset F1 and median
|offset| against the true events, class accuracy (``evaluation.sound_class``), seconds per
clip of generation. Written: ``table.md``,
``results.json`` and ``index.html`` (each clip's video, every row's sound as a player and a
spectrogram with the true events marked), with the sound of every row under ``rows/``.

The lab layout is the one ``scripts/train_lab_model.sh`` builds: ``LAB/test``, ``LAB/train`` and
(for the retrieval row) ``LAB/cache/{train,test}``: shard caches of the splits (``maskvat extract``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from maskvat.data.dataset import CacheDataset
from maskvat.errors import MaskvatError
from maskvat.evaluation.evaluate import evaluate_dirs
from maskvat.lab.round_trip import codec_round_trips
from maskvat.lab.sheet import FAMILY_COLORS, display_mel_db
from maskvat.lab.truth import load_truth
from maskvat.media import read_audio, write_audio
from maskvat.pipeline.generate import Pipeline
from maskvat.sampling.sampler import SamplerSettings

COLUMNS = [("fdd", "FDD ↓"), ("fdm", "FDM ↓"), ("fad", "FAD ↓"), ("wc", "WC ↑"), ("cc", "CC ↑"), ("ns", "NS ↑"),
           ("ss_seconds", "SS (s) ↓"),
           ("onset_f1", "onset F1 ↑"), ("median_abs_offset_ms", "median abs offset (ms) ↓"),
           ("class_accuracy", "class acc. ↑"),
           ("seconds_per_clip", "s / clip")]


@dataclass
class Row:
    """One line of the table: ``kind`` is "codec", "retrieval" or "model" (``source`` a model)."""

    name: str
    kind: str
    source: str | None = None
    beams: int = 1

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-").lower() or "row"


def parse_model_arg(text: str) -> tuple[str, str]:
    """"NAME=SOURCE" -> (NAME, SOURCE); a bare SOURCE is named after itself."""
    name, sep, source = text.partition("=")
    if not sep:
        return text, text
    if not name or not source:
        raise MaskvatError(f"--model {text!r}: expected NAME=SOURCE (a model folder or 'lab')")
    return name, source


def pooled(semantic: torch.Tensor | None, sync: torch.Tensor | None) -> torch.Tensor:
    """Clip descriptors for retrieval: per stream, mean over time then unit length, concatenated.

    semantic: [N, Ns, Ds], sync: [N, Ny, Dy] (either may be None) -> [N, Ds + Dy]."""
    parts = [torch.nn.functional.normalize(t.float().mean(1), dim=-1) for t in (semantic, sync) if t is not None]
    if not parts:
        raise MaskvatError("retrieval needs visual features (semantic or sync) in the cache")
    return torch.cat(parts, -1)


def nearest(query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Index of the key with the highest cosine similarity, per query. query: [N, D], keys: [M, D] -> [N]."""
    q = torch.nn.functional.normalize(query.float(), dim=-1)
    k = torch.nn.functional.normalize(keys.float(), dim=-1)
    return (q @ k.T).argmax(-1)


def _clips(split: Path, n: int | None) -> list[dict]:
    manifest = split / "manifest.json"
    if not manifest.is_file():
        raise MaskvatError(f"{split}: not a lab split (no manifest.json); build one with `maskvat lab build`")
    clips = json.loads(manifest.read_text())["clips"]
    return clips[:n] if n else clips


def write_codec_round_trip(clips: list[dict], split: Path, out: Path, codec: str, progress: bool = True) -> None:
    """OUT/{clip_id}.wav: the true sound of ``clips`` (the first clips of ``split``) encoded and
    decoded by ``codec`` (the bound on what a generator over this codec can reach)."""

    waves = codec_round_trips(split, codec, lambda wav: wav, progress, limit=len(clips))
    for clip, wav in zip(clips, waves):
        write_audio(out / f"{clip['clip_id']}.wav", wav.numpy(), 44100)


def cache_descriptors(cache: Path) -> tuple[list[str], torch.Tensor]:
    """(clip ids, pooled visual descriptors [N, D]) of every clip of a shard cache; a clip's id
    is its source video's name without suffix (a lab clip's id)."""
    ds = CacheDataset(cache)
    ids, rows = [], []
    for i in range(len(ds)):
        item = ds.item(i)
        ids.append(Path(ds.meta(i)["source"]).stem)
        rows.append(pooled(*(item[r][None] if r in item else None for r in ("semantic", "sync")))[0])
    if not rows:
        raise MaskvatError(f"{cache}: the cache holds no clips")
    return ids, torch.stack(rows)


def _write_retrieval_row(clips, lab: Path, out: Path) -> dict:
    test_ids, test_desc = cache_descriptors(lab / "cache" / "test")
    train_ids, train_desc = cache_descriptors(lab / "cache" / "train")
    index = {c: i for i, c in enumerate(test_ids)}
    wanted = [index[c["clip_id"]] for c in clips if c["clip_id"] in index]
    if len(wanted) != len(clips):
        raise MaskvatError(f"{lab / 'cache' / 'test'}: its features do not cover the test clips; rebuild it")
    idx = nearest(test_desc[wanted], train_desc)
    train_videos = {c["clip_id"]: c["video"] for c in _clips(lab / "train", None)}
    picked = {}
    for clip, j in zip(clips, idx.tolist()):
        source = train_ids[j]
        picked[clip["clip_id"]] = source
        wav = read_audio(lab / "train" / train_videos[source])
        write_audio(out / f"{clip['clip_id']}.wav", wav, 44100)
    return picked


def _write_model_row(row: Row, clips, split: Path, out: Path, settings, seed: int, batch: int, progress: bool) -> dict:
    """Generate every clip; returns {"seconds_per_clip": wall time of generation per clip (models
    loaded), "settings": the sampler settings the row's generator family reads, with their values}."""
    from tqdm import tqdm

    pipe = Pipeline.load(row.source, scav="lab" if row.beams > 1 else None)
    videos = [split / c["video"] for c in clips]
    bar = tqdm(total=len(videos), desc=f"generate {row.name}", unit="clip", disable=not progress)
    start = time.perf_counter()
    for i, _, result in pipe.generate_many(videos, batch_size=batch, settings=settings, seed=seed, beams=row.beams):
        if isinstance(result, Exception):
            raise result
        write_audio(out / f"{clips[i]['clip_id']}.wav", result.wav, result.sample_rate)
        bar.update(1)
    bar.close()
    return {"seconds_per_clip": (time.perf_counter() - start) / len(videos),
            "settings": settings.read_by(getattr(pipe.model, "KIND", "maskvat"))}


def _write_row(row: Row, clips, lab: Path, row_dir: Path, codec: str, settings, seed: int, batch: int,
               progress: bool) -> dict:
    """Write ``row``'s sound for ``clips`` into a fresh ``row_dir``; returns what to record of it."""
    if row_dir.exists():
        shutil.rmtree(row_dir)
    row_dir.mkdir(parents=True)
    split = lab / "test"
    if row.kind == "codec":
        write_codec_round_trip(clips, split, row_dir, codec, progress)
        return {}
    if row.kind == "retrieval":
        return {"retrieved": _write_retrieval_row(clips, lab, row_dir)}
    if row.kind == "model":
        return _write_model_row(row, clips, split, row_dir, settings, seed, batch, progress)
    raise MaskvatError(f"row {row.name}: unknown kind {row.kind!r}")


def run_lab_bench(lab: str | os.PathLike, rows: list[Row], out: str | os.PathLike, *, n: int | None = 30,
                  settings=None, seed: int = 0, batch: int = 8, codec: str = "lab", judge: str | None = "lab",
                  classifier: str | None = "lab", semantic: str = "lab", vggish: str | None = None,
                  html_clips: int = 8, rescore: bool = False, progress: bool = True) -> dict:
    """Fill OUT/rows/<row>/ with each row's sound for the first ``n`` test clips, score every row,
    write OUT/table.md, OUT/results.json and OUT/index.html. Returns the results dict.

    rescore: keep the sound of rows already in OUT (same name, every clip there) and only
    score them again; their generation times come from the earlier results.json."""

    lab, out = Path(lab), Path(out)
    split = lab / "test"
    clips = _clips(split, n)
    settings = settings or SamplerSettings()
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise MaskvatError(f"two rows share a name: {names}")
    results = {"lab": str(lab), "n_clips": len(clips), "seed": seed,
               "settings": {"steps": settings.steps, "guidance": settings.guidance, "diversity": settings.diversity},
               "rows": []}
    earlier, reference_cache = {}, {}  # the test clips' own features, computed once for all rows
    if rescore and (out / "results.json").is_file():
        earlier = {r["name"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    for row in rows:
        row_dir = out / "rows" / row.slug
        entry: dict = {"name": row.name, "kind": row.kind, "source": row.source, "beams": row.beams, "dir": f"rows/{row.slug}"}
        kept = row.name in earlier and all((row_dir / f"{c['clip_id']}.wav").is_file() for c in clips)
        if kept:
            entry.update({k: earlier[row.name][k] for k in ("seconds_per_clip", "retrieved", "settings")
                          if k in earlier[row.name]})
        else:
            entry.update(_write_row(row, clips, lab, row_dir, codec, settings, seed, batch, progress))
        scores = evaluate_dirs(row_dir, split, codec=codec, judge=judge, classifier=classifier, semantic=semantic,
                               vggish=vggish, progress=progress, reference_cache=reference_cache)
        onsets = scores.get("onsets", {}).get("all", {})
        entry.update({k: scores.get(k) for k in ("fdd", "fdm", "fad", "fad_embedding", "wc", "cc", "ns", "ss_seconds",
                                                 "n_files", "frames", "class_accuracy")})
        entry["onset_f1"] = onsets.get("f1")
        entry["median_abs_offset_ms"] = onsets.get("median_abs_offset_ms")
        entry["onsets"] = scores.get("onsets")
        results["rows"].append(entry)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "table.md").write_text(markdown_table(results))
    write_results_page(results, clips, split, out, html_clips)
    return results


def markdown_table(results: dict) -> str:
    """The results as a Markdown table (one line per row, COLUMNS as columns)."""
    head = "| row | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [head, "|" + " --- |" * (len(COLUMNS) + 1)]
    for r in results["rows"]:
        name = r["name"] + (f", B = {r['beams']}" if r.get("beams", 1) > 1 else "")
        cells = []
        for key, _ in COLUMNS:
            v = r.get(key)
            cells.append("-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    s = results.get("settings", {})
    lines.append("")
    lines.append(f"{results['n_clips']} lab test clips; N = {s.get('steps')}, gamma = {s.get('guidance')}, "
                 f"delta = {s.get('diversity')}, seed {results.get('seed')}.")
    own = [(r["name"], r["settings"]) for r in results["rows"] if r.get("settings")]
    maskvat_reads = set(SamplerSettings().read_by("maskvat"))  # what the common line above does not say otherwise
    if any(set(v) != maskvat_reads for _, v in own):  # a row of another family
        lines.append("Sampler settings each model row's family read: " + "; ".join(
            f"{name}: " + ", ".join(f"{k} {'the model default' if v is None else v}" for k, v in values.items()) for name, values in own) + ".")
    fad = {r.get("fad_embedding") for r in results["rows"]} - {None}
    if fad:
        lines.append(f"FAD embedding: {', '.join(sorted(fad))}; WC, CC and NS in the space of the semantic encoder pair "
                     "(lab-audio / lab-semantic, home-trained stand-ins for Wav2CLIP and BEATs).")
    return "\n".join(lines) + "\n"


def _spectrogram(wav: np.ndarray, events, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    db, times = display_mel_db(wav, 44100)
    fig, ax = plt.subplots(figsize=(5, 1.8), dpi=90)
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=[times[0], times[-1], 0, db.shape[0]],
              vmin=db.max() - 80, vmax=db.max())
    for e in events:
        if e.kind == "onset":
            ax.axvline(e.time, color=FAMILY_COLORS.get(e.family, "white"), lw=1.0)
    ax.set_title(title, fontsize=8)
    ax.set_yticks([])
    ax.tick_params(labelsize=7)
    fig.savefig(path, format="png", bbox_inches="tight")
    plt.close(fig)


def write_results_page(results: dict, clips: list[dict], split: Path, out: Path, n_clips: int = 8) -> Path:
    """OUT/index.html: the table, then per clip its video and every row's player and spectrogram
    (true onsets marked in their family's colour)."""

    media = out / "media"
    media.mkdir(parents=True, exist_ok=True)
    esc = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>maskvat lab results</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}.clip{display:flex;gap:12px;"
             "flex-wrap:wrap;margin:1em 0;border-top:1px solid #ccc;padding-top:1em}.cell{font-size:12px}</style>",
             "<h1>maskvat: lab results</h1>", "<table><tr><th>row</th>"]
    parts += [f"<th>{esc(label)}</th>" for _, label in COLUMNS] + ["</tr>"]
    for r in results["rows"]:
        cells = "".join(f"<td>{'-' if r.get(k) is None else (f'{r[k]:.3f}' if isinstance(r[k], float) else r[k])}</td>"
                        for k, _ in COLUMNS)
        parts.append(f"<tr><td>{esc(r['name'])}{', B = ' + str(r['beams']) if r.get('beams', 1) > 1 else ''}</td>{cells}</tr>")
    parts.append("</table>")
    for clip in clips[:n_clips]:
        cid = clip["clip_id"]
        shutil.copy(split / clip["video"], media / Path(clip["video"]).name)
        truth = load_truth(split / clip["truth"])
        parts.append(f"<h3>{esc(cid)}</h3><div class='clip'><div class='cell'>original (true sound)<br>"
                     f"<video src='media/{esc(Path(clip['video']).name)}' controls width='256'></video></div>")
        for r in results["rows"]:
            wav_rel = f"{r['dir']}/{cid}.wav"
            png = media / f"{cid}_{Path(r['dir']).name}.png"
            _spectrogram(read_audio(out / wav_rel), truth.events, png, r["name"])
            parts.append(f"<div class='cell'><img src='media/{esc(png.name)}'><br>"
                         f"<audio src='{esc(wav_rel)}' controls></audio></div>")
        parts.append("</div>")
    page = out / "index.html"
    page.write_text("\n".join(parts))
    return page
