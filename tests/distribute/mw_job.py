"""A multi-worker training job that one worker kills itself in, for resume tests.

`train_job(npz, out, marker, pid_dir)` is what each of `launch`'s workers
runs: `kerasreg.training.train` of `cnn-tiny` under
`strategy("multiworker")`, with a `keras.callbacks.BackupAndRestore` per
worker under `<out>/backup/`. On the first run (while `marker` does not
exist) worker 1 SIGKILLs itself in the middle of epoch 1, as a preempted
machine dies; a rerun resumes from the epoch-0 checkpoint. Every worker
writes its pid to `pid_dir`, so a test can check that none outlives the job.
"""

import json
import os
import signal

EPOCHS, BATCH = 3, 64


def train_job(npz, out, marker, pid_dir):
    from kerasreg import distribute

    strategy = distribute.strategy("multiworker")
    import keras

    from kerasreg import training

    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    with open(os.path.join(pid_dir, f"worker-{index}-{os.getpid()}"), "w"):
        pass

    class KillMidEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if index == 1 and self.epoch == 1 and batch == 5:
                if not os.path.exists(marker):
                    open(marker, "w").close()
                    os.kill(os.getpid(), signal.SIGKILL)

    class Steps(keras.callbacks.Callback):
        # train() returns a local copy of the model; count on the trained one.
        def on_train_end(self, logs=None):
            self.done = int(self.model.optimizer.iterations.numpy())

    steps = Steps()
    backup = keras.callbacks.BackupAndRestore(
        os.path.join(out, "backup", f"worker-{index}"), double_checkpoint=True
    )
    result = training.train(
        "cnn-tiny",
        npz,
        epochs=EPOCHS,
        batch_size=BATCH,
        strategy=strategy,
        callbacks=[backup, KillMidEpoch(), steps],
        verbose=0,
    )
    return {
        "history": result.history,
        "steps": steps.done,
        "weights": result.model.get_weights(),
        "threads": len(os.listdir("/proc/self/task")),
    }


def fail_job(path):
    """Raise at once on worker 1, as a worker that cannot read its data does."""
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    if index == 1:
        raise FileNotFoundError(f"no such file: {path}")
    import time

    time.sleep(60)  # worker 0 waits, as in an all-reduce, until it is stopped
