"""Each item's share of the calls it took part in.

A call's usage and cost are split evenly across its items, the remainder going one unit at a
time to the first items, so the shares of a call add up exactly to the call: the sum of the
items' costs is what the tenant is charged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate.v1 import common_pb2

_USAGE_FIELDS = tuple(f.name for f in common_pb2.Usage.DESCRIPTOR.fields)
_COST_FIELDS = tuple(f.name for f in common_pb2.Cost.DESCRIPTOR.fields if f.name != "prices_as_of")


def split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass
class ItemAccount:
    calls: int = 0
    model: str = ""
    usage: common_pb2.Usage = field(default_factory=common_pb2.Usage)
    cost: common_pb2.Cost = field(default_factory=common_pb2.Cost)


def charge(
    accounts: list[ItemAccount], usage: common_pb2.Usage, cost: common_pb2.Cost, model: str
) -> None:
    """Add one call, its usage and its cost, shared across `accounts` (its items)."""
    for name in _USAGE_FIELDS:
        for account, share in zip(
            accounts, split(getattr(usage, name), len(accounts)), strict=True
        ):
            setattr(account.usage, name, getattr(account.usage, name) + share)
    for name in _COST_FIELDS:
        for account, share in zip(accounts, split(getattr(cost, name), len(accounts)), strict=True):
            setattr(account.cost, name, getattr(account.cost, name) + share)
    for account in accounts:
        account.calls += 1
        account.model = model
        account.cost.prices_as_of = cost.prices_as_of
