"""A local SMS gateway endpoint that keeps every message it gets (JSON lines in a folder).

It speaks the notifier's HTTP gateway protocol: ``POST /sms`` with ``{"to", "text", "from",
"reference"}``; 202 on acceptance. Tests can make it fail with 503 or refuse with 400.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class SmsSink:
    folder: Path | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None  # 503: down for a while; 400: refuse
    requests: int = 0

    def app(self) -> FastAPI:
        app = FastAPI(title="Local SMS sink")

        @app.post("/sms")
        async def receive(request: Request) -> JSONResponse:
            self.requests += 1
            body = await request.json()
            if self.fail_with is not None:
                # as gateways do, a refusal names the number
                error = f"simulated, recipient {body.get('to') if isinstance(body, dict) else ''}"
                return JSONResponse({"error": error}, status_code=self.fail_with)
            if not isinstance(body, dict) or not body.get("to") or not body.get("text"):
                return JSONResponse({"error": "to and text are required"}, status_code=400)
            self.messages.append(body)
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                with (self.folder / "sms.jsonl").open("a", encoding="utf-8") as out:
                    record = {**body, "received_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
            return JSONResponse({"status": "accepted"}, status_code=202)

        return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    uvicorn.run(
        SmsSink(folder=args.folder).app(), host=args.host, port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
