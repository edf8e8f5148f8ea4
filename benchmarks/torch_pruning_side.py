"""The Torch-Pruning side of `bench_torch_pruning.py`; runs in its own venv.

Never imported by kerasreg: `bench_torch_pruning.py` runs it as

    <torch-python> benchmarks/torch_pruning_side.py '<json config>'

with an interpreter that has torch and torch-pruning, and reads the last
line of its output that starts with `RESULT`. The config names an `.npz`
of uint8 images (`x_train`, `y_train`, `x_test`, `y_test`, NHWC) written
by the Keras side, so both sides train on the same images.

The network is kerasreg's `resnet20` written in PyTorch: a 3x3 stem of 16,
three stages of three basic blocks (16, 32, 64 channels), 1x1 Conv-BN
projections where the shape changes (He et al.'s option B), global average
pooling and a linear layer; He-normal convolutions without bias,
BatchNormalization with epsilon 1e-3 and momentum 0.1 (Keras' 0.9). The
recipe is kerasreg's: SGD with momentum, weight decay on the conv and
linear weights only, a per-step cosine decay to 0, random 4-pixel-padded
crops and horizontal flips, inputs in [0, 1].

Three runs, each with the epochs of the Keras side:

* `dense`: trained plainly for `epochs + finetune_epochs`;
* `magnitude`: trained plainly for `epochs`, pruned by Torch-Pruning's
  group magnitude importance (L2, global) to the MACs speed-up, then
  fine-tuned for `finetune_epochs` at `finetune_lr` times the rate;
* `slimming`: trained for `epochs` with `BNScalePruner.regularize` (an L1
  subgradient `reg * sign(gamma)` on every BN scale), pruned by
  `BNScaleImportance` (global) to the speed-up, then fine-tuned likewise.

Pruning is progressive, as Torch-Pruning's own CIFAR benchmark does it:
small steps until the MACs of `count_ops_and_params` fall by the speed-up.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from importlib import metadata

import numpy as np
import torch
import torch_pruning as tp
from torch import nn
from torch.nn import functional as F


def conv_bn(cin, cout, kernel, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1),
    )


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = conv_bn(cin, cout, 3, stride)
        self.b = conv_bn(cout, cout, 3, 1)
        self.proj = (
            conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None
        )

    def forward(self, x):
        y = self.b(F.relu(self.a(x)))
        return F.relu(y + (x if self.proj is None else self.proj(x)))


class ResNet20(nn.Module):
    def __init__(self, num_classes=10, widths=(16, 32, 64), blocks=3):
        super().__init__()
        self.stem = conv_bn(3, widths[0], 3, 1)
        layers, cin = [], widths[0]
        for s, width in enumerate(widths):
            for b in range(blocks):
                layers.append(BasicBlock(cin, width, 2 if s > 0 and b == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.blocks(F.relu(self.stem(x)))
        return self.fc(x.mean(dim=(2, 3)))


def augment(x, generator, padding=4):
    """Random `padding`-pixel crops and horizontal flips of an NCHW batch."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    out = torch.stack(
        [padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)]
    )
    flip = torch.rand(n, generator=generator) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def train(model, data, config, epochs, lr, pruner=None, log=""):
    """SGD with momentum and cosine decay; `pruner.regularize` if given."""
    x, y = data["x_train"], data["y_train"]
    decayed = [p for n, p in model.named_parameters() if p.ndim > 1]
    others = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [
            {"params": decayed, "weight_decay": config["weight_decay"]},
            {"params": others, "weight_decay": 0.0},
        ],
        lr=lr,
        momentum=config["momentum"],
    )
    batch = config["batch_size"]
    steps = epochs * ((len(x) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(config["seed"])
    for epoch in range(epochs):
        model.train()
        start, order = time.perf_counter(), torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), batch):
            index = order[i : i + batch]
            loss = F.cross_entropy(model(augment(x[index], generator)), y[index])
            optimizer.zero_grad()
            loss.backward()
            if pruner is not None:
                pruner.regularize(model)
            optimizer.step()
            schedule.step()
        print(
            json.dumps(
                {
                    "run": log,
                    "epoch": epoch + 1,
                    "loss": round(float(loss), 4),
                    "seconds": round(time.perf_counter() - start, 2),
                }
            ),
            file=sys.stderr,
            flush=True,
        )
    return model


@torch.no_grad()
def accuracy(model, data):
    model.eval()
    x, y = data["x_test"], data["y_test"]
    right = sum(
        int((model(x[i : i + 500]).argmax(1) == y[i : i + 500]).sum())
        for i in range(0, len(x), 500)
    )
    return right / len(x)


def prune_to(model, pruner, example, speedup):
    """Step `pruner` until the MACs fall by `speedup`; the steps taken."""
    base, _ = tp.utils.count_ops_and_params(model, example)
    macs, steps = base, 0
    while base / macs < speedup and steps < pruner.iterative_steps:
        pruner.step()
        macs, _ = tp.utils.count_ops_and_params(model, example)
        steps += 1
    return steps


def make_pruner(kind, model, example, config):
    common = dict(
        global_pruning=True,
        pruning_ratio=1.0,
        iterative_steps=config["iterative_steps"],
        ignored_layers=[model.fc],
    )
    if kind == "slimming":
        return tp.pruner.BNScalePruner(
            model,
            example,
            tp.importance.BNScaleImportance(),
            reg=config["reg"],
            **common,
        )
    importance = tp.importance.GroupMagnitudeImportance(p=2)
    return tp.pruner.BasePruner(model, example, importance, **common)


@torch.no_grad()
def latency_ms(model, batch, repeats=20, rounds=5):
    """Median per-call milliseconds of the frozen TorchScript model."""
    model.eval()
    example = torch.rand(batch, 3, 32, 32)
    frozen = torch.jit.freeze(torch.jit.trace(model, example))
    for _ in range(3):
        frozen(example)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            frozen(example)
        times.append(1000 * (time.perf_counter() - start) / repeats)
    return statistics.median(times)


def describe(model, data, example, base_macs, base_params):
    macs, params = tp.utils.count_ops_and_params(model, example)
    return {
        "accuracy": accuracy(model, data),
        "macs": int(macs),
        "params": int(params),
        "macs_reduction_factor": base_macs / macs,
        "params_removed": 1 - params / base_params,
        "latency_ms_batch1": latency_ms(model, 1),
        "latency_ms_batch64": latency_ms(model, 64),
    }


def main(config):
    torch.set_num_threads(config["threads"])
    arrays = np.load(config["data"])
    data = {
        k: torch.from_numpy(arrays[k]).permute(0, 3, 1, 2).float().div(255)
        if k.startswith("x")
        else torch.from_numpy(arrays[k]).long()
        for k in ("x_train", "y_train", "x_test", "y_test")
    }
    example = torch.rand(1, 3, 32, 32)
    epochs, finetune = config["epochs"], config["finetune_epochs"]
    lr = config["learning_rate"]
    torch.manual_seed(config["seed"])
    dense = train(ResNet20(), data, config, epochs + finetune, lr, log="dense")
    base_macs, base_params = tp.utils.count_ops_and_params(dense, example)
    result = {
        "torch": torch.__version__,
        "torch_pruning": metadata.version("torch-pruning"),
        "dense": describe(dense, data, example, base_macs, base_params),
    }
    for speedup in config["speedups"]:
        for kind in ("magnitude", "slimming"):
            torch.manual_seed(config["seed"])
            model = ResNet20()
            pruner = make_pruner(kind, model, example, config)
            regularizer = pruner if kind == "slimming" else None
            train(model, data, config, epochs, lr, regularizer, log=kind)
            before = accuracy(model, data)
            steps = prune_to(model, pruner, example, speedup)
            pruned = accuracy(model, data)
            tuned_lr = lr * config["finetune_lr"]
            train(model, data, config, finetune, tuned_lr, log=f"{kind} fine-tune")
            row = describe(model, data, example, base_macs, base_params)
            row.update(
                accuracy_before_pruning=before,
                accuracy_after_pruning=pruned,
                pruning_steps=steps,
            )
            result[f"{kind}@{speedup:g}x"] = row
    print("RESULT" + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
