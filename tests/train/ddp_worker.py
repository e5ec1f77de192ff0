"""Run by test_generator.py under torchrun: a few DDP training steps on CPU (gloo)."""

import json
import os
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)
from maskvat.train.generator import TrainConfig, train  # noqa: E402

cfg = TrainConfig.from_dict(json.loads(sys.argv[1]))
out = Path(sys.argv[2])
train(cfg, out, device="cpu", progress=False)
from accelerate import PartialState  # noqa: E402

state = PartialState()
(out / f"rank{os.environ['RANK']}.json").write_text(json.dumps({"world": state.num_processes, "backend": str(state.backend)}))
