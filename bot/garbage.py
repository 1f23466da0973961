"""Python's garbage collector, set for a server process (the Rasa server, the action server, the
web service).

The collector now and then walks every object the process has to find reference cycles. A Rasa
server with its model loaded has about 700,000 objects, and such a walk took it 300-450 ms in
which it answered nobody (`make benchmark-load`, with a gc.callbacks probe); the action server
and the web service, 50-100 ms. Objects loaded at start (libraries, the model) live as long as
the process: `settle` freezes them out of the walks, and makes the walks rarer: a message makes
a few thousand new objects, and Python's default walks the young ones every 700.
"""
import gc

# Python's defaults are (700, 10, 10).
THRESHOLDS = (50_000, 20, 100)


def settle() -> None:
    """Everything the process holds now out of the collector's walks, and the walks rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def unsettle() -> None:
    """Walk the frozen objects again (before loading what replaces some of them: a new model)."""
    gc.unfreeze()
