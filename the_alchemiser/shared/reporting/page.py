"""A self-contained HTML page: one file, inline style and at most one small inline script, nothing
fetched from the network. Plain Python (stdlib only), so a Lambda can build it without numpy.

    page = Page("Backtest", subtitle="2016-11-11 .. 2026-11-20, composer timing")
    page.add("Statistics", stats_table(rows))
    page.add("Equity", line_chart(...), note="log scale: the button above the chart")
    html_text = page.render()

Markup is `Html` (a str that is already safe); any other str passed to these helpers is escaped."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


class Html(str):
    """Text that is already markup (escaped where needed): inserted as it is."""


def escape(text: object) -> Html:
    return text if isinstance(text, Html) else Html(html.escape(str(text), quote=True))


def tag(name: str, body: object = "", **attributes: object) -> Html:
    """<name attributes>body</name>; attribute names use _ for - and a trailing _ for Python keywords."""
    parts = [name]
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        attr = key.rstrip("_").replace("_", "-")
        parts.append(attr if value is True else f'{attr}="{html.escape(str(value), quote=True)}"')
    return Html(f"<{' '.join(parts)}>{escape(body)}</{name}>")


def join(parts: Iterable[object], separator: str = "") -> Html:
    return Html(separator.join(escape(p) for p in parts))


STYLE = """
:root{--fg:#1d2433;--muted:#667085;--line:#e4e7ec;--bg:#fff;--accent:#1f4e99}
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:var(--fg);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 20px 48px}
header h1{font-size:22px;margin:0 0 4px}
header p{margin:2px 0;color:var(--muted)}
.headline{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0 4px}
.headline div{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:130px}
.headline b{display:block;font-size:20px}
.headline span{color:var(--muted);font-size:12px}
section{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:16px 0}
section h2{font-size:16px;margin:0 0 8px}
section .note{color:var(--muted);font-size:12px;margin:6px 0 0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{font-weight:600;color:var(--muted);font-size:12px}
td.l,th.l{text-align:left;white-space:normal}
tr.em td{font-weight:650}
.pos{color:#137333}.neg{color:#b42318}
.scroll{overflow-x:auto}
.chart{position:relative}
.chart svg{width:100%;height:auto;display:block}
.chart .tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid var(--line);
 border-radius:6px;padding:6px 8px;font-size:12px;display:none;box-shadow:0 2px 8px rgba(0,0,0,.08);
 z-index:2;max-width:360px}
.chart .tip i{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:5px}
.chart .tools{position:absolute;right:6px;top:4px;z-index:1}
.chart button{font:12px system-ui,sans-serif;border:1px solid var(--line);background:#fff;border-radius:5px;
 padding:2px 8px;cursor:pointer}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:6px 0 0;padding:0;list-style:none;font-size:12px}
.legend li{cursor:pointer;user-select:none}
.legend li.off{opacity:.35}
.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:5px}
svg text{font:11px system-ui,sans-serif;fill:#667085}
svg .grid{stroke:#eef0f3}
.chart.log .lin,.chart:not(.log) .logscale{display:none}
"""

# Hover read-outs, the log-scale toggle and the legend's show/hide: ~40 lines, no library.
SCRIPT = """
(function(){
function fmt(v,f){if(v===null||v===undefined)return'–';
 if(f==='percent')return(v*100).toFixed(1)+'%';
 if(f==='money')return(v<0?'-$':'$')+Math.abs(v).toLocaleString('en-US',{minimumFractionDigits:2,maximumFractionDigits:2});
 if(f==='multiple')return v.toFixed(v<10?3:1);return String(v)}
document.querySelectorAll('.chart').forEach(function(box){
 var svg=box.querySelector('svg'),data=box.querySelector('script[type="application/json"]');
 var tools=box.querySelector('button.toggle-log');
 if(tools)tools.addEventListener('click',function(){box.classList.toggle('log');
  tools.textContent=box.classList.contains('log')?'linear scale':'log scale'});
 var legend=box.parentNode.querySelector('ul.legend[data-for="'+box.id+'"]');
 if(legend)legend.querySelectorAll('li').forEach(function(li){li.addEventListener('click',function(){
  li.classList.toggle('off');var on=!li.classList.contains('off');
  svg.querySelectorAll('[data-series="'+li.dataset.series+'"]').forEach(function(p){p.style.display=on?'':'none'})})});
 if(!data||!svg)return;
 var d=JSON.parse(data.textContent),tip=box.querySelector('.tip'),rule=svg.querySelector('.rule');
 svg.addEventListener('mousemove',function(e){
  var r=svg.getBoundingClientRect(),vb=svg.viewBox.baseVal,x=(e.clientX-r.left)*vb.width/r.width;
  var best=0;for(var i=1;i<d.x.length;i++){if(Math.abs(d.x[i]-x)<Math.abs(d.x[best]-x))best=i}
  if(rule){rule.setAttribute('x1',d.x[best]);rule.setAttribute('x2',d.x[best]);rule.style.display=''}
  var h='<b>'+d.d[best]+'</b>';
  d.s.forEach(function(s){h+='<br><i style="background:'+s.c+'"></i>'+s.n+': '+fmt(s.v[best],d.f)});
  tip.innerHTML=h;tip.style.display='block';
  var left=(e.clientX-r.left)+14;if(left+tip.offsetWidth>r.width)left=(e.clientX-r.left)-tip.offsetWidth-14;
  tip.style.left=Math.max(0,left)+'px';tip.style.top='8px'});
 svg.addEventListener('mouseleave',function(){tip.style.display='none';if(rule)rule.style.display='none'});
});
})();
"""


@dataclass
class Page:
    title: str
    subtitle: str = ""
    lines: list[str] = field(default_factory=list)  # more lines under the title
    headline: list[tuple[str, str]] = field(default_factory=list)  # (label, value) tiles
    sections: list[Html] = field(default_factory=list)

    def add(self, heading: str | None, body: Html, note: str | None = None) -> None:
        parts = [tag("h2", heading) if heading else Html(""), body]
        if note:
            parts.append(tag("p", note, class_="note"))
        self.sections.append(tag("section", join(parts)))

    def render(self) -> str:
        head = join(
            [
                Html('<meta charset="utf-8">'),
                Html('<meta name="viewport" content="width=device-width, initial-scale=1">'),
                tag("title", self.title),
                Html(f"<style>{STYLE}</style>"),
            ]
        )
        header = [tag("h1", self.title)]
        if self.subtitle:
            header.append(tag("p", self.subtitle))
        header.extend(tag("p", line) for line in self.lines)
        if self.headline:
            tiles = join(tag("div", join([tag("b", value), tag("span", label)])) for label, value in self.headline)
            header.append(tag("div", tiles, class_="headline"))
        body = join([tag("header", join(header)), *self.sections])
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head>'
            f"<body><main>{body}</main><script>{SCRIPT}</script></body></html>\n"
        )


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    left: int = 1,
    text: Sequence[int] = (),
    emphasis: Sequence[int] = (),
    cell_classes: Mapping[tuple[int, int], str] | None = None,
) -> Html:
    """A plain table; the first `left` columns (and those in `text`) are left-aligned text that may wrap,
    the rest right-aligned numbers.
    `emphasis`: row indices shown bold; `cell_classes`: (row, column) -> class (e.g. pos / neg)."""
    classes = cell_classes or {}
    head = join(tag("th", h, class_="l" if i < left or i in text else None) for i, h in enumerate(headers))
    body_rows = []
    for r, row in enumerate(rows):
        cells = []
        for c, value in enumerate(row):
            kind = " ".join(k for k in ("l" if c < left or c in text else "", classes.get((r, c), "")) if k) or None
            cells.append(tag("td", value, class_=kind))
        body_rows.append(tag("tr", join(cells), class_="em" if r in emphasis else None))
    return tag(
        "div", tag("table", join([tag("thead", tag("tr", head)), tag("tbody", join(body_rows))])), class_="scroll"
    )


def percent(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * 100:+.{digits}f}%" if signed else f"{value * 100:.{digits}f}%"


def ratio(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


STATS_COLUMNS = (
    ("total_return", "Total return", percent),
    ("cagr", "CAGR", percent),
    ("volatility", "Volatility", percent),
    ("sharpe", "Sharpe", ratio),
    ("sortino", "Sortino", ratio),
    ("max_drawdown", "Max drawdown", percent),
    ("calmar", "Calmar", ratio),
    ("win_rate", "Win rate", percent),
    ("turnover", "Turnover/day", percent),
    ("days", "Days", str),
)


def stats_table(rows: Sequence[tuple[str, Mapping[str, object]]], emphasis: Sequence[int] = (0,)) -> Html:
    """One row per (name, STATS mapping as in stats.json); missing figures show as a dash."""
    body = []
    classes: dict[tuple[int, int], str] = {}
    for r, (name, stats) in enumerate(rows):
        cells: list[object] = [name]
        for c, (key, _, shown) in enumerate(STATS_COLUMNS, start=1):
            value = stats.get(key)
            cells.append(shown(value) if value is not None else "–")  # type: ignore[operator]
            if key in ("total_return", "cagr") and isinstance(value, float):
                classes[(r, c)] = "pos" if value > 0 else "neg" if value < 0 else ""
        body.append(cells)
    return table(["", *(label for _, label, _ in STATS_COLUMNS)], body, emphasis=emphasis, cell_classes=classes)
