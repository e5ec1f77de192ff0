"""Published checkpoints as their training scripts write them."""

from __future__ import annotations

import sys
import types


def foreign_object(module_name: str):
    """An instance of a class from module ``module_name``, which exists only until the caller
    deletes ``sys.modules[module_name]`` after saving: as SparseSync's OmegaConf config object
    is for a process without omegaconf."""
    module = types.ModuleType(module_name)
    exec("class DictConfig:\n    def __init__(self, content):\n        self._content = content\n", module.__dict__)
    sys.modules[module_name] = module
    return module.DictConfig({"data": {"vids_path": "/data/vggsound"}})
