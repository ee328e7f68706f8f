
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
