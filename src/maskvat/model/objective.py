"""The MaskVAT training objective as one module (paper 3.2.2): what a trainer or DDP wraps.

    objective = MaskedTokenObjective(model, lambda_reg=1.0, lambda_cont=1.0)
    loss, terms = objective(codes, mask, drop, semantic=sem, sync=syn, audio=aud)

codes, mask: [B, K, L]; drop: [B] bool (conditioning dropout to [NULL]); semantic [B, Ns, Ds],
sync [B, Ny, Dy], audio [B, Na, Da] (the BEATs-role features of the auxiliary losses).
"""

from __future__ import annotations

import torch

from maskvat.model.masking import apply_mask, masked_cross_entropy
from maskvat.model.maskvat import MaskVAT


class MaskedTokenObjective(torch.nn.Module):
    """The training objective as a module (what Accelerate/DDP wraps): batch -> (loss, terms).

    CE on masked positions, plus lambda_reg * MSE + lambda_cont * contrastive for Seq2Seq/Hybrid.
    """

    def __init__(self, model: MaskVAT, lambda_reg: float = 1.0, lambda_cont: float = 1.0):
        super().__init__()
        self.model, self.lambda_reg, self.lambda_cont = model, lambda_reg, lambda_cont

    def forward(self, codes, mask, drop, semantic=None, sync=None, audio=None):
        m = self.model
        cond = m.condition(semantic, sync, drop, length=codes.shape[-1])
        logits = m.decode(apply_mask(codes, mask, m.config.mask_id), cond)
        ce = masked_cross_entropy(logits, codes, mask)
        terms = {"ce": ce}
        total = ce
        aux = m.auxiliary_losses(cond, audio) if audio is not None else {}
        if aux:
            total = total + self.lambda_reg * aux["mse"] + self.lambda_cont * aux["contrastive"]
            terms.update(aux)
        terms["loss"] = total
        return total, {k: v.detach() for k, v in terms.items()}
