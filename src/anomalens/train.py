"""The one training loop every network detector uses, and batched inference.

:func:`train_models` trains ``K >= 1`` networks of the same architecture *at once*, on the
same images or each on its own, each with its own seed (initial weights are the caller's; the shuffling order
is drawn from ``seeds``). The K parameter sets are stacked and the step is vectorised with
``torch.func.vmap``, which runs the K networks as one batched network (grouped kernels), so
small networks keep a GPU busy. Because Adam and weight decay act element by element, the
K stacked models follow exactly the updates they would get if trained one after the other
(up to floating-point summation order; a test checks this).

Settings (seed 000, following Ruff et al.'s Deep SVDD): Adam, a list of :class:`Phase`
(``epochs`` at learning rate ``lr``; the paper's schedule is 100 epochs at 1e-4 then 50 at
1e-5 for MNIST / Fashion-MNIST), mini-batches of 200 reshuffled every epoch, weight decay
1e-6 (Adam's L2 term). Every step has the same shape: the last, partial batch of an epoch
is dropped (Keras would use it; the images it holds are seen in other epochs). The K models
may also have *different* training sets (ten classes at once): a model whose epoch is
shorter sits the remaining steps out, untouched.

On CUDA the images stay on the GPU as uint8 and are converted per batch; the full step
(forward, backward, Adam) can be captured once in a CUDA graph and replayed (``cuda_graph``)
and run under bf16 autocast (``precision="bf16"``). The loss is accumulated on the device
and read once per epoch, so there is no host synchronisation per step.

Long runs can be resumed: with ``checkpoint=`` (or inside :func:`train_checkpoints`) the
whole training state (weights, BatchNorm buffers, optimizer moments, the shuffling and torch
random generators, the loss history, early-stopping state) is written atomically to one
safetensors file every ``checkpoint_interval`` seconds and after the last epoch; a later call
with the same settings and data starts from the epoch it holds, and ends with the same
weights as an uninterrupted run (a test checks this on CPU).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import hashlib
import inspect
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

__all__ = ["Phase", "TrainResult", "resolve_device", "to_uint8_tensor", "train_models", "predict_batches", "seeded",
           "train_checkpoints", "CheckpointScope", "flush_denormals"]

#: loss(forward, x, target) -> scalar, for ONE model; ``forward`` calls that model, ``x`` is a
#: float batch in [0, 1], ``target`` the model's own extra tensor (or None)
LossFn = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@dataclass(frozen=True)
class Phase:
    """``epochs`` epochs of Adam at learning rate ``lr``.

    ``epochs`` may be fractional: ``2.5`` is two full epochs then half an epoch (the first
    half of a fresh random order)."""

    epochs: float
    lr: float

    def epoch_fractions(self) -> list[float]:
        """One entry per (possibly partial) epoch: ``Phase(2.5, lr)`` -> ``[1.0, 1.0, 0.5]``."""
        if not self.epochs >= 0:
            raise ValueError(f"Phase.epochs must be >= 0, got {self.epochs}")
        full = int(self.epochs)
        rest = float(self.epochs) - full
        return [1.0] * full + ([rest] if rest > 1e-9 else [])


@dataclass
class TrainResult:
    """What :func:`train_models` did: per-model loss per epoch (``K x epochs``), wall time."""

    losses: np.ndarray
    seconds: float
    images_seen: int
    cuda_graph: bool
    device: str
    #: validation loss per model and epoch (``K x epochs``) when ``val_data`` was given
    val_losses: np.ndarray | None = None
    #: per model, the epoch (0-based) whose weights were kept (early stopping), else None
    best_epochs: list[int] | None = None
    #: with ``alternate``: each player's mean loss at its turns, per model and epoch
    #: (``K x epochs x players``; ``losses`` is their sum)
    player_losses: np.ndarray | None = None

    @property
    def images_per_second(self) -> float:
        return self.images_seen / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class CheckpointScope:
    """The checkpoints :func:`train_checkpoints` hands out: ``files`` (written or resumed, in
    call order) and ``resumed_seconds``, the training time the resumed ones had already spent
    (add it to a wall-clock fit time to report the whole training time)."""

    prefix: Path
    interval: float = 60.0
    files: list[Path] = field(default_factory=list)
    resumed_seconds: float = 0.0

    def next_path(self, desc: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", "_", desc).strip("_") or "train"
        return self.prefix.parent / f"{self.prefix.name}-{len(self.files):02d}-{slug}.safetensors"

    def remove(self) -> None:
        """Delete the checkpoint files (call once the trained models are saved elsewhere)."""
        for f in self.files:
            f.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.prefix.parent.rmdir()  # only if empty


_SCOPE: contextvars.ContextVar[CheckpointScope | None] = contextvars.ContextVar("anomalens_train_checkpoints",
                                                                                default=None)


@contextlib.contextmanager
def train_checkpoints(prefix: str | os.PathLike, interval: float = 60.0) -> Iterator[CheckpointScope]:
    """Checkpoint every :func:`train_models` call made inside the block (by any detector's fit).

    The n-th call (from 0) keeps its state in ``<prefix>-<nn>-<desc>.safetensors`` (the folder
    is created), so rerunning the same fit after an interruption resumes each training stage:
    finished stages return at once with their trained weights, the interrupted one goes on
    from its last saved epoch (written every ``interval`` seconds and after the last epoch).
    Files are left in place; call ``scope.remove()`` when done.
    """
    scope = CheckpointScope(Path(prefix), float(interval))
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def _denormals_flushed_everywhere() -> bool:
    """Whether torch's CPU arithmetic flushes denormal floats to zero on *every* intra-op
    thread: a multiply of denormals large enough to be split over the threads comes back all
    zero (torch has no getter for the setting, which lives in each thread's MXCSR register).
    The denormals are made from their bits, not from a float a flushing thread would zero."""
    return bool((_denormals(max(1 << 20, 65536 * torch.get_num_threads())) * 1.0).count_nonzero().item() == 0)


def _denormals(n: int) -> torch.Tensor:
    """``n`` copies of the smallest fp32 denormal (1.4e-45), built from its bit pattern."""
    return torch.ones(n, dtype=torch.int32).view(torch.float32)


def flush_denormals() -> bool:
    """Make torch's CPU arithmetic flush denormal floats to zero, for the rest of the program.

    Values below 1.2e-38 (fp32 denormals) take a slow path on x86 CPUs. Training can fill
    weights and activations with them: the 1024-d RealNVP on MNIST pixels (seed 003,
    ``on="pixels"``) went from 33-38 s an epoch to 135 s on 2 cores; flushed, 33-35 s again.
    Flushing changes nothing a detector can tell apart (the values are below 1.2e-38).

    The setting is per thread and a thread inherits it when created, so it must be made
    *before* torch starts its OpenMP worker threads (the first parallel CPU operation): the
    ``anomalens`` command calls this first thing. Called later, only the calling thread (and
    threads created afterwards) flush; the function then warns and returns False. Returns
    True when every intra-op thread flushes, False otherwise (including CPUs without the
    SSE3 control bits, where torch cannot set it). A library import never calls this: it
    changes process-wide floating-point state, which is the application's decision.
    """
    if not torch.set_flush_denormal(True):
        return False
    if _denormals_flushed_everywhere():
        return True
    import warnings

    warnings.warn("flush_denormals() reached only the calling thread: torch's worker threads were already "
                  "running; call it before any torch computation", RuntimeWarning, stacklevel=2)
    return False


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is checked and returned."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but CUDA is not available here; use device='cpu' or 'auto'")
    return dev


def to_uint8_tensor(X: np.ndarray, device: torch.device, pad_to: int | None = None) -> torch.Tensor:
    """``N x H x W x C`` uint8 (or float in [0, 1]) array -> uint8 ``N x C x H x W`` tensor on
    ``device``, zero-padded symmetrically up to ``pad_to`` x ``pad_to`` when smaller."""
    if X.dtype != np.uint8:
        X = np.clip(np.rint(np.asarray(X, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    t = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))
    if pad_to is not None:
        ph, pw = max(pad_to - t.shape[2], 0), max(pad_to - t.shape[3], 0)
        if ph or pw:
            t = torch.nn.functional.pad(t, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    return t.to(device)


def seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with torch's RNG seeded by ``seed``, leaving the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _layout(t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``t`` in channels-last memory layout if asked and 4-D, else ``t`` itself."""
    return t.contiguous(memory_format=torch.channels_last) if channels_last and t.ndim == 4 else t


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def train_models(
    models: Sequence[nn.Module],
    data: torch.Tensor | Sequence[torch.Tensor],
    loss_fn: LossFn,
    *,
    phases: Sequence[Phase],
    batch_size: int = 200,
    weight_decay: float = 1e-6,
    seeds: Sequence[int],
    targets: torch.Tensor | None = None,
    views: int = 1,
    labels: torch.Tensor | Sequence[torch.Tensor] | None = None,
    optimizer: str = "adam",
    optimizer_options: dict | None = None,
    val_data: torch.Tensor | Sequence[torch.Tensor] | None = None,
    patience: int | None = None,
    val_every: int = 1,
    min_delta: float = 0.0,
    cuda_graph: bool | str = "auto",
    precision: str = "fp32",
    channels_last: bool | str = "auto",
    alternate: Sequence[str] | None = None,
    turns: Sequence[int] | None = None,
    progress: bool = False,
    desc: str = "train",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_interval: float = 60.0,
) -> TrainResult:
    """Train ``models`` (same architecture, already on the data's device) in place.

    Parameters
    ----------
    models : list of nn.Module
        K networks; their current weights are the initial weights.
    data : Tensor or list of K Tensors
        ``N x C x H x W`` training images, uint8 (0-255) or float in [0, 1], on the training
        device: one tensor shared by all models, or one per model (sizes may differ, e.g. the
        ten one-vs-rest classes).
    loss_fn : callable
        ``loss_fn(forward, x, target) -> scalar`` for one model.
    phases : list of Phase
        The learning-rate schedule.
    seeds : list of int
        One per model: seeds the order in which that model sees its images.
    targets : Tensor, optional
        ``K x ...``: a per-model tensor handed to ``loss_fn`` (e.g. Deep SVDD's centre).
    views : int
        Each image counts as ``views`` training items (GEOM's self-labelled set: every image
        under each of its 72 transformations). An epoch then visits every (image, view)
        pair once in random order, and ``loss_fn`` receives ``x`` as a pair ``(images,
        view_index)`` (a float batch and a long tensor of the same length) to build the
        view itself; the images are never materialised ``views`` times.
    labels : Tensor or list of K Tensors, optional
        One label per training image (aligned with ``data``); ``loss_fn`` then receives ``x``
        as a pair ``(images, labels)`` (supervised training). Not with ``views``.
    optimizer : {"adam", "adadelta", "rmsprop"}
        torch's optimizer of that name; ``optimizer_options`` are passed to it (e.g.
        ``{"betas": (0.5, 0.999)}``, ``{"rho": 0.95, "eps": 1e-7}``).
    val_data, patience : optional
        Early stopping (Keras' ``EarlyStopping`` + best checkpoint): after every epoch the
        mean loss on ``val_data`` (one tensor, or one per model) is computed in eval mode;
        a model whose validation loss has not improved for ``patience`` epochs stops, and
        every model gets back the weights of its best epoch. Training ends when all models
        have stopped or the phases are done. Models still running keep training while others
        have stopped; a stopped model's later updates are discarded, so it ends exactly as
        if trained alone.
    val_every, min_delta : optional
        Validate every ``val_every`` epochs only (and after the last epoch); ``patience``
        then counts validations, and a loss is an improvement only if it is lower than the
        best by more than ``min_delta`` (DPA's rule: every 1000 iterations, 0.001).
    cuda_graph : bool or "auto"
        Capture the step in a CUDA graph ("auto": on CUDA only).
    precision : {"fp32", "bf16"}
        bf16 autocast of the forward pass (CUDA only).
    channels_last : bool or "auto"
        Train a single model (K = 1) with its 4-D weights and image batches in channels-last
        memory layout ("auto": on CPU only). The same arithmetic in another layout: oneDNN's
        channels-last convolutions cut a baseline-CAE epoch on an MNIST class from 15.6 to
        13.1 s on 2 CPU cores (README, *Training several models at once*). Batched models
        (K > 1, vmap) and CUDA keep the default layout.
    alternate : list of str, optional
        Players that take turns (a GAN): parameter-name prefixes, one per entry of the loss
        vector ``loss_fn`` then returns. Each step updates them in this order: for player j
        the losses are computed with the current parameters (so the generator's turn sees
        the discriminator its turn just updated) and loss j updates only the parameters
        whose names start with prefix j, with an optimizer state of its own. The logged loss
        is the sum of the players' losses at their turns. If ``loss_fn`` takes a keyword
        ``player``, a turn calls it with ``player=j`` and it returns player j's loss only
        (so a turn computes no other player's terms). Without ``alternate``, ``loss_fn``
        returns a scalar and every parameter is updated on it at once.
    turns : list of int, optional
        With ``alternate``: how many updates each player makes per step (default one each),
        e.g. ``(1, 2)`` for two generator steps per discriminator step (a GAN's "k steps of
        one player for every step of the other"). A player's repeated turns reuse the step's
        batch; its logged loss is the mean over its turns.
    checkpoint : path, optional
        A safetensors file holding the whole training state, written atomically every
        ``checkpoint_interval`` seconds (at the end of an epoch) and after the last epoch.
        If it exists when the call starts, training resumes from the epoch it holds (a file
        written with other settings, seeds or data is refused with a ValueError); an
        interrupted run loses at most the epochs since the last write. Inside
        :func:`train_checkpoints` the path is chosen by the block. ``seconds`` of the
        result then includes the time the checkpointed epochs took.

    An epoch is ``views * n_k // batch_size`` full mini-batches of model k's images in a fresh random
    order (the last partial batch is dropped, so every step has the same shape; the next
    epoch reshuffles). Models with fewer images sit out the epoch's last steps: their
    parameters, Adam state and BatchNorm statistics are left exactly as they were, so each
    model makes the same updates as if it were trained alone.
    """
    K = len(models)
    if K == 0 or len(seeds) != K:
        raise ValueError(f"need one seed per model, got {K} models and {len(seeds)} seeds")
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(_OPTIMIZERS)}, got {optimizer!r}")
    if labels is not None and views > 1:
        raise ValueError("labels and views > 1 cannot be combined")
    if (val_data is None) != (patience is None):
        raise ValueError("early stopping needs both val_data and patience")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1, got {patience}")
    if val_every < 1 or min_delta < 0:
        raise ValueError(f"val_every must be >= 1 and min_delta >= 0, got {val_every} and {min_delta}")
    if alternate is not None and (not alternate or any(not isinstance(a, str) or not a for a in alternate)):
        raise ValueError(f"alternate must be a non-empty list of parameter-name prefixes, got {alternate!r}")
    if turns is not None and (alternate is None or len(turns) != len(alternate)
                              or any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in turns)):
        raise ValueError(f"turns must give each player of alternate {alternate!r} a whole number of updates >= 1, "
                         f"got {turns!r}")
    datas = [data] * K if isinstance(data, torch.Tensor) else list(data)
    if len(datas) != K:
        raise ValueError(f"need one training tensor per model, got {len(datas)} for {K} models")
    sizes = [len(d) for d in datas]
    if min(sizes) == 0:
        raise ValueError("no training images")
    if len({tuple(d.shape[1:]) for d in datas}) > 1:
        raise ValueError("all training tensors must have the same image shape")
    device = datas[0].device
    use_graph = (device.type == "cuda") if cuda_graph == "auto" else bool(cuda_graph)
    if channels_last not in ("auto", True, False):
        raise ValueError(f"channels_last must be True, False or 'auto', got {channels_last!r}")
    nhwc = K == 1 and ((device.type == "cpu") if channels_last == "auto" else channels_last)
    if use_graph and device.type != "cuda":
        raise ValueError("cuda_graph=True needs the data on a CUDA device")
    shared = all(d is datas[0] for d in datas)
    pool = datas[0] if shared else torch.cat(datas)
    label_pool = None
    if labels is not None:
        lab = [labels] * K if isinstance(labels, torch.Tensor) else list(labels)
        if len(lab) != K or any(len(a) != len(d) for a, d in zip(lab, datas)):
            raise ValueError("labels must hold one label per training image (one tensor per model)")
        label_pool = (lab[0] if shared else torch.cat(lab)).to(device)
    vals = None
    if val_data is not None:
        vals = [val_data] * K if isinstance(val_data, torch.Tensor) else list(val_data)
        if len(vals) != K or min(len(v) for v in vals) == 0:
            raise ValueError("val_data must be one non-empty tensor, or one per model")
    offsets = torch.tensor([0] * K if shared else np.cumsum([0] + sizes[:-1]).tolist(), device=device)
    items = [n * views for n in sizes]  # (image, view) pairs per model
    bs = min(batch_size, min(items))
    steps = [n // bs for n in items]  # full batches per epoch, per model

    for m in models:
        m.train()
    # Each model keeps its own leaf tensors (so Adam keeps a step count per model); they are
    # stacked inside the step, which is differentiable, and vmap runs the K copies at once.
    leaves = [{k: _layout(p.detach().clone(), nhwc).requires_grad_(True) for k, p in m.named_parameters()}
              for m in models]
    _, buffers = stack_module_state(list(models))
    base = copy.deepcopy(models[0]).to("meta")
    names = list(leaves[0])

    def one(p, b, x, t, player=None):
        def forward(inp, *args, **kwargs):
            return functional_call(base, (p, b), (inp, *args), kwargs)

        return loss_fn(forward, x, t) if player is None else loss_fn(forward, x, t, player=player)

    # a loss_fn taking `player` computes only the turn's player's loss (a GAN's generator turn
    # skips the discriminator's terms); otherwise each turn computes every loss and takes its own
    per_player = alternate is not None and "player" in inspect.signature(loss_fn).parameters
    in_dims = (0, 0, 0, 0 if targets is not None else None)
    batched = {j: vmap(functools.partial(one, player=j), in_dims=in_dims, randomness="different")
               for j in (range(len(alternate)) if per_player else [None])}
    opt_options = {"weight_decay": weight_decay, **(optimizer_options or {})}
    if use_graph:
        opt_options["capturable"] = True
    players = [""] if alternate is None else list(alternate)
    owners = {n: [p for p in players if n.startswith(p)] for n in names}
    if any(len(o) != 1 for o in owners.values()) or len({p for o in owners.values() for p in o}) < len(players):
        raise ValueError(f"alternate: every parameter must belong to exactly one player and every player own one; "
                         f"players {players}, owners {owners}")
    groups = [[lv[n] for lv in leaves for n in names if owners[n] == [prefix]] for prefix in players]
    opts = [_OPTIMIZERS[optimizer](g, lr=phases[0].lr, **opt_options) for g in groups]
    gens = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
    player_sum = torch.zeros(K, len(players), device=device)  # the epoch's loss sums (one column without alternate)
    seen = torch.zeros(K, device=device)

    def losses_of(x: Any, player: int | None = None) -> torch.Tensor:  # K losses (K x players with alternate)
        # no autocast weight cache under a CUDA graph (PyTorch's advice for graphs with autocast)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16" and device.type == "cuda",
                            cache_enabled=not use_graph):
            if K == 1:  # no stacking, no vmap: the same computation without their per-step overhead
                x1 = (_layout(x[0][0], nhwc), *(a[0] for a in x[1:])) if isinstance(x, tuple) else _layout(x[0], nhwc)
                b1 = {n: b[0] for n, b in buffers.items()}  # views: BatchNorm updates reach `buffers`
                return one(leaves[0], b1, x1, None if targets is None else targets[0], player)[None]
            params = {k: torch.stack([lv[k] for lv in leaves]) for k in names}
            return batched[player](params, buffers, x, targets)

    def step(idx: tuple[torch.Tensor, ...]) -> None:
        x = _as_float(pool[idx[0]])  # K x b x C x H x W
        if views > 1:
            x = (x, idx[1])
        elif label_pool is not None:
            x = (x, label_pool[idx[0]])
        if alternate is None:
            losses = losses_of(x)
            opts[0].zero_grad(set_to_none=False)
            losses.float().sum().backward()
            opts[0].step()
            player_sum[:, 0] += losses.detach().float()
        else:
            for j, (o, group, n_turns) in enumerate(zip(opts, groups, turns or [1] * len(opts))):
                for _ in range(n_turns):
                    loss_j = (losses_of(x, j) if per_player else losses_of(x)[:, j]).float()
                    o.zero_grad(set_to_none=False)
                    loss_j.sum().backward(inputs=group)
                    o.step()
                    player_sum[:, j] += loss_j.detach() / n_turns
        seen.add_(1.0)

    def model_state(k: int) -> list[torch.Tensor]:
        out = list(leaves[k].values())
        out += [t for o in opts for p in leaves[k].values() for t in o.state.get(p, {}).values() if torch.is_tensor(t)]
        return out

    fractions = [f for p in phases for f in p.epoch_fractions()]
    total_epochs = len(fractions)
    history = np.zeros((K, total_epochs))
    player_history = np.zeros((K, total_epochs, len(players)))
    val_history = np.full((K, total_epochs), np.nan) if vals is not None else None
    best_loss, best_epoch, best_state = [np.inf] * K, [-1] * K, [None] * K
    stopped = [False] * K

    @torch.no_grad()
    def validate(k: int) -> float:
        base.eval()
        try:
            b_k = {n: b[k] for n, b in buffers.items()}
            t_k = None if targets is None else targets[k]
            total, count = 0.0, 0
            for i in range(0, len(vals[k]), bs):
                xv = _as_float(vals[k][i : i + bs])
                total += float(one(leaves[k], b_k, xv, t_k).sum()) * len(xv)
                count += len(xv)
            return total / count
        finally:
            base.train()
    images = 0
    ck_path = Path(checkpoint) if checkpoint is not None else None
    scope = _SCOPE.get() if ck_path is None else None
    if scope is not None:
        ck_path = scope.next_path(desc)
        scope.files.append(ck_path)
        checkpoint_interval = scope.interval
    start_epoch, prior_seconds = 0, 0.0
    if ck_path is not None:
        digest = hashlib.sha1()
        for tensor in ([datas[0]] if shared else datas) + ([label_pool] if label_pool is not None else []) + (
                [targets] if targets is not None else []):
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        fingerprint = json.dumps({
            "desc": desc, "seeds": [int(s) for s in seeds], "phases": [[p.epochs, p.lr] for p in phases],
            "batch_size": batch_size, "weight_decay": weight_decay, "views": views, "optimizer": optimizer,
            "optimizer_options": repr(sorted((optimizer_options or {}).items())), "sizes": sizes,
            "image_shape": list(datas[0].shape[1:]), "players": players, "turns": list(turns or []),
            "params": {n: list(v.shape) for n, v in leaves[0].items()}, "precision": precision,
            "early_stopping": [patience, val_every, min_delta, None if vals is None else [len(v) for v in vals]],
            "data": digest.hexdigest()}, sort_keys=True)

        def ck_save() -> None:
            from safetensors.torch import save_file

            from ._io import atomic_path

            out = _engine_state(leaves, buffers, opts, gens, device)
            out["history"] = torch.from_numpy(history[:, :epoch].copy())
            if alternate is not None:
                out["player_history"] = torch.from_numpy(player_history[:, :epoch].copy())
            if val_history is not None:
                out["val_history"] = torch.from_numpy(val_history[:, :epoch].copy())
            for k, best in enumerate(best_state):
                if best is not None:
                    out.update({f"best/{k}/p/{n}": v for n, v in best[0].items()})
                    out.update({f"best/{k}/b/{n}": v for n, v in best[1].items()})
            meta = {"format": "anomalens-train-checkpoint/1", "fingerprint": fingerprint, "epoch": str(epoch),
                    "images": str(images), "seconds": repr(prior_seconds + time.perf_counter() - t0),
                    "best_loss": json.dumps(best_loss), "best_epoch": json.dumps(best_epoch),
                    "stopped": json.dumps(stopped)}
            with atomic_path(ck_path, "training checkpoint") as tmp:
                save_file({k: v.detach().cpu().contiguous() for k, v in out.items()}, str(tmp), metadata=meta)

        if ck_path.exists():
            from safetensors import safe_open

            try:
                with safe_open(str(ck_path), framework="pt") as f:
                    meta = f.metadata() or {}
                    saved = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iterator)
            except Exception as e:
                raise ValueError(f"training checkpoint {str(ck_path)!r} cannot be read ({e}); delete it to start "
                                 "afresh") from e
            if meta.get("fingerprint") != fingerprint:
                raise ValueError(f"training checkpoint {str(ck_path)!r} was written by another training run (other "
                                 "settings, seeds or data); delete it to start afresh")
            start_epoch, images, prior_seconds = int(meta["epoch"]), int(meta["images"]), float(meta["seconds"])
            try:
                _set_engine_state(saved, leaves, buffers, opts, gens, device)
            except (KeyError, RuntimeError) as e:  # e.g. a network with other BatchNorm buffers
                raise ValueError(f"training checkpoint {str(ck_path)!r} does not fit this network ({e!r}); delete "
                                 "it to start afresh") from e
            history[:, :start_epoch] = saved["history"].numpy()
            if alternate is not None:
                player_history[:, :start_epoch] = saved["player_history"].numpy()
            if val_history is not None:
                val_history[:, :start_epoch] = saved["val_history"].numpy()
            best_loss, best_epoch, stopped = (json.loads(meta[k]) for k in ("best_loss", "best_epoch", "stopped"))
            for k in range(K):
                if f"best/{k}/p/{names[0]}" in saved:
                    best_state[k] = tuple({n[len(f"best/{k}/{part}/"):]: v.to(device) for n, v in saved.items()
                                           if n.startswith(f"best/{k}/{part}/")} for part in ("p", "b"))
            if scope is not None:
                scope.resumed_seconds += prior_seconds
    done_before = vals is not None and start_epoch > 0 and all(stopped)  # early stopping had ended the run
    t0 = time.perf_counter()
    last_save = t0
    from tqdm.auto import tqdm

    bar = tqdm(total=total_epochs, initial=start_epoch, desc=desc, unit="epoch", disable=not progress, leave=False)
    epoch = 0
    graphs: dict[int, tuple] = {}
    all_state = lambda: [*(t for k in range(K) for t in model_state(k)), *buffers.values(),  # noqa: E731
                         player_sum, seen]
    try:
        for phase in phases:
            for o in opts:
                for group in o.param_groups:
                    group["lr"] = phase.lr
            graphs.clear()  # the learning rate is baked into a captured graph
            for frac in phase.epoch_fractions():
                if epoch < start_epoch:  # trained before the checkpoint was written
                    epoch += 1
                    continue
                if done_before:
                    break
                ep_steps = [s if frac == 1.0 else max(1, int(np.ceil(frac * s))) for s in steps]
                n_steps = max(ep_steps)
                images += sum(ep_steps) * bs
                perms = [torch.randperm(n, generator=g)[: s * bs] for n, g, s in zip(items, gens, ep_steps)]
                # models with fewer steps get placeholder batches (their own images) for the tail
                perm = torch.stack([p.repeat(-(-n_steps * bs // len(p)))[: n_steps * bs] for p in perms])
                perm = perm.to(device, non_blocking=True)
                img = perm // views + offsets[:, None]
                view = perm % views
                player_sum.zero_()
                seen.zero_()
                for j in range(n_steps):
                    sl = slice(j * bs, (j + 1) * bs)
                    idx = (img[:, sl], view[:, sl])
                    idle = [k for k in range(K) if j >= ep_steps[k]]
                    if idle:  # eager step, then undo it for the idle models
                        with torch.no_grad():
                            saved = {k: [t.clone() for t in model_state(k)] for k in idle}
                            saved_buf = {n: b.clone() for n, b in buffers.items()}
                            saved_loss = (seen.clone(), player_sum.clone())
                        step(idx)
                        with torch.no_grad():
                            for k in idle:
                                for t, v in zip(model_state(k), saved[k]):
                                    t.copy_(v)
                                for n, b in buffers.items():
                                    b[k].copy_(saved_buf[n][k])
                                seen[k] = saved_loss[0][k]
                                player_sum[k] = saved_loss[1][k]
                    elif use_graph:
                        _graph_step(graphs, idx, step, all_state(), opts)
                    else:
                        step(idx)
                means = (player_sum / seen.clamp(min=1)[:, None]).cpu().numpy()  # one sync per epoch
                history[:, epoch] = means.sum(axis=1)
                if alternate is not None:
                    player_history[:, epoch] = means
                if vals is not None and ((epoch + 1) % val_every == 0 or epoch + 1 == total_epochs):
                    for k in range(K):
                        if stopped[k]:
                            continue
                        v = val_history[k, epoch] = validate(k)
                        if v < best_loss[k] - min_delta:
                            best_loss[k], best_epoch[k] = v, epoch
                            best_state[k] = ({n: t.detach().clone() for n, t in leaves[k].items()},
                                             {n: b[k].detach().clone() for n, b in buffers.items()})
                        elif epoch - best_epoch[k] >= patience * val_every:
                            stopped[k] = True
                epoch += 1
                bar.update(1)
                post = {"loss": f"{history[:, epoch - 1].mean():.5f}"}
                if vals is not None and np.isfinite(val_history[:, epoch - 1]).any():
                    post["val"] = f"{np.nanmean(val_history[:, epoch - 1]):.5f}"
                bar.set_postfix(**post)
                if ck_path is not None and (epoch == total_epochs or all(stopped)
                                            or time.perf_counter() - last_save >= checkpoint_interval):
                    ck_save()
                    last_save = time.perf_counter()
                if all(stopped):
                    break
            if vals is not None and all(stopped):
                break
    finally:
        bar.close()
    history = history[:, :epoch]
    player_history = player_history[:, :epoch] if alternate is not None else None
    if val_history is not None:
        val_history = val_history[:, :epoch]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = prior_seconds + time.perf_counter() - t0
    if not np.all(np.isfinite(history)):
        raise FloatingPointError(f"{desc}: the training loss became NaN or infinite")

    with torch.no_grad():
        for k, m in enumerate(models):
            if best_state[k] is not None:  # early stopping: the best epoch's weights
                m.load_state_dict({**best_state[k][0], **best_state[k][1]})
            else:
                m.load_state_dict({**leaves[k], **{name: t[k] for name, t in buffers.items()}})
    return TrainResult(history, seconds, images, use_graph, str(device), val_history,
                       best_epoch if vals is not None else None, player_history)


_OPTIMIZERS = {"adam": torch.optim.Adam, "adadelta": torch.optim.Adadelta, "rmsprop": torch.optim.RMSprop}


def _engine_state(leaves: list[dict[str, torch.Tensor]], buffers: dict[str, torch.Tensor],
                  opts: Sequence[torch.optim.Optimizer], gens: Sequence[torch.Generator],
                  device: torch.device) -> dict[str, torch.Tensor]:
    """What a checkpoint needs to replay the next step exactly: weights, stacked buffers,
    optimizer state, the shuffling generators and torch's own RNG (read back by
    :func:`_set_engine_state`)."""
    out = {f"leaf/{k}/{n}": v for k, lv in enumerate(leaves) for n, v in lv.items()}
    out.update({f"buffer/{n}": b for n, b in buffers.items()})
    for j, o in enumerate(opts):
        for i, st in o.state_dict()["state"].items():
            out.update({f"opt/{j}/{i}/{key}": v for key, v in st.items() if torch.is_tensor(v)})
    out.update({f"gen/{k}": g.get_state() for k, g in enumerate(gens)})
    out["rng/cpu"] = torch.get_rng_state()
    if device.type == "cuda":
        out["rng/cuda"] = torch.cuda.get_rng_state(device)
    return out


def _set_engine_state(saved: dict[str, torch.Tensor], leaves: list[dict[str, torch.Tensor]],
                      buffers: dict[str, torch.Tensor], opts: Sequence[torch.optim.Optimizer],
                      gens: Sequence[torch.Generator], device: torch.device) -> None:
    """Load :func:`_engine_state`'s tensors back, in place (the optimizers keep their parameters).
    A KeyError when the saved buffers are not exactly this network's (the fingerprint covers
    parameters only)."""
    extra = {k[len("buffer/"):] for k in saved if k.startswith("buffer/")} ^ set(buffers)
    if extra:
        raise KeyError(f"buffers not in both the checkpoint and the network: {sorted(extra)}")
    with torch.no_grad():
        for k, lv in enumerate(leaves):
            for n, v in lv.items():
                v.copy_(saved[f"leaf/{k}/{n}"])
        for n, b in buffers.items():
            b.copy_(saved[f"buffer/{n}"])
    for j, o in enumerate(opts):
        sd = o.state_dict()
        sd["state"] = {}
        for key, v in saved.items():
            if key.startswith(f"opt/{j}/"):
                _, _, i, name = key.split("/", 3)
                sd["state"].setdefault(int(i), {})[name] = v
        o.load_state_dict(sd)
    for k, g in enumerate(gens):
        g.set_state(saved[f"gen/{k}"])
    torch.set_rng_state(saved["rng/cpu"])
    if device.type == "cuda" and "rng/cuda" in saved:
        torch.cuda.set_rng_state(saved["rng/cuda"], device)


def _graph_step(graphs: dict, idx: tuple[torch.Tensor, ...], step: Callable, state: list[torch.Tensor],
                opts: Sequence[torch.optim.Optimizer]) -> None:
    """Run ``step(idx)`` through a CUDA graph captured once per batch width.

    Capturing needs a few eager warm-up steps; they are undone afterwards (``state`` -- the
    parameters, Adam's moments, buffers and loss accumulators -- is restored and Adam state
    created by the warm-up is zeroed), so a replay makes exactly the updates of an eager step.
    """
    width = idx[0].shape[1]
    if width not in graphs:
        static = tuple(t.clone() for t in idx)
        with torch.no_grad():
            saved = [t.detach().clone() for t in state]
            known = {id(t) for t in state}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up (allocations, cuDNN autotuning) outside the graph
            for _ in range(3):
                step(static)
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for t, v in zip(state, saved):
                t.copy_(v)
            for st in (st for o in opts for st in o.state.values()):  # Adam state the warm-up created starts
                for t in st.values():                                   # from zero
                    if torch.is_tensor(t) and id(t) not in known:
                        t.zero_()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step(static)
        graphs[width] = (g, static)
    g, static = graphs[width]
    for s_, t in zip(static, idx):
        s_.copy_(t)
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

