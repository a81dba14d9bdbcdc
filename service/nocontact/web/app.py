"""The FastAPI app factory. No import-time side effects: ``create_app(rt)`` builds everything."""

from __future__ import annotations

from fastapi import FastAPI

from nocontact.channels.sms.router import sms_router
from nocontact.intake import Intake
from nocontact.runtime import Runtime


def create_app(rt: Runtime, intake: Intake | None = None) -> FastAPI:
    app = FastAPI(title="No Contact", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.rt = rt
    app.state.intake = intake or Intake(rt)
    app.include_router(sms_router(rt, app.state.intake))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
