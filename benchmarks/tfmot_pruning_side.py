"""The tfmot side of `bench_pruning_cifar.py --tfmot`; runs on tf_keras.

Never imported by kerasreg or by the Keras 3 benchmarks:
`bench_pruning_cifar.py` runs it in a subprocess with
`TF_USE_LEGACY_KERAS=1`, as

    <python> benchmarks/tfmot_pruning_side.py '<json config>'

with an interpreter that has tensorflow-model-optimization 0.8 and
tf-keras, and reads the last line of its output that starts with
`RESULT`. The config names an `.npz` written by the Keras 3 side:

* `x_train`, `y_train`, `x_test`, `y_test`: uint8 NHWC images and labels;
* `graph`: a JSON list of the trained float model's layers in graph order,
  each `{"class_name", "config", "inbound"}`, plus `outputs`;
* `w/<layer>/<i>`: that model's weights.

The network is rebuilt layer by layer in tf_keras from the Keras 3 layer
configs (dtype, initializers, regularizers and constraints dropped: the
weights are copied, and the recipe's L2 is added back to every Conv2D and
Dense kernel), so both sides fine-tune the same trained model. The recipe
is the Keras side's: SGD with momentum, the same peak rate and a per-step
cosine decay to 0, L2 `l2` on the kernels, the same batch size, random
`crop_padding`-pixel crops and horizontal flips, inputs in [0, 1].

Runs, each fine-tuned for `epochs` from the trained model:

* before them, the rebuilt model's test accuracy, which must equal the
  Keras 3 model's (the check that the rebuild is the same network);
* `dense`: the control;
* `prune<s>` for each sparsity: `prune_low_magnitude` on the whole model
  (tfmot prunes each Conv2D and Dense kernel to the same sparsity; it has
  no global ranking) with `PolynomialDecay(0 -> s, power 3)` over the
  config's `end_step`, masks updated every `frequency` steps, then
  `strip_pruning`.
"""

from __future__ import annotations

import inspect
import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402


def make_layer(class_name, config):
    """The tf_keras layer of a Keras 3 layer config.

    Keeps the arguments the tf_keras class names in its signature (plus
    `name` and `trainable`), less dtype, initializers, regularizers and
    constraints; Keras 3's extra ones (`quantization_config`, LoRA) go.
    """
    cls = getattr(tf.keras.layers, class_name)
    known = set(inspect.signature(cls.__init__).parameters) | {"name", "trainable"}
    kept = {
        key: value
        for key, value in config.items()
        if key in known
        and key != "dtype"
        and not key.endswith(("_initializer", "_regularizer", "_constraint"))
    }
    return cls(**kept)


def build(graph, weights, l2):
    """The Keras 3 model of `graph` rebuilt in tf_keras, with its weights."""
    tensors = {}
    for entry in graph["layers"]:
        name, config = entry["config"]["name"], entry["config"]
        if entry["class_name"] == "InputLayer":
            tensors[name] = tf.keras.Input(config["batch_shape"][1:], name=name)
            continue
        layer = make_layer(entry["class_name"], config)
        if entry["class_name"] in ("Conv2D", "Dense"):
            layer.kernel_regularizer = tf.keras.regularizers.L2(l2)
        inputs = [tensors[n] for n in entry["inbound"]]
        tensors[name] = layer(inputs if len(inputs) > 1 else inputs[0])
        count = sum(1 for key in weights if key.startswith(f"w/{name}/"))
        if count:
            layer.set_weights([weights[f"w/{name}/{i}"] for i in range(count)])
    outputs = [tensors[n] for n in graph["outputs"]]
    return tf.keras.Model(tensors[graph["layers"][0]["config"]["name"]], outputs[0])


def batches(x, y, config, train):
    """A `tf.data` pipeline in [0, 1], with the recipe's crop and flip."""
    data = tf.data.Dataset.from_tensor_slices((x, y))
    pad, size = config["crop_padding"], x.shape[1:]

    def augment(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        if train:
            if pad:
                image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
                image = tf.image.random_crop(image, size)
            image = tf.image.random_flip_left_right(image)
        return image, label

    if train:
        data = data.shuffle(len(x), seed=config["seed"], reshuffle_each_iteration=True)
    data = data.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(config["batch_size"]).prefetch(tf.data.AUTOTUNE)


def fit(model, data, config, callbacks=()):
    """Fine-tune with the recipe's SGD and cosine decay; test accuracy."""
    x, y, x_test, y_test = data
    steps = -(-len(x) // config["batch_size"])
    rate = tf.keras.optimizers.schedules.CosineDecay(
        config["learning_rate"], config["epochs"] * steps
    )
    model.compile(
        optimizer=tf.keras.optimizers.SGD(rate, momentum=config["momentum"]),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        batches(x, y, config, True),
        epochs=config["epochs"],
        callbacks=list(callbacks),
        verbose=2,
    )
    return model


def accuracy(model, data, config):
    """Top-1 accuracy on the test images."""
    _, _, x_test, y_test = data
    logits = model.predict(batches(x_test, y_test, config, False), verbose=0)
    return float(np.mean(logits.argmax(1) == y_test))


def kernel_sparsity(model):
    """Share of zeros over every Conv2D and Dense kernel."""
    kernels = [
        layer.kernel.numpy()
        for layer in model.layers
        if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense))
    ]
    return float(sum((k == 0).sum() for k in kernels) / sum(k.size for k in kernels))


def main(config):
    archive = np.load(config["data"])
    graph = json.loads(str(archive["graph"]))
    weights = {k: archive[k] for k in archive.files if k.startswith("w/")}
    data = tuple(archive[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    result = {"tfmot_version": tfmot.__version__, "runs": {}}
    rebuilt = build(graph, weights, config["l2"])
    result["rebuilt_accuracy"] = accuracy(rebuilt, data, config)
    tf.keras.utils.set_random_seed(config["seed"])
    dense = fit(build(graph, weights, config["l2"]), data, config)
    result["runs"]["dense"] = {"accuracy": accuracy(dense, data, config)}
    for sparsity in config["sparsities"]:
        tf.keras.utils.set_random_seed(config["seed"])
        schedule = tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.0,
            final_sparsity=sparsity,
            begin_step=0,
            end_step=config["end_step"],
            frequency=config["frequency"],
        )
        model = tfmot.sparsity.keras.prune_low_magnitude(
            build(graph, weights, config["l2"]), pruning_schedule=schedule
        )
        fit(model, data, config, [tfmot.sparsity.keras.UpdatePruningStep()])
        model = tfmot.sparsity.keras.strip_pruning(model)
        result["runs"][f"prune{sparsity:g}"] = {
            "accuracy": accuracy(model, data, config),
            "sparsity": kernel_sparsity(model),
        }
        print(json.dumps({f"prune{sparsity:g}": result["runs"][f"prune{sparsity:g}"]}))
    print("RESULT" + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
