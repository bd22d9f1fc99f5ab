"""Bench helper: the HTTP ceiling — a bare FastAPI endpoint on the same server setup."""

from __future__ import annotations

import sys
import uuid

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

app = FastAPI()


class Body(BaseModel):
    model_config = ConfigDict(extra="allow")
    source: str
    external_id: str
    description: str


@app.post("/v1/incidents", status_code=201)
async def accept(body: Body) -> dict:
    """Validate the same JSON body and answer, touching nothing else."""
    return {"incident_id": str(uuid.uuid4()), "status": "received"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None,
                access_log=False, lifespan="on", loop="uvloop", http="httptools")
