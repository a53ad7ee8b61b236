"""pymco: a Python re-implementation of MCollective (the Marionette Collective)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
