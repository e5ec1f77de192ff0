"""The codec's adversarial losses (least-squares GAN, Mao et al. 2017, as in HiFi-GAN and DAC),
and a loss against steady lines a decoder adds to everything it decodes.

They take what ``maskvat.train.discriminators.Discriminator`` returns: a list of logits
tensors, one per sub-discriminator (any shape each), and a list of feature-map lists.
Adversarial terms are summed over sub-discriminators (as DAC and HiFi-GAN do, which
``lambda_adv = 1`` assumes); feature matching is the mean L1 over each sub-discriminator's
layers, summed over sub-discriminators (DAC sums over layers too, so its weight 2 weighs
feature matching 5x (periods) to 25x (STFT windows) more than it does here).
The spectral reconstruction losses are in ``maskvat.dsp`` (``mel_distance``, ``stft_distance``).

``tone_distance`` (spectral lines the input lacks, at any frequency) was added against the
947 Hz tone of the shipped lab codec's first decoder (issue 26; BENCHMARKS.md "The codec's
947 Hz tone"); its evaluation twin is ``maskvat.evaluation.tones.added_tones``. A pure,
differentiable function of ``wav: [B, T]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits, fake_logits) -> torch.Tensor:
    """LSGAN discriminator loss: sum over sub-discriminators of mean((1 - D(real))^2) + mean(D(fake)^2).

    real_logits, fake_logits: a tensor, or lists of N tensors (sub-discriminator i: any shape,
    the same for real and fake) -> scalar. 0 when every real logit is 1 and every fake one 0.
    """
    real_logits, fake_logits = _as_list(real_logits), _as_list(fake_logits)
    if len(real_logits) != len(fake_logits):
        raise ValueError(f"{len(real_logits)} real vs {len(fake_logits)} fake logits tensors")
    return torch.stack([(1 - r).pow(2).mean() + f.pow(2).mean() for r, f in zip(real_logits, fake_logits)]).sum()


def generator_adv_loss(fake_logits) -> torch.Tensor:
    """LSGAN generator loss: sum over sub-discriminators of mean((1 - D(fake))^2).

    fake_logits: a tensor or a list of N tensors (any shapes) -> scalar."""
    return torch.stack([(1 - f).pow(2).mean() for f in _as_list(fake_logits)]).sum()


def feature_matching_loss(real_feats, fake_feats) -> torch.Tensor:
    """Feature matching (Larsen et al. 2016; HiFi-GAN): L1 between the discriminator's hidden
    activations on real and generated audio, summed over every layer of every sub-discriminator
    (DAC's reduction, for which its weight 2 is set). Real features are detached (no gradient to the discriminator).

    real_feats, fake_feats: lists of N lists of tensors (sub-discriminator i, layer j: the same
    shape in both, e.g. [B, C, H, W]); a flat list of tensors counts as one sub-discriminator.
    -> scalar; 0 for identical features, positive otherwise.
    """
    if real_feats and torch.is_tensor(real_feats[0]):
        real_feats, fake_feats = [real_feats], [fake_feats]
    if len(real_feats) != len(fake_feats):
        raise ValueError(f"{len(real_feats)} real vs {len(fake_feats)} fake feature lists")
    per_disc = []
    for real, fake in zip(real_feats, fake_feats):
        if len(real) != len(fake) or not real:
            raise ValueError(f"{len(real)} real vs {len(fake)} fake feature maps (need the same, at least one)")
        per_disc.append(torch.stack([(f - r.detach()).abs().mean() for r, f in zip(real, fake)]).sum())
    return torch.stack(per_disc).sum()


def tone_distance(pred: torch.Tensor, target: torch.Tensor, *, window: int = 4096, neighbourhood: int = 19,
                  margin: float = 0.3, eps: float = 1e-8) -> torch.Tensor:
    """Narrowband-excess loss: how far lines in ``pred``'s spectrum stand above what ``target``
    has there, beyond their neighbourhood. pred, target: [B, T] (T >= ``window``) -> scalar,
    0 when pred adds no line.

    Power spectra (Hann windows of ``window`` samples, hop window / 4, frames averaged), each
    item weighted by 1 / its target's mean power (loud and quiet crops count alike), averaged
    over the batch: S_pred, S_target [F]. D = log10(S_pred / S_target) in bels; its narrowband
    part E = D - (the median of D over ``neighbourhood`` bins around); the loss is the sum over
    bins of relu(E - ``margin``)^2. A broad colouring (which the mel loss handles) costs
    nothing; a line the input lacks costs its squared excess. A steady line the codec adds
    sits at the same frequency in every item, so the batch average keeps it while the random
    scatter of the spectra shrinks.
    """
    pred, target = pred.reshape(-1, pred.shape[-1]), target.reshape(-1, target.shape[-1])
    hann = torch.hann_window(window, device=pred.device)

    def power(w: torch.Tensor) -> torch.Tensor:  # [B, F]
        spec = torch.stft(w, n_fft=window, hop_length=window // 4, window=hann, center=False, return_complex=True)
        return (spec.real.pow(2) + spec.imag.pow(2)).mean(-1)

    pp, pt = power(pred), power(target)
    weight = 1.0 / (pt.mean(-1, keepdim=True) + eps)
    d = torch.log10((pp * weight).mean(0) + eps) - torch.log10((pt * weight).mean(0) + eps)  # [F] bels
    half = neighbourhood // 2
    local = F.pad(d[None, None], (half, half), mode="replicate")[0, 0].unfold(0, neighbourhood, 1).median(-1).values
    return torch.relu(d - local - margin).pow(2).sum()


def _as_list(x) -> list[torch.Tensor]:
    return [x] if torch.is_tensor(x) else list(x)
