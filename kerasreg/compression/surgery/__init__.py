"""Channel surgery: the channel dependency graph and `shrink`.

- `channel_graph.py`: `ChannelGraph`, which channels must go together;
- `shrink_plan.py`: `plan_shrink`, which channel classes are removed;
- `rebuild.py`: `shrink`, the smaller model with the same outputs.
"""

from kerasreg import _lazy

# public name -> module that defines it
_NAMES = {
    "ChannelGraph": "channel_graph",
    "Call": "channel_graph",
    "UnsupportedLayerError": "channel_graph",
    "layer_kind": "channel_graph",
    "ShrinkPlan": "shrink_plan",
    "plan_shrink": "shrink_plan",
    "shrink": "rebuild",
    "replay": "constants",
}

__getattr__, __dir__, __all__ = _lazy.attach(__name__, _NAMES)
