"""The MaskVAT generator: configs, layers, the three variants, training-time masking."""
