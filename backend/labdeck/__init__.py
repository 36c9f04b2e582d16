"""labdeck: a team workspace and live hardware monitoring inside JupyterLab.

`labdeck` is a namespace spread over four source roots (backend, extension,
kernel, widgets). This is the only `__init__` at the top: it extends the
package path so that every root is seen, and exposes the public names lazily
so that the Jupyter server never imports the kernel side and `import labdeck`
stays cheap.
"""

from __future__ import annotations

import importlib
from pkgutil import extend_path
from typing import Any

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"

_LAZY = {
    "monitor": ("labdeck.kernel.api", "monitor"),
    "alert": ("labdeck.kernel.api", "alert"),
    "runs": ("labdeck.widgets.history", "runs"),
    "chart": ("labdeck.widgets.history", "chart"),
    "cells": ("labdeck.widgets.ledger", "cells"),
    "compare_cells": ("labdeck.widgets.ledger", "compare_cells"),
    "settings": ("labdeck.widgets.settings", "settings"),
    "load_ipython_extension": ("labdeck.kernel.magic", "load_ipython_extension"),
    "unload_ipython_extension": ("labdeck.kernel.magic", "unload_ipython_extension"),
    "_jupyter_server_extension_points": (
        "labdeck.extension.app",
        "_jupyter_server_extension_points",
    ),
    "_jupyter_labextension_paths": ("labdeck.extension.app", "_jupyter_labextension_paths"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'labdeck' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module_name), attr)
