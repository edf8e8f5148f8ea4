"""Checkpoints of parameter-server training on a step period.

A parameter server holds the only copy of its variables: when it dies, they
are gone, and TensorFlow's `ClusterCoordinator` cannot go on (it raises
`UnavailableError` or `AbortedError`; TensorFlow's advice is to restart the
cluster and the coordinator). `StepCheckpoint` is what makes that restart
cheap: `AsyncTrainer.fit(checkpoint_dir=..., checkpoint_every=N)` joins the
workers every N steps and writes the model's and the optimizer's variables,
read from the parameter servers, with `tf.train.CheckpointManager`; a later
`fit` with the same `checkpoint_dir`, on a fresh cluster, restores them and
goes on from that step, so the run ends after the same number of steps as
one that was never interrupted.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["StepCheckpoint", "lost_message"]


class StepCheckpoint:
    """Save and restore a trainer's variables and its step count.

    Args:
        variables: the `tf.Variable`s to save (the model's, the
            optimizer's, the trainer's counters), in a fixed order.
        directory: where the checkpoints go.
        every: save after every `every` steps, `>= 1`.
        max_to_keep: checkpoints kept. Defaults to `2`.

    Raises:
        ValueError: for `every < 1`, or no `directory`.
    """

    def __init__(self, variables, directory, every, max_to_keep=2):
        if directory is None:
            raise ValueError(
                "checkpoint_every needs checkpoint_dir. Received: "
                f"checkpoint_every={every!r}, checkpoint_dir=None"
            )
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(
                "Expected checkpoint_every to be an integer >= 1 (steps). "
                f"Received: checkpoint_every={every!r}"
            )
        self.every = every
        self.steps = tf.Variable(0, dtype=tf.int64, trainable=False)
        items = {f"v{i}": v for i, v in enumerate(variables)}
        self._checkpoint = tf.train.Checkpoint(steps=self.steps, **items)
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, directory, max_to_keep=max_to_keep
        )

    def restore(self):
        """Restore the latest checkpoint, if any; returns the steps it had done."""
        latest = self._manager.latest_checkpoint
        if latest is None:
            return 0
        self._checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.steps.numpy())

    def save(self, steps):
        """Write a checkpoint after `steps` completed steps; returns its path."""
        self.steps.assign(steps)
        return self._manager.save(checkpoint_number=steps)


def lost_message(error, directory):
    """One line for a parameter server lost mid-training, and what to do."""
    lost = (
        "A parameter server (or the coordinator's link to it) was lost "
        f"({type(error).__name__}); its variables are gone with it."
    )
    if directory is None:
        return lost + " Pass checkpoint_dir= and checkpoint_every= to resume."
    return (
        f"{lost} Restart the cluster and call fit again with "
        f"checkpoint_dir={directory!r} to resume from its latest checkpoint."
    )
