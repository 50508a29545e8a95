"""The ceiling: a bare FastAPI app answering a tiny JSON, served by uvicorn exactly as our services are.

Nothing kaohe does per request is here (no auth, no middleware, no database), so its rate is the
most any of our endpoints could reach on this machine with this server stack and this load driver.
"""

from fastapi import FastAPI

app = FastAPI()


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.get("/tiny")
async def tiny() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/tiny")
async def tiny_post(body: dict) -> dict[str, str]:
    return {"status": "ok"}
