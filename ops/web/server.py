"""Run the web app with uvicorn: one process, apart from the scoring service."""

from __future__ import annotations

import logging

from ops.web.settings import UiSettings

log = logging.getLogger(__name__)


def serve(settings: UiSettings) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    import uvicorn

    from ops.web.app import create_app

    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        access_log=False,
    )
