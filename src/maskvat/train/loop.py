"""One training loop for every trainer: Accelerate, resume, checkpoints, the LR schedule, log and curves.

A trainer is a small subclass of :class:`Trainer` (audiocraft's solver pattern):

    class SCAVTrainer(Trainer):
        desc, show = "scav", "r1"                       # progress-bar label, validation figure shown
        def build(self) -> nn.Module: ...              # the trained module (checkpointed), after data loading
        def batch(self, step) -> dict: ...              # step's batch, drawn from a generator seeded by (seed, step)
        def loss(self, module, batch) -> (loss, terms)  # runs inside the (DDP-)wrapped module's forward
        def validate(self) -> dict: ...                 # every ``eval_every`` steps and at the end
        def finish(self): ...                           # write the trained artefact (e.g. OUT/scav/)
    last_row = SCAVTrainer(cfg, out).run(device="auto")

What every run writes (one layout for all trainers):

    OUT/config.json     the trainer's typed config (a dataclass); a re-run must name the same, or
                        it stops with the fields that differ (use a new OUT)
    OUT/checkpoint.pt   module, optimiser, step, log, config (+ a trainer's ``extra_state``), written
                        atomically every ``checkpoint_every`` steps, at each validation, on Ctrl-C
                        and at the end; a re-run resumes from it
    OUT/log.csv         one row per step (loss terms, lr; validation figures where evaluated)
    OUT/curves.png      the trainer's ``plot`` of the log

The batch of step s comes from generators seeded by (seed, s), so a resumed run takes exactly
the steps an uninterrupted one would. Accelerate runs the same loop on the CPU, one GPU, or
several processes (``accelerate launch`` / ``torchrun``: DDP), with ``precision`` ("bf16",
"fp16") and gradient accumulation (``accumulate``).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from maskvat.atomic import atomic_path
from maskvat.config_checks import from_checked_dict, read_config_file
from maskvat.errors import MaskvatError
from maskvat.train.runlog import write_log

SCHEDULES = ("poly", "cosine", "constant")
PRECISIONS = ("no", "bf16", "fp16")


@dataclass
class LoopConfig:
    """What the loop reads; each trainer's config adds its own fields (data, model, loss weights).

    Precision: "bf16"/"fp16" autocast on a GPU, and on a CPU only where it has units for it
    (:func:`run_precision`; elsewhere fp32, said in one line at the start).

    Schedule: linear warm-up over ``warmup`` steps to ``lr``, then ``schedule`` down to ``lr_end``
    at ``steps``: "poly" (power ``power``: the paper's polynomial decay, 3.2.2), "cosine", or
    "constant". Optimiser: AdamW(``betas``, ``weight_decay``); ``grad_clip`` > 0 clips the
    gradient norm.

    keep_best: "max:NAME" or "min:NAME" makes the trained artefact the module as it was at the
    validation with the best figure NAME (early stopping's choice, for small data that a long
    run overfits), not at the last step; the state is kept in OUT/best.pt (the checkpoint stays
    the last step's, for resuming). Empty: the last step's module."""

    steps: int = 1000
    lr: float = 1e-3
    lr_end: float = 0.0
    warmup: int = 0
    schedule: str = "cosine"
    power: float = 1.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 0.0
    accumulate: int = 1
    precision: str = "no"
    eval_every: int = 250
    checkpoint_every: int = 250
    seed: int = 0
    keep_best: str = ""  # "max:NAME" / "min:NAME": the artefact is the module at its best validation NAME

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.schedule not in SCHEDULES:
            raise MaskvatError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.precision not in PRECISIONS:
            raise MaskvatError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.steps < 0 or self.warmup < 0 or self.accumulate < 1 or self.eval_every < 1 or self.checkpoint_every < 1:
            raise MaskvatError("steps and warmup must be >= 0; accumulate, eval_every and checkpoint_every >= 1")
        if self.keep_best and (self.keep_best.partition(":")[0] not in ("max", "min")
                               or not self.keep_best.partition(":")[2]):
            raise MaskvatError(f"keep_best must be 'max:NAME' or 'min:NAME' (a validation figure), not "
                               f"{self.keep_best!r}")

    @classmethod
    def from_dict(cls, data: dict, where: str = "training option"):
        """The config from a dict; keys starting with "_" are comments and ignored; any other
        unknown key is one clear error."""
        return from_checked_dict(cls, {k: v for k, v in data.items() if not k.startswith("_")}, where)

    @classmethod
    def from_file(cls, path: str | os.PathLike, **overrides):
        """A config from a JSON file, with ``overrides`` (None values ignored) on top: every
        trainer takes ``--config FILE`` and flags the same way."""
        data = read_config_file(path)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data, f"{path}: training option")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


def lr_at(step: int, cfg: LoopConfig) -> float:
    """Learning rate of step ``step`` (0-based): linear warm-up to ``cfg.lr`` over ``cfg.warmup``
    steps, then ``cfg.schedule`` from ``cfg.lr`` to ``cfg.lr_end`` at ``cfg.steps``. Pure function."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return cfg.lr
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    shape = (1 - t) ** cfg.power if cfg.schedule == "poly" else 0.5 * (1 + math.cos(math.pi * t))
    return cfg.lr_end + (cfg.lr - cfg.lr_end) * shape


# CPU flags (Linux /proc/cpuinfo) of the units that run each half-precision type natively
NATIVE_CPU_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo; None where there is no such file (not Linux)."""
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return None
    return {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}


def run_precision(precision: str, cpu: bool, flags: set[str] | None) -> str:
    """The precision a run uses: ``precision`` on a GPU, and on a CPU with units for it (``flags``
    from :func:`cpu_flags`; None: unknown, kept as asked); else "no" (fp32). Without such units
    autocast emulates bf16/fp16, which is slower than fp32 (a 3448 x 256 by 256 x 9216 matrix
    product, one thread of a 2-core AMD EPYC without avx512_bf16: 37 s in bf16, 4.5 s in fp32).
    Pure function."""
    if precision == "no" or not cpu or flags is None:
        return precision
    return precision if any(f in flags for f in NATIVE_CPU_FLAGS[precision]) else "no"


class _Objective(torch.nn.Module):
    """The module the accelerator wraps: its forward is the trainer's loss, so DDP sees the
    computation through its own forward (gradient hooks, unused-parameter checks)."""

    def __init__(self, trainer: "Trainer", module: torch.nn.Module):
        super().__init__()
        self.module = module
        self._trainer = [trainer]  # a list: not registered as a submodule

    def forward(self, batch: dict):
        return self._trainer[0].loss(self.module, batch)


class Trainer:
    """The loop; subclasses give the data, the module, the loss, validation and the artefact."""

    desc = "train"  # progress-bar label
    # settings a re-run may change and still resume (more steps: the schedule stretches from there on)
    free_on_resume = ("steps", "eval_every", "checkpoint_every")
    ddp_find_unused = False  # True where some parameters may get no gradient in a step (DDP then looks for them)
    show = "loss"  # the validation figure shown on the progress bar
    loss_label = "loss"

    def __init__(self, cfg: LoopConfig, out: str | os.PathLike, *, progress: bool = True):
        self.cfg, self.out, self.progress = cfg, Path(out), progress
        self.module: torch.nn.Module | None = None
        self.device = torch.device("cpu")
        self.accelerator = None

    # ---- hooks -------------------------------------------------------------------------------
    def build(self) -> torch.nn.Module:
        """Load the data and build the module that trains (its state is checkpointed)."""
        raise NotImplementedError

    def parameters(self):
        """What the optimiser updates (default: every parameter of the module)."""
        return self.module.parameters()

    def batch(self, step: int) -> dict:
        """The batch of (micro-)step ``step``: a dict for ``loss``, from generators seeded by (seed, step)."""
        raise NotImplementedError

    def loss(self, module: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, dict]:
        """(loss, {term: tensor}) of ``batch`` (already on the device) through ``module``."""
        raise NotImplementedError

    def validate(self) -> dict:
        """Validation figures (main process only); {} when there is nothing to validate."""
        return {}

    def after_step(self, step: int, batch: dict, row: dict) -> None:
        """After the optimiser step of step ``step`` (0-based); may add to the log ``row``."""

    def extra_state(self) -> dict:
        """More to checkpoint than the module and its optimiser (e.g. a discriminator)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def finish(self) -> None:
        """Write the trained artefact (called on the main process at the end, and after ``stop_after``)."""

    def plot(self, log: list[dict], path: Path) -> None:
        """OUT/curves.png (default: the loss and every validation figure)."""
        from maskvat.train.runlog import plot_curves

        keys = [k for k in dict.fromkeys(k for r in log for k in r) if k.startswith("val") or k == self.show]
        plot_curves(log, path, loss_key="loss", loss_label=self.loss_label, loss_title="training",
                    series=[(k, k) for k in keys if k != "loss"], series_label="validation", series_title="validation")

    # ---- the loop ------------------------------------------------------------------------------
    def run(self, *, device: str = "auto", stop_after: int | None = None) -> dict:
        """Train (or resume) to ``cfg.steps``; ``stop_after``: leave after that many steps of this
        call (the artefact is written as it stands). Returns the last log row with validation figures."""
        from accelerate import Accelerator, DistributedDataParallelKwargs

        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_config()
        cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
        precision = run_precision(cfg.precision, cpu, cpu_flags())
        self.module = None
        acc = self.accelerator = Accelerator(cpu=cpu, mixed_precision=precision,
                                             gradient_accumulation_steps=cfg.accumulate,
                                             kwargs_handlers=[DistributedDataParallelKwargs(
                                                 find_unused_parameters=self.ddp_find_unused)])
        self.device = acc.device
        if precision != cfg.precision and acc.is_main_process:
            print(f"{self.desc}: precision {cfg.precision} asked, fp32 used: this CPU has no {cfg.precision} units "
                  f"({' or '.join(NATIVE_CPU_FLAGS[cfg.precision])}), where autocast is slower than fp32", flush=True)
        self.module = self.build()
        opt = torch.optim.AdamW(self.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
        step, log = self._resume(opt)
        if step == 0 and (self.out / "best.pt").is_file():
            (self.out / "best.pt").unlink()  # a fresh run: nothing of an earlier one counts
        record = self._best_record()
        self._best_value = None if record is None else record["value"]
        self.module.to(self.device)
        objective, opt = acc.prepare(_Objective(self, self.module), opt)
        bar = tqdm(total=cfg.steps, initial=step, desc=self.desc, unit="step",
                   disable=not (self.progress and acc.is_main_process))
        shown = next((r[self.show] for r in reversed(log) if self.show in r), float("nan"))
        taken, t0 = 0, time.perf_counter()
        try:
            while step < cfg.steps and (stop_after is None or taken < stop_after):
                objective.train()
                lr = lr_at(step, cfg)
                for group in opt.param_groups:
                    group["lr"] = lr
                row = {"step": step + 1, "lr": lr}
                for micro in range(cfg.accumulate):
                    batch = _to(self.batch(step * cfg.accumulate + micro + acc.process_index * 10**7), self.device)
                    with acc.accumulate(objective):
                        loss, terms = objective(batch)
                        value = float(loss.detach())
                        if not math.isfinite(value):
                            raise MaskvatError(f"{self.desc}: training diverged at step {step} (loss {value}); "
                                               "lower the learning rate and resume")
                        acc.backward(loss)
                        if cfg.grad_clip > 0 and acc.sync_gradients:
                            acc.clip_grad_norm_(objective.parameters(), cfg.grad_clip)
                        opt.step()
                        opt.zero_grad(set_to_none=True)
                    for k, v in {"loss": loss, **terms}.items():
                        row[k] = row.get(k, 0.0) + float(v.detach() if torch.is_tensor(v) else v) / cfg.accumulate
                self.after_step(step, batch, row)
                step, taken = step + 1, taken + 1
                row["s_per_step"] = (time.perf_counter() - t0) / taken
                evaluate = step % cfg.eval_every == 0 or step == cfg.steps
                if evaluate and acc.is_main_process:
                    objective.eval()
                    with torch.no_grad():
                        row.update(self.validate())
                    self._keep_if_best(step, row)
                shown = row.get(self.show, shown)
                log.append(row)
                if (evaluate or step % cfg.checkpoint_every == 0) and acc.is_main_process:
                    self._checkpoint(opt, step, log)
                bar.set_postfix({"loss": f"{row['loss']:.3f}", self.show: f"{shown:.3f}"})
                bar.update()
        except KeyboardInterrupt:
            if acc.is_main_process:
                self._checkpoint(opt, step, log)
            raise
        finally:
            bar.close()
        if acc.is_main_process:
            self._checkpoint(opt, step, log)
            self.step, self.log = step, log
            self.best = self._restore_best()
            self.module.eval()
            self.finish()
        acc.wait_for_everyone()
        return next((r for r in reversed(log) if self.show in r), log[-1] if log else {})

    # ---- the best validation (``keep_best``) ------------------------------------------------------
    def _keep_if_best(self, step: int, row: dict) -> None:
        """OUT/best.pt holds the module at the best validation so far (written atomically)."""
        if not self.cfg.keep_best:
            return
        mode, _, name = self.cfg.keep_best.partition(":")
        if name not in row:
            raise MaskvatError(f"{self.desc}: keep_best {self.cfg.keep_best!r}: validation gives no {name!r} "
                               f"(it gives {', '.join(k for k in row if k not in ('step', 'lr', 'loss'))})")
        value = float(row[name])
        if not math.isfinite(value):  # no figure this time (e.g. nothing to retrieve): not a best
            return
        best = self._best_value
        if best is not None and not (value > best if mode == "max" else value < best):
            return
        self._best_value = value
        module = self.accelerator.unwrap_model(self.module) if self.accelerator else self.module
        with atomic_path(self.out / "best.pt") as tmp:
            torch.save({"module": module.state_dict(), "step": step, "value": value, "name": name}, tmp)

    def _best_record(self) -> dict | None:
        path = self.out / "best.pt"
        if not self.cfg.keep_best or not path.is_file():
            return None
        return torch.load(path, map_location="cpu", weights_only=False)

    def _restore_best(self) -> dict | None:
        """Load OUT/best.pt into the module (with ``keep_best``); returns {"step", "value", "name"}."""
        if not self.cfg.keep_best:
            return None
        best = self._best_record()
        if best is None:
            return None
        module = self.accelerator.unwrap_model(self.module) if self.accelerator else self.module
        module.load_state_dict(best["module"])
        return {k: best[k] for k in ("step", "value", "name")}

    # ---- persistence ---------------------------------------------------------------------------
    def _check_config(self) -> None:
        path = self.out / "config.json"
        now = self.cfg.to_dict()
        if path.is_file() and (self.out / "checkpoint.pt").is_file():
            # options added since the run began count as their defaults (what that run used)
            saved = {**type(self.cfg)().to_dict(), **json.loads(path.read_text())}
            changed = [f"{k} {saved.get(k)} -> {now.get(k)}" for k in sorted(set(saved) | set(now))
                       if saved.get(k) != now.get(k) and k not in self.free_on_resume]
            if changed:
                raise MaskvatError(f"{self.out / 'checkpoint.pt'}: made with other settings ({'; '.join(changed)}); "
                                   "resume with the same settings or use a new output folder")
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(now, indent=1))

    def _resume(self, opt) -> tuple[int, list[dict]]:
        path = self.out / "checkpoint.pt"
        if not path.is_file():
            return 0, []
        state = torch.load(path, map_location="cpu", weights_only=False)
        try:
            self.module.load_state_dict(state["module"])
        except RuntimeError:
            raise MaskvatError(f"{path}: the checkpoint holds other modules than this run trains; use a new "
                               "output folder") from None
        opt.load_state_dict(state["opt"])
        self.load_extra_state(state.get("extra", {}))
        return state["step"], state["log"]

    def _checkpoint(self, opt, step: int, log: list[dict]) -> None:
        module = self.accelerator.unwrap_model(self.module) if self.accelerator else self.module
        with atomic_path(self.out / "checkpoint.pt") as tmp:
            torch.save({"module": module.state_dict(), "opt": opt.state_dict(), "step": step, "log": log,
                        "config": self.cfg.to_dict(), "extra": self.extra_state()}, tmp)
        write_log(self.out / "log.csv", log)
        self.plot(log, self.out / "curves.png")


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
