"""The one training loop every network detector uses, and batched inference.

:func:`train_models` trains ``K >= 1`` networks of the same architecture *at once* on the
same images, each with its own seed (initial weights are the caller's; the shuffling order
is drawn from ``seeds``). The K parameter sets are stacked and the step is vectorised with
``torch.func.vmap``, which runs the K networks as one batched network (grouped kernels), so
small networks keep a GPU busy. Because Adam and weight decay act element by element, the
K stacked models follow exactly the updates they would get if trained one after the other
(up to floating-point summation order; a test checks this).

Settings (seed 000, following Ruff et al.'s Deep SVDD): Adam, a list of :class:`Phase`
(``epochs`` at learning rate ``lr``; the paper's schedule is 100 epochs at 1e-4 then 50 at
1e-5 for MNIST / Fashion-MNIST), mini-batches of 200 reshuffled every epoch (the last,
partial batch is used, as Keras does), weight decay 1e-6 (Adam's L2 term).

On CUDA the images stay on the GPU as uint8 and are converted per batch; the full step
(forward, backward, Adam) can be captured once in a CUDA graph and replayed (``cuda_graph``)
and run under bf16 autocast (``precision="bf16"``). The loss is accumulated on the device
and read once per epoch, so there is no host synchronisation per step.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

__all__ = ["Phase", "TrainResult", "resolve_device", "to_uint8_tensor", "train_models", "predict_batches", "seeded"]

#: loss(forward, x, target) -> scalar, for ONE model; ``forward`` calls that model, ``x`` is a
#: float batch in [0, 1], ``target`` the model's own extra tensor (or None)
LossFn = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@dataclass(frozen=True)
class Phase:
    """``epochs`` epochs of Adam at learning rate ``lr``."""

    epochs: int
    lr: float


@dataclass
class TrainResult:
    """What :func:`train_models` did: per-model loss per epoch (``K x epochs``), wall time."""

    losses: np.ndarray
    seconds: float
    images_seen: int
    cuda_graph: bool
    device: str
    extra: dict = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        return self.images_seen / self.seconds if self.seconds > 0 else float("nan")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is checked and returned."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but CUDA is not available here; use device='cpu' or 'auto'")
    return dev


def to_uint8_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """``N x H x W x C`` uint8 (or float in [0, 1]) array -> uint8 ``N x C x H x W`` tensor on ``device``."""
    if X.dtype != np.uint8:
        X = np.clip(np.rint(np.asarray(X, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2))).to(device)


def seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with torch's RNG seeded by ``seed``, leaving the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def train_models(
    models: Sequence[nn.Module],
    data: torch.Tensor,
    loss_fn: LossFn,
    *,
    phases: Sequence[Phase],
    batch_size: int = 200,
    weight_decay: float = 1e-6,
    seeds: Sequence[int],
    targets: torch.Tensor | None = None,
    cuda_graph: bool | str = "auto",
    precision: str = "fp32",
    progress: bool = False,
    desc: str = "train",
) -> TrainResult:
    """Train ``models`` (same architecture, already on ``data.device``) in place.

    Parameters
    ----------
    models : list of nn.Module
        K networks; their current weights are the initial weights.
    data : Tensor
        ``N x C x H x W`` training images, uint8 (0-255) or float in [0, 1], on the training device.
    loss_fn : callable
        ``loss_fn(forward, x, target) -> scalar`` for one model.
    phases : list of Phase
        The learning-rate schedule.
    seeds : list of int
        One per model: seeds the order in which that model sees the images.
    targets : Tensor, optional
        ``K x ...``: a per-model tensor handed to ``loss_fn`` (e.g. Deep SVDD's centre).
    cuda_graph : bool or "auto"
        Capture the step in a CUDA graph ("auto": on CUDA only).
    precision : {"fp32", "bf16"}
        bf16 autocast of the forward pass (CUDA only).
    """
    K = len(models)
    if K == 0 or len(seeds) != K:
        raise ValueError(f"need one seed per model, got {K} models and {len(seeds)} seeds")
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    n = len(data)
    if n == 0:
        raise ValueError("no training images")
    device = data.device
    use_graph = (device.type == "cuda") if cuda_graph == "auto" else bool(cuda_graph)
    if use_graph and device.type != "cuda":
        raise ValueError("cuda_graph=True needs the data on a CUDA device")
    bs = min(batch_size, n)

    for m in models:
        m.train()
    params, buffers = stack_module_state(list(models))
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    base = copy.deepcopy(models[0]).to("meta")

    def one(p, b, x, t):
        return loss_fn(lambda inp: functional_call(base, (p, b), (inp,)), x, t)

    batched = vmap(one, in_dims=(0, 0, 0, 0 if targets is not None else None), randomness="different")
    opt = torch.optim.Adam(params.values(), lr=phases[0].lr, weight_decay=weight_decay, capturable=use_graph)
    gens = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
    loss_sum = torch.zeros(K, device=device)

    def step(idx: torch.Tensor) -> None:
        x = _as_float(data[idx])  # K x b x C x H x W
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16" and device.type == "cuda"):
            losses = batched(params, buffers, x, targets)
        opt.zero_grad(set_to_none=False)
        losses.float().sum().backward()
        opt.step()
        loss_sum.add_(losses.detach().float() * idx.shape[1])

    total_epochs = sum(p.epochs for p in phases)
    history = np.zeros((K, total_epochs))
    n_full, rest = divmod(n, bs)
    t0 = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=total_epochs, desc=desc, unit="epoch", disable=not progress, leave=False)
    epoch = 0
    graphs: dict[int, tuple] = {}
    try:
        for phase in phases:
            for group in opt.param_groups:
                group["lr"] = phase.lr
            graphs.clear()  # the learning rate is baked into a captured graph
            for _ in range(phase.epochs):
                perm = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device, non_blocking=True)
                loss_sum.zero_()
                for j in range(n_full + (1 if rest else 0)):
                    idx = perm[:, j * bs : (j + 1) * bs]
                    if use_graph:
                        _graph_step(graphs, idx, step, [*params.values(), *buffers.values(), loss_sum], opt)
                    else:
                        step(idx)
                history[:, epoch] = (loss_sum / n).cpu().numpy()  # one sync per epoch
                epoch += 1
                bar.update(1)
                bar.set_postfix(loss=f"{history[:, epoch - 1].mean():.5f}")
    finally:
        bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    if not np.all(np.isfinite(history)):
        raise FloatingPointError(f"{desc}: the training loss became NaN or infinite")

    with torch.no_grad():
        for k, m in enumerate(models):
            state = {name: t[k] for name, t in {**params, **buffers}.items()}
            m.load_state_dict(state)
    return TrainResult(history, seconds, n * total_epochs * K, use_graph, str(device))


def _graph_step(
    graphs: dict, idx: torch.Tensor, step: Callable[[torch.Tensor], None], state: list[torch.Tensor], opt
) -> None:
    """Run ``step(idx)`` through a CUDA graph captured per batch width (full / last partial batch).

    Capturing needs a few eager warm-up steps; they are undone afterwards (``state`` -- the
    parameters, buffers and loss accumulator -- and Adam's moments are restored), so a graph
    run makes exactly the same updates as an eager one.
    """
    width = idx.shape[1]
    if width not in graphs:
        static_idx = idx.clone()
        with torch.no_grad():
            saved = [t.detach().clone() for t in state]
            saved_opt = {id(t): t.detach().clone() for st in opt.state.values() for t in st.values() if torch.is_tensor(t)}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up (allocations, cuDNN autotuning) outside the graph
            for _ in range(3):
                step(static_idx)
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for t, s in zip(state, saved):
                t.copy_(s)
            for st in opt.state.values():
                for t in st.values():
                    if torch.is_tensor(t):
                        t.copy_(saved_opt[id(t)]) if id(t) in saved_opt else t.zero_()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step(static_idx)
        graphs[width] = (g, static_idx)
    g, static_idx = graphs[width]
    static_idx.copy_(idx)
    g.replay()


@torch.no_grad()
def predict_batches(
    fn: Callable[[torch.Tensor], torch.Tensor], data: torch.Tensor, *, batch_size: int = 1000
) -> np.ndarray:
    """Apply ``fn`` (a model in eval mode) to ``data`` in batches; returns a float64 array."""
    out = []
    for i in range(0, len(data), batch_size):
        out.append(fn(_as_float(data[i : i + batch_size])).float())
    return torch.cat(out).cpu().numpy().astype(np.float64)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
