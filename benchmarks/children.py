"""How the bench starts its child processes: from this checkout, offline (no model downloads)."""

from __future__ import annotations

import os

from trialfinder.settings import PROJECT_ROOT


def child_env(**settings: str) -> dict[str, str]:
    """This process's environment for a child run from the repository, offline, with `settings` added."""
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **settings,
    }
