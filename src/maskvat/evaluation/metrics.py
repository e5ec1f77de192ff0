"""The paper's objective metrics (4.0.4), as pure functions of arrays.

- ``frechet_distance`` / ``gaussian_frechet``: between Gaussians fitted to two sets of
  embeddings (trace of the matrix square root from symmetric decompositions; never negative).
- ``mfcc_frames`` (FDM's front-end): 2048-sample window, 512 hop, 128 mel bands, 64 MFCCs,
  at 44.1 kHz, as the paper specifies. The paper gives no log floor; ours is 100 dB below a
  full-scale sine, so that digital silence (log of ~0) and inaudible codec hiss (-120 dB) do
  not sit 20 nats apart and dominate the distance.
- ``novelty_curve`` / ``novelty_score`` (NS): Foote novelty of the self-similarity matrix of
  an embedding sequence; NS = Pearson correlation of the generated and reference curves.
- ``kl_softmax``: the published metrics' KL_PANNs / KL_PaSST of one clip, from two classifiers'
  logits (MMAudio's av-benchmark, ``av_bench/metrics.py`` ``compute_kl``, "kl_softmax").
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
import scipy.special

from maskvat.dsp import mel_filterbank


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FD between N(mu_a, S_a) and N(mu_b, S_b) fitted to a [Na, D] and b [Nb, D]:
    |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).

    With fewer embeddings than dimensions in both sets (one 2048-d PANNs embedding per clip, a
    few hundred clips), the covariances are never formed: with A, B the centred sets and
    S_a = A^T A / (Na - 1), S_b = B^T B / (Nb - 1), the nonzero eigenvalues of S_a S_b are those of
    (B A^T)(B A^T)^T / ((Na - 1)(Nb - 1)), so tr((S_a S_b)^(1/2)) is the sum of the singular values
    of B A^T / sqrt((Na - 1)(Nb - 1)) (an [Nb, Na] matrix instead of two D x D eigenproblems; the
    same value). Otherwise ``gaussian_frechet`` of the fitted moments."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two [N, D] sets of the same D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("each set needs at least 2 embeddings")
    if max(len(a), len(b)) > a.shape[1]:
        return gaussian_frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    ca, cb = a - a.mean(0), b - b.mean(0)
    na, nb = len(a) - 1, len(b) - 1
    tr_covmean = np.linalg.svd(cb @ ca.T, compute_uv=False).sum() / np.sqrt(na * nb)
    fd = ((a.mean(0) - b.mean(0)) ** 2).sum() + (ca ** 2).sum() / na + (cb ** 2).sum() / nb - 2.0 * tr_covmean
    return float(max(fd, 0.0))


def gaussian_frechet(mu_a: np.ndarray, s_a: np.ndarray, mu_b: np.ndarray, s_b: np.ndarray) -> float:
    """FD of two Gaussians (means [D], covariances [D, D]).

    tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues of L^T S_a L, where
    S_b = L L^T (Cholesky; the product is similar to S_a S_b and symmetric); a singular S_b
    (fewer embeddings than dimensions) takes S_b^(1/2) from its eigendecomposition instead. Both
    need no ridge, a set against itself gives 0 up to rounding, and rounding never makes the
    result negative: it is clamped at 0 (issue 27: -3e-5 for a set against itself)."""
    s_a, s_b = np.atleast_2d(s_a), np.atleast_2d(s_b)
    try:
        root_b = np.linalg.cholesky(s_b)
        m = root_b.T @ s_a @ root_b
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(s_b)
        root_b = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        m = root_b @ s_a @ root_b
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum()
    fd = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * tr_covmean
    return float(max(fd, 0.0))


MFCC_FLOOR_DB = -100.0  # mel power floor, re a full-scale sine: digital silence and a codec's hiss both sit on it


def mfcc_frames(wav: np.ndarray, sample_rate: int = 44100, n_fft: int = 2048, hop: int = 512,
                n_mels: int = 128, n_mfcc: int = 64) -> np.ndarray:
    """wav [T] -> MFCC frames [N, 64]: Hann-windowed power spectra, 128 mel bands, log, DCT-II."""

    wav = np.asarray(wav, np.float32)
    if len(wav) < n_fft:
        wav = np.pad(wav, (0, n_fft - len(wav)))
    n = 1 + (len(wav) - n_fft) // hop
    idx = np.arange(n_fft)[None] + hop * np.arange(n)[:, None]
    frames = wav[idx] * np.hanning(n_fft + 1)[:-1].astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    fb = mel_filterbank(sample_rate, n_fft, n_mels).astype(np.float32)
    mel = np.maximum(power @ fb.T, _mel_floor(n_fft, n_mels, sample_rate))
    return scipy.fft.dct(np.log(mel), type=2, norm="ortho", axis=1)[:, :n_mfcc]


@functools.lru_cache(maxsize=8)
def _mel_floor(n_fft: int, n_mels: int, sample_rate: int, floor_db: float = MFCC_FLOOR_DB) -> float:
    """Mel power ``floor_db`` below the strongest band of a full-scale 1 kHz sine."""

    t = np.arange(n_fft) / sample_rate
    sine = np.sin(2 * np.pi * 1000.0 * t) * np.hanning(n_fft + 1)[:-1]
    peak = (np.abs(np.fft.rfft(sine)) ** 2 @ mel_filterbank(sample_rate, n_fft, n_mels).astype(np.float32).T).max()
    return float(peak * 10 ** (floor_db / 10))


def novelty_curve(seq: np.ndarray, kernel: int = 8) -> np.ndarray:
    """Foote novelty of seq [N, D]: a checkerboard kernel (Gaussian-tapered, side 2*kernel)
    slid along the diagonal of the cosine self-similarity matrix -> [N]. Only positions where
    the kernel lies wholly inside the matrix (kernel <= i <= N - kernel) have a value; the
    others are NaN: padding the matrix would put a step at both ends of every sequence, and
    two such curves correlate whatever the sound (digital silence scored NS 0.30-0.53)."""
    x = np.asarray(seq, np.float64)
    x = x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)
    ssm = x @ x.T
    k = kernel
    sign = np.outer(np.r_[-np.ones(k), np.ones(k)], np.r_[-np.ones(k), np.ones(k)])
    g = np.exp(-0.5 * (np.linspace(-1, 1, 2 * k) / 0.5) ** 2)
    check = sign * np.outer(g, g)
    curve = np.full(len(x), np.nan)
    for i in range(k, len(x) - k + 1):
        curve[i] = (ssm[i - k:i + k, i - k:i + k] * check).sum()
    return curve


def novelty_score(generated: np.ndarray, reference: np.ndarray, kernel: int = 8) -> float:
    """NS: Pearson correlation of the novelty curves of two sequences, over the positions where
    both have a value (the common span); 0 where a curve is flat (silence has no structure to
    share); NaN for sequences too short for one whole kernel."""
    a, b = novelty_curve(generated, kernel), novelty_curve(reference, kernel)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2:
        return float("nan")
    a, b = a[ok], b[ok]
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def kl_softmax(generated_logits: np.ndarray, reference_logits: np.ndarray) -> np.ndarray:
    """Per clip KL(softmax(reference) || softmax(generated)) in nats: logits [N, C] (or [C]) ->
    [N] (or a scalar), each summed over the C classes; av-benchmark's ``kl_softmax`` is its mean."""
    log_p = scipy.special.log_softmax(np.asarray(reference_logits, np.float64), axis=-1)
    log_q = scipy.special.log_softmax(np.asarray(generated_logits, np.float64), axis=-1)
    return (np.exp(log_p) * (log_p - log_q)).sum(-1)
