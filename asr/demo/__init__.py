"""The web demo (`asr demo`, needs the `demo` extra: pip install "asr[demo]").

`asr.demo.analysis` and `asr.demo.render` work without Gradio; `asr.demo.app` builds the UI."""

from __future__ import annotations

import os

# The demo works offline: Gradio must not phone home with usage statistics.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
