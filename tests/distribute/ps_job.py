"""Parameter-server scenarios, run in a fresh process by conftest.py's kill_run.

Connecting to a cluster changes TensorFlow's process-wide context, so these
runs stay out of the pytest process. Prints one JSON line with the results.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from kerasreg import data, models, training  # noqa: E402
from kerasreg.distribute import AsyncTrainer, LocalCluster  # noqa: E402


class KillWorker(keras.callbacks.Callback):
    """Kill worker 0 in the middle of epoch 0, restart it at the epoch end."""

    def __init__(self, cluster, at_batch):
        super().__init__()
        self.cluster, self.at_batch, self.killed = cluster, at_batch, None

    def on_train_batch_end(self, batch, logs=None):
        if self.killed is None and batch == self.at_batch:
            self.killed = self.cluster.pids[("worker", 0)]
            self.cluster.kill_worker(0)

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.cluster.restart_worker(0, wait=False)


def restart(phase, directory):
    """A parameter server killed mid-epoch, then a fresh cluster resumes.

    Phase "kill": train 3 epochs of 23 steps, saving every 5 steps; right
    after the save at step 33 (epoch 1) the parameter server is SIGKILLed.
    Phase "resume": a new cluster and coordinator, the same fit, resumed.
    """
    ds = data.load("digits")
    keras.utils.set_random_seed(0)
    out = {}
    with LocalCluster(num_workers=1, num_ps=1) as cluster:
        strategy = cluster.strategy()
        with strategy.scope():
            model = training.compile_model(
                models.cnn(ds.input_shape, 10, filters=(8, 16), dense_units=32)
            )
        trainer = AsyncTrainer(model, strategy)
        if phase == "kill":
            saver = trainer._checkpointer(directory, 5)
            save = saver.save

            def save_then_kill(steps):
                path = save(steps)
                if steps == 33:
                    cluster.kill_ps(0)
                return path

            saver.save = save_then_kill
        try:
            history = trainer.fit(
                ds.x_train,
                ds.y_train,
                epochs=3,
                batch_size=64,
                verbose=0,
                checkpoint_dir=directory,
                checkpoint_every=5,
                validation_data=(ds.x_test, ds.y_test),
            )
        except RuntimeError as error:
            out["error"] = str(error)
        else:
            out["history"] = history.history
            out["steps_completed"] = trainer.steps_completed
            out["updates"] = trainer.updates
        out["pids"] = sorted(cluster.pids.values())
    print("RESULT " + json.dumps(out), flush=True)


def main(scenario):
    if scenario.startswith("restart"):
        return restart(*sys.argv[2:])
    assert scenario in ("plain", "kill"), f"unknown scenario {scenario!r}"
    ds = data.load("digits")
    keras.utils.set_random_seed(0)
    out = {}
    with LocalCluster(num_workers=2, num_ps=1) as cluster:
        out["pids"] = sorted(cluster.pids.values())
        strategy = cluster.strategy()
        with strategy.scope():
            model = training.compile_model(
                models.cnn(ds.input_shape, 10, filters=(8, 16), dense_units=32)
            )
        trainer = AsyncTrainer(model, strategy)
        callbacks = []
        if scenario == "kill":
            kill = KillWorker(cluster, at_batch=5)
            callbacks.append(kill)
        history = trainer.fit(
            ds.x_train,
            ds.y_train,
            epochs=2,
            batch_size=64,
            validation_data=(ds.x_test, ds.y_test),
            callbacks=callbacks,
            verbose=0,
        )
        out["history"] = history.history
        out["steps_completed"] = trainer.steps_completed
        out["updates"] = trainer.updates
        out["staleness"] = trainer.staleness.tolist()
        if scenario == "kill":
            out["killed"] = kill.killed
            out["pids_after_restart"] = sorted(cluster.pids.values())
        # Compose with kerasreg's Distiller and NetworkSlimming.
        from kerasreg.compression import Distiller, NetworkSlimming

        with strategy.scope():
            student = models.cnn(ds.input_shape, 10, filters=(8, 16), dense_units=32)
            distiller = Distiller(student, model, temperature=4.0)
            distiller.compile(optimizer="adam", metrics=["accuracy"])
        slim = NetworkSlimming(l1=1e-3)
        distill_trainer = AsyncTrainer(distiller, strategy)
        distilled = distill_trainer.fit(
            ds.x_train, ds.y_train, epochs=2, callbacks=[slim], verbose=0
        )
        out["distill"] = distilled.history
        test = distill_trainer.evaluate(ds.x_test, ds.y_test)
        out["student_accuracy"] = test["accuracy"]
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
