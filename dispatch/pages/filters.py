"""Template filters that write figures the French way, through the helpers the PDF report uses (dispatch.french)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

from dispatch import french
from dispatch.pages import bp


@bp.app_template_filter("number")
def number(value: float | None, decimals: int = 0) -> str:
    """Write 4000 as '4 000' (narrow no-break space)."""
    return french.number(value, decimals)


@bp.app_template_filter("percent")
def percent(share: float | None, decimals: int = 0) -> str:
    """Write a share between 0 and 1 as '80 %' (or with decimals, '80,1 %')."""
    return french.percent(share, decimals)


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """Write a duration as '21 min' or '1 h 08', with no-break spaces."""
    return french.duration(seconds)


@bp.app_template_filter("period")
def period(start: date, end: date) -> str:
    """Write a period as 'du 1er janvier au 31 décembre 2023'."""
    return french.period(start, end)


@bp.app_template_filter("typography")
def typography(text: str) -> Markup:
    """Give a text (escaped first) the no-break spaces French wants before : ; ? ! » and after «."""
    return Markup(french.typography(str(escape(text))))  # noqa: S704 -- escaped above
