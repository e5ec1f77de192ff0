"""Sound banks: what each lab event sounds like.

Two banks share one interface, ``bank.one_shot(sound_class, rng, pitch=None) -> (wav, info)``
(wav: [T] float32 at 44.1 kHz, peak 1, onset at sample 0; info: name, source, licence):

- ``ProceduralBank``: modal and noise synthesis, no files needed (tests use it).
- ``DebianBank``: real recorded samples from Debian packages where the machine has them
  (sonic-pi-samples for drums, FluidR3 GM rendered by fluidsynth for the xylophone), and
  the procedural sound for classes no package records (material impacts).
Continuous sources (fan, tap) are synthesised from their visible quantity in both banks.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from maskvat.errors import MaskvatError
from maskvat.lab.vocab import BAR_PITCHES
from maskvat.media import resample

SR = 44100
PROCEDURAL_INFO = {"source": "maskvat procedural synthesis", "license": "Apache-2.0 (generated)"}
SONIC_PI_DIR = Path("/usr/share/sonic-pi/samples")
SONIC_PI_COPYRIGHT = Path("/usr/share/doc/sonic-pi-samples/copyright")
FLUID_SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
CACHE_DIR = Path.home() / ".cache" / "maskvat" / "lab_bank"

# Recorded drum hits per lab drum (sonic-pi-samples file stems).
SONIC_PI_DRUMS = {
    "kick": ("drum_heavy_kick", "drum_bass_hard", "bd_fat", "bd_pure", "bd_808"),
    "snare": ("drum_snare_hard", "drum_snare_soft", "sn_dolf", "sn_generic"),
    "hihat": ("drum_cymbal_closed", "drum_cymbal_pedal"),
    "tom": ("drum_tom_mid_hard", "drum_tom_lo_hard", "drum_tom_hi_hard"),
    "cymbal": ("drum_cymbal_hard", "drum_splash_hard", "drum_cymbal_open"),
}


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _normalise(x: np.ndarray) -> np.ndarray:
    peak = np.abs(x).max()
    return (x / peak).astype(np.float32) if peak > 0 else x.astype(np.float32)


def _modes(freqs, decays, amps, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A sum of exponentially decaying sinusoids with random phases: [T]."""
    t = _t(seconds)
    out = np.zeros_like(t)
    for f, tau, a in zip(freqs, decays, amps):
        if f < SR / 2:
            out += a * np.exp(-t / tau) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out


def _noise_burst(seconds: float, tau: float, rng, highpass: bool = False) -> np.ndarray:
    n = rng.standard_normal(int(seconds * SR))
    if highpass:
        n = np.diff(n, prepend=0.0)
    return n * np.exp(-_t(seconds) / tau)


def _sweep(f_start: float, f_end: float, tau_f: float, tau_a: float, seconds: float) -> np.ndarray:
    t = _t(seconds)
    f = f_end + (f_start - f_end) * np.exp(-t / tau_f)
    return np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / tau_a)


# Material -> (base frequency range Hz, partial ratios, decay seconds, noise share)
_MATERIALS = {
    "metal": ((900, 1400), (1.0, 2.76, 5.40, 8.93), (0.45, 0.30, 0.18, 0.10), 0.05),
    "wood": ((280, 480), (1.0, 2.57, 4.21), (0.07, 0.04, 0.02), 0.25),
    "glass": ((1800, 2600), (1.0, 2.32, 4.25, 6.63), (0.30, 0.20, 0.12, 0.08), 0.08),
    "rubber": ((90, 140), (1.0, 1.59), (0.05, 0.03), 0.35),
}


def synth_impact(material: str, rng: np.random.Generator) -> np.ndarray:
    (lo, hi), ratios, decays, noise = _MATERIALS[material]
    f0 = rng.uniform(lo, hi)
    amps = [1.0 / (i + 1) for i in range(len(ratios))]
    body = _modes([f0 * r * rng.uniform(0.99, 1.01) for r in ratios], decays, amps, 0.8, rng)
    return _normalise(body + noise * _noise_burst(0.8, 0.004, rng))


def synth_drum(drum: str, rng: np.random.Generator) -> np.ndarray:
    if drum == "kick":
        x = _sweep(160, 48, 0.03, 0.18, 0.6) + 0.1 * _noise_burst(0.6, 0.003, rng)
    elif drum == "snare":
        x = 0.5 * _sweep(230, 180, 0.02, 0.08, 0.5) + _noise_burst(0.5, 0.09, rng, highpass=True)
    elif drum == "hihat":
        x = _noise_burst(0.3, 0.035, rng, highpass=True)
    elif drum == "tom":
        x = _sweep(260, 150, 0.06, 0.25, 0.8) + 0.05 * _noise_burst(0.8, 0.004, rng)
    elif drum == "cymbal":
        x = _noise_burst(1.5, 0.5, rng, highpass=True) + 0.3 * _modes(
            [3150, 4270, 5610, 7330], [0.6, 0.5, 0.4, 0.3], [1, 0.8, 0.6, 0.4], 1.5, rng)
    else:
        raise ValueError(f"unknown drum {drum!r}")
    return _normalise(x)


def synth_bar(pitch: int, rng: np.random.Generator) -> np.ndarray:
    """A struck xylophone bar (first overtone tuned to 3x, as on real xylophones)."""
    f0 = midi_to_hz(pitch)
    x = _modes([f0, 3.0 * f0, 6.1 * f0], [0.35, 0.08, 0.03], [1.0, 0.35, 0.12], 0.9, rng)
    return _normalise(x + 0.05 * _noise_burst(0.9, 0.002, rng))


def synth_fan(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fan hum whose blade-pass pitch follows ``speed`` [T] in 0..1 (0 = stopped): [T]."""
    f = 60.0 + 180.0 * speed  # blade-pass frequency, Hz
    phase = 2 * np.pi * np.cumsum(f) / SR
    hum = sum(np.sin(k * phase) / k for k in (1, 2, 3, 4))
    air = np.convolve(rng.standard_normal(len(speed)), np.ones(8) / 8, mode="same")
    return (0.6 * hum + 0.4 * air) * np.clip(speed * 1.5, 0, 1)


def synth_tap(flow: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Running water whose loudness follows ``flow`` [T] in 0..1: band-passed noise: [T]."""
    n = np.diff(rng.standard_normal(len(flow)), prepend=0.0)
    return np.convolve(n, np.hanning(9) / 4.5, mode="same") * flow


def fade_out(x: np.ndarray, seconds: float = 0.08) -> np.ndarray:
    """Fade the last ``seconds`` to zero: a sound cut off abruptly clicks, and a click is an onset."""
    x = np.array(x, np.float32)
    n = min(len(x), int(seconds * SR))
    x[len(x) - n :] *= np.linspace(1, 0, n, dtype=np.float32) ** 2
    return x


def trim_onset(x: np.ndarray, rel: float = 0.05, seconds: float = 1.5) -> np.ndarray:
    """Start at the first sample above ``rel`` x peak; cut to ``seconds`` with a 50 ms fade; peak 1."""
    x = np.asarray(x, np.float32)
    start = int(np.argmax(np.abs(x) > rel * np.abs(x).max()))
    return _normalise(fade_out(x[start : start + int(seconds * SR)]))


class ProceduralBank:
    """Every class synthesised; needs no files."""

    name = "procedural"

    def one_shot(self, sound_class: str, rng: np.random.Generator, pitch: int | None = None):
        family, kind = sound_class.split("/")
        if family == "impact":
            wav = synth_impact(kind, rng)
        elif family == "percussion":
            wav = synth_drum(kind, rng)
        elif family == "pitched":
            wav = synth_bar(pitch, rng)
        else:
            raise ValueError(f"{sound_class} has no one-shot sound")
        return fade_out(wav), {"name": f"procedural:{sound_class}", **PROCEDURAL_INFO}


class DebianBank(ProceduralBank):
    """Recorded drums (sonic-pi-samples) and xylophone notes (FluidR3 GM); impacts procedural."""

    name = "debian"

    def __init__(self):
        if not available_debian_bank():
            raise FileNotFoundError("Debian sound banks not installed (run scripts/install_sound_banks.sh)")
        self.licences = _sonic_pi_licences()
        for pitch in BAR_PITCHES:  # render the note table once, before any worker needs it
            _fluid_note(pitch)

    def one_shot(self, sound_class: str, rng: np.random.Generator, pitch: int | None = None):
        family, kind = sound_class.split("/")
        if family == "percussion":
            stem = SONIC_PI_DRUMS[kind][rng.integers(len(SONIC_PI_DRUMS[kind]))]
            info = {"name": stem, "source": "Debian sonic-pi-samples", "file": str(SONIC_PI_DIR / f"{stem}.flac"),
                    "license": self.licences.get(f"{stem}.flac", "see /usr/share/doc/sonic-pi-samples/copyright")}
            return _load_sample(SONIC_PI_DIR / f"{stem}.flac"), info
        if family == "pitched":
            path = _fluid_note(pitch)
            info = {"name": f"FluidR3_GM xylophone {pitch}", "source": "Debian fluid-soundfont-gm via fluidsynth",
                    "file": str(path), "license": "MIT"}
            return _load_sample(path), info
        return super().one_shot(sound_class, rng, pitch)


def available_debian_bank() -> bool:
    return SONIC_PI_DIR.is_dir() and FLUID_SF2.is_file() and shutil.which("fluidsynth") is not None


def make_bank(name: str):
    """``procedural``, ``debian``, or ``auto`` (debian where installed, else procedural)."""
    if name == "procedural" or (name == "auto" and not available_debian_bank()):
        return ProceduralBank()
    if name in ("debian", "auto"):
        return DebianBank()
    raise ValueError(f"unknown sound bank {name!r} (auto, procedural, debian)")


@functools.lru_cache(maxsize=None)
def _load_sample(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return trim_onset(resample(x.mean(axis=1), sr, SR))


@functools.lru_cache(maxsize=1)
def _sonic_pi_licences() -> dict[str, str]:
    """File name -> licence, from the package's machine-readable (DEP-5) copyright file."""
    out: dict[str, str] = {}
    if not SONIC_PI_COPYRIGHT.is_file():
        return out
    for block in SONIC_PI_COPYRIGHT.read_text(errors="replace").split("\n\n"):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", block, re.M)
        licence = re.search(r"^License:\s*(\S.*)$", block, re.M)
        if files and licence:
            for f in files.group(1).split():
                out[Path(f).name] = licence.group(1).strip()
    return out


def _fluid_note(pitch: int, program: int = 13) -> Path:
    """Render one General MIDI note (program 13: xylophone) with fluidsynth, cached."""
    path = CACHE_DIR / f"fluidr3_p{program}_n{pitch}.wav"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    mid = path.with_name(f"{path.stem}.{os.getpid()}.mid")
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.partial.wav")
    mid.write_bytes(_one_note_midi(pitch, program))
    cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(SR), "-F", str(tmp), str(FLUID_SF2), str(mid)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        tmp.replace(path)
    except (subprocess.SubprocessError, OSError) as exc:
        raise MaskvatError(f"fluidsynth could not render note {pitch} from {FLUID_SF2} ({exc}); "
                           "use --bank procedural") from None
    finally:
        mid.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return path


def _one_note_midi(pitch: int, program: int) -> bytes:
    """A format-0 MIDI file: program change, one note held 1 s, at 120 bpm / 480 ticks."""
    def vlq(n: int) -> bytes:
        out = [n & 0x7F]
        while n := n >> 7:
            out.append(0x80 | (n & 0x7F))
        return bytes(reversed(out))

    events = (b"\x00\xc0" + bytes([program]) + b"\x00\x90" + bytes([pitch, 110])
              + vlq(960) + b"\x80" + bytes([pitch, 0]) + vlq(960) + b"\xff\x2f\x00")
    return b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01\x01\xe0" + b"MTrk" + len(events).to_bytes(4, "big") + events

