"""Bastion: a self-hosted human-data platform for AI training data."""

__version__ = "0.1.0"

__all__ = ["__version__"]
