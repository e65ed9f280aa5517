"""A training CSV of raw events, read into the same facts the service scores.

One row per lead and snapshot: `snapshot_at` is the moment the row is judged at (features are
computed as of it, by the scoring code; events after it are ignored, so nothing that happened
later leaks into the features) and `converted` is whether the lead converted after it.

Columns: `source`, `created_at`, `snapshot_at`, the seven answers as text (`budget`, `timeline`,
`location`, `pre_approval`, `motivation`, `property_type`, `contact_preference`), `events` and
`converted` (0/1); `lead_id` is optional. `events` lists `kind@time` separated by `;` or spaces,
kind one of message (ours), reply, open, visit; times in ISO 8601 (`2026-03-02T14:05:00Z`, a
date alone is midnight UTC, no zone is UTC).

Files are read as UTF-8 (an Excel byte-order mark is skipped); a file that is not UTF-8 is read
as Windows-1252 (a superset of Latin-1 for text), and the caller is warned.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tollgate.lead_scoring.answers import QUESTIONS
from tollgate.lead_scoring.engagement import EventKind
from tollgate.lead_scoring.lead_input import LeadInput, lead_facts

CSV_COLUMNS: tuple[str, ...] = ("source", "created_at", "snapshot_at", *QUESTIONS, "events")
OUTCOME_COLUMN = "converted"
_EVENT = re.compile(r"^(message|reply|open|visit)@(\S+)$", re.IGNORECASE)
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


class TrainingDataError(ValueError):
    """The CSV cannot be used; the message names the file, line and column."""


@dataclass
class TrainingRows:
    leads: list[LeadInput] = field(default_factory=list)
    outcomes: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Events dated after their row's snapshot (ignored).
    later_events: int = 0


def parse_time(text: str, column: str) -> float:
    value = text.strip()
    if not value:
        raise ValueError(f"column {column!r} is empty")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"column {column!r}: {value!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_events(text: str) -> list[tuple[EventKind, float]]:
    events = []
    for token in re.split(r"[;\s]+", text.strip()):
        if not token:
            continue
        match = _EVENT.match(token)
        if match is None:
            raise ValueError(
                f"column 'events': {token!r} is not kind@time (kind: message, reply, open, visit)"
            )
        events.append((EventKind(match.group(1).lower()), parse_time(match.group(2), "events")))
    return events


def row_facts(row: Mapping[str, str], line: int) -> tuple[LeadInput, int]:
    """The row's lead as of its snapshot, and how many of its events came after the snapshot."""
    snapshot = parse_time(row.get("snapshot_at") or "", "snapshot_at")
    created_text = (row.get("created_at") or "").strip()
    created = parse_time(created_text, "created_at") if created_text else None
    if created is not None and created > snapshot:
        raise ValueError("column 'created_at' is after 'snapshot_at'")
    events = parse_events(row.get("events") or "")
    later = sum(1 for _, at in events if at > snapshot)
    texts = {q: row.get(q) or "" for q in QUESTIONS}
    lead_id = (row.get("lead_id") or "").strip() or f"line-{line}"
    facts = lead_facts(lead_id, row.get("source") or "", texts, events, created, snapshot)
    return facts, later


def _decode(path: Path, raw: bytes, warnings: list[str]) -> str:
    try:
        # utf-8-sig skips the byte-order mark Excel writes at the start of a UTF-8 export.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        warnings.append(
            f"{path} is not UTF-8 (byte {exc.start}); read it as Windows-1252. "
            "Save it as UTF-8 if names or answers look wrong."
        )
        return raw.decode("cp1252", errors="replace")


def read_training_rows(path: Path) -> TrainingRows:
    result = TrainingRows()
    text = _decode(path, path.read_bytes(), result.warnings)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in (*CSV_COLUMNS, OUTCOME_COLUMN) if c not in header]
    if missing:
        raise TrainingDataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}"
        )
    for line, row in enumerate(reader, start=2):
        outcome = (row.get(OUTCOME_COLUMN) or "").strip().lower()
        if outcome not in _TRUE + _FALSE:
            raise TrainingDataError(f"{path}:{line}: 'converted' must be 0 or 1, not {outcome!r}")
        try:
            facts, later = row_facts(row, line)
        except ValueError as exc:
            raise TrainingDataError(f"{path}:{line}: {exc}") from None
        result.leads.append(facts)
        result.outcomes.append(1.0 if outcome in _TRUE else 0.0)
        result.later_events += later
    if result.later_events:
        result.warnings.append(
            f"{result.later_events} events are dated after their row's snapshot_at and were "
            "ignored (they would leak the outcome into the features)."
        )
    return result
