"""The BudgetLedgerService gRPC servicer: validates, delegates, converts. No SQL here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc

from tollgate.budget_ledger import api_key_validation, convert, validation
from tollgate.budget_ledger.alert_stream import AlertHub, SubscriberTooSlow
from tollgate.budget_ledger.api_keys import ApiKeyStore
from tollgate.budget_ledger.budgets import BudgetAdmin
from tollgate.budget_ledger.ledger import Ledger
from tollgate.budget_ledger.settings import Settings
from tollgate.budget_ledger.settlement import (
    Call,
    CommitResult,
    Outcome,
    ReleaseResult,
    ReserveResult,
)
from tollgate.budget_ledger.usage import UsageBook
from tollgate.common.batch_calls import check_batch_size, refusal_fields, unexpected_error
from tollgate.common.errors import ServiceError, invalid_argument, resource_exhausted
from tollgate.common.interceptors import annotate
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

log = logging.getLogger("tollgate.budget_ledger.servicer")

DEFAULT_ALERTS_WINDOW = timedelta(days=31)


class BudgetLedgerServicer(budget_ledger_pb2_grpc.BudgetLedgerServiceServicer):
    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        admin: BudgetAdmin,
        usage: UsageBook,
        hub: AlertHub,
        keys: ApiKeyStore,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._ledger = ledger
        self._admin = admin
        self._usage = usage
        self._hub = hub

    async def Reserve(
        self, request: pb.ReserveRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReserveResponse:
        return await self._reserve(request)

    async def Commit(
        self, request: pb.CommitRequest, context: grpc.aio.ServicerContext
    ) -> pb.CommitResponse:
        return await self._commit(request)

    async def Release(
        self, request: pb.ReleaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReleaseResponse:
        return await self._release(request)

    async def Settle(
        self, request: pb.SettleRequest, context: grpc.aio.ServicerContext
    ) -> pb.SettleResponse:
        check_batch_size(request.calls)
        checked = [self._check(index, call) for index, call in enumerate(request.calls)]
        valid = [call for call in checked if not isinstance(call, ServiceError)]
        # Submitted together, the valid calls share the ledger's next group commit; an invalid
        # one is answered with its own error and never reaches the ledger.
        outcomes = iter(await self._ledger.settle_all(valid))
        converted: dict[int, pb.BudgetState] = {}
        results = [
            _error_result(call)
            if isinstance(call, ServiceError)
            else _call_result(next(outcomes), converted)
            for call in checked
        ]
        return pb.SettleResponse(results=results)

    def _check(self, index: int, call: pb.LedgerCall) -> Call | ServiceError:
        kind = call.WhichOneof("call")
        try:
            if kind == "reserve":
                return validation.reserve(call.reserve, self._settings)
            if kind == "commit":
                return validation.commit(call.commit)
            if kind == "release":
                return validation.release(call.release)
        except ServiceError as error:
            return error
        return invalid_argument(
            f"calls[{index}] names no call: set reserve, commit or release.", f"calls[{index}]"
        )

    async def _reserve(self, request: pb.ReserveRequest) -> pb.ReserveResponse:
        checked = validation.reserve(request, self._settings)
        annotate(tenant=checked.requester.tenant_id, request_id=checked.request_id)
        return convert.reserve_response(await self._ledger.reserve(checked))

    async def _commit(self, request: pb.CommitRequest) -> pb.CommitResponse:
        checked = validation.commit(request)
        annotate(tenant=checked.requester.tenant_id, request_id=checked.request_id)
        return convert.commit_response(await self._ledger.commit(checked))

    async def _release(self, request: pb.ReleaseRequest) -> pb.ReleaseResponse:
        checked = validation.release(request)
        annotate(tenant=checked.requester.tenant_id, request_id=checked.request_id)
        return convert.release_response(await self._ledger.release(checked))

    async def RecordUsage(
        self, request: pb.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordUsageResponse:
        who, request_id, record = validation.record_usage(request)
        annotate(tenant=who.tenant_id, request_id=request_id)
        return pb.RecordUsageResponse(entry_id=await self._usage.record(who, request_id, record))

    async def ListBudgetStates(
        self, request: pb.ListBudgetStatesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBudgetStatesResponse:
        tenant = validation.identifier(request.tenant_id, "tenant_id")
        annotate(tenant=tenant)
        states = convert.budget_states(await self._admin.states(tenant))
        return pb.ListBudgetStatesResponse(states=states)

    async def UpsertBudget(
        self, request: pb.UpsertBudgetRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpsertBudgetResponse:
        budget = validation.budget(request.budget, self._settings.default_alert_thresholds_percent)
        actor = validation.text(request.actor, "actor")
        annotate(tenant=budget.scope.tenant_id)
        counter = await self._admin.upsert(budget, actor)
        return pb.UpsertBudgetResponse(state=convert.budget_state(counter))

    async def GrantOverride(
        self, request: pb.GrantOverrideRequest, context: grpc.aio.ServicerContext
    ) -> pb.GrantOverrideResponse:
        grant = validation.override(request.override, datetime.now(UTC))
        annotate(tenant=grant.scope.tenant_id)
        granted = await self._admin.grant_override(grant)
        override = pb.BudgetOverride()
        override.CopyFrom(request.override)
        override.id = granted.id
        override.created_at.CopyFrom(convert.timestamp(granted.created_at))
        return pb.GrantOverrideResponse(override=override)

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAlertsResponse:
        tenant = validation.identifier(request.tenant_id, "tenant_id")
        annotate(tenant=tenant)
        since = validation.timestamp_or(
            request.since,
            request.HasField("since"),
            datetime.now(UTC) - DEFAULT_ALERTS_WINDOW,
            "since",
        )
        alerts = await self._admin.alerts(tenant, since)
        return pb.ListAlertsResponse(alerts=[convert.alert(a) for a in alerts])

    async def StreamAlerts(
        self, request: pb.StreamAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamAlertsResponse]:
        tenant = validation.identifier(request.tenant_id, "tenant_id", required=False)
        annotate(tenant=tenant)
        async with self._hub.subscribe(tenant) as subscription:
            # Initial metadata marks the subscription live: alerts from here on are delivered.
            await context.send_initial_metadata((("tollgate-subscribed", "1"),))
            while True:
                try:
                    alert = await self._hub.next_alert(subscription)
                except SubscriberTooSlow:
                    raise resource_exhausted(
                        "this alert stream fell too far behind and was closed; reconnect and "
                        "read what was missed with ListAlerts."
                    ) from None
                yield pb.StreamAlertsResponse(alert=convert.alert(alert))

    async def QueryUsage(
        self, request: pb.QueryUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueryUsageResponse:
        query = validation.usage_query(request, datetime.now(UTC))
        annotate(tenant=query.tenant_id)
        data = await self._usage.report(query)
        return pb.QueryUsageResponse(report=convert.usage_report(query, data))

    async def StoreApiKey(
        self, request: pb.StoreApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.StoreApiKeyResponse:
        new = api_key_validation.new_key(request, datetime.now(UTC))
        annotate(tenant=new.tenant_id)
        return pb.StoreApiKeyResponse(key=await self._keys.create(new))

    async def ListStoredApiKeys(
        self, request: pb.ListStoredApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStoredApiKeysResponse:
        tenant = validation.identifier(request.tenant_id, "tenant_id")
        annotate(tenant=tenant)
        keys = await self._keys.list(tenant, request.include_revoked)
        return pb.ListStoredApiKeysResponse(keys=keys)

    async def RevokeStoredApiKey(
        self, request: pb.RevokeStoredApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeStoredApiKeyResponse:
        change = api_key_validation.revocation(request)
        annotate(tenant=change.tenant_id)
        return pb.RevokeStoredApiKeyResponse(key=await self._keys.revoke(change))

    async def RotateStoredApiKey(
        self, request: pb.RotateStoredApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateStoredApiKeyResponse:
        change = api_key_validation.rotation(request)
        annotate(tenant=change.tenant_id)
        return pb.RotateStoredApiKeyResponse(key=await self._keys.rotate(change))

    async def ListApiKeyChanges(
        self, request: pb.ListApiKeyChangesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListApiKeyChangesResponse:
        since = api_key_validation.since_revision(request.since_revision)
        found = await self._keys.changes(since, api_key_validation.changes_limit(request.limit))
        return pb.ListApiKeyChangesResponse(
            changes=found.changes, revision=found.revision, has_more=found.has_more
        )


def _error_result(error: ServiceError) -> pb.LedgerCallResult:
    return pb.LedgerCallResult(error=pb.LedgerCallError(**refusal_fields(error)))


def _call_result(
    outcome: Outcome | BaseException, converted: dict[int, pb.BudgetState]
) -> pb.LedgerCallResult:
    """One call's answer in a Settle, as a unary call would have had it."""
    if isinstance(outcome, ReserveResult):
        return pb.LedgerCallResult(reserve=convert.reserve_response(outcome, converted))
    if isinstance(outcome, CommitResult):
        return pb.LedgerCallResult(commit=convert.commit_response(outcome, converted))
    if isinstance(outcome, ReleaseResult):
        return pb.LedgerCallResult(release=convert.release_response(outcome))
    if isinstance(outcome, ServiceError):
        return _error_result(outcome)
    return _error_result(unexpected_error(outcome, log, "Settle"))
