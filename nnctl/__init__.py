"""nnctl: train multi-layer perceptrons written in NumPy from YAML config files."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``nnctl.Model``, loaded on first use (the command line does not need it)."""
    if name == "Model":
        from nnctl.api import Model

        return Model
    raise AttributeError(f"module 'nnctl' has no attribute {name!r}")
