"""The advisor's HTTP API (OpenAPI at /docs): a router per resource over the service layer,
the request bodies in ``schemas``, the dependencies in ``deps``, the errors in ``errors``."""

from __future__ import annotations

from fastapi import FastAPI

from lead_manager.entrypoints.http import branches, insight, leads, live, privacy
from lead_manager.entrypoints.http.deps import Privacies, Wiring
from lead_manager.entrypoints.http.errors import install_domain_errors

__all__ = ["Privacies", "Wiring", "install"]


def install(app: FastAPI) -> None:
    """The routes and the answers to the service layer's errors; the :class:`Wiring` goes
    to ``app.state.wiring`` once the service has started."""
    install_domain_errors(app)
    app.include_router(leads.router)
    app.include_router(branches.router)
    app.include_router(live.router)
    app.include_router(insight.router)
    app.include_router(privacy.router)
