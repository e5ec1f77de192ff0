"""Text tables and CSV of ``maskvat evaluate`` results (``evaluation.evaluate``'s summaries).

- ``format_result``: one system: each metric, and for the model-free alignment figures their two
  chance controls and the gap to the nearer one; the files scored, skipped and why; the spans.
- ``format_columns``: several columns (anchors and/or systems) on the same references, one metric
  per line; with anchors, a metric that failed them is shown as "fails anchors" in system columns.
- ``write_csv``: one line per (column, clip) with every per-clip figure.

Both tables end with a note when fewer than ``FEW_CLIPS`` clips were scored: means, FDs and
ranks over a handful of clips move a lot with each clip.
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from maskvat.atomic import atomic_path
from maskvat.evaluation.evaluate import FRAME_S, METRICS

FEW_CLIPS = 10  # below this many scored clips, the tables say their figures are not reliable


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 100 else f"{v:.{digits}f}"
    return str(v)


def _gap(spec, value, controls: list) -> float | None:
    vals = [c for c in controls if c is not None and math.isfinite(c)]
    if value is None or not math.isfinite(value) or not vals:
        return None
    return value - max(vals) if spec.higher else min(vals) - value


def header_lines(result: dict) -> list[str]:
    """Counts, spans and policy, skipped files, refused and unscored metrics."""
    lines = []
    sp = result["spans"]
    lines.append(f"scored pairs: {result['n_files']}; skipped files: {len(result.get('skipped', []))}"
                 + (f"; references without a generated file: {result['unpaired_references']}"
                    if result.get("unpaired_references") else ""))
    lines.append(f"spans: {sp['policy']}; {sp['min_s']:.2f}-{sp['max_s']:.2f} s (median {sp['median_s']:.2f} s); "
                 f"generated shorter than its reference: {sp['generated_shorter']}, longer: {sp['generated_longer']}")
    lines += span_lines(sp)
    for s in result.get("skipped", []):
        lines.append(f"  skipped {s['file']}: {s['reason']}")
    for m, why in result.get("refused", {}).items():
        lines.append(f"  {METRICS[m].label if m in METRICS else m} not computed: {why}")
    for m, items in result.get("not_scored", {}).items():
        label = METRICS[m].label if m in METRICS else m
        lines.append(f"  {label}: {len(items)} clip(s) not scored ({items[0]['reason']}"
                     + (", ..." if len(items) > 1 else "") + ")")
    return lines


def few_clips_note(n: int) -> list[str]:
    """[one note line] when ``n`` (clips scored) is under ``FEW_CLIPS``, else []."""
    if n >= FEW_CLIPS:
        return []
    return [f"note: only {n} clip{'s' if n != 1 else ''} scored: figures on fewer than {FEW_CLIPS} clips are not "
            "reliable (one clip more or less can move them a lot); score more clips before comparing."]


def span_lines(spans: dict, prefix: str = "") -> list[str]:
    """Where the references were cut to the generated spans, and a warning for pairs of different
    lengths that record no span (``spans``: a summary's ``spans``)."""
    lines = []
    cut = spans.get("reference_cut", [])
    if cut:
        how = {"recorded": "the span maskvat generate recorded in each file", "--start": "--start"}
        shown = ", ".join(f"{c['clip']} {c['start_s']:.2f}-{c['end_s']:.2f} s" for c in cut[:3])
        lines.append(f"{prefix}references cut to where the generated sound belongs "
                     f"({how.get(cut[0]['source'], cut[0]['source'])}): {shown}"
                     + (f" and {len(cut) - 3} more" if len(cut) > 3 else ""))
    odd = spans.get("unknown_mismatch", [])
    if odd:
        e = odd[0]
        lines.append(f"{prefix}warning: {len(odd)} generated file(s) differ in length from their reference by more "
                     f"than a frame ({FRAME_S} s) and record no span (e.g. {e['clip']}: {e['generated_s']:.2f} s "
                     f"against {e['reference_s']:.2f} s): each is scored from 0 s of its reference; if the sound "
                     "was generated from later in the video, pass --start SECONDS")
    return lines


def format_result(result: dict) -> str:
    """One system's results as text (see the module doc)."""
    lines = header_lines(result)
    ctl = result.get("controls", {})
    lines.append("")
    lines.append(f"{'metric':<28}{'score':>10}{'other clips':>13}{'ref shifted':>13}{'gap':>10}")
    for m, spec in METRICS.items():
        if m not in result:
            continue
        arrow = "↑" if spec.higher else "↓"
        other, shifted = ctl.get("other_clip", {}).get(m), ctl.get("shifted", {}).get(m)
        if other is None and shifted is None:
            lines.append(f"{spec.label + ' ' + arrow:<28}{_fmt(result[m]):>10}")
            continue
        gap = _gap(spec, result[m], [other, shifted])
        lines.append(f"{spec.label + ' ' + arrow:<28}{_fmt(result[m]):>10}{_fmt(other):>13}{_fmt(shifted):>13}"
                     f"{_fmt(gap):>10}" + ("  (no better than chance)" if gap is not None and gap <= 0 else ""))
    lines.append("gap: score minus the better control (for ↓ metrics the control minus the score); > 0 beats chance.")
    if "onsets" in result:
        a = result["onsets"]["all"]
        lines.append(f"lab onsets (against the truth JSONs): F1 {a['f1']:.3f} (P {a['precision']:.3f}, "
                     f"R {a['recall']:.3f}), median |offset| {a['median_abs_offset_ms']} ms")
    if result.get("class_accuracy") is not None:
        lines.append(f"class accuracy: {result['class_accuracy']:.3f}")
    lines.append(f"FAD embedding: {result['fad_embedding']}; FDD codec: {result['codec'] or 'none (no FDD)'}")
    lines += published_lines(result)
    return "\n".join(lines + few_clips_note(result["n_files"]))


def published_lines(result: dict) -> list[str]:
    """Which published weights and how much of each clip the published metrics read."""
    out = []
    for name, p in result.get("published", {}).items():
        span = f"each clip's first {p['seconds']:g} s" if p.get("seconds") else "each clip's whole common span"
        if name == "panns":
            out.append(f"FD_PANNs / KL_PANNs: CNN14 at {p['sample_rate'] // 1000} kHz from {p['weights']}; {span}")
        elif name == "passt":
            out.append(f"FD_PaSST / KL_PaSST: PaSST at 32 kHz from {p['weights']}; {span}, zero-padded to 10 s")
        elif name == "synchformer":
            out.append(f"DeSync: Synchformer from {p['weights']}; {span}: the reference's picture at 25 fps against "
                       "the sound at 16 kHz, mean |offset| of the first and the last 4.8 s window")
        elif name == "imagebind":
            out.append(f"IB-score: ImageBind from {p['weights']}; {span}: the reference's picture at 0.5 fps "
                       "(3 crops x pairs of frames) against the sound at 16 kHz (three 2 s clips), cosine similarity")
    return out


def format_columns(out: dict) -> str:
    """Anchors and/or systems side by side (``evaluate_systems``'s result)."""
    cols = out["columns"]
    names = list(cols)
    anchors = set(out.get("anchors", []))
    verdicts = out.get("verdicts", {})
    width = max(14, *(len(n) + 2 for n in names))
    lines = [f"{out['n_clips']} clip{'s' if out['n_clips'] != 1 else ''} scored in every column (references: "
             f"{out['reference']}); scored on each pair's common span"]
    for name, col in cols.items():
        if name not in anchors:
            lines += span_lines(col.get("spans", {}), f"{name}: ")
    for s in out.get("skipped", []):
        lines.append(f"  skipped {s['file']}: {s['reason']}")
    for m, why in out.get("refused", {}).items():
        lines.append(f"  {METRICS[m].label} not computed: {why}")
    ranks = _ranks(cols, [n for n in names if n not in anchors])
    any_ci = False  # whether any cell shows an interval (none can on a single clip)
    table = []  # (label, cells, suffix): laid out below with one width per column
    for m, spec in METRICS.items():
        if not any(m in c for c in cols.values()):
            continue
        v = verdicts.get(m)
        cells = []
        for n in names:
            c = cols[n]
            if n not in anchors and v is not None and not v["ok"]:
                cells.append("fails anchors")
                continue
            cell = _fmt(c.get(m))
            ci = c.get("ci", {}).get(m)
            if n not in anchors and ci is not None and all(math.isfinite(x) for x in ci):
                cell += f" [{_fmt(ci[0], 2)},{_fmt(ci[1], 2)}]"
                any_ci = True
            if m in ranks.get(n, {}):
                cell += f" #{ranks[n][m]}"
            cells.append(cell)
        verdict = "" if v is None else ("   ok" if v["ok"] else "   FAILS: not better than " + ", ".join(v["failed"]))
        table.append((spec.label + (" ↑" if spec.higher else " ↓"), cells, verdict))
        chance = [_chance_cell(spec, m, cols[n]) if n not in anchors else ("", None) for n in names]
        if any(cell for cell, _ in chance):
            behind = [n for n, (_, gap) in zip(names, chance) if gap is not None and gap <= 0]
            table.append(("  chance, gap", [cell for cell, _ in chance],
                          "   no better than chance: " + ", ".join(behind) if behind else ""))
    widths = [max([width] + [len(cells[k]) + 2 for _, cells, _ in table]) for k in range(len(names))]
    lines += ["", f"{'metric':<28}" + "".join(f"{n:>{w}}" for n, w in zip(names, widths))
              + ("   anchors" if verdicts else "")]
    for label, cells, suffix in table:
        lines.append(f"{label:<28}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)) + suffix)
    if any(label.startswith("  chance") for label, _, _ in table):
        lines.append("chance, gap: the better of the two chance controls (the same sound against other clips' "
                     "references; its own reference time-shifted) and the score's gap to it; gap > 0 beats chance.")
    n_systems = sum(n not in anchors for n in names)
    if any_ci:
        lines.append("[lo,hi]: 95% bootstrap interval over clips"
                     + ("; #k: rank among the systems." if n_systems > 1 else "."))
    elif n_systems:
        lines.append("no [lo,hi] intervals: a bootstrap interval over clips needs at least 2 clips scored"
                     + ("; #k: rank among the systems." if n_systems > 1 else "."))
    lines += published_lines(next(iter(cols.values()), {}))
    scored = [c["n_files"] for c in cols.values() if "n_files" in c]
    return "\n".join(lines + few_clips_note(min(scored) if scored else out["n_clips"]))


def _chance_cell(spec, metric: str, col: dict) -> tuple[str, float | None]:
    """("0.271 gap +0.303", 0.303): the better chance control of one system's column and its
    score's gap to it; ("", None) where the column has no controls for ``metric``."""
    ctl = col.get("controls", {})
    vals = [ctl.get(k, {}).get(metric) for k in ("other_clip", "shifted")]
    vals = [x for x in vals if x is not None and math.isfinite(x)]
    if not vals or col.get(metric) is None:
        return "", None
    better = max(vals) if spec.higher else min(vals)
    gap = _gap(spec, col[metric], vals)
    return f"{_fmt(better)} gap {'+' if gap is not None and gap > 0 else ''}{_fmt(gap)}", gap


def _ranks(cols: dict, systems: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {n: {} for n in systems}
    if len(systems) < 2:
        return out
    for m, spec in METRICS.items():
        vals = [(cols[n].get(m), n) for n in systems]
        vals = [(v, n) for v, n in vals if v is not None and math.isfinite(v)]
        for v, n in vals:  # competition ranking: systems equal as printed share a rank (1, 1, 3)
            better = [w for w, _ in vals if _fmt(w) != _fmt(v) and (w > v if spec.higher else w < v)]
            out[n][m] = 1 + len(better)
    return out


def write_csv(path: str | os.PathLike, columns: dict[str, dict]) -> None:
    """One line per (column, clip): span and lengths, every per-clip figure and its controls."""
    rows = [{"system": name, **r} for name, res in columns.items() for r in res["per_clip"]]
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) and np.isfinite(v) else ("" if isinstance(v, float) else v))
                        for k, v in r.items()})
