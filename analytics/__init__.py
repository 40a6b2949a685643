"""faultcast.analytics: every query the dashboard, API and notebooks show, as DataFrames.

Planned (see the issues); the package exists so the layout of DESIGN.md installs whole.
"""

from __future__ import annotations

__all__: list[str] = []
