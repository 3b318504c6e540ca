"""The training engine shared by all stages: processes, devices, sharding, gradient sync,
precision, atomic checkpoints and resume, logs and the progress bar.

One process (CPU or one GPU) or `torchrun` (NCCL on GPUs, gloo on CPU); no collective runs at
world size 1. Data parallelism comes in two kinds:
- "ddp": replicated parameters, gradients averaged with all_reduce after accumulation (DDP's
  semantics; we sync explicitly because a Self Forcing rollout calls the model many times per
  backward through `forward_chunk`, which DDP's one-forward-per-backward reducer does not allow);
- "fsdp": PyTorch FSDP2 (`fully_shard` per DiT block, then the root; bf16 params with fp32
  gradient reduction on GPU), with `forward_chunk`/`text_kv`/`prefill_reference` registered.
Precision: bf16 autocast on GPU by default, and on CPU when asked (`run.mixed_precision: bf16`: CPUs
with AMX or AVX512-BF16 train about 1.1x faster, 1.4x with `run.compile`; elsewhere bf16 is slower).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from rtrdit.files import atomic_write_text
from rtrdit.train.config import ConfigError, TrainConfig
from rtrdit.train.ema import EMA

log = logging.getLogger("rtrdit.train")

FSDP_METHODS = ("forward_chunk", "text_kv", "prefill_reference")


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_pref: str = "auto") -> DistInfo:
    """Read torchrun's environment; start a process group only when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device_pref == "auto" else device_pref == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ConfigError("run.device is 'cuda' but no GPU is available")
    device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local_rank, device)


class Engine:
    """Everything a stage's loop needs besides its own math."""

    def __init__(self, cfg: TrainConfig, stage: str, out: Path, resume: bool = False) -> None:
        self.cfg, self.stage, self.out, self.resume = cfg, stage, out, resume
        self.dist = init_distributed(cfg.run.device)
        self.device = self.dist.device
        mp = cfg.run.mixed_precision
        if mp not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"run.mixed_precision must be auto, bf16 or fp32, got {mp!r}")
        if cfg.run.parallel not in ("ddp", "fsdp"):
            raise ConfigError(f"run.parallel must be 'ddp' or 'fsdp', got {cfg.run.parallel!r}")
        self.bf16 = mp == "bf16" or (mp == "auto" and self.device.type == "cuda")
        micro = cfg.run.micro_batch_size or cfg.run.batch_size // self.dist.world
        if micro < 1:
            raise ConfigError(f"batch_size {cfg.run.batch_size} is smaller than the world size {self.dist.world}")
        self.micro = micro
        self.models: dict[str, nn.Module] = {}
        self.optimizers: dict[str, tuple[torch.optim.Optimizer, nn.Module]] = {}
        self.emas: dict[str, EMA] = {}
        self._tb: Any = None
        self._jsonl: Any = None
        self._bar: Any = None

    # ------------------------------------------------------------------ models
    def prepare(self, model: nn.Module, trainable: bool = True) -> nn.Module:
        """Move to the device; set activation checkpointing; shard with FSDP2 when configured."""
        model.to(self.device)
        for m in model.modules():  # the DiT itself or wrapped (the fake score holds one)
            if hasattr(m, "gradient_checkpointing"):
                m.gradient_checkpointing = trainable and self.cfg.model.gradient_checkpointing
        if not trainable:
            model.requires_grad_(False).eval()
        if self.cfg.run.parallel == "fsdp" and self.dist.world > 1:
            from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method

            # FSDP2 warns, once per module class, that a wrapped module returned a view (an in-place op on
            # it would skip the gradient all-gather). Nothing here changes those outputs in place, and
            # tests/train/test_distributed.py checks the sharded stages against one process's weights.
            warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module \(\w+\) returned a view tensor")
            gpu_bf16 = self.bf16 and self.device.type == "cuda"  # on CPU autocast alone (gloo reduces fp32)
            mpp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if gpu_bf16 \
                else MixedPrecisionPolicy()
            targets = [model.blocks] if hasattr(model, "blocks") else []
            targets += [model.dit.blocks] if hasattr(model, "dit") else []
            for blocks in targets:
                for blk in blocks:
                    # the DiT computes the prompt's cross-attention keys/values outside the block's
                    # forward (text_kv, once per call / per cache), so cross_attn is its own FSDP unit
                    # whose methods gather their parameters when called
                    if hasattr(blk, "cross_attn"):
                        fully_shard(blk.cross_attn, mp_policy=mpp)
                        for name in ("key_value", "query", "out"):
                            register_fsdp_forward_method(blk.cross_attn, name)
                    fully_shard(blk, mp_policy=mpp)
            fully_shard(model, mp_policy=mpp)
            for owner in (model, getattr(model, "dit", None)):
                for name in FSDP_METHODS:
                    if owner is not None and hasattr(owner, name):
                        register_fsdp_forward_method(owner, name)
        return model

    def compiled(self, model: nn.Module) -> Callable[..., Any]:
        """`model` through torch.compile when run.compile is set, else `model`: call it for the loss,
        while the optimiser, EMA and checkpoints keep the plain module (they share its parameters)."""
        return torch.compile(model) if self.cfg.run.compile else model

    def register(self, name: str, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                 ema: EMA | None = None) -> None:
        """Put a model (and its optimiser / EMA) into the checkpoints."""
        self.models[name] = model
        if optimizer is not None:
            self.optimizers[name] = (optimizer, model)
        if ema is not None:
            self.emas[name] = ema

    def make_optimizer(self, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        o = self.cfg.optim
        return torch.optim.AdamW(params, lr=lr, betas=(o.betas[0], o.betas[1]), eps=o.eps,
                                 weight_decay=o.weight_decay)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast when the run uses it (run.mixed_precision), else nothing."""
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # --------------------------------------------------------------- gradients
    def backward(self, loss: Tensor, model: nn.Module, accum_i: int, accum: int) -> None:
        """loss / accum backward; under FSDP2 gradients are reduce-scattered only on the last
        micro-step of an accumulation (earlier ones accumulate unsharded)."""
        if hasattr(model, "set_requires_gradient_sync"):
            model.set_requires_gradient_sync(accum_i == accum - 1)
        (loss / accum).backward()

    def supervised_step(self, model: nn.Module, ema: EMA | None, ds: Any, plan: Any, step: int, optimizer: str,
                        lr: float, loss_fn: Callable[[dict[str, Any], list[int]], Tensor]) -> dict[str, float]:
        """One optimiser step of a supervised stage (teacher, student): `loss_fn(batch, keys)` over
        the step's micro-batches with accumulation, then the optimiser and the EMA."""
        from rtrdit.train.batches import load_micro_batch

        model.train()
        total = 0.0
        for a in range(plan.accum):
            batch, keys = load_micro_batch(ds, plan, step, a, self.dist.rank, self.device)
            with self.autocast():
                loss = loss_fn(batch, keys)
            self.backward(loss, model, a, plan.accum)
            total += float(loss.detach()) / plan.accum
        gn = self.step_optimizer(optimizer, self.cfg.optim.grad_clip, lr)
        if ema is not None:
            ema.update(model, step)
        return {"loss": total, "grad_norm": gn, "lr": lr}

    def sync_gradients(self, model: nn.Module) -> None:
        """Average gradients over ranks ("ddp"; FSDP2 reduces in its hooks). Missing gradients
        count as zeros, so ranks that used different parameters stay in step."""
        if self.dist.world == 1 or self.cfg.run.parallel == "fsdp":
            return
        params = [p for p in model.parameters() if p.requires_grad]
        used = torch.tensor([float(p.grad is not None) for p in params], device=self.device)
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
                         + [used])
        dist.all_reduce(flat)
        used = flat[-len(params):]
        flat = flat[:-len(params)] / self.dist.world
        off = 0
        for i, p in enumerate(params):
            n = p.numel()
            # a parameter no rank used keeps grad None, so the optimiser skips it as one process would
            p.grad = flat[off:off + n].view_as(p).clone() if used[i] > 0 else None
            off += n

    def step_optimizer(self, name: str, clip: float, lr: float | None = None) -> float:
        """Sync, clip, step and zero one registered optimiser; returns the gradient norm."""
        opt, model = self.optimizers[name]
        self.sync_gradients(model)
        params = [p for p in model.parameters() if p.requires_grad]
        if clip > 0:
            norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        else:
            grads = [p.grad for p in params if p.grad is not None]
            norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))) \
                if grads else 0.0
        if lr is not None:
            for group in opt.param_groups:
                group["lr"] = lr
        opt.step()
        opt.zero_grad(set_to_none=True)
        return norm

    def lr_at(self, base: float, step: int, total: int | None = None) -> float:
        """Learning rate of update `step` of `total` (default run.steps): linear warm-up, constant, then a
        linear decay to 0 over the last optim.decay_steps (a function of the step alone, so resuming is exact)."""
        o = self.cfg.optim
        total = self.cfg.run.steps if total is None else total
        scale = min(1.0, (step + 1) / o.warmup_steps) if o.warmup_steps > 0 else 1.0
        if o.decay_steps > 0:
            scale = min(scale, max(0.0, (total - step) / o.decay_steps))
        return base * scale

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Average scalar metrics over ranks (for logs)."""
        if self.dist.world == 1 or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return {k: float(v) / self.dist.world for k, v in zip(keys, t.tolist(), strict=True)}

    def _max_over_ranks(self, value: int) -> int:
        """The largest ``value`` of all ranks (a signal noted on any rank stops all after the same step)."""
        if self.dist.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.int64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def barrier(self) -> None:
        if self.dist.world > 1:
            dist.barrier()

    # ------------------------------------------------------------- checkpoints
    def full_state(self, model: nn.Module) -> dict[str, Tensor]:
        """Full CPU state dict (a collective under FSDP: call on every rank)."""
        return self._model_state(model)

    def _model_state(self, model: nn.Module) -> dict[str, Tensor]:
        if self.cfg.run.parallel == "fsdp" and self.dist.world > 1:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}

    def _optim_state(self, opt: torch.optim.Optimizer, model: nn.Module) -> dict[str, Any]:
        if self.cfg.run.parallel == "fsdp" and self.dist.world > 1:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            return get_optimizer_state_dict(model, opt, options=StateDictOptions(full_state_dict=True,
                                                                                 cpu_offload=True))
        return opt.state_dict()

    def _load_model(self, model: nn.Module, sd: dict[str, Tensor]) -> None:
        if self.cfg.run.parallel == "fsdp" and self.dist.world > 1:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

            set_model_state_dict(model, sd, options=StateDictOptions(full_state_dict=True))
        else:
            model.load_state_dict(sd)

    def _load_optim(self, opt: torch.optim.Optimizer, model: nn.Module, sd: dict[str, Any]) -> None:
        if self.cfg.run.parallel == "fsdp" and self.dist.world > 1:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            # parameters that never received a gradient (e.g. the generator's text embedding in stage 3)
            # have no optimiser state yet, as in the one-process path
            set_optimizer_state_dict(model, opt, sd, options=StateDictOptions(full_state_dict=True, strict=False))
        else:
            opt.load_state_dict(sd)

    @property
    def ckpt_root(self) -> Path:
        return self.out / "checkpoints"

    def save_checkpoint(self, step: int, extra: dict[str, Any] | None = None) -> Path:
        """Write every registered model, optimiser, EMA, the data position and RNG states into a
        temporary folder, then rename it into place: a checkpoint is complete or absent."""
        from safetensors.torch import save_file

        final = self.ckpt_root / f"step_{step:08d}"
        tmp = self.ckpt_root / f".tmp_step_{step:08d}"
        models = {n: self._model_state(m) for n, m in self.models.items()}
        optims = {n: self._optim_state(o, m) for n, (o, m) in self.optimizers.items()}
        emas = {n: e.state_dict() for n, e in self.emas.items()}
        if self.dist.is_main:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
        self.barrier()
        torch.save(_rng_state(), tmp / f"rng_rank{self.dist.rank}.pt")
        if self.dist.is_main:
            for n, sd in models.items():
                save_file(sd, str(tmp / f"model_{n}.safetensors"))
            for n, sd in emas.items():
                save_file(sd, str(tmp / f"ema_{n}.safetensors"))
            for n, sd in optims.items():
                torch.save(sd, tmp / f"optim_{n}.pt")
            state = {"step": step, "stage": self.stage, "world_size": self.dist.world, **(extra or {})}
            (tmp / "state.json").write_text(json.dumps(state, indent=2))
        self.barrier()
        if self.dist.is_main:
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            atomic_write_text(self.ckpt_root / "latest", final.name)
            self._prune()
        self.barrier()
        return final

    def _prune(self) -> None:
        keep = max(1, self.cfg.run.keep_checkpoints)
        done = sorted(p for p in self.ckpt_root.glob("step_*") if (p / "state.json").is_file())
        for p in done[:-keep]:
            shutil.rmtree(p, ignore_errors=True)
        for p in self.ckpt_root.glob(".tmp_step_*"):  # left by a run killed while writing
            shutil.rmtree(p, ignore_errors=True)

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint (the ``latest`` pointer, else the highest step), or None."""
        pointer = self.ckpt_root / "latest"
        if pointer.is_file():
            p = self.ckpt_root / pointer.read_text().strip()
            if (p / "state.json").is_file():
                return p
        done = sorted(p for p in self.ckpt_root.glob("step_*") if (p / "state.json").is_file())
        return done[-1] if done else None

    def load_checkpoint(self, path: Path) -> dict[str, Any]:
        """Restore everything `save_checkpoint` wrote; returns its state.json."""
        from safetensors.torch import load_file

        state = json.loads((path / "state.json").read_text())
        for n, m in self.models.items():
            self._load_model(m, load_file(str(path / f"model_{n}.safetensors")))
        for n, (o, m) in self.optimizers.items():
            self._load_optim(o, m, torch.load(path / f"optim_{n}.pt", weights_only=True, map_location="cpu"))
        for n, e in self.emas.items():
            e.load_state_dict(load_file(str(path / f"ema_{n}.safetensors")))
        rng = path / f"rng_rank{self.dist.rank}.pt"
        if rng.is_file():
            _set_rng_state(torch.load(rng, weights_only=True))
        return state

    def maybe_resume(self) -> int:
        """The step to start from: after the latest checkpoint with --resume, else 0."""
        if not self.resume:
            return 0
        ckpt = self.latest_checkpoint()
        if ckpt is None:
            log.warning("--resume: no checkpoint in %s, starting from step 0", self.ckpt_root)
            return 0
        state = self.load_checkpoint(ckpt)
        log.info("resumed from %s (step %d)", ckpt, state["step"])
        return int(state["step"])

    # ------------------------------------------------------------------- logs
    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """One JSONL line and TensorBoard scalars (rank 0)."""
        if not self.dist.is_main:
            return
        if self._jsonl is None:
            self._jsonl = open(self.out / "log.jsonl", "a")  # noqa: SIM115
        self._jsonl.write(json.dumps({"step": step, "time": time.time(), **metrics}) + "\n")
        self._jsonl.flush()
        if self.cfg.run.tensorboard:
            if self._tb is None:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:
                    log.warning("tensorboard is not installed (pip install 'rtrdit[train]'); JSONL only")
                    self.cfg.run.tensorboard = False
                    return
                self._tb = SummaryWriter(str(self.out / "tensorboard"))
            for k, v in metrics.items():
                self._tb.add_scalar(f"{self.stage}/{k}", v, step)

    def progress(self, start: int, total: int) -> None:
        if self.dist.is_main and self.cfg.run.progress:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=start, desc=self.stage, unit="step", dynamic_ncols=True)

    def progress_update(self, metrics: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        for h in (self._bar, self._jsonl, self._tb):
            if h is not None:
                h.close()
        self._bar = self._jsonl = self._tb = None

    # ------------------------------------------------------------------- loop
    def run_loop(self, start: int, step_fn: Callable[[int], dict[str, float]],
                 sample_fn: Callable[[int], None] | None = None) -> None:
        """Run steps start..steps-1: step, EMA is the stage's business; logs, progress,
        checkpoints (every ckpt_every and at the end) and samples are ours."""
        run = self.cfg.run
        if self.dist.is_main:  # the output folder appears only once the inputs are known to be good
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps({"stage": self.stage, **self.cfg.to_dict()}, indent=2))
        self.progress(start, run.steps)
        try:
            with _stop_between_steps() as stop:
                self._loop(start, step_fn, sample_fn, stop)
        finally:
            self.close()

    def _loop(self, start: int, step_fn: Callable[[int], dict[str, float]],
              sample_fn: Callable[[int], None] | None, stop: list[int]) -> None:
        """The steps, logs, checkpoints and samples of `run_loop`; after a SIGTERM or Ctrl-C (``stop``) on
        any rank, a checkpoint of the step just done, then :class:`rtrdit.cli.Terminated` (SIGTERM) or
        KeyboardInterrupt."""
        run = self.cfg.run
        t_last, n_last = time.perf_counter(), 0
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for step in range(start, run.steps):
            metrics = step_fn(step)
            for k, v in metrics.items():
                if not math.isfinite(v):
                    raise FloatingPointError(f"{k} is {v} at step {step}")
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
            n_last += 1
            if (step + 1) % max(1, run.log_every) == 0 or step + 1 == run.steps:
                # each metric averaged over the steps of the window that produced it, then over ranks
                dt = time.perf_counter() - t_last
                window = self.mean({k: sums[k] / counts[k] for k in sums})
                window["step_time_s"] = dt / n_last
                window["samples_per_s"] = run.batch_size * n_last / max(dt, 1e-9)
                self.log_metrics(step + 1, window)
                t_last, n_last, sums, counts = time.perf_counter(), 0, {}, {}
                metrics = window
            self.progress_update({k: v for k, v in metrics.items() if k != "step_time_s"})
            saved = (step + 1) % max(1, run.ckpt_every) == 0 or step + 1 == run.steps
            if saved:
                self.save_checkpoint(step + 1)
            if sample_fn is not None and run.sample_every and run.codec and (step + 1) % run.sample_every == 0:
                sample_fn(step + 1)
            signum = self._max_over_ranks(stop[0]) if step + 1 < run.steps else 0  # the last step goes on to the export
            if signum:
                from rtrdit.cli import Terminated

                if not saved:
                    self.save_checkpoint(step + 1)
                name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
                log.warning("%s: stopped after step %d with a checkpoint; --resume continues from it", name, step + 1)
                raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


@contextlib.contextmanager
def _stop_between_steps() -> Iterator[list[int]]:
    """Within the training loop SIGTERM (a scheduler's preemption, `kill`, torchrun stopping its
    workers) and a first Ctrl-C only note the signal (``stop[0]``), read after each step, so the run
    stops with a checkpoint of that step instead of losing the steps since the last one; a second
    Ctrl-C stops at once. Only over the default handlers (or the CLI's SIGTERM one)."""
    stop = [0]
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    term, interrupt = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)

    def note(signum: int, frame: object) -> None:
        if signum == signal.SIGINT and stop[0]:
            raise KeyboardInterrupt
        stop[0] = max(stop[0], signum)
        if signum == signal.SIGINT and os.environ.get("RANK", "0") == "0":
            os.write(2, b"\nCtrl-C: stopping after this step with a checkpoint (Ctrl-C again stops now)\n")

    if term == signal.SIG_DFL or getattr(term, "raises_terminated", False):
        signal.signal(signal.SIGTERM, note)
    if interrupt is signal.default_int_handler:
        signal.signal(signal.SIGINT, note)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, term)
        signal.signal(signal.SIGINT, interrupt)


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": list(random.getstate()[1]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def setup_logging(rank: int) -> None:
    """Plain log lines on stderr (rank 0 at INFO, others at WARNING)."""
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"%(asctime)s [rank {rank}] %(levelname)s %(message)s")


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["DistInfo", "Engine", "init_distributed", "setup_logging", "shutdown"]
