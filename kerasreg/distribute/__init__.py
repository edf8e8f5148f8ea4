"""Distributed training on `tf.distribute`: sync, async, model parallel.

- `strategy(kind)`: a `MirroredStrategy` (local GPUs or logical CPUs),
  `MultiWorkerMirroredStrategy` or `ParameterServerStrategy` (`TF_CONFIG`).
- `synchronize_batchnorm(model)`: global-batch BatchNorm statistics, so N
  replicas train exactly like one device.
- `AsyncTrainer`: fit-like parameter-server training for Keras 3 models.
- `LocalCluster`: real worker / ps server processes on 127.0.0.1.
- `split_model(model, devices)`: model parallelism over consecutive stages.

Names are imported on first use, so that a server process started with
`python -m kerasreg.distribute.cluster` loads TensorFlow but not Keras.
"""

import importlib

# public name -> module that defines it
_NAMES = {
    "AsyncTrainer": "async_trainer",
    "LocalCluster": "cluster",
    "free_ports": "cluster",
    "serve": "cluster",
    "SplitModel": "model_parallel",
    "split_model": "model_parallel",
    "KINDS": "strategies",
    "read_tf_config": "strategies",
    "setup_logical_cpus": "strategies",
    "strategy": "strategies",
    "synchronize_batchnorm": "strategies",
}

__all__ = sorted(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        module = importlib.import_module(f"kerasreg.distribute.{_NAMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'kerasreg.distribute' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
