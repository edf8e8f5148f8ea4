"""The one lazy loader behind every kerasreg package's public names.

`import kerasreg` must stay cheap (the CLI's `--help` loads no TensorFlow),
so each package lists its public names and the module that defines each;
`attach` turns that table into the package's `__getattr__` and `__dir__`.
A name is imported on first access and then stored on the package, so every
later access (and `from package import name`) gets the same object without
going through the loader again.

Example:

>>> import kerasreg
>>> kerasreg.compress is kerasreg.compress is kerasreg.compression.compress
True
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["attach"]


def attach(package, names, submodules=()):
    """Make a package's public names load on first use.

    Args:
        package: the package's `__name__`.
        names: public name -> module (relative to `package`) that defines it.
        submodules: names of subpackages or modules that are public as such.

    Returns:
        `(__getattr__, __dir__, __all__)` for the package's namespace.

    Raises:
        ValueError: when a name is listed both as a name and a submodule.
    """
    names = dict(names)
    submodules = tuple(submodules)
    clash = sorted(set(names) & set(submodules))
    if clash:
        raise ValueError(f"{package}: listed both as a name and a submodule: {clash}")
    public = sorted({*names, *submodules})

    def __getattr__(name):
        if name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        elif name in names:
            module = importlib.import_module(f"{package}.{names[name]}")
            value = getattr(module, name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # Store it: the next access is a plain attribute lookup, and no later
        # submodule import can rebind the name to something else.
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return public

    return __getattr__, __dir__, public
