"""Renders a usage report as one self-contained HTML page with inline SVG charts.

No scripts, fonts or stylesheets are fetched: the page opens the same offline, in a mail client
or as an attachment. Money arrives as integer micro-dollars and is formatted without floats;
floats appear only as pixel positions.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from tollgate.v1 import budget_ledger_pb2 as pb

COST_COLOUR = "#3b6fd4"
SAVED_COLOUR = "#2f9e6f"
HELD_COLOUR = "#f0b429"
SHADOW_COLOUR = "#b7d9c8"
GRID_COLOUR = "#e3e6eb"
CACHE_COLOURS = {
    "exact": "#2f9e6f",
    "semantic": "#6cc49a",
    "miss": "#3b6fd4",
    "bypass": "#9aa5b8",
    "unspecified": "#c9ced8",
}
SCOPE_NAMES = {
    pb.SCOPE_KIND_TENANT: "tenant",
    pb.SCOPE_KIND_API_KEY: "api key",
    pb.SCOPE_KIND_CONTACT: "contact",
}
PERIOD_NAMES = {
    pb.BUDGET_PERIOD_DAY: "day",
    pb.BUDGET_PERIOD_MONTH: "month",
    pb.BUDGET_PERIOD_TOTAL: "total",
}


@dataclass(frozen=True)
class ReportPage:
    """Everything the page shows, as fetched from the ledger."""

    tenant_id: str
    window: str
    totals: pb.UsageRow
    time_dimension: str
    over_time: Sequence[pb.UsageRow]
    by_cache_status: Sequence[pb.UsageRow]
    by_model: Sequence[pb.UsageRow]
    by_api_key: Sequence[pb.UsageRow]
    savings: Sequence[pb.OptimizationSavings]
    budgets: Sequence[pb.BudgetState]


def dollars(micros: int) -> str:
    """Exact dollars from micro-dollars: 1234567 → "$1.234567"; trailing zeros kept to cents."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), 1_000_000)
    digits = f"{fraction:06d}".rstrip("0")
    digits = digits.ljust(2, "0")
    return f"{sign}${whole:,}.{digits}"


def percent(part: int, whole: int) -> str:
    """Percentage with one decimal, computed in integers."""
    if whole <= 0:
        return "n/a"
    tenths = (part * 1000 + whole // 2) // whole
    return f"{tenths // 10}.{tenths % 10}%"


def render(page: ReportPage) -> str:
    totals = page.totals
    hits = sum(
        r.requests
        for r in page.by_cache_status
        if r.group.get("cache_status") in ("exact", "semantic")
    )
    cards = [
        ("Requests", f"{totals.requests:,}"),
        ("Cost", dollars(totals.cost_micros)),
        ("Without Tollgate", dollars(totals.baseline_cost_micros)),
        (
            "Saved",
            f"{dollars(totals.saved_micros)} "
            f"({percent(totals.saved_micros, totals.baseline_cost_micros)})",
        ),
        ("Cache hit rate", percent(hits, totals.requests)),
    ]
    sections = [
        _section(
            f"Cost and savings by {page.time_dimension}",
            _time_chart(page.over_time, page.time_dimension),
        ),
        _section("Savings by optimization", _savings_chart(page.savings)),
        _section("Cache hit rates", _cache_chart(page.by_cache_status, totals.requests)),
        _section("Budget use (this period)", _budget_chart(page.budgets)),
        _section("By model", _usage_table(page.by_model, "model")),
        _section("By API key", _usage_table(page.by_api_key, "api_key")),
    ]
    card_html = "".join(
        f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>'
        for k, v in cards
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Tollgate usage and savings: {_e(page.tenant_id)}</title>
<style>
body{{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2433;margin:0;
background:#f6f7f9}}
main{{max-width:1180px;margin:0 auto;padding:28px 32px}}
h1{{font-size:24px;margin:0 0 4px}} h2{{font-size:17px;margin:0 0 12px}}
.sub{{color:#5b6475;margin-bottom:20px}}
.cards{{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin-bottom:20px}}
.card,section{{background:#fff;border:1px solid #e1e4ea;border-radius:8px}}
.card{{padding:12px 14px}} .k{{color:#5b6475;font-size:12px}} .v{{font-size:19px;font-weight:600}}
section{{padding:16px 18px;margin-bottom:16px}}
table{{border-collapse:collapse;width:100%}}
th,td{{text-align:right;padding:5px 8px;border-bottom:1px solid #eef0f3}}
th:first-child,td:first-child{{text-align:left}} th{{color:#5b6475;font-weight:500}}
svg text{{font:12px system-ui,sans-serif;fill:#3a4253}}
.empty{{color:#8a93a5}}
</style></head><body><main>
<h1>Usage and savings: {_e(page.tenant_id)}</h1>
<div class="sub">{_e(page.window)} · amounts in US dollars, exact to the micro-dollar</div>
<div class="cards">{card_html}</div>
{"".join(sections)}
</main></body></html>
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_e(title)}</h2>{body}</section>"


def _empty(what: str) -> str:
    return f'<p class="empty">No {_e(what)} in this window.</p>'


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> str:
    parts = []
    for label, colour in items:
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 17:.1f}" y="{y}">{_e(label)}</text>'
        )
        x += 30 + 7 * len(label)
    return "".join(parts)


def _time_chart(rows: Sequence[pb.UsageRow], dimension: str) -> str:
    if not rows:
        return _empty("requests")
    width, height, left, bottom, top = 1100, 300, 90, 50, 30
    plot_w, plot_h = width - left - 20, height - bottom - top
    peak = _nice_ceiling(max(max(r.cost_micros, r.saved_micros, 0) for r in rows))
    slot = plot_w / len(rows)
    bar = max(min(slot * 0.38, 40), 2)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    for step in range(5):
        value = peak * step // 4
        y = top + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOUR}"/><text x="{left - 8}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_e(dollars(value))}</text>'
        )
    label_every = max(1, len(rows) // 12)
    for index, row in enumerate(rows):
        x = left + slot * index + slot / 2
        for offset, value, colour in (
            (-bar, row.cost_micros, COST_COLOUR),
            (0.0, max(row.saved_micros, 0), SAVED_COLOUR),
        ):
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{_e(row.group.get(dimension, ""))}: '
                f"{_e(dollars(value))}</title></rect>"
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle">'
                f"{_e(_short_time(row.group.get(dimension, '')))}</text>"
            )
    parts.append(_legend([("cost", COST_COLOUR), ("saved", SAVED_COLOUR)], left, height - 8))
    parts.append("</svg>")
    return "".join(parts)


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten, divisible by 4, at or above `value`."""
    scale = 4
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _short_time(bucket: str) -> str:
    # "2025-03-07" stays; "2025-03-07T14:05Z" shows as "14:05".
    return bucket[11:16] if "T" in bucket else bucket[5:]


def _horizontal_bars(
    items: Sequence[tuple[str, int, int, str]],
    legend: Sequence[tuple[str, str]],
    limit_marker: int = 0,
    caption_space: int = 260,
) -> str:
    """Bars of (label, value, secondary value stacked after it, caption).

    With `limit_marker`, the axis reaches at least that value and a dashed line marks it.
    """
    width, left, row_h = 1100, 220, 34
    height = row_h * len(items) + 40
    peak = max(max((v + s for _, v, s, _ in items), default=1), limit_marker) or 1
    plot_w = width - left - caption_space
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    if limit_marker:
        x = left + plot_w * limit_marker / peak
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="{height - 30}" stroke="#c2410c" '
            'stroke-dasharray="4 3"/>'
        )
    for index, (label, value, secondary, caption) in enumerate(items):
        y = 8 + index * row_h
        w1 = plot_w * max(value, 0) / peak
        w2 = plot_w * max(secondary, 0) / peak
        parts.append(
            f'<text x="{left - 10}" y="{y + 17}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{w1:.1f}" height="18" fill="{legend[0][1]}"/>'
        )
        if len(legend) > 1 and w2 > 0:
            parts.append(
                f'<rect x="{left + w1:.1f}" y="{y + 4}" width="{w2:.1f}" height="18" '
                f'fill="{legend[1][1]}"/>'
            )
        parts.append(f'<text x="{left + w1 + w2 + 8:.1f}" y="{y + 17}">{_e(caption)}</text>')
    parts.append(_legend(legend, left, height - 8))
    parts.append("</svg>")
    return "".join(parts)


def _savings_chart(savings: Sequence[pb.OptimizationSavings]) -> str:
    if not savings:
        return _empty("optimizations")
    items = [
        (
            s.optimization,
            s.micros_saved,
            s.shadow_micros_saved,
            f"{dollars(s.micros_saved)} on {s.requests_applied:,} requests"
            + (f" (+{dollars(s.shadow_micros_saved)} shadow)" if s.shadow_requests else ""),
        )
        for s in savings
    ]
    return _horizontal_bars(
        items,
        [("saved", SAVED_COLOUR), ("would save (shadow mode)", SHADOW_COLOUR)],
        caption_space=360,
    )


def _cache_chart(rows: Sequence[pb.UsageRow], total_requests: int) -> str:
    if not rows or total_requests <= 0:
        return _empty("requests")
    width, height, left = 1100, 110, 20
    plot_w = width - 2 * left
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    x = float(left)
    legend = []
    for row in sorted(rows, key=lambda r: -r.requests):
        status = row.group.get("cache_status", "unspecified")
        colour = CACHE_COLOURS.get(status, CACHE_COLOURS["unspecified"])
        w = plot_w * row.requests / total_requests
        parts.append(
            f'<rect x="{x:.1f}" y="10" width="{w:.1f}" height="40" fill="{colour}">'
            f"<title>{_e(status)}: {row.requests:,}</title></rect>"
        )
        if w > 60:
            parts.append(
                f'<text x="{x + w / 2:.1f}" y="35" text-anchor="middle" fill="#fff" '
                f'style="fill:#fff">{_e(percent(row.requests, total_requests))}</text>'
            )
        x += w
        legend.append(
            (f"{status} {row.requests:,} ({percent(row.requests, total_requests)})", colour)
        )
    parts.append(_legend(legend, left, 85))
    parts.append("</svg>")
    return "".join(parts)


def _budget_chart(budgets: Sequence[pb.BudgetState]) -> str:
    if not budgets:
        return _empty("budgets")
    # Each bar is drawn against its own budget's limit (spent and held per million of it).
    scaled = []
    for state in budgets:
        scope = state.budget.scope
        who = SCOPE_NAMES.get(scope.kind, "?") + (
            f" {scope.subject_id}" if scope.subject_id else ""
        )
        limit = state.budget.limit_micros + state.override_micros
        per_million = max(limit, 1)
        scaled.append(
            (
                f"{who} · {PERIOD_NAMES.get(state.budget.period, '?')}",
                state.spent_micros * 1_000_000 // per_million,
                state.held_micros * 1_000_000 // per_million,
                f"{dollars(state.spent_micros)} spent, {dollars(state.held_micros)} held of "
                f"{dollars(limit)} ({percent(state.spent_micros + state.held_micros, limit)})",
            )
        )
    return _horizontal_bars(
        scaled,
        [("spent", COST_COLOUR), ("held", HELD_COLOUR), ("limit", "#c2410c")],
        limit_marker=1_000_000,
        caption_space=420,
    )


def _usage_table(rows: Sequence[pb.UsageRow], dimension: str) -> str:
    if not rows:
        return _empty("requests")
    body = "".join(
        f"<tr><td>{_e(r.group.get(dimension, '') or '(none)')}</td><td>{r.requests:,}</td>"
        f"<td>{r.input_tokens:,}</td><td>{r.output_tokens:,}</td>"
        f"<td>{_e(dollars(r.cost_micros))}</td><td>{_e(dollars(r.saved_micros))}</td></tr>"
        for r in rows
    )
    return (
        "<table><tr><th>{}</th><th>requests</th><th>input tokens</th><th>output tokens</th>"
        "<th>cost</th><th>saved</th></tr>{}</table>".format(_e(dimension.replace("_", " ")), body)
    )
