"""Training benchmark: stacked ensembles against a per-member nn.Module + torch.optim loop.

    python benchmarks/training.py [--quick]

All cases in one run, on the same machine state:
  (a) 32 linear networks, D=100, H=50, N=80, trained to tolerance (float64, GD);
  (b) 32 MLPs 100-200-1 (ReLU), N=500, 2000 full-batch GD steps (float32);
  (c) 16 MLPs 784-256-10 (ReLU) on 2000 Fashion-MNIST images, 20 epochs of Adam,
      minibatches of 100, cross-entropy (float32).
The simple way trains each member alone with nn.Sequential and torch.optim on the same data,
from the same initial weights, for the same number of steps. Achieved GFLOP/s count
3 x the forward multiply-adds (forward, and backward for weights and activations) and are
compared with a large float32 matmul measured in the same run. Nothing here is asserted;
the output is the record (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from repalign import data as datasets
from repalign.models import Architecture, init_params
from repalign.training import linear_gd_learning_rates, member_losses, train_backprop, train_linear_gd


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(size: int = 2048) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = best_time(lambda: a @ b, 5)
    return 2 * size**3 / seconds / 1e9


def module_of(arch: Architecture, params: list[torch.Tensor], k: int) -> torch.nn.Sequential:
    """Member k of a stacked ensemble as an ordinary nn.Sequential with the same weights."""
    layers, step = [], 2 if arch.biases else 1
    for i in range(0, len(params), step):
        w = params[i][k]
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=arch.biases, dtype=w.dtype)
        with torch.no_grad():
            layer.weight.copy_(w)
            if arch.biases:
                layer.bias.copy_(params[i + 1][k])
        layers += [layer, torch.nn.ReLU()] if arch.activation == "relu" else [layer]
    return torch.nn.Sequential(*layers[:-1] if arch.activation == "relu" else layers)


def loop_training(arch, params, x, y, *, loss, optimizer, lr, steps, batch_size=None, seed=0):
    """The simple way: each member alone, nn.Module + torch.optim, same steps."""
    n = x.shape[1]
    for k in range(x.shape[0]):
        net = module_of(arch, params, k)
        opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(net.parameters(), lr=float(lr[k]))
        rng = np.random.default_rng(seed + k)
        order = rng.permutation(n)
        for step in range(int(steps[k])):
            if batch_size:
                start = (step * batch_size) % n
                idx = torch.as_tensor(order[start:start + batch_size])
                xb, yb = x[k, idx], y[k, idx]
            else:
                xb, yb = x[k], y[k]
            opt.zero_grad()
            member_losses(net(xb).unsqueeze(0), yb.unsqueeze(0), loss).sum().backward()
            opt.step()


def forward_flops(arch: Architecture, samples: int) -> float:
    return 2.0 * samples * sum(o * i for o, i in arch.layer_sizes)


def case_linear(quick: bool) -> dict:
    k, d, h, n = (8, 50, 20, 40) if quick else (32, 100, 50, 80)
    rng = np.random.default_rng(0)
    beta = rng.standard_normal(d) / np.sqrt(d)
    x = torch.as_tensor(np.broadcast_to(rng.standard_normal((n, d)), (k, n, d)).copy())
    y = x @ torch.as_tensor(beta) + 0.5 * torch.as_tensor(rng.standard_normal((k, n)))
    arch = Architecture.of("linear", d_in=d, width=h, depth=1, n_out=1, activation="relu")
    init = init_params(arch, np.random.SeedSequence(0).spawn(k), 1e-3, dtype=torch.float64, device="cpu")
    lr = linear_gd_learning_rates(x, y)
    report = {}

    def ours():
        params = [p.clone() for p in init]
        report["r"] = train_linear_gd(params, x, y, lr=lr, steps=100000, tol=1e-6)

    t_ours = best_time(ours, 3)
    steps = report["r"].steps
    t_loop = best_time(lambda: loop_training(arch, init, x, y, loss="mse", optimizer="gd", lr=lr, steps=steps), 1)
    return dict(case=f"(a) {k} linear {d}-{h}-1, N={n}, to tol 1e-6 ({int(steps.mean())} steps avg), f64",
                ours=t_ours, loop=t_loop, gflops=None)


def case_mlp(quick: bool) -> dict:
    k, d, h, n, steps = (8, 50, 100, 200, 200) if quick else (32, 100, 200, 500, 2000)
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.standard_normal((k, n, d)), dtype=torch.float32)
    y = torch.tanh(x[..., 0])
    arch = Architecture.of("mlp", d_in=d, width=h, depth=1, n_out=1, activation="relu")
    init = init_params(arch, np.random.SeedSequence(1).spawn(k), 1.0, dtype=torch.float32, device="cpu")
    lr = torch.full((k,), 0.05)

    def ours():
        train_backprop(arch, [p.clone() for p in init], x, y, loss="mse", optimizer="gd", lr=lr, steps=steps, tol=0.0)

    t_ours = best_time(ours, 2)
    t_loop = best_time(lambda: loop_training(arch, init, x, y, loss="mse", optimizer="gd", lr=lr,
                                             steps=np.full(k, steps)), 1)
    flops = 3 * forward_flops(arch, n) * k * steps
    return dict(case=f"(b) {k} MLPs {d}-{h}-1, N={n}, {steps} GD steps, f32", ours=t_ours, loop=t_loop,
                gflops=flops / t_ours / 1e9, loop_gflops=flops / t_loop / 1e9)


def case_fashion(quick: bool) -> dict:
    k, n, h, epochs, batch = (4, 500, 128, 4, 100) if quick else (16, 2000, 256, 20, 100)
    ens = datasets.make_ensemble_data("fashion-mnist", members=k, n_train=n, n_probe=100, shared_inputs=False)
    x = torch.as_tensor(ens.x_train, dtype=torch.float32)
    y = torch.as_tensor(ens.y_train)
    arch = Architecture.of("mlp", d_in=x.shape[-1], width=h, depth=1, n_out=10, activation="relu")
    init = init_params(arch, np.random.SeedSequence(2).spawn(k), 1.0, dtype=torch.float32, device="cpu")
    lr, steps = torch.full((k,), 1e-3), epochs * n // batch
    rngs = lambda: [np.random.default_rng(s) for s in np.random.SeedSequence(3).spawn(k)]  # noqa: E731

    def ours():
        train_backprop(arch, [p.clone() for p in init], x, y, loss="cross_entropy", optimizer="adam", lr=lr,
                       steps=steps, tol=0.0, batch_size=batch, batch_rngs=rngs())

    t_ours = best_time(ours, 2)
    t_loop = best_time(lambda: loop_training(arch, init, x, y, loss="cross_entropy", optimizer="adam", lr=lr,
                                             steps=np.full(k, steps), batch_size=batch), 1)
    flops = 3 * forward_flops(arch, batch) * k * steps
    return dict(case=f"(c) {k} MLPs 784-{h}-10, {n} Fashion-MNIST, {epochs} epochs Adam, batch {batch}, f32",
                ours=t_ours, loop=t_loop, gflops=flops / t_ours / 1e9, loop_gflops=flops / t_loop / 1e9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--case", choices="abc", action="append", help="run only these cases")
    args = parser.parse_args()
    cases = {"a": case_linear, "b": case_mlp, "c": case_fashion}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    peak = matmul_gflops(1024 if args.quick else 2048)
    print(f"reference: float32 matmul {peak:.1f} GFLOP/s")
    print(f"{'case':<78} {'ours s':>8} {'loop s':>8} {'speed-up':>9} {'GFLOP/s':>8} {'of matmul':>9}")
    for name in args.case or "abc":
        r = cases[name](args.quick)
        rate = f"{r['gflops']:8.1f} {r['gflops'] / peak:9.0%}" if r["gflops"] else f"{'-':>8} {'-':>9}"
        print(f"{r['case']:<78} {r['ours']:8.2f} {r['loop']:8.2f} {r['loop'] / r['ours']:8.1f}x {rate}")


if __name__ == "__main__":
    main()
