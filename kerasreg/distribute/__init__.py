"""Distributed training on `tf.distribute`: sync, async, model parallel.

- `strategy(kind)`: a `MirroredStrategy` (local GPUs or logical CPUs),
  `MultiWorkerMirroredStrategy` or `ParameterServerStrategy` (`TF_CONFIG`).
- `synchronize_batchnorm(model)`: global-batch BatchNorm statistics, so N
  replicas train exactly like one device.
- `AsyncTrainer`: fit-like parameter-server training for Keras 3 models.
- `LocalCluster`: real worker / ps server processes on 127.0.0.1.
- `split_model(model, devices)`: model parallelism over consecutive stages.
"""

from kerasreg.distribute.async_trainer import AsyncTrainer
from kerasreg.distribute.cluster import LocalCluster, free_ports, serve
from kerasreg.distribute.model_parallel import SplitModel, split_model
from kerasreg.distribute.strategy import (
    KINDS,
    read_tf_config,
    setup_logical_cpus,
    strategy,
    synchronize_batchnorm,
)

__all__ = [
    "AsyncTrainer",
    "KINDS",
    "LocalCluster",
    "SplitModel",
    "free_ports",
    "read_tf_config",
    "serve",
    "setup_logical_cpus",
    "split_model",
    "strategy",
    "synchronize_batchnorm",
]
