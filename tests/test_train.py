"""The shared training loop: batched models equal sequential ones, determinism, schedule."""

import numpy as np
import pytest
import torch
from torch import nn

from anomalens.nn import InceptionCAE
from anomalens.train import Phase, predict_batches, resolve_device, seeded, to_uint8_tensor, train_models

from .conftest import make_images


def tiny(seed):
    # no bias before BatchNorm: its gradient is ~0 and Adam would amplify float noise into steps
    return seeded(seed, lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.1), nn.Conv2d(4, 1, 3, padding=1), nn.Sigmoid()))


def mse(forward, x, target):
    return (forward(x) - x).pow(2).mean()


@pytest.fixture
def data():
    return to_uint8_tensor(make_images(50, size=8), torch.device("cpu"))


def state(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def test_k_models_at_once_equal_k_sequential_trainings(data):
    phases = [Phase(2, 1e-2), Phase(1, 1e-3)]
    together = [tiny(1), tiny(2)]
    res = train_models(together, data, mse, phases=phases, batch_size=16, seeds=[1, 2])
    for k, seed in enumerate([1, 2]):
        alone = tiny(seed)
        single = train_models([alone], data, mse, phases=phases, batch_size=16, seeds=[seed])
        np.testing.assert_allclose(res.losses[k], single.losses[0], rtol=1e-4)
        for name, v in state(alone).items():  # weights, BN running stats, counters
            torch.testing.assert_close(state(together[k])[name], v, rtol=1e-4, atol=1e-5)
    assert res.losses.shape == (2, 3) and res.images_seen == 2 * 3 * 48  # 3 full batches of 16 per epoch


def test_models_with_different_training_sets_match_solo_training():
    """Ten classes at once: a model with fewer images sits out the tail of each epoch untouched."""
    small, large = to_uint8_tensor(make_images(35, size=8, seed=1), torch.device("cpu")), to_uint8_tensor(
        make_images(70, size=8, seed=2), torch.device("cpu"))
    phases = [Phase(2, 1e-2), Phase(1, 1e-3)]
    together = [tiny(1), tiny(2)]
    res = train_models(together, [small, large], mse, phases=phases, batch_size=16, seeds=[1, 2])
    for k, (seed, d) in enumerate([(1, small), (2, large)]):
        alone = tiny(seed)
        single = train_models([alone], d, mse, phases=phases, batch_size=16, seeds=[seed])
        np.testing.assert_allclose(res.losses[k], single.losses[0], rtol=1e-4)
        for name, v in state(alone).items():
            torch.testing.assert_close(state(together[k])[name], v, rtol=1e-4, atol=1e-5)
    assert int(state(together[0])["1.num_batches_tracked"]) == 3 * 2  # 35 // 16 steps x 3 epochs
    assert int(state(together[1])["1.num_batches_tracked"]) == 3 * 4


def test_channels_last_trains_the_same_model_in_another_memory_layout():
    rgb = to_uint8_tensor(make_images(50, size=8, channels=3), torch.device("cpu"))  # 1 channel: both layouts coincide
    net = lambda: seeded(3, lambda: nn.Sequential(  # noqa: E731
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.1), nn.Conv2d(4, 3, 3, padding=1), nn.Sigmoid()))
    layouts, runs = {}, {}

    def recording(forward, x, target):
        layouts.setdefault(flag, set()).add(x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())
        return mse(forward, x, target)

    for flag in (False, True, "auto"):
        m = net()
        res = train_models([m], rgb, recording, phases=[Phase(2, 1e-2)], batch_size=16, seeds=[3], channels_last=flag)
        runs[flag] = (res.losses[0], state(m))
        assert m[0].weight.is_contiguous()  # the model keeps its own layout
    assert layouts == {False: {False}, True: {True}, "auto": {True}}  # "auto" is channels-last on CPU
    for flag in (True, "auto"):
        np.testing.assert_allclose(runs[flag][0], runs[False][0], rtol=1e-5)
        for name, v in runs[False][1].items():
            torch.testing.assert_close(runs[flag][1][name], v, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="channels_last"):
        train_models([net()], rgb, mse, phases=[Phase(1, 1e-3)], seeds=[0], channels_last="yes")


def test_seeds_are_deterministic_and_distinct(data):
    runs = [train_models([tiny(0)], data, mse, phases=[Phase(2, 1e-2)], batch_size=16, seeds=[s]).losses for s in (5, 5, 6)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])  # another seed, another batch order


def test_loss_decreases_on_a_real_network():
    x = to_uint8_tensor(make_images(40, size=16), torch.device("cpu"))
    x = torch.nn.functional.pad(x, (8, 8, 8, 8))
    net = seeded(0, lambda: InceptionCAE(1))
    res = train_models([net], x, mse, phases=[Phase(10, 3e-3)], batch_size=20, seeds=[0])
    assert res.losses[0, -1] < 0.8 * res.losses[0, 0]
    assert np.all(np.diff(res.losses[0]) < 0.01)  # no divergence on the way
    net.eval()
    err = predict_batches(lambda b: (net(b) - b).pow(2).mean(dim=(1, 2, 3)), x, batch_size=7)
    assert err.shape == (40,) and err.dtype == np.float64


def test_lr_phase_is_applied(data):
    """An lr of (almost) zero leaves the weights unchanged; the second phase's lr is used."""
    m = tiny(0)
    before = state(m)
    train_models([m], data, mse, phases=[Phase(1, 1e-12)], batch_size=25, seeds=[0], weight_decay=0.0)
    after = state(m)
    torch.testing.assert_close(after["0.weight"], before["0.weight"], rtol=0, atol=1e-8)
    assert not torch.equal(after["1.running_mean"], before["1.running_mean"])  # BN stats still move


def test_bad_arguments(data):
    with pytest.raises(ValueError, match="one seed per model"):
        train_models([tiny(0)], data, mse, phases=[Phase(1, 1e-3)], seeds=[0, 1])
    with pytest.raises(ValueError, match="precision"):
        train_models([tiny(0)], data, mse, phases=[Phase(1, 1e-3)], seeds=[0], precision="fp8")
    with pytest.raises(ValueError, match="CUDA"):
        train_models([tiny(0)], data, mse, phases=[Phase(1, 1e-3)], seeds=[0], cuda_graph=True)
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_nan_loss_is_reported(data):
    def bad(forward, x, target):
        return forward(x).sum() * float("nan")

    with pytest.raises(FloatingPointError, match="NaN"):
        train_models([tiny(0)], data, bad, phases=[Phase(1, 1e-3)], seeds=[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("seeds,precision", [((1, 2), "fp32"), ((1,), "fp32"), ((1, 2), "bf16"), ((1,), "bf16")])
def test_cuda_graph_step_equals_eager_step(seeds, precision):
    """The captured step (warm-up undone) makes the same updates as the eager loop: K models at once
    (vmap) and one model (its own path), in fp32 and under bf16 autocast."""
    dev = torch.device("cuda")
    datas = [to_uint8_tensor(make_images(n, size=8, seed=n), dev) for n in (40, 56)][: len(seeds)]
    tol = {"fp32": dict(rtol=1e-4, atol=1e-5), "bf16": dict(rtol=2e-2, atol=2e-3)}[precision]
    runs = {}
    for graph in (False, True):
        models = [tiny(s).to(dev) for s in seeds]
        res = train_models(models, datas, mse, phases=[Phase(2, 1e-2), Phase(1, 1e-3)], batch_size=16,
                           seeds=list(seeds), cuda_graph=graph, precision=precision)
        assert res.cuda_graph is graph
        runs[graph] = (res.losses, [state(m) for m in models])
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=tol["rtol"])
    for a, b in zip(runs[True][1], runs[False][1]):
        for name in a:
            torch.testing.assert_close(a[name], b[name], **tol)


def test_fractional_epochs_train_that_share_of_the_steps():
    assert Phase(2.5, 1e-3).epoch_fractions() == [1.0, 1.0, 0.5]
    assert Phase(0, 1e-3).epoch_fractions() == []
    d = to_uint8_tensor(make_images(64, size=8), torch.device("cpu"))  # 4 batches of 16 per epoch
    m = tiny(0)
    res = train_models([m], d, mse, phases=[Phase(1.5, 1e-2), Phase(0.25, 1e-3)], batch_size=16, seeds=[0])
    assert res.losses.shape == (1, 3)
    assert int(state(m)["1.num_batches_tracked"]) == 4 + 2 + 1
    assert res.images_seen == (4 + 2 + 1) * 16


def _view_loss(forward, batch, target):
    x, v = batch  # view 1 = the image negated; the model must tell the views apart
    xv = torch.where(v[:, None, None, None] == 1, -x, x)
    return nn.functional.cross_entropy(forward(xv), v)


def test_views_hand_each_item_its_view_index_and_visit_every_pair():
    d = to_uint8_tensor(make_images(40, size=8), torch.device("cpu"))
    m = seeded(0, lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 2)))
    res = train_models([m], d, _view_loss, phases=[Phase(3, 1e-1)], batch_size=20, seeds=[0], views=2)
    assert res.images_seen == 3 * 80  # 40 images x 2 views per epoch
    assert res.losses[0, -1] < 0.05 < res.losses[0, 0]  # learnable only if x and its view index agree
    with pytest.raises(ValueError, match="views"):
        train_models([m], d, _view_loss, phases=[Phase(1, 1e-1)], seeds=[0], views=0)


class _Chase(nn.Module):
    """Two players: ``a`` walks to 1, ``b`` chases ``a``; losses [(a - 1)^2, (b - a)^2]."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.stack([((self.a - 1) ** 2).sum(), ((self.b - self.a) ** 2).sum()]) + 0 * x.mean()


def test_alternate_players_take_turns_and_the_second_sees_the_first_update():
    x = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    kw = dict(phases=[Phase(1, 0.1)], batch_size=4, weight_decay=0.0, optimizer="adam", cuda_graph=False)
    # Adam's first step moves each parameter by lr against the sign of its gradient
    turns = [_Chase(), _Chase()]  # two models: the batched (vmap) path too
    log = train_models(turns, x, lambda f, xb, t: f(xb), seeds=[0, 1], alternate=("a", "b"), **kw)
    for m in turns:
        assert m.a.item() == pytest.approx(0.1) and m.b.item() == pytest.approx(0.1)  # b chased the moved a
    assert log.losses[:, 0] == pytest.approx([1 + 0.1 ** 2] * 2)  # each loss at its player's turn
    (once,) = [_Chase()]
    assert train_models([once], x, lambda f, xb, t: f(xb).sum(), seeds=[0], **kw).player_losses is None
    assert once.a.item() == pytest.approx(0.1) and once.b.item() == 0.0  # same step: b saw a = 0
    for players in (("a", "c"), ("a",), ("a", "b", "b")):  # a player owning nothing, b frozen, b in two players
        with pytest.raises(ValueError, match="exactly one player"):
            train_models([_Chase()], x, lambda f, xb, t: f(xb), seeds=[0], alternate=players, **kw)
    with pytest.raises(ValueError, match="alternate must be"):
        train_models([_Chase()], x, lambda f, xb, t: f(xb), seeds=[0], alternate=(), **kw)


def test_turns_give_a_player_several_updates_per_step():
    x = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    kw = dict(phases=[Phase(1, 0.1)], batch_size=4, weight_decay=0.0, optimizer="adam", cuda_graph=False)
    models = [_Chase(), _Chase()]
    log = train_models(models, x, lambda f, xb, t: f(xb), seeds=[0, 1], alternate=("a", "b"), turns=(1, 3), **kw)
    for m in models:  # a: one Adam step to 0.1; b: three steps of about lr each towards a
        assert m.a.item() == pytest.approx(0.1)
        assert 0.1 < m.b.item() < 0.3
    # b's logged loss is the mean over its three turns, all measured after a's move
    b = torch.zeros(1, requires_grad=True)
    opt, seen = torch.optim.Adam([b], lr=0.1), []
    for _ in range(3):
        loss = ((b - 0.1) ** 2).sum()
        seen.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert models[0].b.item() == pytest.approx(b.item(), abs=1e-6)
    assert log.losses[:, 0] == pytest.approx([1 + np.mean(seen)] * 2, abs=1e-6)
    np.testing.assert_allclose(log.player_losses[:, 0], [[1, np.mean(seen)]] * 2, atol=1e-6)  # each player's own
    for bad in ((1,), (1, 0), (1, 1.5), (True, 1)):
        with pytest.raises(ValueError, match="turns must"):
            train_models([_Chase()], x, lambda f, xb, t: f(xb), seeds=[0], alternate=("a", "b"), turns=bad, **kw)
    with pytest.raises(ValueError, match="turns must"):
        train_models([_Chase()], x, lambda f, xb, t: f(xb).sum(), seeds=[0], turns=(1,), **kw)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_replays_alternating_players_like_eager_steps():
    dev = torch.device("cuda")
    x = torch.zeros(8, 1, 2, 2, dtype=torch.uint8, device=dev)
    runs = {}
    for graph in (False, True):
        models = [_Chase().to(dev), _Chase().to(dev)]
        res = train_models(models, x, lambda f, xb, t: f(xb), phases=[Phase(5, 0.1)], batch_size=4, seeds=[0, 1],
                           weight_decay=0.0, alternate=("a", "b"), turns=(1, 2), cuda_graph=graph)
        runs[graph] = (res.losses, [(m.a.item(), m.b.item()) for m in models], res.player_losses)
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=1e-5)
    np.testing.assert_allclose(runs[True][2], runs[False][2], rtol=1e-5)
    np.testing.assert_allclose(runs[True][1], runs[False][1], rtol=1e-5)


class _Interrupt(Exception):
    pass


def _killed_after(calls):
    """An MSE loss that raises (like a killed process) on its ``calls``-th call."""
    seen = [0]

    def loss(forward, x, target):
        seen[0] += 1
        if seen[0] == calls:
            raise _Interrupt
        return mse(forward, x, target)

    return loss


@pytest.mark.parametrize("channels_last", [False, True])
def test_interrupted_training_resumes_from_its_checkpoint_to_the_same_weights(data, tmp_path, channels_last):
    rgb = to_uint8_tensor(make_images(50, size=8, channels=3), torch.device("cpu"))
    net = lambda: seeded(4, lambda: nn.Sequential(  # noqa: E731
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.1), nn.Conv2d(4, 3, 3, padding=1), nn.Sigmoid()))
    phases = [Phase(3, 1e-2), Phase(2, 1e-3)]  # 3 steps an epoch: the kill lands in epoch 4 (second phase)
    opts = dict(phases=phases, batch_size=16, seeds=[4], channels_last=channels_last)
    straight = net()
    ref = train_models([straight], rgb, mse, **opts)
    ck = tmp_path / "run.safetensors"
    with pytest.raises(_Interrupt):
        train_models([net()], rgb, _killed_after(3 * 3 + 2), checkpoint=ck, checkpoint_interval=0, **opts)
    assert ck.is_file()
    resumed = net()
    res = train_models([resumed], rgb, mse, checkpoint=ck, checkpoint_interval=0, **opts)
    np.testing.assert_array_equal(res.losses, ref.losses)  # the first 3 epochs' losses come from the file
    for name, v in state(straight).items():
        torch.testing.assert_close(state(resumed)[name], v, rtol=0, atol=0)
    assert res.images_seen == ref.images_seen
    # a finished checkpoint returns the trained weights without training again
    again = net()
    calls = [0]

    def counting(forward, x, target):
        calls[0] += 1
        return mse(forward, x, target)

    train_models([again], rgb, counting, checkpoint=ck, **opts)
    assert calls[0] == 0
    torch.testing.assert_close(state(again), state(straight), rtol=0, atol=0)


def test_checkpoint_of_another_run_is_refused_and_bad_files_are_named(data, tmp_path):
    ck = tmp_path / "run.safetensors"
    train_models([tiny(1)], data, mse, phases=[Phase(1, 1e-2)], batch_size=16, seeds=[1], checkpoint=ck)
    with pytest.raises(ValueError, match="another training run"):
        train_models([tiny(2)], data, mse, phases=[Phase(1, 1e-2)], batch_size=16, seeds=[2], checkpoint=ck)
    # the same parameters but another BatchNorm buffer layout (no parameter shape differs)
    affine_free = lambda *out_bn: seeded(1, lambda: nn.Sequential(  # noqa: E731
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4, affine=False), nn.LeakyReLU(0.1),
        nn.Conv2d(4, 1, 3, padding=1), *out_bn, nn.Sigmoid()))
    ck2 = tmp_path / "bn.safetensors"
    train_models([affine_free()], data, mse, phases=[Phase(1, 1e-2)], batch_size=16, seeds=[1], checkpoint=ck2)
    with pytest.raises(ValueError, match="bn.safetensors.*does not fit this network"):
        train_models([affine_free(nn.BatchNorm2d(1, affine=False))], data, mse, phases=[Phase(1, 1e-2)], batch_size=16,
                     seeds=[1], checkpoint=ck2)
    # and the other way round: the checkpoint has buffers this network lacks
    ck3 = tmp_path / "bn3.safetensors"
    train_models([affine_free(nn.BatchNorm2d(1, affine=False))], data, mse, phases=[Phase(1, 1e-2)], batch_size=16,
                 seeds=[1], checkpoint=ck3)
    with pytest.raises(ValueError, match=r"bn3.safetensors.*does not fit this network.*4\.running_mean"):
        train_models([affine_free()], data, mse, phases=[Phase(1, 1e-2)], batch_size=16, seeds=[1], checkpoint=ck3)
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="run.safetensors.*cannot be read"):
        train_models([tiny(1)], data, mse, phases=[Phase(1, 1e-2)], batch_size=16, seeds=[1], checkpoint=ck)


def test_early_stopping_state_survives_a_resume(tmp_path):
    train, val = (to_uint8_tensor(make_images(n, size=8, seed=s), torch.device("cpu")) for n, s in ((48, 1), (16, 2)))
    opts = dict(phases=[Phase(8, 0.1)], batch_size=16, seeds=[1, 2], val_data=val, patience=1)
    straight = [tiny(1), tiny(2)]
    ref = train_models(straight, train, mse, **opts)
    assert ref.losses.shape == (2, 5) and ref.best_epochs == [3, 3]  # both stop early, after epoch 5 of 8
    ck = tmp_path / "es.safetensors"
    with pytest.raises(_Interrupt):  # 5 loss calls an epoch (3 vmapped steps, 2 validations): dies in epoch 5
        train_models([tiny(1), tiny(2)], train, _killed_after(4 * 5 + 2), checkpoint=ck, checkpoint_interval=0, **opts)
    resumed = [tiny(1), tiny(2)]
    res = train_models(resumed, train, mse, checkpoint=ck, **opts)
    assert res.best_epochs == ref.best_epochs and res.losses.shape == ref.losses.shape
    np.testing.assert_allclose(res.val_losses, ref.val_losses, rtol=1e-5)
    for a, b in zip(resumed, straight):
        torch.testing.assert_close(state(a), state(b), rtol=1e-5, atol=1e-6)
    # the run had stopped early when its last checkpoint was written: nothing more to train
    again = [tiny(1), tiny(2)]
    done = train_models(again, train, _killed_after(1), checkpoint=ck, **opts)
    assert done.losses.shape == (2, 5) and done.best_epochs == [3, 3]
    for a, b in zip(again, straight):
        torch.testing.assert_close(state(a), state(b), rtol=1e-5, atol=1e-6)


def _run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter (the denormal setting is process state) with two
    intra-op threads; returns its stdout and stderr together."""
    import subprocess
    import sys

    prelude = "import torch, warnings; torch.set_num_threads(2)\nfrom anomalens.train import _denormals\n"
    done = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


_NONZERO = "print('nonzero', (_denormals(1 << 21) * 1.0).count_nonzero().item())\n"


def test_flush_denormals_before_torch_work_reaches_every_thread():
    out = _run_fresh(_NONZERO + "print('before', (torch.full((4,), 1e-40) * 1.0).count_nonzero().item())\n")
    assert "nonzero 2097152" in out and "before 4" in out  # denormals survive by default
    out = _run_fresh("from anomalens.train import flush_denormals\nprint('ok', flush_denormals())\n" + _NONZERO)
    assert "ok True" in out and "nonzero 0" in out


def test_flush_denormals_after_the_worker_threads_started_warns_and_says_so():
    out = _run_fresh(_NONZERO + "from anomalens.train import flush_denormals\n"
                     "with warnings.catch_warnings(record=True) as w:\n"
                     "    warnings.simplefilter('always')\n"
                     "    print('ok', flush_denormals(), [str(x.message) for x in w])\n" + _NONZERO)
    assert "ok False" in out and "reached only the calling thread" in out
    # the main thread flushes its share, the running worker does not
    counts = [int(line.split()[1]) for line in out.splitlines() if line.startswith("nonzero")]
    assert counts[0] == 1 << 21 and 0 < counts[1] < 1 << 21


def test_cli_entry_point_flushes_denormals_except_for_help():
    code = ("import sys, anomalens.cli as cli\n"
            "cli.app = lambda: print('nonzero', (_denormals(1 << 21) * 1.0).count_nonzero().item())\n"
            "sys.argv = ['anomalens'] + sys.argv[1:]\ncli.main()\n")
    assert "nonzero 0" in _run_fresh(code.replace("sys.argv[1:]", "['list']"))
    assert "nonzero 2097152" in _run_fresh(code.replace("sys.argv[1:]", "['--help']"))
