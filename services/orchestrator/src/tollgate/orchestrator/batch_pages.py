"""One page of a tenant's batches, cut the way Anthropic's list endpoints cut theirs.

The list is newest first. `after_id` asks for the page just older than that batch, `before_id`
for the page just newer (still in newest-first order, its last item the cursor's neighbour), and
`has_more` says whether more batches lie beyond the page in the direction asked for. The
official SDKs walk every page with these alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tollgate.common.errors import invalid_argument

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    ids: list[str]
    has_more: bool


def page_of(
    newest_first: Sequence[str], limit: int, before_id: str = "", after_id: str = ""
) -> Page:
    """The page of `newest_first` the cursors name; an id not in the list is refused."""
    if before_id and after_id:
        raise invalid_argument("Give before_id or after_id, not both.", "before_id")
    if limit == 0:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_argument(f"limit must be from 1 to {MAX_LIMIT} (got {limit}).", "limit")
    if before_id:
        end = _position(newest_first, before_id, "before_id")
        start = max(end - limit, 0)
        return Page(list(newest_first[start:end]), start > 0)
    start = _position(newest_first, after_id, "after_id") + 1 if after_id else 0
    end = start + limit
    return Page(list(newest_first[start:end]), end < len(newest_first))


def _position(ids: Sequence[str], cursor: str, field: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        # Another tenant's batch is refused exactly like a missing one: ids leak nothing.
        raise invalid_argument(
            f"{field}: there is no batch {cursor!r} for this tenant.", field
        ) from None
