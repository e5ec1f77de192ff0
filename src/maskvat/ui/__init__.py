"""The workstation, ``maskvat ui``: a local web page for foley work (README, "The workstation").

``maskvat.ui.actions`` holds what the page does, as plain functions (no gradio); ``maskvat.ui.app``
is the page (gradio, the optional extra ``maskvat[ui]``). A front end like the CLI: it imports
the inference wing and the evaluation's onset detector, never training or the CLI.
"""

from __future__ import annotations

from maskvat.errors import MaskvatError

INSTALL_HINT = "the UI needs gradio: pip install 'maskvat[ui]'"


def require_gradio() -> None:
    """A one-line MaskvatError unless gradio (the ``ui`` extra) can be imported."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise MaskvatError(INSTALL_HINT) from None
