"""Narrowband tones a codec adds: steady spectral lines in its output that its input lacks.

A tone shows as a peak of the long-window power spectrum (Welch, Hann, 16384 samples: 2.7 Hz
bins at 44.1 kHz) above the spectrum's own neighbourhood, its envelope being a median filter
``neighbourhood_hz`` wide over the dB spectrum. A peak of the decoded sound counts as
*added* when it stands ``min_prominence_db`` above its neighbourhood, ``min_added_db`` more
than the input's spectrum does at that frequency (the input's largest prominence within
``tolerance_hz``), and is ``min_louder_db`` louder than the input there: a tone the input
holds and the codec keeps is not reported, nor a remnant left where the codec removed more
(the spikes libopus leaves at its band edge near 16 kHz, say).

The shipped lab codec's first weights added such a line at 947.46 Hz (11 x the codegram
frame rate, 44100 / 512 Hz) to nearly everything they decoded (issue 26); ``maskvat codec
eval`` reports added tones per file and across files (``tone_report``). Pure numpy/scipy
functions of ``wav: [T]`` arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter
from scipy.signal import find_peaks, welch

TONES_PER_FILE = 5  # the strongest added tones listed per file in a report (all are counted)
RECURRING_TONES = 10  # the recurring tones listed in a report, most files first

N_FFT = 16384
NEIGHBOURHOOD_HZ = 200.0
MIN_PROMINENCE_DB = 15.0
MIN_ADDED_DB = 10.0
MIN_LOUDER_DB = 3.0


@dataclass(frozen=True)
class Tone:
    """One added tone. ``prominence_db``: the decoded spectrum above its neighbourhood at
    ``frequency_hz``; ``input_prominence_db``: the input's there; ``added_db``: their difference;
    ``level_db``: the decoded level minus the input's level at that frequency (power spectra)."""

    frequency_hz: float
    prominence_db: float
    input_prominence_db: float
    added_db: float
    level_db: float

    def as_dict(self) -> dict:
        return {k: round(v, 2) for k, v in asdict(self).items()}


def spectral_prominence(wav: np.ndarray, sample_rate: int, *, n_fft: int = N_FFT,
                        neighbourhood_hz: float = NEIGHBOURHOOD_HZ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """wav [T] -> (frequencies [F] Hz, level [F] dB, prominence [F] dB above the median-filtered envelope).

    Welch power spectrum with Hann windows of ``n_fft`` samples (fewer, a power of two, for a
    shorter clip), half overlapping. A clip shorter than 1024 samples gives empty arrays.
    """
    x = np.asarray(wav, dtype=np.float64).reshape(-1)
    if len(x) < 1024:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    nperseg = min(n_fft, 1 << int(np.log2(len(x))))
    freqs, power = welch(x, sample_rate, window="hann", nperseg=nperseg, noverlap=nperseg // 2)
    level = 10 * np.log10(power + 1e-20)
    width = max(3, int(round(neighbourhood_hz / (freqs[1] - freqs[0]))) | 1)
    return freqs, level, level - median_filter(level, size=width, mode="nearest")


def added_tones(decoded: np.ndarray, reference: np.ndarray, sample_rate: int, *, n_fft: int = N_FFT,
                neighbourhood_hz: float = NEIGHBOURHOOD_HZ, min_prominence_db: float = MIN_PROMINENCE_DB,
                min_added_db: float = MIN_ADDED_DB, min_louder_db: float = MIN_LOUDER_DB,
                tolerance_hz: float = 6.0, fmin: float = 30.0,
                fmax: float | None = None) -> list[Tone]:
    """Narrowband tones in ``decoded`` that ``reference`` (its input) does not have, strongest first.

    decoded, reference: [T] (the same clip before and after the codec; lengths may differ by
    a few samples). A peak counts if its prominence is at least ``min_prominence_db``, exceeds
    the input's prominence near that frequency by at least ``min_added_db``, and its level the
    input's level there by at least ``min_louder_db``; peaks
    closer than ``tolerance_hz`` count once. ``fmin``/``fmax`` bound the searched band
    (``fmax`` None: 0.45 x the sample rate). Both are analysed with the same window (``n_fft``,
    or the largest power of two the shorter one holds); under 1024 samples gives [].
    """
    shortest = min(np.size(decoded), np.size(reference))
    if shortest < 1024:
        return []
    n_fft = min(n_fft, 1 << int(np.log2(shortest)))  # the same bins for both
    f, lev_d, prom_d = spectral_prominence(decoded, sample_rate, n_fft=n_fft, neighbourhood_hz=neighbourhood_hz)
    _, lev_r, prom_r = spectral_prominence(reference, sample_rate, n_fft=n_fft, neighbourhood_hz=neighbourhood_hz)
    df = f[1] - f[0]
    band = (f >= fmin) & (f <= (0.45 * sample_rate if fmax is None else fmax))
    tol = max(1, int(round(tolerance_hz / df)))
    # the input's largest prominence within +-tol bins of each frequency
    near_r = maximum_filter1d(prom_r, size=2 * tol + 1, mode="nearest")
    peaks, _ = find_peaks(np.where(band, prom_d, -np.inf), height=min_prominence_db, distance=tol + 1)
    tones = [Tone(float(f[i]), float(prom_d[i]), float(near_r[i]), float(prom_d[i] - near_r[i]),
                  float(lev_d[i] - lev_r[i]))
             for i in peaks if prom_d[i] - near_r[i] >= min_added_db and lev_d[i] - lev_r[i] >= min_louder_db]
    return sorted(tones, key=lambda t: -t.prominence_db)


def summarize_tones(per_file: dict[str, list[Tone]], *, merge_hz: float = 6.0) -> dict:
    """Across files: how many have an added tone, and each recurring tone (frequencies within
    ``merge_hz`` merged): its mean frequency, in how many files, and its median and largest prominence."""
    groups: list[list[Tone]] = []
    for tones in per_file.values():
        for tone in tones:
            for group in groups:
                if abs(np.mean([t.frequency_hz for t in group]) - tone.frequency_hz) <= merge_hz:
                    group.append(tone)
                    break
            else:
                groups.append([tone])
    recurring = [{"frequency_hz": round(float(np.mean([t.frequency_hz for t in g])), 2), "files": len(g),
                  "median_prominence_db": round(float(np.median([t.prominence_db for t in g])), 2),
                  "max_prominence_db": round(float(max(t.prominence_db for t in g)), 2)} for g in groups]
    recurring.sort(key=lambda r: (-r["files"], -r["max_prominence_db"]))
    return {"files": len(per_file), "files_with_added_tones": sum(1 for t in per_file.values() if t),
            "tones": recurring}


def tone_report(per_file: dict[str, list[Tone]]) -> dict:
    """The ``added_tones`` entry of ``maskvat codec eval``'s result, from {file: [Tone]} (JSON-ready).

    ``files_with_added_tones`` of ``files``; ``tones``: the recurring ones (``summarize_tones``),
    most files first (``RECURRING_TONES`` listed, ``distinct_tones`` counted); ``per_file``: each
    file's strongest ``TONES_PER_FILE`` tones and its count; ``settings``: the detector's."""
    summary = summarize_tones(per_file)
    return {
        "files": summary["files"],
        "files_with_added_tones": summary["files_with_added_tones"],
        "distinct_tones": len(summary["tones"]),
        "tones": summary["tones"][:RECURRING_TONES],
        "per_file": [{"file": name, "count": len(found), "tones": [t.as_dict() for t in found[:TONES_PER_FILE]]}
                     for name, found in per_file.items()],
        "settings": {"n_fft": N_FFT, "neighbourhood_hz": NEIGHBOURHOOD_HZ, "min_prominence_db": MIN_PROMINENCE_DB,
                     "min_added_db": MIN_ADDED_DB, "min_louder_db": MIN_LOUDER_DB},
    }


def format_tone_report(report: dict) -> list[str]:
    """Text lines for ``tone_report``'s result: a summary line, the recurring tones, each file's strongest."""
    cfg = report["settings"]
    lines = [f"added tones: {report['files_with_added_tones']} of {report['files']} files "
             f"(a peak >= {cfg['min_prominence_db']:g} dB above its {cfg['neighbourhood_hz']:g} Hz neighbourhood, "
             f">= {cfg['min_added_db']:g} dB more than the input's there, "
             f"and >= {cfg['min_louder_db']:g} dB louder than the input there)"]
    for tone in report["tones"]:
        lines.append(f"  {tone['frequency_hz']:8.1f} Hz in {tone['files']} files: median +{tone['median_prominence_db']:.1f} dB, "
                     f"max +{tone['max_prominence_db']:.1f} dB above the neighbourhood")
    for row in report["per_file"]:
        if row["tones"]:
            t = row["tones"][0]
            lines.append(f"  {row['file']}: {row['count']} tones, strongest {t['frequency_hz']:.1f} Hz "
                         f"{t['prominence_db']:+.1f} dB (input {t['input_prominence_db']:+.1f} dB; "
                         f"level {t['level_db']:+.1f} dB vs input)")
    return lines
