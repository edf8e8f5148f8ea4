"""Reports of a keras-tuner search: the search notes' Best-k lines, CSV, plots.

Every function takes a `keras_tuner` tuner whose oracle lives in this process
(a local search, or the chief of a distributed one).
"""

from __future__ import annotations

import math

from kerasreg import _io

__all__ = [
    "format_best",
    "trial_rows",
    "write_trials_csv",
    "plot_search",
    "plot_pareto",
]

_LABELS = {"val_accuracy": "val acc", "val_loss": "val loss"}


def _format_values(values):
    # Hyperband's bookkeeping values ("tuner/epochs", ...) are not hyperparameters.
    return ", ".join(
        f"{name.replace('_', ' ')}:{value}"
        for name, value in values.items()
        if not name.startswith("tuner/")
    )


def _label(objective):
    return _LABELS.get(objective.name, objective.name)


def format_best(tuner, k=5):
    """The search notes' report: the best `k` trials, one line each.

    Args:
        tuner: a keras-tuner tuner after `search`.
        k: number of lines. Defaults to `5`.

    Returns:
        A `str` such as
        `Best-1(val acc:0.85) | lr:0.009261642471835013, weight decay:7.2e-06`.
    """
    oracle = tuner.oracle
    trials = [t for t in oracle.get_best_trials(k) if t.score is not None]
    label = _label(oracle.objective)
    return "\n".join(
        f"Best-{i}({label}:{t.score:.2f}) | {_format_values(t.hyperparameters.values)}"
        for i, t in enumerate(trials, 1)
    )


def trial_rows(tuner):
    """One dict per trial in start order: id, round, status, score, values, metrics.

    `round` is the coarse-to-fine round (1-based), `None` for other tuners.
    Metrics hold the best value each metric reached.
    """
    oracle = tuner.oracle
    rows = []
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        row = {
            "trial": trial_id,
            "round": (
                oracle.trial_round(trial_id) if hasattr(oracle, "trial_round") else None
            ),
            "status": trial.status,
            "score": trial.score,
        }
        row.update(trial.hyperparameters.values)
        for name in trial.metrics.metrics:
            row.setdefault(name, trial.metrics.get_best_value(name))
        rows.append(row)
    return rows


def write_trials_csv(tuner, path):
    """Write `trial_rows(tuner)` to a CSV file, atomically. Returns `path`."""
    rows = trial_rows(tuner)
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    _io.write_csv(path, rows, columns)
    return path


def plot_search(tuner, path=None, x="lr", y="weight_decay"):
    """Scatter two hyperparameters coloured by score, with each round's box.

    Log-sampled hyperparameters get log axes. For a `CoarseToFine` tuner the
    range of every round is drawn as a rectangle.

    Args:
        tuner: a keras-tuner tuner after `search`.
        path: where to save a PNG; not saved when `None`.
        x: hyperparameter on the x axis. Defaults to `"lr"`.
        y: hyperparameter on the y axis. Defaults to `"weight_decay"`.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: if a trial lacks `x` or `y`.
    """
    plt = _io.pyplot()
    rows = [r for r in trial_rows(tuner) if r["score"] is not None]
    missing = [name for name in (x, y) if rows and name not in rows[0]]
    if missing:
        raise ValueError(
            f"No hyperparameter named {missing[0]!r} in the trials. "
            f"Found: {sorted(tuner.oracle.get_space().values)}"
        )
    fig, ax = plt.subplots(figsize=(6, 4.5))
    points = ax.scatter(
        [r[x] for r in rows],
        [r[y] for r in rows],
        c=[r["score"] for r in rows],
        cmap="viridis",
        edgecolors="k",
        linewidths=0.4,
    )
    fig.colorbar(points, ax=ax, label=_label(tuner.oracle.objective))
    space = {hp.name: hp for hp in tuner.oracle.get_space().space}
    for name, set_scale in ((x, ax.set_xscale), (y, ax.set_yscale)):
        if getattr(space.get(name), "sampling", "linear") == "log":
            set_scale("log")
    history = getattr(tuner, "range_history", None) or []
    colors = plt.cm.autumn([i / max(len(history), 1) for i in range(len(history))])
    for i, ranges in enumerate(history):
        if x in ranges and y in ranges:
            (x0, x1), (y0, y1) = ranges[x], ranges[y]
            ax.add_patch(
                plt.Rectangle(
                    (x0, y0),
                    x1 - x0,
                    y1 - y0,
                    fill=False,
                    lw=1.5,
                    ec=colors[i],
                    label=f"round {i + 1} range",
                )
            )
    if history:
        ax.legend(loc="best", fontsize=8)
    best = max(rows, key=lambda r: r["score"]) if rows else None
    if best and tuner.oracle.objective.direction == "max":
        ax.plot(best[x], best[y], marker="*", ms=14, color="red", ls="")
    ax.set_xlabel(x)
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title("Hyperparameter search")
    fig.tight_layout()
    if path:
        _io.save_figure(fig, path)
    return fig


def plot_pareto(result, path=None, x=None, y=None):
    """Plot every trial of a `ParetoResult` and draw its front.

    Args:
        result: a `ParetoResult`.
        path: where to save a PNG; not saved when `None`.
        x, y: the objectives on each axis; by default the second and first
            of `result.objectives` (size on x, accuracy on y).

    Returns:
        The matplotlib `Figure`.
    """
    plt = _io.pyplot()
    names = list(result.objectives)
    x = x or names[1]
    y = y or names[0]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(
        [p[x] for p in result.points],
        [p[y] for p in result.points],
        color="0.6",
        label="trials",
    )
    front = sorted(result.front, key=lambda p: p[x])
    ax.plot(
        [p[x] for p in front],
        [p[y] for p in front],
        "o-",
        color="tab:red",
        drawstyle="steps-post" if result.objectives[x] == "min" else "default",
        label="Pareto front",
    )
    if all(p[x] > 0 for p in result.points) and _spread(result.points, x) > 10:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if path:
        _io.save_figure(fig, path)
    return fig


def _spread(points, key):
    values = [p[key] for p in points]
    return max(values) / min(values) if min(values) > 0 else math.inf
