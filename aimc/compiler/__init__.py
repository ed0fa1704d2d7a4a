"""Mapping networks onto chips (layers → arrays → cores)."""

from .mapping import LayerMap, Mapping, compile

__all__ = ["LayerMap", "Mapping", "compile"]
