"""Distributed training on `tf.distribute`: sync, async, model parallel.

- `strategy(kind)`: a `MirroredStrategy` (local GPUs or logical CPUs),
  `MultiWorkerMirroredStrategy` or `ParameterServerStrategy` (`TF_CONFIG`).
- `synchronize_batchnorm(model)`: global-batch BatchNorm statistics, so N
  replicas train exactly like one device.
- `AsyncTrainer`: fit-like parameter-server training for Keras 3 models.
- `LocalCluster`: real worker / ps server processes on 127.0.0.1.
- `launch(fn, workers=N)`: run a training function as a multi-worker job
  of N processes on 127.0.0.1, each with its own `TF_CONFIG`.
- `split_model(model, devices)`: model parallelism over consecutive stages.
- `training_scope(strategy, precision)`, `fit`, `local_copy`: what
  `kerasreg.training.train` uses to train under a strategy.

Names are imported on first use, so that a server process started with
`python -m kerasreg.distribute.cluster` loads TensorFlow but not Keras.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "AsyncTrainer": "async_trainer",
    "LocalCluster": "cluster",
    "free_ports": "cluster",
    "launch": "launcher",
    "WorkerError": "launcher",
    "is_chief": "strategies",
    "COLLECTIVE_TIMEOUT": "strategies",
    "HEARTBEAT_TIMEOUT": "strategies",
    "serve": "cluster",
    "SplitModel": "model_parallel",
    "split_model": "model_parallel",
    "KINDS": "strategies",
    "training_scope": "fitting",
    "dtype_policy": "fitting",
    "local_copy": "fitting",
    "read_tf_config": "strategies",
    "setup_logical_cpus": "strategies",
    "strategy": "strategies",
    "synchronize_batchnorm": "strategies",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
