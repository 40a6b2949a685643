"""faultcast.dashboard: the Streamlit app (pages that call analytics and models, and draw).

Planned (see the issues); the package exists so the layout of DESIGN.md installs whole.
"""

from __future__ import annotations

__all__: list[str] = []
