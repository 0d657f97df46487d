"""Mastering farm: catalogue-scale quality control, mastering and deliverables."""

__version__ = "0.1.0"
