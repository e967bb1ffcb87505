"""nnctl: train multi-layer perceptrons written in NumPy from YAML config files."""

__version__ = "0.1.0"
