"""The generators and their pieces.

- ``maskvat``: the MaskVAT generator (AdaLN, Seq2Seq, Hybrid; paper section 3.2);
  ``config``: its ModelConfig and the named configs; ``layers``: the blocks it is built of;
  ``masking``: the training-time cosine masking and masked-token loss; ``objective``: its training objective.
- ``vaura``: the autoregressive sibling (V-AURA); ``vtaldm``: the latent-flow sibling (VTA-LDM-style).
- ``generator_io``: the config fields every family shares (codec, window, streams, encoders).
- ``folder``: the model folder every family saves and loads (``save_pretrained`` / ``from_pretrained``);
  ``generators``: one loader that reads a folder's kind and picks the family.
"""
