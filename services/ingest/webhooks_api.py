"""Routes of webhook subscriptions (api.md "Webhooks"): office and admin keys manage them."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from services.ingest import webhooks
from services.ingest.schemas import DeliveryList, SubscriptionIn, SubscriptionList, SubscriptionOut
from shared.auth import Principal, require
from shared.problems import Problem
from shared.service import StateDep

router = APIRouter(prefix="/v1/subscriptions", tags=["webhooks"])
Manager = Annotated[Principal, require("manage_webhooks")]
UNKNOWN: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown subscription (`unknown_subscription`)"}}


def _pool(request: Request):
    return request.app.state.webhook_pool


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionOut,
    summary="Subscribe a URL to the log",
    responses={422: {"description": "Bad URL or type, or a host the operator does not allow"}},
)
async def subscribe(body: SubscriptionIn, request: Request, state: StateDep, principal: Manager) -> SubscriptionOut:
    """Each matching event after `after_position` (default: the head now) is POSTed to `url`, signed
    with `secret`, in log order; the secret is never shown again."""
    hosts = webhooks.allowed_hosts(state.settings.webhook_allowed_hosts)
    if not webhooks.host_allowed(body.url, hosts):
        raise Problem(
            422,
            "webhook_host_not_allowed",
            "the operator does not allow webhooks to this host (KAOHE_WEBHOOK_ALLOWED_HOSTS)",
            errors=[{"loc": ["body", "url"], "msg": "host not allowed"}],
        )
    async with _pool(request).acquire() as conn, conn.transaction():
        if body.after_position is not None:
            head = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM eventlog.events")
            if body.after_position > head:
                raise Problem(
                    422,
                    "position_ahead_of_log",
                    f"after_position {body.after_position} is beyond the head of the log ({head})",
                    errors=[{"loc": ["body", "after_position"], "msg": f"at most {head}"}],
                )
        created = await webhooks.create_subscription(
            conn,
            url=body.url,
            types=body.types,
            secret=body.secret,
            after_position=body.after_position,
            actor=principal.actor,
        )
    return SubscriptionOut(**created)


@router.get("", response_model=SubscriptionList, summary="Every subscription and how far it is delivered")
async def list_all(request: Request, _principal: Manager) -> SubscriptionList:
    async with _pool(request).acquire() as conn:
        return SubscriptionList(subscriptions=await webhooks.list_subscriptions(conn))


@router.delete(
    "/{subscription_id}", status_code=204, summary="Unsubscribe (its delivery log goes too)", responses=UNKNOWN
)
async def unsubscribe(subscription_id: UUID, request: Request, _principal: Manager) -> Response:
    async with _pool(request).acquire() as conn, conn.transaction():
        if not await webhooks.delete_subscription(conn, subscription_id):
            raise Problem(404, "unknown_subscription", f"no subscription {subscription_id}")
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=DeliveryList,
    summary="The latest delivery attempts, newest first",
    responses=UNKNOWN,
)
async def deliveries(
    subscription_id: UUID,
    request: Request,
    _principal: Manager,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    async with _pool(request).acquire() as conn:
        found = await webhooks.latest_deliveries(conn, subscription_id, limit=limit)
    if found is None:
        raise Problem(404, "unknown_subscription", f"no subscription {subscription_id}")
    return DeliveryList(deliveries=found)
