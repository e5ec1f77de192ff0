"""AudioTokenizer: waveform <-> DAC codegram, over ``transformers.DacModel`` (SPEC 1, paper 3.1).

Shapes: wav [B, T] at ``sample_rate``; codes [B, K, L] int64 with L = ceil(T / hop_length);
quantised representation [B, H, L] (H = the codec's hidden size, 1024 for DAC 44 kHz).
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils import parametrize
from transformers import DacConfig, DacModel

from maskvat.codec.presets import CODEC_PRESETS
from maskvat.errors import MaskvatError
from maskvat.weights import load_pretrained, quiet_transformers, shipped

LOAD_HINT = "pass --codec PATH to a saved codec folder"
SAMPLE_RATE = 44100  # every MaskVAT codec: DAC 44 kHz, and the presets of its architecture


class AudioTokenizer(torch.nn.Module):
    """A DAC codec used as MaskVAT's tokenizer. Always in eval mode (a frozen codec).

    Attributes: ``sample_rate`` (44100), ``hop_length`` (512, the product of the encoder's
    downsampling ratios), ``frame_rate`` (sample_rate / hop_length = 86.13 codegram frames/s,
    not ``config.frame_rate``, which rounds up to 87), ``n_levels`` (K = 9),
    ``codebook_size`` (1024), ``codebook_dim`` (8), ``name`` (where the weights came from).
    """

    def __init__(self, model: DacModel, name: str = "dac"):
        super().__init__()
        self.model = model.eval()
        self.name = name
        cfg = model.config
        self.sample_rate = int(cfg.sampling_rate)
        if self.sample_rate != SAMPLE_RATE:
            raise MaskvatError(f"codec {name}: its config says {self.sample_rate} Hz, but MaskVAT's codec runs at "
                               f"{SAMPLE_RATE} Hz (full band, paper 3.1); a DAC 44 kHz config.json that says otherwise is "
                               f"mislabelled (early hub snapshots said 16000): set its sampling_rate to {SAMPLE_RATE}")
        self.hop_length = int(np.prod(cfg.downsampling_ratios))
        self.frame_rate = self.sample_rate / self.hop_length
        self.n_levels = int(cfg.n_codebooks)
        self.codebook_size = int(cfg.codebook_size)
        self.codebook_dim = int(cfg.codebook_dim)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_preset(cls, name: str, *, seed: int = 0) -> "AudioTokenizer":
        """A freshly initialised (random, untrained) codec of a preset's architecture."""
        if name not in CODEC_PRESETS:
            raise MaskvatError(f"unknown codec preset {name!r} (choose from {', '.join(sorted(CODEC_PRESETS))})")
        torch.manual_seed(seed)
        return cls(DacModel(CODEC_PRESETS[name].dac_config()), name=f"{name} (untrained)")

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        local_files_only: bool = False,
    ) -> "AudioTokenizer":
        """Load trained weights: a local folder (first), a preset name with published weights, or a hub id.

        A hub id is looked up in the local hub cache, then (unless ``local_files_only`` or
        ``HF_HUB_OFFLINE=1``) downloaded after a quick reachability check. Every failure is
        a one-line MaskvatError saying what to pass instead.
        """
        device = _checked_device(device)
        source, name = _resolve_source(name_or_path)
        if Path(source).exists():
            _check_dac_folder(Path(source))
        model = load_pretrained(_CheckedDacLoader, source, "codec", local_files_only=local_files_only, hint=LOAD_HINT)
        return cls(model, name=name).to(device)

    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Write ``config.json`` + ``model.safetensors`` (transformers' format: ``DacModel.from_pretrained`` reads it).

        Weights are saved plain: if weight norm is applied (while training), the effective
        weights are written, so that the folder loads into an ordinary ``DacModel``.
        """
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        _plain_copy(self.model).save_pretrained(str(path), safe_serialization=True)

    def train(self, mode: bool = True) -> "AudioTokenizer":
        """No-op: the tokenizer stays in eval mode inside any parent; fine-tune ``self.model`` directly."""
        return super().train(False)

    # ---- arithmetic ---------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def num_frames(self, num_samples: int) -> int:
        """Codegram length L for ``num_samples`` samples: ceil(T / hop)."""
        return math.ceil(num_samples / self.hop_length)

    def pad(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [..., T] -> [..., L * hop], zero-padded at the end (``DacModel.encode`` does not pad)."""
        extra = self.num_frames(wav.shape[-1]) * self.hop_length - wav.shape[-1]
        return torch.nn.functional.pad(wav, (0, extra)) if extra else wav

    # ---- encode / decode ----------------------------------------------------------------
    @torch.no_grad()
    def encode(self, wav: torch.Tensor | np.ndarray) -> torch.Tensor:
        """wav [B, T] or [T] float at ``sample_rate`` -> codes [B, K, L] int64 on the model's device.

        Every item of a batch gets the same end padding, so a batch encodes as its items alone.
        """
        x = self.pad(self._check_wav(wav))[:, None, :]
        return torch.cat([self.model.encode(part).audio_codes.long() for part in self._cpu_parts(x)])

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """codes [B, K, L] -> wav [B, L * hop] float32, or [B, num_samples] if given (<= L * hop)."""
        codes = self._check_codes(codes)
        full = codes.shape[-1] * self.hop_length
        if num_samples is not None and not 0 <= num_samples <= full:
            raise MaskvatError(f"cannot trim {codes.shape[-1]} frames ({full} samples) to {num_samples} samples")
        wav = torch.cat([self.model.decode(audio_codes=part).audio_values.reshape(part.shape[0], -1).float()
                         for part in self._cpu_parts(codes)])
        return wav[:, :num_samples] if num_samples is not None else wav

    @torch.no_grad()
    def decode_frames(self, codes: torch.Tensor, first: int, end: int, context: int) -> torch.Tensor:
        """The samples of codegram frames [first, end) of codes [B, K, L], decoded from those
        frames and ``context`` frames either side (fewer at the codegram's ends) ->
        wav [B, (end - first) * hop] float32.

        With ``context`` at least the decoder's reach (``maskvat.pipeline.generate.
        codec_decoder_reach``: 9 frames for the shipped lab codec), the result equals those
        samples of ``decode(codes)`` (to float rounding), so a long codegram can be decoded in
        pieces of bounded memory: the decoder is all convolutions (DAC), each sample sees only
        the tokens within its reach."""
        length = codes.shape[-1]
        if not 0 <= first < end <= length or context < 0:
            raise MaskvatError(f"cannot decode frames [{first}, {end}) of a {length}-frame codegram "
                               f"with context {context}")
        a, b = max(0, first - context), min(length, end + context)
        wav = self.decode(codes[..., a:b])
        return wav[:, (first - a) * self.hop_length:(end - a) * self.hop_length]

    def quantized(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, L] -> the decoder's input, summed over levels: [B, H, L] (differentiable)."""
        return self.model.quantizer.from_codes(self._check_codes(codes))[0]

    @torch.no_grad()
    def nearest_codes(self, latent: torch.Tensor, sweeps: int = 4) -> torch.Tensor:
        """Codes whose quantised representation is nearest a continuous latent in the decoder's
        input space: latent [B, H, L] (``quantized``'s space) -> codes [B, K, L] int64.

        A greedy residual search over the level tables (``level_embeddings``: level k picks the
        entry nearest what the levels before it left), then ``sweeps`` coordinate-descent sweeps
        (each level re-picked given all the others; the error never grows). The codec's own RVQ
        cannot do this: it reads the *encoder's* output, a different space (the shipped lab codec's
        is ~4,000 times larger, and each level reads only the direction of its 8-dim projection).
        Greedy alone recovers few of the codes of ``quantized(codes)``; 4 sweeps recover 99% (the
        lab codec on a 1 s test sound: waveform error 0.2% of the signal, against 25% greedy)."""
        latent = torch.as_tensor(latent).to(self.device, torch.float32)
        hidden = int(self.model.config.hidden_size)
        if latent.ndim != 3 or latent.shape[1] != hidden:
            raise MaskvatError(f"latent must be [B, {hidden}, L], got shape {tuple(latent.shape)}")
        tables = self.level_embeddings()  # [K, C, H]
        rest = latent.transpose(1, 2)  # [B, L, H]: what the chosen levels leave unexplained
        picks = []

        def nearest(r, table):
            return torch.cdist(r, table[None].expand(r.shape[0], -1, -1)).argmin(-1)  # [B, L]

        for table in tables:
            picks.append(nearest(rest, table))
            rest = rest - table[picks[-1]]
        for _ in range(sweeps):
            for k, table in enumerate(tables):
                rest = rest + table[picks[k]]
                picks[k] = nearest(rest, table)
                rest = rest - table[picks[k]]
        return torch.stack(picks, dim=1)

    def latents(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, L] -> codebook vectors, level-major: [B, codebook_dim * K, L] (72 dims for FDD)."""
        return self.model.quantizer.from_codes(self._check_codes(codes))[1]

    def level_embeddings(self) -> torch.Tensor:
        """[K, D, H]: each level's codebook [D, 8] through that level's out_proj (8 -> H, with its bias).

        ``sum_k level_embeddings()[k, codes[:, k]]`` is [B, L, H] and equals
        ``quantized(codes).transpose(1, 2)``: these tables initialise the transformer's
        per-level token embeddings (SPEC 1). Differentiable w.r.t. the codec's weights.
        """
        tables = []
        for q in self.model.quantizer.quantizers:
            weight = q.out_proj.weight[:, :, 0]  # [H, 8] (the effective weight, also under weight norm)
            tables.append(q.codebook.weight @ weight.T + q.out_proj.bias)  # [D, H]
        return torch.stack(tables)

    def _cpu_parts(self, x: torch.Tensor) -> list[torch.Tensor]:
        """On a CPU, a batch one item at a time: the codec's long convolutions run faster per
        item that way (lab codec, 4 s clips, 2 cores: encode 0.34 s per clip alone vs 0.66 s in
        batches of 8, decode 0.16 s vs 0.63 s; ``benchmarks/codec_batching.py``). On a GPU, the
        batch whole."""
        return list(x.split(1)) if self.device.type == "cpu" and x.shape[0] > 1 else [x]

    # ---- input checks -------------------------------------------------------------------
    def _check_wav(self, wav: torch.Tensor | np.ndarray) -> torch.Tensor:
        """wav [T] or [B, T] -> float32 [B, T] on the model's device; refuses empty or non-finite audio."""
        x = wav if torch.is_tensor(wav) else torch.from_numpy(np.ascontiguousarray(wav))
        x = x.to(device=self.device, dtype=torch.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[-1] == 0:
            raise MaskvatError(f"encode expects audio [B, T] or [T] with T > 0, got shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise MaskvatError("encode got audio with NaN or infinite samples")
        return x

    def _check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, L] -> int64 on the model's device; refuses a wrong K or out-of-range values."""
        codes = torch.as_tensor(codes).long().to(self.device)
        if codes.ndim != 3 or codes.shape[1] != self.n_levels:
            raise MaskvatError(f"codes must be [B, {self.n_levels}, L], got shape {tuple(codes.shape)}")
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise MaskvatError(
                f"codes must lie in [0, {self.codebook_size}), got [{int(codes.min())}, {int(codes.max())}]"
            )
        return codes


class _CheckedDacLoader:
    """``DacModel.from_pretrained`` that refuses incomplete or mismatched weights.

    transformers only logs missing weights and initialises them at random, which would make
    a silently broken codec. Failures become ValueError/OSError with a one-line message, which
    ``maskvat.weights.load_pretrained`` turns into a MaskvatError.
    """

    @staticmethod
    def from_pretrained(source: str, **kwargs) -> DacModel:
        from safetensors import SafetensorError

        try:
            with quiet_transformers():
                model, info = DacModel.from_pretrained(source, output_loading_info=True, dtype=torch.float32, **kwargs)
        except SafetensorError as exc:
            raise ValueError(f"the weights file is corrupt ({_first_line(exc)})") from None
        except RuntimeError as exc:
            raise ValueError(f"the weights do not fit its config.json ({_first_line(exc)})") from None
        _check_loading_info(info)
        return model


def _check_loading_info(info: dict) -> None:
    """Raise ValueError if any weight was missing (and so left random) or unused."""
    missing, unexpected = sorted(info.get("missing_keys", ())), sorted(info.get("unexpected_keys", ()))
    if any("parametrizations" in key for key in unexpected):
        raise ValueError("the weights were saved with weight norm applied; save them with "
                         "AudioTokenizer.save_pretrained (which removes it)")
    if missing or unexpected:
        what = f"{len(missing)} missing weights (e.g. {missing[0]})" if missing else ""
        what += ", " if missing and unexpected else ""
        what += f"{len(unexpected)} unknown weights (e.g. {unexpected[0]})" if unexpected else ""
        raise ValueError(f"not a complete DAC checkpoint: {what}")


def _resolve_source(name_or_path: str | os.PathLike) -> tuple[str, str]:
    """(what to load, the name to record): a folder (absolute path), a preset's hub id, or a hub id."""
    source = str(name_or_path)
    path = Path(source).expanduser()
    if path.exists():
        return str(path), str(path.resolve())
    preset = CODEC_PRESETS.get(source)
    if preset is not None:
        if preset.shipped is not None:
            return str(shipped("codec", preset.shipped)), f"{source} (shipped)"
        if preset.hub_id is None:
            raise MaskvatError(f"codec preset {source!r} has no published weights; {LOAD_HINT}")
        return preset.hub_id, preset.hub_id
    return source, source


def _check_dac_folder(path: Path) -> None:
    """A folder must hold a DAC config.json before transformers is asked to load it."""
    if not (path / "config.json").is_file():
        raise MaskvatError(f"cannot load codec from {path}: no config.json (not a saved codec folder)")
    try:
        model_type = DacConfig.from_pretrained(str(path)).model_type
    except (OSError, ValueError, TypeError) as exc:
        raise MaskvatError(f"cannot load codec from {path}: not a DAC checkpoint ({_first_line(exc)})") from None
    if model_type != "dac":
        raise MaskvatError(f"cannot load codec from {path}: not a DAC checkpoint (model_type is {model_type!r})")


def _checked_device(device: str | torch.device) -> torch.device:
    """A usable torch device, or a MaskvatError (e.g. 'cuda' on a CPU-only torch)."""
    try:
        dev = torch.device(device)
        torch.empty(0, device=dev)
    except (RuntimeError, AssertionError, ValueError) as exc:
        raise MaskvatError(f"cannot use device {str(device)!r}: {_first_line(exc)}") from None
    return dev


def _plain_copy(model: DacModel) -> DacModel:
    """The model itself, or a copy with weight-norm parametrizations folded into plain weights."""
    modules = [m for m in model.modules() if parametrize.is_parametrized(m)]
    if not modules:
        return model
    plain = copy.deepcopy(model)
    for module in plain.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return plain


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
