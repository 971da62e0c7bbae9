"""``python -m groklab.sweep``: one single-threaded worker process of the local backend."""

from groklab.sweep.backends.local import serve

if __name__ == "__main__":
    serve()
