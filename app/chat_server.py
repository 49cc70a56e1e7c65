"""Start the Chainlit chat (and its embeddable copilot widget) for `trialfinder chat`.

Chainlit reads its configuration (`.chainlit/config.toml`, `public/`, `chainlit.md`) from the folder in
`CHAINLIT_APP_ROOT` at import time, so this module sets that to the project root before importing
Chainlit, then applies what `Settings` decides (allowed origins, host, port) and runs uvicorn itself:
`chainlit run` would load `app/chat.py` as a loose file and could not be handed a `Settings`.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable

from trialfinder.settings import PROJECT_ROOT, Settings

# Stylesheets, preconnect hints and scripts that Chainlit's page template points at the internet
# (Google Fonts, the KaTeX stylesheet on jsDelivr). With the network closed a blocking stylesheet
# stalls the first paint, so the served page keeps only same-origin resources.
_EXTERNAL_TAG = re.compile(
    r"<link\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>"
    r"|<script\b[^>]*\bsrc=\"(?:https?:)?//[^\"]*\"[^>]*>\s*</script>",
    re.IGNORECASE | re.DOTALL,
)


def strip_external_resources(html: str) -> str:
    """Remove every `<link href>` and `<script src>` that points off the serving host."""
    return _EXTERNAL_TAG.sub("", html)


def offline_template(template: Callable[[str], str]) -> Callable[[str], str]:
    """Wrap Chainlit's page-template function so the page it serves loads nothing external."""

    def render(root_path: str) -> str:
        return strip_external_resources(template(root_path))

    return render


def _import_chainlit_config():
    """Import Chainlit's config with the project root as its app root (it is read at import)."""
    already = "chainlit.config" in sys.modules
    os.environ["CHAINLIT_APP_ROOT"] = str(PROJECT_ROOT)
    from chainlit import config as chainlit_config

    if already and os.path.realpath(chainlit_config.APP_ROOT) != os.path.realpath(PROJECT_ROOT):
        raise RuntimeError(
            f"Chainlit was imported with app root {chainlit_config.APP_ROOT} before app.chat_server "
            f"could point it at {PROJECT_ROOT}; start the chat through `trialfinder chat` or "
            f"app.chat_server.serve() in a fresh process."
        )
    return chainlit_config


def serve(host: str, port: int, settings: Settings) -> None:
    """Run the chat on http://host:port until the process is stopped.

    Loads the index and the answer chain once, before the server accepts connections, so the first
    page load already talks to a ready assistant. Serves the chat at `/` and the widget script at
    `/copilot/index.js`; embedding sites must be listed in `settings.allowed_origins`.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    chainlit_config = _import_chainlit_config()
    config = chainlit_config.config
    config.run.host = host
    config.run.port = port
    config.run.headless = True
    # The CORS middleware is built when chainlit.server is imported, so the origins go in first.
    config.project.allow_origins = list(settings.allowed_origins)

    import uvicorn
    from chainlit import server as chainlit_server

    if not callable(getattr(chainlit_server, "get_html_template", None)):
        raise RuntimeError(
            "chainlit.server.get_html_template is missing in this Chainlit version; the offline page "
            "filter in app/chat_server.py needs updating for it (pinned: chainlit==2.12.0)."
        )
    chainlit_server.get_html_template = offline_template(chainlit_server.get_html_template)

    from app import chat

    chat.configure(settings)

    async def run() -> None:
        server = uvicorn.Server(uvicorn.Config(chainlit_server.app, host=host, port=port, log_level="warning"))
        await server.serve()

    print(
        f"trialfinder chat: http://{host}:{port} (widget: http://{host}:{port}/copilot/index.js)",
        file=sys.stderr,
        flush=True,
    )
    # The plain asyncio loop, as `chainlit run` uses (Chainlit's sync helpers are not uvloop-safe).
    asyncio.run(run())
