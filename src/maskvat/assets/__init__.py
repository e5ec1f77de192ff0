"""Weights that ship inside the package (fp16 safetensors + config.json per folder).

``index.json`` names every shipped component's folder; ``maskvat.weights.shipped`` and
``maskvat.weights.resolve`` are the only readers. ``lab/model_index.json`` names the parts of
the shipped lab pipeline (what ``maskvat.load()`` loads).
"""
