"""The one template of the QA report: a self-contained page whose script draws everything from data.

The page holds the report as a JSON blob (``<script type="application/json" id="qa-data">``) and
``VIEW_SCRIPT``, which defines ``renderQAReport(root, report)``: the counts per check, the
findings-per-day chart (SVG built by the script), and every flagged session with its evidence,
anchored at ``#session-<id>``; and ``stackedDays(rows, keys, label, width)``, the per-day chart
itself, which the MCP dashboard also draws its sessions per day with. Nothing is fetched: no
network, no external font, style or script. The MCP dashboard view (``session_mcp.views``) serves
``VIEW_STYLE`` and ``VIEW_SCRIPT`` unchanged and calls ``renderQAReport`` with the
``structuredContent`` of ``review_sessions`` instead of the embedded blob.

All text reaches the page through ``textContent``, never as markup, so a transcript cannot
inject HTML; the blob escapes ``<``, ``>`` and ``&`` so it cannot close its script element.
"""

from __future__ import annotations

import html
import json
from typing import Any

VIEW_STYLE = """
:root { color-scheme: light dark; --fg: #1d2430; --muted: #5b6472; --bg: #ffffff; --card: #f4f6f9;
  --line: #d9dee6; --critical: #c62828; --warning: #b26a00; --info: #2f6db5; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #a3acb9; --bg: #15181d; --card: #1f242b;
  --line: #333a44; --critical: #ef5350; --warning: #ffb74d; --info: #64b5f6; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: var(--card); border-radius: 8px; padding: 10px 14px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.zero { color: var(--muted); }
.sev { display: inline-block; border-radius: 4px; padding: 0 6px; font-size: 12px; font-weight: 600; color: #fff; }
.sev-critical { background: var(--critical); } .sev-warning { background: var(--warning); }
.sev-info { background: var(--info); }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { fill: var(--muted); font-size: 11px; }
svg.chart .axis { stroke: var(--line); }
.seg-critical { fill: var(--critical); } .seg-warning { fill: var(--warning); } .seg-info { fill: var(--info); }
.legend span { margin-right: 12px; }
.session { border: 1px solid var(--line); border-left: 4px solid var(--info); border-radius: 6px; padding: 10px 14px;
  margin: 10px 0; }
.session.worst-critical { border-left-color: var(--critical); }
.session.worst-warning { border-left-color: var(--warning); }
.session:target { outline: 2px solid var(--info); }
.session h3 { margin: 0 0 2px; font-size: 15px; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.session h3 a { color: inherit; text-decoration: none; }
.session ul { list-style: none; margin: 8px 0 0; padding: 0; }
.session li { margin: 6px 0; }
.at { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; color: var(--muted); }
.check { font-weight: 600; }
blockquote { margin: 4px 0 0 0; padding: 4px 10px; border-left: 3px solid var(--line); background: var(--card);
  white-space: pre-wrap; overflow-wrap: anywhere; }
.filter { margin: 8px 0; }
"""

VIEW_SCRIPT = r"""
(function () {
  "use strict";
  var SEVERITIES = ["critical", "warning", "info"];
  var SVG_NS = "http://www.w3.org/2000/svg";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function svg(tag, attributes) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attributes || {}).forEach(function (k) { node.setAttribute(k, String(attributes[k])); });
    return node;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function offset(seconds) {
    if (seconds === null || seconds === undefined) { return "--:--"; }
    var total = Math.floor(seconds), h = Math.floor(total / 3600), m = Math.floor(total % 3600 / 60), s = total % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : pad(m) + ":" + pad(s);
  }
  function when(iso) { return iso ? iso.replace(/:\d\d(\.\d+)?(Z|\+00:00)$/, "Z").replace("T", " ") : "-"; }
  function badge(severity) { return el("span", "sev sev-" + severity, severity); }
  function sessionAnchor(id) { return "session-" + id; }

  function summary(report) {
    var cards = el("div", "cards");
    [["sessions reviewed", report.reviewed, "reviewed"], ["flagged", report.flagged, "flagged"],
     ["findings", report.findings, "findings"]].concat(SEVERITIES.map(function (s) {
      return [s, report.by_severity[s] || 0, s];
    })).concat([["could not be read", report.unread.length, "unread"]]).forEach(function (item) {
      var card = el("div", "card");
      var value = el("b", null, item[1]);
      value.id = "count-" + item[2];
      card.appendChild(value);
      card.appendChild(document.createTextNode(item[0]));
      cards.appendChild(card);
    });
    return cards;
  }

  function checkTable(report) {
    var table = el("table");
    table.id = "checks";
    var head = el("tr");
    [["check"], ["worst"], ["findings", "num"], ["sessions", "num"]].forEach(function (c) {
      head.appendChild(el("th", c[1], c[0]));
    });
    table.appendChild(head);
    report.checks.forEach(function (c) {
      var row = el("tr", c.findings ? "" : "zero");
      row.dataset.check = c.check;
      row.appendChild(el("td", "check", c.check));
      var worst = el("td");
      if (c.worst) { worst.appendChild(badge(c.worst)); }
      row.appendChild(worst);
      row.appendChild(el("td", "num", c.findings));
      row.appendChild(el("td", "num", c.sessions));
      table.appendChild(row);
    });
    return table;
  }

  // Rows per UTC day (YYYY-MM-DD), the days between filled with zeros for each of `keys`.
  function everyDay(rows, keys) {
    var known = rows.filter(function (d) { return /^\d{4}-\d\d-\d\d$/.test(d.day); });
    if (!known.length) { return []; }
    var byDay = {};
    known.forEach(function (d) { byDay[d.day] = d; });
    var out = [], day = new Date(known[0].day + "T00:00:00Z");
    var last = new Date(known[known.length - 1].day + "T00:00:00Z");
    for (var i = 0; day <= last && i < 400; i++) {
      var key = day.toISOString().slice(0, 10), empty = {day: key, sessions: 0};
      keys.forEach(function (k) { empty[k] = 0; });
      out.push(byDay[key] || empty);
      day = new Date(day.getTime() + 86400000);
    }
    return out;
  }

  // Columns per UTC day stacked by `keys` (a number per key in each row), drawn `width` units wide
  // (the width it is shown at keeps its text readable): the report's findings per day by severity,
  // and the MCP dashboard's sessions per day by status. Segments are coloured by class (seg-<key>).
  function stackedDays(rows, keys, label, width) {
    var data = everyDay(rows, keys);
    var height = Math.max(150, Math.round(width * 0.27)), left = 36, bottom = 28, top = 10;
    var box = svg("svg", {viewBox: "0 0 " + width + " " + height, "class": "chart", role: "img", "aria-label": label});
    var max = 1;
    data.forEach(function (d) {
      max = Math.max(max, keys.reduce(function (sum, k) { return sum + (d[k] || 0); }, 0));
    });
    var plotHeight = height - top - bottom, step = data.length ? (width - left) / data.length : 0;
    box.appendChild(svg("line", {x1: left, y1: top + plotHeight, x2: width, y2: top + plotHeight, "class": "axis"}));
    [0, max].forEach(function (v) {
      var text = svg("text", {x: left - 6, y: top + plotHeight - plotHeight * v / max + 4, "text-anchor": "end"});
      text.textContent = String(v);
      box.appendChild(text);
    });
    var every = Math.ceil(data.length / Math.max(2, Math.floor((width - left) / 48)));  // a label per 48 units
    data.forEach(function (d, i) {
      var x = left + i * step + step * 0.15, barWidth = Math.max(1, step * 0.7), y = top + plotHeight;
      var group = svg("g", {"class": "bar", "data-day": d.day});
      var title = svg("title");
      title.textContent = d.day + ": " + keys.map(function (k) { return (d[k] || 0) + " " + k; }).join(", ") +
        (keys.indexOf("sessions") < 0 && d.sessions ? " over " + d.sessions + " sessions" : "");
      group.appendChild(title);
      keys.forEach(function (k) {
        var h = plotHeight * (d[k] || 0) / max;
        if (h > 0) {
          y -= h;
          group.appendChild(svg("rect", {x: x, y: y, width: barWidth, height: h, "class": "seg-" + k,
            "data-value": d[k]}));
        }
      });
      box.appendChild(group);
      if (i % every === 0) {
        var text = svg("text", {x: x + barWidth / 2, y: height - 8, "text-anchor": "middle"});
        text.textContent = d.day.slice(5);
        box.appendChild(text);
      }
    });
    return box;
  }

  function chart(report, width) {
    var box = stackedDays(report.per_day, SEVERITIES, "Findings per day", width);
    box.id = "per-day-chart";
    return box;
  }

  function sessionCard(s) {
    var card = el("article", "session worst-" + s.worst);
    card.id = sessionAnchor(s.session_id);
    card.dataset.checks = s.findings.map(function (f) { return f.check; }).join(" ");
    var title = el("h3");
    var link = el("a", null, s.session_id);
    link.href = "#" + encodeURIComponent(sessionAnchor(s.session_id));
    title.appendChild(link);
    card.appendChild(title);
    card.appendChild(el("div", "meta", [s.companion_id || "-", when(s.started_at),
      s.status + (s.close_reason ? "/" + s.close_reason : "")].join(" · ")));
    var list = el("ul");
    s.findings.forEach(function (f) {
      var item = el("li", "finding");
      item.dataset.check = f.check;
      item.appendChild(badge(f.severity));
      item.appendChild(document.createTextNode(" "));
      if (f.turn_index !== null && f.turn_index !== undefined) {
        item.appendChild(el("span", "at", "[" + offset(f.offset_seconds) + "] "));
      }
      item.appendChild(el("span", "check", f.check));
      item.appendChild(document.createTextNode(" — " + f.message));
      if (f.evidence) { item.appendChild(el("blockquote", "evidence", f.evidence)); }
      list.appendChild(item);
    });
    card.appendChild(list);
    return card;
  }

  function renderQAReport(root, report) {
    root.textContent = "";
    root.appendChild(el("h1", null, "QA review"));
    var meta = "Generated " + when(report.generated_at);
    if (report.window_start && report.window_end) {
      meta += " · window " + when(report.window_start) + " to " + when(report.window_end);
    } else if (report.window_start || report.window_end) {
      meta += report.window_start ? " · since " + when(report.window_start) : " · before " + when(report.window_end);
    }
    if (report.limit_hit) { meta += " · limit reached: the newest were reviewed"; }
    if (!report.scan_complete) { meta += " · the scan bound stopped before the window's start"; }
    if (report.rules) { meta += " · rules " + report.rules; }
    root.appendChild(el("p", "meta", meta + " · times UTC"));
    root.appendChild(summary(report));
    root.appendChild(el("h2", null, "Findings per check"));
    root.appendChild(checkTable(report));
    root.appendChild(el("h2", null, "Findings per day"));
    root.appendChild(chart(report, Math.max(360, Math.min(900, root.clientWidth || 900))));
    var legend = el("p", "legend meta");
    SEVERITIES.forEach(function (s) {
      legend.appendChild(badge(s));
      legend.appendChild(document.createTextNode(" "));
    });
    root.appendChild(legend);
    root.appendChild(el("h2", null, "Flagged sessions (" + report.sessions.length + "), worst first"));
    var filter = el("select", "filter");
    filter.id = "filter";
    filter.appendChild(el("option", null, "all checks")).value = "";
    report.checks.forEach(function (c) {
      if (c.findings) { filter.appendChild(el("option", null, c.check + " (" + c.sessions + ")")).value = c.check; }
    });
    root.appendChild(filter);
    var list = el("div");
    list.id = "sessions";
    report.sessions.forEach(function (s) { list.appendChild(sessionCard(s)); });
    root.appendChild(list);
    filter.addEventListener("change", function () {
      Array.prototype.forEach.call(list.children, function (card) {
        card.hidden = !!filter.value && card.dataset.checks.split(" ").indexOf(filter.value) < 0;
      });
    });
    if (report.unread.length) {
      root.appendChild(el("h2", null, "Could not be read (" + report.unread.length + ")"));
      var unread = el("ul");
      report.unread.forEach(function (u) { unread.appendChild(el("li", null, u.session_id + ": " + u.reason)); });
      root.appendChild(unread);
    }
  }

  window.renderQAReport = renderQAReport;
  window.stackedDays = stackedDays;
})();
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main id="app"><noscript>This report draws its tables and charts with JavaScript: open it in a browser with \
JavaScript on, or use session-mcp qa --format text.</noscript></main>
<script type="application/json" id="qa-data">{data}</script>
<script>{script}
renderQAReport(document.getElementById("app"), JSON.parse(document.getElementById("qa-data").textContent));
if (location.hash) {{
  var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target) {{ target.scrollIntoView(); }}
}}
</script>
</body>
</html>
"""


def embed_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: it cannot close it or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def render_page(data: Any, title: str) -> str:
    """The self-contained HTML page of a report (``data`` is the report as JSON-ready values)."""
    return PAGE.format(title=html.escape(title), style=VIEW_STYLE, data=embed_json(data), script=VIEW_SCRIPT)
