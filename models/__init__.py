"""faultcast.models: feature extraction, online models, registry, backtest and retraining.

Planned (see the issues); the package exists so the layout of DESIGN.md installs whole.
"""

from __future__ import annotations

__all__: list[str] = []
