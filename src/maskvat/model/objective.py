"""The MaskVAT training objective (paper 3.2.2), as a function and as a module a trainer or DDP wraps.

    loss, terms = masked_token_loss(model, codes, mask, drop, semantic=sem, sync=syn, audio=aud)

codes, mask: [B, K, L] (mask True = masked, in the loss); drop: [B] bool (conditioning dropout
to [NULL]); semantic [B, Ns, Ds], sync [B, Ny, Dy]; audio [B, Na, Da] (the BEATs-role features
of the Seq2Seq/Hybrid auxiliary losses; None: no auxiliary losses). valid: [B, L] bool, False
on padding (a batch of clips of different lengths): padded positions are given to the model
as [MASK] and are never in the loss. Loss = CE on masked valid positions
+ lambda_reg * MSE + lambda_cont * contrastive (Seq2Seq/Hybrid).
"""

from __future__ import annotations

import torch

from maskvat.model.masking import apply_mask, masked_cross_entropy
from maskvat.model.maskvat import MaskVAT


def masked_token_loss(model: MaskVAT, codes: torch.Tensor, mask: torch.Tensor, drop: torch.Tensor,
                      semantic: torch.Tensor | None = None, sync: torch.Tensor | None = None,
                      audio: torch.Tensor | None = None, *, valid: torch.Tensor | None = None,
                      lambda_reg: float = 1.0, lambda_cont: float = 1.0) -> tuple[torch.Tensor, dict]:
    """(total loss, {"ce", "mse", "contrastive", "loss"} detached)."""
    hidden = mask if valid is None else mask | ~valid[:, None, :]
    in_loss = mask if valid is None else mask & valid[:, None, :]
    cond = model.condition(semantic, sync, drop, length=codes.shape[-1])
    logits = model.decode(apply_mask(codes, hidden, model.config.mask_id), cond)
    ce = masked_cross_entropy(logits, codes, in_loss)
    terms, total = {"ce": ce}, ce
    aux = model.auxiliary_losses(cond, audio) if audio is not None else {}
    if aux:
        total = total + lambda_reg * aux["mse"] + lambda_cont * aux["contrastive"]
        terms.update(aux)
    terms["loss"] = total
    return total, {k: v.detach() for k, v in terms.items()}


class MaskedTokenObjective(torch.nn.Module):
    """``masked_token_loss`` as a module: batch -> (loss, terms)."""

    def __init__(self, model: MaskVAT, lambda_reg: float = 1.0, lambda_cont: float = 1.0):
        super().__init__()
        self.model, self.lambda_reg, self.lambda_cont = model, lambda_reg, lambda_cont

    def forward(self, codes, mask, drop, semantic=None, sync=None, audio=None, valid=None):
        return masked_token_loss(self.model, codes, mask, drop, semantic, sync, audio, valid=valid,
                                 lambda_reg=self.lambda_reg, lambda_cont=self.lambda_cont)
