"""Webhooks (api.md "Webhooks"): signed deliveries in log order, retries, resume after a restart,
no redirects, allowed hosts, roles. Deliveries go over real HTTP to a receiver served by uvicorn."""

import contextlib
import hashlib
import hmac
import uuid

import httpx
import orjson

from services.ingest.app import create_app as create_ingest
from services.ingest.webhooks import allowed_hosts, host_allowed
from shared.auth import create_key
from shared.db import make_engine
from tests.support import factories as f
from tests.support.harness import ADMIN_KEY, settings_for
from tests.support.receiver import Receiver, eventually
from tests.support.serve import serving

SECRET = "s3cret-for-signing-" + uuid.uuid4().hex
# Short pauses so retries happen within the test (the defaults: 1 s doubling to 10 minutes, 5 s poll).
FAST = {"KAOHE_WEBHOOK_BACKOFF_SECONDS": 0.05, "KAOHE_WEBHOOK_POLL_SECONDS": 0.2}


@contextlib.asynccontextmanager
async def ingest(url: str, *, key: str | None = ADMIN_KEY, **overrides):
    """The ingest app alone (its lifespan runs the webhook worker), with a client."""
    app = create_ingest(settings_for(url, **{**FAST, **overrides}))
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest", headers=headers, timeout=60
        ) as client:
            yield client


async def subscribe(client: httpx.AsyncClient, url: str, **body) -> dict:
    response = await client.post("/v1/subscriptions", json={"url": url, "secret": SECRET, **body})
    assert response.status_code == 201, response.text
    assert SECRET not in response.text and "secret" not in response.json()
    return response.json()


async def append(client: httpx.AsyncClient, *bodies: dict) -> list[dict]:
    response = await client.post("/v1/events/batch", json={"events": list(bodies)})
    assert response.status_code == 201, response.text
    return response.json()["results"]


async def deliveries(client: httpx.AsyncClient, subscription_id: str, limit: int = 100) -> list[dict]:
    response = await client.get(f"/v1/subscriptions/{subscription_id}/deliveries", params={"limit": limit})
    assert response.status_code == 200, response.text
    assert SECRET not in response.text
    return response.json()["deliveries"]


def event_ids(requests) -> list[str]:
    return [r.headers["x-kaohe-event-id"] for r in requests]


async def test_events_arrive_signed_in_log_order_as_the_log_shows_them(database_url):
    everything, only_officers = Receiver(), Receiver()
    async with ingest(database_url) as client, serving(everything) as a, serving(only_officers) as b:
        before = await append(client, f.unit_registered("W0"))  # before the subscription: not sent
        sub = await subscribe(client, a + "/hook")
        assert sub["after_position"] == before[0]["global_position"]
        assert sub["types"] == []
        officers = await subscribe(client, b + "/hook", types=["officer.registered"])
        assert officers["types"] == ["officer.registered"]
        bodies = [f.unit_registered("W1"), f.officer_registered("W1-O", "W1"), f.unit_registered("W2")]
        bodies += [f.unit_registered(f"W{i}") for i in range(3, 7)]
        results = await append(client, *bodies[:3])
        results += await append(client, *bodies[3:])
        await eventually(lambda: len(everything.delivered()) >= len(bodies), what="every event delivered")
        await eventually(lambda: len(only_officers.delivered()) >= 1, what="the officer delivered")

        assert event_ids(everything.received) == [b["event_id"] for b in bodies]
        assert event_ids(only_officers.received) == [bodies[1]["event_id"]]
        log = (await client.get("/v1/events", params={"after": sub["after_position"]})).json()["events"]
        for request, shown in zip(everything.received, log):
            assert request.path == "/hook"
            assert request.headers["content-type"] == "application/json"
            assert orjson.loads(request.body) == shown  # the event as GET /v1/events shows it
            expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(request.headers["x-kaohe-signature"], f"sha256={expected}")

        # the cursor is visible to the operator; the attempts are listed newest first
        await eventually(
            lambda: _delivered_position(client, sub["subscription_id"], results[-1]["global_position"]),
            what="cursor at the last event",
        )
        listed = await deliveries(client, sub["subscription_id"], limit=3)
        assert [d["global_position"] for d in listed] == [r["global_position"] for r in results[::-1][:3]]
        assert all(d["status_code"] == 200 and d["attempt"] == 1 and d["error"] is None for d in listed)
        listing = await client.get("/v1/subscriptions")
        assert listing.status_code == 200 and SECRET not in listing.text and "secret" not in listing.text
        assert {s["subscription_id"] for s in listing.json()["subscriptions"]} == {
            sub["subscription_id"],
            officers["subscription_id"],
        }

        assert (await client.delete(f"/v1/subscriptions/{officers['subscription_id']}")).status_code == 204
        assert (await client.delete(f"/v1/subscriptions/{officers['subscription_id']}")).status_code == 404
        gone = await client.get(f"/v1/subscriptions/{officers['subscription_id']}/deliveries")
        assert gone.status_code == 404 and gone.json()["code"] == "unknown_subscription"


async def _delivered_position(client: httpx.AsyncClient, subscription_id: str, position: int) -> bool:
    listing = (await client.get("/v1/subscriptions")).json()["subscriptions"]
    return any(s["subscription_id"] == subscription_id and s["delivered_position"] >= position for s in listing)


async def test_a_failed_delivery_is_retried_and_the_events_behind_it_wait(database_url):
    failures = {"left": 1}

    def answer(_request):
        if failures["left"]:
            failures["left"] -= 1
            return 500, {}
        return 200, {}

    receiver = Receiver(answer)
    async with ingest(database_url) as client, serving(receiver) as base:
        sub = await subscribe(client, base + "/hook")
        first, second = f.unit_registered("R1"), f.unit_registered("R2")
        results = await append(client, first, second)
        await eventually(lambda: len(receiver.delivered()) >= 2, what="both delivered")
        # the first event failed, was sent again, and only then the second
        assert event_ids(receiver.received) == [first["event_id"], first["event_id"], second["event_id"]]
        assert [r.status for r in receiver.received] == [500, 200, 200]
        listed = await deliveries(client, sub["subscription_id"])
        assert [(d["global_position"], d["attempt"], d["status_code"]) for d in listed] == [
            (results[1]["global_position"], 1, 200),
            (results[0]["global_position"], 2, 200),
            (results[0]["global_position"], 1, 500),
        ]
        assert listed[2]["error"]


async def test_deliveries_resume_after_the_delivering_service_restarts(database_url):
    state = {"accept": 2}

    def answer(_request):
        if state["accept"] > 0:
            state["accept"] -= 1
            return 204, {}
        return 503, {}

    receiver = Receiver(answer)
    bodies = [f.unit_registered(f"S{i}") for i in range(6)]
    async with serving(receiver) as base:
        async with ingest(database_url) as client:
            sub = await subscribe(client, base + "/hook")
            await append(client, *bodies)
            # two delivered, the third refused (and being retried) when the service stops

            async def refused() -> bool:
                return any(d["status_code"] == 503 for d in await deliveries(client, sub["subscription_id"]))

            await eventually(refused, what="a refused delivery recorded")
        state["accept"] = 10**6
        async with ingest(database_url) as client:
            await eventually(
                lambda: {b["event_id"] for b in bodies} <= set(event_ids(receiver.delivered())),
                what="every event delivered after the restart",
            )
            listed = await deliveries(client, sub["subscription_id"])
    # at least once: an event may come twice, but the first 2xx of each is in log order
    first_ok = list(dict.fromkeys(event_ids(receiver.delivered())))
    assert first_ok == [b["event_id"] for b in bodies]
    assert event_ids(receiver.delivered())[:2] == [bodies[0]["event_id"], bodies[1]["event_id"]]
    assert any(d["status_code"] == 503 for d in listed)


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(database_url):
    receiver = Receiver(lambda r: (302, {"location": "/elsewhere"}) if r.path == "/hook" else (200, {}))
    async with ingest(database_url) as client, serving(receiver) as base:
        sub = await subscribe(client, base + "/hook")
        await append(client, f.unit_registered("X1"))

        async def retried() -> bool:
            return len(await deliveries(client, sub["subscription_id"])) >= 2

        await eventually(retried, what="two failed attempts")
        listed = await deliveries(client, sub["subscription_id"])
        assert all(d["status_code"] == 302 and "redirect" in d["error"] for d in listed)
        assert receiver.received and all(r.path == "/hook" for r in receiver.received)


async def test_hosts_the_operator_does_not_allow_are_refused(database_url):
    receiver = Receiver()
    async with serving(receiver) as base:
        async with ingest(database_url, KAOHE_WEBHOOK_ALLOWED_HOSTS="127.0.0.1, *.example.org") as client:
            refused = await client.post("/v1/subscriptions", json={"url": "http://intranet.local/x", "secret": SECRET})
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "webhook_host_not_allowed" and SECRET not in refused.text
            sub = await subscribe(client, base + "/hook")
        # The operator narrows the setting later: deliveries to the host stop (and are retried).
        async with ingest(database_url, KAOHE_WEBHOOK_ALLOWED_HOSTS="platform.example.org") as client:
            await append(client, f.unit_registered("H1"))

            async def failed() -> bool:
                return bool(await deliveries(client, sub["subscription_id"]))

            await eventually(failed, what="a refused attempt")
            [attempt, *_] = await deliveries(client, sub["subscription_id"])
            assert attempt["status_code"] is None and "not allowed" in attempt["error"]
    assert receiver.received == []


def test_allowed_hosts_match_names_and_domains():
    hosts = allowed_hosts("Platform.Example.org, *.gov.example ,127.0.0.1")
    assert host_allowed("https://platform.example.org/hook", hosts)
    assert host_allowed("http://a.b.gov.example:8080/", hosts)
    assert host_allowed("http://gov.example/", hosts)
    assert host_allowed("http://127.0.0.1:9/", hosts)
    assert not host_allowed("http://evilgov.example/", hosts)
    assert not host_allowed("http://platform.example.org.evil/", hosts)
    assert host_allowed("http://anything/", allowed_hosts("*"))
    assert not host_allowed("http://anything/", allowed_hosts(""))


async def test_bad_subscriptions_are_422_problems(database_url):
    async with ingest(database_url) as client:
        for body in (
            {"url": "ftp://127.0.0.1/x", "secret": SECRET},
            {"url": "127.0.0.1/x", "secret": SECRET},
            {"url": "http:///x", "secret": SECRET},
            {"url": "http://127.0.0.1:99999/x", "secret": SECRET},
            {"url": "http://127.0.0.1/x", "secret": SECRET, "types": ["item.invented"]},
            {"url": "http://127.0.0.1/x", "secret": "short"},
            {"url": "http://127.0.0.1/x"},
            {"url": "http://127.0.0.1/x", "secret": SECRET, "after_position": 10**9},
        ):
            response = await client.post("/v1/subscriptions", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert SECRET not in response.text
        assert (await client.get("/v1/subscriptions")).json() == {"subscriptions": []}
        missing = await client.get(f"/v1/subscriptions/{uuid.uuid4()}/deliveries")
        assert missing.status_code == 404


async def test_office_and_admin_manage_subscriptions_others_may_not(database_url):
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            keys = {role: await create_key(conn, role=role, name=f"wh-{role}") for role in ("office", "viewer")}
            keys["platform"] = await create_key(conn, role="platform", name="wh-platform")
    finally:
        await engine.dispose()
    body = {"url": "http://127.0.0.1:9/hook", "secret": SECRET}
    async with ingest(database_url, key=None) as client:
        office = {"Authorization": f"Bearer {keys['office']}"}
        created = await client.post("/v1/subscriptions", json=body, headers=office)
        assert created.status_code == 201, created.text
        sub_id = created.json()["subscription_id"]
        calls = [
            ("POST", "/v1/subscriptions", body),
            ("GET", "/v1/subscriptions", None),
            ("GET", f"/v1/subscriptions/{sub_id}/deliveries", None),
            ("DELETE", f"/v1/subscriptions/{sub_id}", None),
        ]
        for method, path, json in calls:
            for role in ("viewer", "platform"):
                headers = {"Authorization": f"Bearer {keys[role]}"}
                response = await client.request(method, path, json=json, headers=headers)
                assert response.status_code == 403, (role, method, path, response.text)
            anonymous = await client.request(method, path, json=json)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert (await client.get("/v1/subscriptions", headers=office)).status_code == 200
        assert (await client.delete(f"/v1/subscriptions/{sub_id}", headers=office)).status_code == 204


async def test_only_ingest_may_read_the_subscriptions_and_their_secrets(database_url):
    import asyncpg

    from shared.db import connect_raw

    for role in ("kaohe_scoring", "kaohe_reporting"):
        conn = await connect_raw(database_url, role=role)
        try:
            for table in ("webhooks.subscriptions", "webhooks.deliveries"):
                try:
                    await conn.fetch(f"SELECT * FROM {table}")
                except asyncpg.exceptions.InsufficientPrivilegeError:
                    continue
                raise AssertionError(f"{role} may read {table}")
        finally:
            await conn.close()


async def test_the_delivery_log_keeps_the_latest_attempts(database_url):
    from services.ingest.webhooks import prune_deliveries
    from shared.db import connect_raw

    async with ingest(database_url, KAOHE_WEBHOOKS="false") as client:
        sub = await subscribe(client, "http://127.0.0.1:9/hook")
    conn = await connect_raw(database_url)
    try:
        await conn.execute(
            "INSERT INTO webhooks.deliveries (subscription_id, event_id, global_position, attempt, status_code) "
            "SELECT $1, gen_random_uuid(), n, 1, 200 FROM generate_series(1, 30) n",
            uuid.UUID(sub["subscription_id"]),
        )
        await prune_deliveries(conn, uuid.UUID(sub["subscription_id"]), keep=10)
        kept = await conn.fetch("SELECT global_position FROM webhooks.deliveries ORDER BY global_position")
        assert [row["global_position"] for row in kept] == list(range(21, 31))
    finally:
        await conn.close()
