"""The application SDK: an error hierarchy, recovery tools and logging glue (being built)."""

from __future__ import annotations

__all__: list[str] = []
