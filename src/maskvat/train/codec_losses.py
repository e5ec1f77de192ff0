"""The codec's adversarial losses (least-squares GAN, Mao et al. 2017, as in HiFi-GAN and DAC).

They take what ``maskvat.train.discriminators.Discriminator`` returns: a list of logits
tensors, one per sub-discriminator (any shape each), and a list of feature-map lists.
Adversarial terms are summed over sub-discriminators (as DAC and HiFi-GAN do, which
``lambda_adv = 1`` assumes); feature matching is the mean L1 over each sub-discriminator's
layers, summed over sub-discriminators (DAC sums over layers too, so its weight 2 weighs
feature matching 5x (periods) to 25x (STFT windows) more than it does here).
The spectral reconstruction losses are in ``maskvat.dsp`` (``mel_distance``, ``stft_distance``).
"""

from __future__ import annotations

import torch


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


def _as_list(x) -> list[torch.Tensor]:
    return [x] if torch.is_tensor(x) else list(x)
