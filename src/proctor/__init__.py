"""Proctor: an identity-aware layer-7 access gateway."""

__version__ = "0.1.0"
