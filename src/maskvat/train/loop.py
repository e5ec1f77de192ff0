"""The training loop the home-trained encoders share: resumable, seeded per step, logged.

    step_loss(step) -> loss tensor        (draws its batch from a generator seeded by (seed, step))
    validate() -> dict of figures          (every ``cfg.eval_every`` steps and at the end)
    log = run_loop(out, model, opt, cfg, model_cfg, step_loss, validate, desc="sync judge", show="acc")

OUT/checkpoint.pt holds model, optimiser, step, log and both configs (written atomically at
each validation and on Ctrl-C); OUT/log.csv the log. A re-run resumes from the checkpoint and
continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from maskvat.atomic import atomic_path
from maskvat.errors import MaskvatError
from maskvat.train.runlog import write_log


@dataclass
class LoopConfig:
    """What ``run_loop`` reads: the schedule, the optimiser's decay, the seed and how often to
    validate. The encoders' training configs add their batch and data fields to it."""

    steps: int = 1500
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 1e-4
    seed: int = 0
    eval_every: int = 250


def lr_at(step: int, cfg: LoopConfig) -> float:
    """Linear warm-up over ``cfg.warmup`` steps, then cosine decay to 5% of ``cfg.lr`` at ``cfg.steps``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def resume_checkpoint(out: Path, model, opt, model_cfg, cfg=None) -> tuple[int, list[dict]]:
    """(step, log) of OUT/checkpoint.pt loaded into ``model`` and ``opt``; (0, []) when there is none."""
    path = out / "checkpoint.pt"
    if not path.is_file():
        return 0, []
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["model_cfg"] != asdict(model_cfg):
        raise MaskvatError(f"{path}: checkpoint has another model config; use a new --out folder")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        # a training option that adds modules (the sync judge's level probes) was switched on or off
        now = asdict(cfg) if cfg is not None else {}
        changed = ", ".join(f"{k} {state['cfg'].get(k)} -> {v}" for k, v in now.items() if state["cfg"].get(k) != v)
        raise MaskvatError(f"{path}: the checkpoint holds other modules than this run trains"
                           f"{' (' + changed + ')' if changed else ''}; use a new --out folder") from None
    opt.load_state_dict(state["opt"])
    return state["step"], state["log"]


def write_checkpoint(out: Path, model, opt, step: int, log: list[dict], cfg, model_cfg) -> None:
    """OUT/checkpoint.pt (atomically) and OUT/log.csv."""
    with atomic_path(out / "checkpoint.pt") as tmp:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "log": log,
                    "cfg": asdict(cfg), "model_cfg": asdict(model_cfg)}, tmp)
    write_log(out / "log.csv", log)


def run_loop(out: Path, model: torch.nn.Module, opt, cfg, model_cfg, step_loss: Callable[[int], torch.Tensor],
             validate: Callable[[], dict], *, desc: str, show: str, progress: bool = True) -> list[dict]:
    """Train ``model`` from its checkpoint (if any) to ``cfg.steps``; returns the whole log.

    ``show`` names the validation figure shown beside the loss on the progress bar."""
    step, log = resume_checkpoint(out, model, opt, model_cfg, cfg)
    last = next((r for r in reversed(log) if show in r), {})
    bar = tqdm(total=cfg.steps, initial=step, desc=desc, unit="step", disable=not progress)
    try:
        while step < cfg.steps:
            model.train()
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg)
            loss = step_loss(step)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            row = {"step": step, "loss": loss.item()}
            if step % cfg.eval_every == 0 or step == cfg.steps:
                last = validate()
                row.update(last)
                write_checkpoint(out, model, opt, step, log + [row], cfg, model_cfg)
            log.append(row)
            bar.set_postfix({"loss": f"{loss.item():.3f}", show: f"{last.get(show, float('nan')):.3f}"})
            bar.update()
    except KeyboardInterrupt:
        write_checkpoint(out, model, opt, step, log, cfg, model_cfg)
        raise
    finally:
        bar.close()
    write_log(out / "log.csv", log)
    return log
