"""Training: the batched ensemble loop (loop.py), losses, optimizer chains and gradient filters,
optimizer state by name (state.py), the ensemble types (ensemble.py).

``groklab.train`` is also the public function ``groklab.api.train``: importing this package sets the
attribute ``groklab.train`` to the package, so the package itself is callable and forwards to it.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from groklab.api import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
