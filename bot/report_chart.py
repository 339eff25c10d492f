"""The daily report as people see it: one PNG with its panels, and a few lines of text.

Rendered with matplotlib's object API on the Agg canvas (no pyplot, no display, no global
state), so it is safe in a server and in a worker thread. Labels are Russian by default and
English with ``LOCALE=en``; matplotlib's bundled DejaVu Sans has the Cyrillic letters.

matplotlib (some 40 MB once loaded) is imported by the first chart drawn, not when the service starts: a
service draws one report a day, and the texts here need none of it (docs/footprint.md).
"""

from __future__ import annotations

import io
import textwrap
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import cycle
from typing import TYPE_CHECKING

from bot.texts import Locale
from bot.wording import Names, duration, money, number, percent
from workflows.daily_report import ChannelUptime, DailyReport, StoreFigures

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure

SIZE_IN, DPI = (12.0, 8.0), 100  # 1200 x 800 px: readable on a phone, well under Telegram's limits
WIDTH_PX, HEIGHT_PX = 1200, 800
TICK_PT = 10.0  # matplotlib's default size of tick labels ("medium")
TITLE_Y = 1.0  # a panel's title just above it; given, so matplotlib does not measure the panel to place it

_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Отчёт за {day}",
        "title.so_far": "Отчёт за {day} (на {at})",
        "orders": "Заказы по каналам и часам",
        "hour": "час",
        "count": "заказов",
        "figures": "Итоги дня",
        "stores": "Ответы магазинов",
        "answer_rate": "отвечено, %",
        "channels": "Доступность каналов, %",
        "no_questions": "вопросов магазинам не было",
        "no_channels": "каналов нет",
        "median_answer": "медиана {value}",
        "timeouts": "{count} без ответа",
        "line.orders": "Заказов: {count}",
        "line.processing": "Медиана обработки: {value}",
        "line.processing_none": "Медиана обработки: — (ни один заказ не собран)",
        "line.cancelled": "Отказов из-за нехватки: {count} (нет на складах {out}, не подтвердили магазины {unf})",
        "line.prevented": "Предотвращено продаж без товара: {count}",
        "line.worst_store": "Хуже всех отвечает: {store} — {rate} ({answered} из {asked})",
        "line.lowest_uptime": "Меньше всех доступен: {channel} — {uptime}",
        "line.all_up": "Все каналы были доступны весь день",
        "line.money": "Платежи на этой неделе: {due}, из резервов покрыто {covered}, не покрыто {uncovered}",
        "line.money_next": "На следующей неделе: {due}; в резервах свободно {available}",
        "line.money_overdue": "Просрочено платежей: {count} на {due}",
    },
    "en": {
        "title": "Report for {day}",
        "title.so_far": "Report for {day} (as of {at})",
        "orders": "Orders by channel and hour",
        "hour": "hour",
        "count": "orders",
        "figures": "The day in figures",
        "stores": "Stores' answers",
        "answer_rate": "answered, %",
        "channels": "Channels' uptime, %",
        "no_questions": "no questions to stores",
        "no_channels": "no channels",
        "median_answer": "median {value}",
        "timeouts": "{count} unanswered",
        "line.orders": "Orders: {count}",
        "line.processing": "Median processing: {value}",
        "line.processing_none": "Median processing: — (no order allocated)",
        "line.cancelled": "Cancelled for lack of stock: {count} (none in stock {out}, no store confirmed {unf})",
        "line.prevented": "Oversells prevented: {count}",
        "line.worst_store": "Worst store answer rate: {store} — {rate} ({answered} of {asked})",
        "line.lowest_uptime": "Lowest channel uptime: {channel} — {uptime}",
        "line.all_up": "Every channel was up all day",
        "line.money": "Payments out this week: {due}, covered by reserves {covered}, not covered {uncovered}",
        "line.money_next": "Next week: {due}; free in reserves {available}",
        "line.money_overdue": "Overdue payments: {count} for {due}",
    },
}


def _t(locale: Locale, key: str, /, **values: object) -> str:
    return _TEXTS[locale][key].format(**values)


def _percent(share: float, locale: Locale) -> str:
    return percent(locale, share * 100)


def title(report: DailyReport, locale: Locale) -> str:
    day = report.day.strftime("%d.%m.%Y") if locale == "ru" else report.day.isoformat()
    if report.complete:
        return _t(locale, "title", day=day)
    at = report.as_of.astimezone(report.start.tzinfo).strftime("%H:%M")
    return _t(locale, "title.so_far", day=day, at=at)


def summary_lines(report: DailyReport, names: Names) -> list[str]:
    """The few lines that go with the chart (the Telegram caption, the chart's figures panel, the report page), in
    ``names``' language: stores and channels by the topology's titles."""
    locale = names.locale
    lines = [_t(locale, "line.orders", count=report.orders)]
    if report.median_processing_seconds is None:
        lines.append(_t(locale, "line.processing_none"))
    else:
        lines.append(_t(locale, "line.processing", value=duration(locale, report.median_processing_seconds)))
    lines.append(_t(locale, "line.cancelled", count=report.cancelled_for_stock, out=report.out_of_stock_lines,
                    unf=report.unfulfillable_lines))  # fmt: skip
    lines.append(_t(locale, "line.prevented", count=report.oversells_prevented))
    if (store := report.worst_store) is not None:
        lines.append(_t(locale, "line.worst_store", store=store.title, rate=_percent(store.answer_rate, locale),
                        answered=store.answered, asked=store.asked))  # fmt: skip
    if (channel := report.lowest_uptime) is not None and channel.uptime < 1:
        lines.append(_t(locale, "line.lowest_uptime", channel=names.channel(channel.channel),
                        uptime=_percent(channel.uptime, locale)))  # fmt: skip
    elif channel is not None:  # naming one of several channels all at 100 % would single it out for nothing
        lines.append(_t(locale, "line.all_up"))
    return lines + _money_lines(report, locale)


def _money_lines(report: DailyReport, locale: Locale) -> list[str]:
    """Clients' money: this week's payments out against the reserves (none while nobody plans any)."""
    m = report.money
    if m is None:
        return []
    lines = [
        _t(locale, "line.money", due=money(locale, m.due), covered=money(locale, m.covered),
           uncovered=money(locale, m.uncovered)),
        _t(locale, "line.money_next", due=money(locale, m.next_week), available=money(locale, m.available)),
    ]  # fmt: skip
    if m.overdue:
        lines.append(_t(locale, "line.money_overdue", count=m.overdue, due=money(locale, m.overdue_rub)))
    return lines


def caption(report: DailyReport, names: Names) -> str:
    return "\n".join([title(report, names.locale), *summary_lines(report, names)])


def shown(report: DailyReport, names: Names) -> tuple[object, ...]:
    """What the chart of ``report`` shows, as it shows it: two reports with the same are drawn the same (today's,
    asked a few seconds apart, differ in their moment and their uptime's last decimals, but not here)."""
    return (
        names.locale,
        title(report, names.locale),
        tuple(summary_lines(report, names)),
        tuple((channel, tuple(counts)) for channel, counts in report.orders_by_hour.items()),
        tuple((s.title, s.asked, s.answered, s.timeouts, s.median_answer_seconds, round(s.answer_rate, 3))
              for s in report.stores),
        tuple((c.channel, _percent(c.uptime, names.locale), round(c.uptime, 3)) for c in report.channels),
    )  # fmt: skip


def warm_up(names: Names) -> None:
    """Draw a small chart and throw it away: matplotlib loads its fonts and fills its caches on its first chart,
    which would otherwise make the first ``/report`` after a start the slowest by a good part of a second."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    hours = (1,) + (0,) * 23
    store = StoreFigures("store", "Магазин", 1, 1, 0, 0, 0, 60.0)
    sample = DailyReport(start.date(), "UTC", start, start + timedelta(days=1), start, {"site": hours}, 1, 60.0,
                         0, 0, 0, (store,), (ChannelUptime("site", 0.0, 1.0),))  # fmt: skip
    render_png(sample, names)


class Unwanted(Exception):
    """A chart drawn ahead was given up: what it would show is no longer what is asked for."""


def render_png(report: DailyReport, names: Names, wanted: Callable[[], bool] | None = None) -> bytes:
    """The chart as PNG bytes (CPU-bound: call it in a worker thread from async code). Charts are drawn one at a time
    on one figure kept for the next: its canvas keeps what it measured of every text it drew (the hours, the
    titles, the tick labels), which the next chart draws again. ``wanted``: asked before the chart is begun and
    before the costlier half of it (the drawing and the PNG); :class:`Unwanted` when it says no."""
    out = io.BytesIO()
    with _drawing:
        if wanted is not None and not wanted():
            raise Unwanted
        figure = _kept_figure()
        try:
            _draw(figure, report, names)
            if wanted is not None and not wanted():
                raise Unwanted
            figure.savefig(out, format="png", dpi=DPI)
        finally:
            figure.clear()
    return out.getvalue()


def chart(report: DailyReport, names: Names) -> Figure:
    """The chart's figure, a new one, every label in ``names``' language: channels and stores by their titles."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # loaded by the first chart, not at start
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_IN, dpi=DPI)
    FigureCanvasAgg(figure)
    _draw(figure, report, names)
    return figure


_drawing = threading.Lock()
_kept: list[Figure] = []  # render_png's figure, made by the first chart


def _kept_figure() -> Figure:
    """render_png's figure, with its canvas and nothing drawn on it: the first chart of a process is drawn on it as
    every later one is, after its predecessor was cleared."""
    if not _kept:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=SIZE_IN, dpi=DPI)
        FigureCanvasAgg(figure)
        _kept.append(figure)
    return _kept[0]


def _draw(figure: Figure, report: DailyReport, names: Names) -> None:
    """The chart on ``figure``, which has a canvas and nothing on it.

    The panels are placed by hand, in pixels of the 1200 x 800 picture, rather than by a layout engine: constrained
    layout measured every text of the figure in a draw of its own before the real one, which took half of a chart's
    time. Only the widths of the bar labels (store and channel titles) vary, and they are measured here, once each."""
    locale = names.locale
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    figure.text(0.5, 1 - 8 / HEIGHT_PX, title(report, locale), ha="center", va="top", fontsize=15,
                fontweight="bold")  # fmt: skip
    _orders_panel(_panel(figure, 62, 462, 728, 270), report, names)
    _figures_panel(figure, report, names)
    asked = [s for s in report.stores if s.asked]
    left = _label_room(renderer, [s.title for s in asked])
    _stores_panel(_panel(figure, left, 50, 790 - left, 300), asked, locale)
    titles = [names.channel(c.channel) for c in report.channels]
    left = 830 + _label_room(renderer, titles)
    _channels_panel(_panel(figure, left, 50, WIDTH_PX - 15 - left, 300), report, titles, locale)


def _panel(figure: Figure, left: float, bottom: float, width: float, height: float) -> Axes:
    """Axes at a place given in pixels from the picture's bottom left corner."""
    return figure.add_axes((left / WIDTH_PX, bottom / HEIGHT_PX, width / WIDTH_PX, height / HEIGHT_PX))


def _label_room(renderer: RendererAgg, labels: list[str]) -> float:
    """Pixels left of a panel for its bar labels (tick labels at matplotlib's default size), at most 300."""
    from matplotlib.font_manager import FontProperties  # see chart

    font = FontProperties(size=TICK_PT)
    measure = renderer.get_text_width_height_descent
    widest = max((measure(s, font, ismath=False)[0] for s in labels), default=0.0)  # type: ignore[no-untyped-call]
    return min(widest, 300.0) + 12  # the tick and its pad


def _orders_panel(ax: Axes, report: DailyReport, names: Names) -> None:
    """Orders per hour, stacked by channel: each channel's bars are one collection of rectangles (``ax.bar`` makes a
    patch of each, a tenth of the chart's time), its legend entry a patch of its colour."""
    from matplotlib import rcParams  # see chart
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    locale = names.locale
    hours = list(range(24))
    bottom = [0] * 24
    colours = cycle(c["color"] for c in rcParams["axes.prop_cycle"])  # matplotlib's colours, as ax.bar takes them
    legend: list[Patch] = []
    for channel, counts in report.orders_by_hour.items():
        if any(counts):
            bars = [
                [(h - 0.4, b), (h - 0.4, b + c), (h + 0.4, b + c), (h + 0.4, b)]
                for h, b, c in zip(hours, bottom, counts, strict=True) if c
            ]  # fmt: skip
            colour = next(colours)
            ax.add_collection(PolyCollection(bars, facecolors=colour, edgecolors="none"), autolim=False)
            legend.append(Patch(color=colour, label=f"{names.channel(channel)} ({number(locale, sum(counts))})"))
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_title(_t(locale, "orders"), y=TITLE_Y)
    ax.set_xlabel(_t(locale, "hour"), labelpad=2)
    ax.set_ylabel(_t(locale, "count"))
    ax.set_xticks(hours)
    ax.set_xlim(-0.6, 23.6)
    ax.set_ylim(0, max(max(bottom) * 1.05, 1))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if legend:
        ax.legend(handles=legend, loc="upper left", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _figures_panel(figure: Figure, report: DailyReport, names: Names) -> None:
    """The day's main figures in words, top right: no axes, only texts."""
    figure.text(1010 / WIDTH_PX, 1 - 58 / HEIGHT_PX, _t(names.locale, "figures"), ha="center", fontsize=12)
    lines = summary_lines(report, names)[:4]  # the stores and channels have panels of their own
    wrapped = "\n\n".join(textwrap.fill(line, 40) for line in lines)
    figure.text(835 / WIDTH_PX, 1 - 76 / HEIGHT_PX, wrapped, va="top", ha="left", fontsize=11)


def _stores_panel(ax: Axes, asked: list[StoreFigures], locale: Locale) -> None:
    ax.set_title(_t(locale, "stores"), y=TITLE_Y)
    if not asked:
        ax.set_axis_off()
        ax.text(0.5, 0.5, _t(locale, "no_questions"), ha="center", va="center", transform=ax.transAxes)
        return
    rates = [s.answer_rate * 100 for s in asked]
    bars = ax.barh([s.title for s in asked], rates, color=["#c0392b" if r < 80 else "#27ae60" for r in rates])
    ax.set_xlim(0, 135)  # room for the labels right of the bars
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel(_t(locale, "answer_rate"), labelpad=2)
    ax.invert_yaxis()
    for bar, store in zip(bars, asked, strict=True):
        notes = [f"{store.answered}/{store.asked}"]
        if store.median_answer_seconds is not None:
            notes.append(_t(locale, "median_answer", value=duration(locale, store.median_answer_seconds)))
        if store.timeouts:
            notes.append(_t(locale, "timeouts", count=store.timeouts))
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, ", ".join(notes), va="center", fontsize=9)


def _channels_panel(ax: Axes, report: DailyReport, titles: list[str], locale: Locale) -> None:
    ax.set_title(_t(locale, "channels"), y=TITLE_Y)
    if not report.channels:
        ax.set_axis_off()
        ax.text(0.5, 0.5, _t(locale, "no_channels"), ha="center", va="center", transform=ax.transAxes)
        return
    shares = [c.uptime * 100 for c in report.channels]
    bars = ax.barh(titles, shares, color=["#c0392b" if s < 99 else "#27ae60" for s in shares])
    ax.set_xlim(0, 125)  # room for the labels right of the bars
    ax.set_xticks(range(0, 101, 25))
    ax.invert_yaxis()
    for bar, channel in zip(bars, report.channels, strict=True):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, _percent(channel.uptime, locale), va="center",
                fontsize=9)  # fmt: skip
