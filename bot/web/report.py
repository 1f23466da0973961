"""The seller's performance dashboard on the admin page: `/admin/report` (the figures, with
server-rendered SVG charts of the daily trends) and `/admin/report.csv?table=...&days=...`
(each table as CSV). The figures come from bot/shop/report.py."""
import asyncio
import csv
import io
from datetime import date
from functools import partial
from html import escape
from typing import Any, Callable, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup

from bot.errors import InvalidInput
from bot.shop import report as shop_report
from bot.shop.db import SELLER
from bot.shop.report import PERIOD_CHOICES, TABLES, Report
from bot.web.auth import staff_user
from bot.web.resources import SHOP
from bot.web.templating import render

# --- Charts: plain SVG, drawn on the server -----------------------------------------------------

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 34


def _x_labels(days: Sequence[date]) -> Sequence[Tuple[int, str]]:
    """Which days get a label under the axis: the first, the last and a few between."""
    if not days:
        return []
    step = max(1, (len(days) - 1) // 4)
    picked = sorted({*range(0, len(days), step), len(days) - 1})
    if len(picked) > 1 and picked[-1] - picked[-2] < step / 2:
        picked.pop(-2)
    return [(index, f"{days[index].day} {days[index]:%b}") for index in picked]


def chart(
    chart_id: str, title: str, days: Sequence[date], values: Sequence[Optional[float]], kind: str = "bar",
    value_text: Callable[[float], str] = lambda value: f"{value:g}", limit: Optional[Tuple[float, str]] = None,
    summary: str = "",
) -> Markup:
    """A daily trend as an accessible SVG image: a <title> and a <desc> naming what it shows,
    labelled axes, and each day's value in its own <title> (a tooltip, and read by screen
    readers). `kind` "bar" or "line"; a day without a value (None) is a gap. `limit`: a dashed
    line at (value, label), such as the marketplace's 10%."""
    known = [value for value in values if value is not None]
    highest = max([*known, limit[0] if limit else 0.0, 0.0])
    top = highest * 1.15 if highest > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)

    def x(index: float) -> float:
        return LEFT + slot * (index + 0.5)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    if not known:
        description = f"{title}: no data in this period."
    else:
        peak = max(range(len(values)), key=lambda i: values[i] if values[i] is not None else float("-inf"))
        last = next(i for i in range(len(values) - 1, -1, -1) if values[i] is not None)
        description = (
            f"{title}, {days[0]:%d %b} to {days[-1]:%d %b}: highest {value_text(values[peak])} on {days[peak]:%d %b}, "
            f"latest {value_text(values[last])} on {days[last]:%d %b}."
        )
    if summary:
        description += " " + summary
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" class="axis"/>',
    ]
    for value in sorted({0.0, highest}):
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="tick">{escape(value_text(value))}</text>')
    for index, label in _x_labels(days):
        parts.append(f'<text x="{x(index):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" class="tick">{escape(label)}</text>')
    if limit is not None:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(limit[0]):.1f}" x2="{WIDTH - RIGHT}" y2="{y(limit[0]):.1f}" class="limit"/>'
            f'<text x="{LEFT + 4}" y="{y(limit[0]) - 4:.1f}" class="limit-label">{escape(limit[1])}</text>'
        )
    if kind == "bar":
        bar_w = max(slot * 0.7, 1.0)
        for index, value in enumerate(values):
            if value is None:
                continue
            height = plot_h * value / top
            parts.append(
                f'<rect x="{x(index) - bar_w / 2:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar_w:.1f}" height="{height:.1f}" class="bar">'
                f'<title>{days[index]:%a %d %b}: {escape(value_text(value))}</title></rect>'
            )
    else:
        run: list = []
        runs = [run]
        for index, value in enumerate(values):
            if value is None:
                run = []
                runs.append(run)
            else:
                run.append(f"{x(index):.1f},{y(value):.1f}")
        for points in runs:
            if len(points) > 1:
                parts.append(f'<polyline points="{" ".join(points)}" class="line"/>')
        for index, value in enumerate(values):
            if value is not None:
                parts.append(
                    f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="2.5" class="dot">'
                    f'<title>{days[index]:%a %d %b}: {escape(value_text(value))}</title></circle>'
                )
    parts.append("</svg>")
    return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{"".join(parts)}</figure>')


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def _hours(minutes: float) -> str:
    return f"{minutes / 60:.1f} h" if minutes else "0 h"


def _count(value: float) -> str:
    return f"{value:.0f}"


def charts(report: Report) -> dict:
    """The dashboard's charts of daily trends, by section."""
    late, cancelled, handling, chats = report.late_delivery, report.cancellations, report.after_sales, report.chat
    limit = shop_report.rules.LATE_DELIVERY_LIMIT_PERCENT / 100
    return {
        "late_delivery": chart(
            "chart-late-delivery", f"Late Delivery Rate over {report.days} days, by day", [d.day for d in late.daily],
            [d.window.rate for d in late.daily], kind="line", value_text=_percent,
            limit=(limit, f"{shop_report.rules.LATE_DELIVERY_LIMIT_PERCENT}%: Order Volume Limit"),
        ),
        "cancellations": chart(
            "chart-cancellations", "Orders cancelled, by the day they were placed", [d.day for d in cancelled.daily],
            [float(d.cancelled) for d in cancelled.daily], value_text=_count,
        ),
        "after_sales": chart(
            "chart-after-sales", f"After-Sales Handling Time, average by request day (last {handling.days} days)",
            [day for day, _ in handling.daily], [minutes for _, minutes in handling.daily], value_text=_hours,
        ),
        "chat": chart(
            "chart-chat", "Conversations by day", [d.day for d in chats.daily],
            [float(d.conversations) for d in chats.daily], value_text=_count,
        ),
    }


# --- Views ------------------------------------------------------------------------------------------


def _days(request: web.Request) -> int:
    raw = request.query.get("days", str(shop_report.DEFAULT_DAYS))
    try:
        days = int(raw)
    except ValueError:
        raise InvalidInput(f"`days` must be a whole number of days, not {raw!r}.") from None
    if not 1 <= days <= shop_report.MAX_DAYS:
        raise InvalidInput(f"`days` must be 1 to {shop_report.MAX_DAYS}, not {days}.")
    return days


async def _build(request: web.Request, days: int, sections=None) -> Report:
    """The report, computed off the event loop (database queries, the sentence encoder)."""
    shop = request.app[SHOP]
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, partial(shop_report.build_report, shop, days, sections=sections))


async def report_page(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    days = _days(request)
    report = await _build(request, days)
    zone = ZoneInfo(report.timezone)
    return render(
        request, "admin_report.html", report=report, days=days, choices=PERIOD_CHOICES, charts=charts(report),
        tables={name: shop_report.table(report, name) for name in TABLES}, percent=shop_report.percent,
        duration=shop_report.duration_text, local=lambda moment: shop_report.local_time(moment, zone),
        limit=shop_report.rules.LATE_DELIVERY_LIMIT_PERCENT,
    )


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting like a formula (shoppers' words are in
    these tables) gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


async def report_csv(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    name = request.query.get("table", "")
    if name not in TABLES:
        raise InvalidInput(f"Unknown table {name!r}; the tables are: {', '.join(TABLES)}.")
    days = _days(request)
    report = await _build(request, days, sections=[TABLES[name][0]])
    found = shop_report.table(report, name)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(found.headers)
    writer.writerows([_cell(cell) for cell in row] for row in found.rows)
    return web.Response(
        text=out.getvalue(), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{days}d-{report.now:%Y-%m-%d}.csv"'},
    )
