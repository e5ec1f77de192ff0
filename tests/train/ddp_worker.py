"""Run by test_generator.py under torchrun: a few DDP training steps on CPU (gloo) for each
(config, output folder) pair of the JSON list in argv[1], in one launch (the processes start
and import torch once for all the variants)."""

import json
import os
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)
from accelerate import PartialState  # noqa: E402

from maskvat.train.generator import TrainConfig, train  # noqa: E402

for cfg_dict, folder in json.loads(sys.argv[1]):
    out = Path(folder)
    train(TrainConfig.from_dict(cfg_dict), out, device="cpu", progress=False)
    state = PartialState()
    (out / f"rank{os.environ['RANK']}.json").write_text(json.dumps({"world": state.num_processes,
                                                                     "backend": str(state.backend)}))
