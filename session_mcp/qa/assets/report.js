
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
    })).concat([["could not be read", report.unread.length, "unread"]]).concat(
      report.mean_score !== null && report.mean_score !== undefined ? [["mean score", report.mean_score, "mean-score"]]
        : []).concat(report.disputed ? [["disputed by reviewers", report.disputed, "disputed"]] : []
    ).forEach(function (item) {
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


  var OUTCOMES = ["resolved", "unresolved", "escalated", "abandoned", "unknown"];
  var VERDICTS = ["pass", "coach", "fail"];

  // "346 resolved · 149 unresolved": the non-zero counts of `names` in `counts`, in that order.
  function tally(counts, names) {
    return names.filter(function (n) { return counts && counts[n]; }).map(function (n) {
      return counts[n] + " " + n;
    }).join(" · ") || "-";
  }
  // A table whose rows become stacked blocks on a narrow screen (CSS), each cell after the first
  // labelled by its column's heading.
  function wrapped(table) {
    var box = el("div", "table-wrap");
    var labels = Array.prototype.map.call(table.rows[0].cells, function (c) { return c.textContent; });
    table.classList.add("stack");
    Array.prototype.slice.call(table.rows, 1).forEach(function (row) {
      Array.prototype.forEach.call(row.cells, function (c, i) { if (i) { c.dataset.label = labels[i]; } });
    });
    box.appendChild(table);
    return box;
  }
  function headRow(table, columns) {
    var head = el("tr");
    columns.forEach(function (c) { head.appendChild(el("th", c[1], c[0])); });
    table.appendChild(head);
  }

  function companionTable(report) {
    var table = el("table");
    table.id = "companions";
    var scored = report.mean_score !== null && report.mean_score !== undefined;
    headRow(table, [["companion"], ["sessions", "num"], ["flagged", "num"], ["outcomes"]].concat(
      scored ? [["verdicts"], ["mean score", "num"]] : []));
    report.companions.forEach(function (c) {
      var row = el("tr");
      row.dataset.companion = c.companion_id || "";
      row.appendChild(el("td", "check", c.companion_id || "(other)"));
      row.appendChild(el("td", "num", c.sessions));
      row.appendChild(el("td", "num", c.flagged));
      row.appendChild(el("td", "tally", tally(c.outcomes, OUTCOMES)));
      if (scored) {
        row.appendChild(el("td", "tally", tally(c.verdicts, VERDICTS)));
        row.appendChild(el("td", "num", c.mean_score === null || c.mean_score === undefined ? "-" : c.mean_score));
      }
      table.appendChild(row);
    });
    return wrapped(table);
  }

  function explainedList(report) {
    var list = el("dl", "explained");
    list.id = "explained";
    report.explained.forEach(function (h) {
      var term = el("dt");
      term.dataset.check = h.check;
      term.appendChild(el("span", "check", h.check));
      term.appendChild(document.createTextNode(" "));
      term.appendChild(badge(h.severity));
      list.appendChild(term);
      list.appendChild(el("dd", null, h.meaning + (h.threshold ? " Threshold: " + h.threshold + "." : "")));
    });
    return list;
  }

  function scorecardList(report) {
    var box = el("div");
    box.id = "scorecards";
    report.scorecards.forEach(function (card) {
      var scope = card.companion_ids.length ? "for " + card.companion_ids.join(", ") : "the default";
      box.appendChild(el("p", "meta", "Scorecard " + card.name + " (" + scope + "): pass at " + card.pass +
        ", coach at " + card.coach + " of 100."));
      var list = el("ul", "criteria");
      card.criteria.forEach(function (c) {
        list.appendChild(el("li", null, c.label + ": " + (c.fatal ? "fatal (fails the session outright)" +
          (c.weight ? ", " + c.weight + " points" : "") : c.weight + " points")));
      });
      box.appendChild(list);
    });
    return box;
  }

  function trendTable(report) {
    var box = el("div");
    box.id = "trend";
    var trend = report.trend;
    if (!trend) { return box; }
    box.appendChild(el("p", "meta", trend.note));
    if (!trend.enough_history) { return box; }
    var table = el("table");
    headRow(table, [["check or outcome"], ["this week", "num"], ["week before", "num"], ["change", "num"]]);
    trend.rows.forEach(function (r) {
      var row = el("tr", r.this_week || r.last_week ? "" : "zero");
      row.dataset.name = r.name;
      row.appendChild(el("td", r.kind === "check" ? "check" : "outcome", r.name));
      row.appendChild(el("td", "num", r.this_week));
      row.appendChild(el("td", "num", r.last_week));
      var change = r.this_week - r.last_week;
      row.appendChild(el("td", "num" + (change > 0 ? " up" : change < 0 ? " down" : ""), (change > 0 ? "+" : "") + change));
      table.appendChild(row);
    });
    box.appendChild(wrapped(table));
    return box;
  }

  // The turns around a finding (one before, one after), the finding's own turn marked.
  function contextOf(s, f) {
    if (!s.context || f.turn_index === null || f.turn_index === undefined) { return null; }
    var turns = s.context.filter(function (t) { return Math.abs(t.turn_index - f.turn_index) <= 1; });
    if (!turns.length) { return null; }
    var box = el("div", "context");
    turns.forEach(function (t) {
      var line = el("div", "turn" + (t.turn_index === f.turn_index ? " here" : ""));
      line.appendChild(el("span", "at", "[" + offset(t.offset_seconds) + "] "));
      line.appendChild(el("span", "role", t.role + ": "));
      line.appendChild(document.createTextNode(t.text));
      box.appendChild(line);
    });
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
    var facts = [s.companion_id || "-", when(s.started_at), s.status + (s.close_reason ? "/" + s.close_reason : "")];
    if (s.outcome) { facts.push("outcome " + s.outcome); }
    if (s.score) { facts.push("score " + s.score.score + " · " + s.score.verdict); }
    card.appendChild(el("div", "meta", facts.join(" · ")));
    if (s.outcome_evidence) {
      card.appendChild(el("div", "outcome meta", "Outcome " + s.outcome + (s.outcome_reason ? ": " + s.outcome_reason : "") +
        " [" + s.outcome_evidence.role + ", turn " + s.outcome_evidence.turn_index + "] “" + s.outcome_evidence.quote + "”"));
    }
    if (s.score && s.score.missed.length) {
      card.appendChild(el("div", "missed meta", "Missed on " + s.score.scorecard + ": " + s.score.missed.join("; ")));
    }
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
      if (f.review) {
        item.className += " " + f.review.verdict;
        item.appendChild(el("span", "review review-" + f.review.verdict, f.review.verdict + " by " + f.review.reviewer +
          (f.review.verdict === "disputed" ? " (not counted)" : "") + (f.review.comment ? ": " + f.review.comment : "")));
      }
      if (f.evidence) { item.appendChild(el("blockquote", "evidence", f.evidence)); }
      var context = contextOf(s, f);
      if (context) { item.appendChild(context); }
      list.appendChild(item);
    });
    card.appendChild(list);
    (s.notes || []).forEach(function (n) {
      card.appendChild(el("p", "note", "Note by " + n.reviewer + " (" + when(n.at) + "): " + n.text));
    });
    if (s.context) {  // the page stands alone: say where the whole conversation is
      var full = el("p", "full meta", "Full transcript: ");
      full.appendChild(el("code", null, "session-mcp sessions show " + s.session_id));
      full.appendChild(document.createTextNode(" or, from the chat, "));
      full.appendChild(el("code", null, "get_session_transcript session_id='" + s.session_id + "'"));
      card.appendChild(full);
    }
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
    if (report.companions && report.companions.length) {
      root.appendChild(el("h2", null, "Per companion"));
      root.appendChild(companionTable(report));
    }
    root.appendChild(el("h2", null, "Findings per check"));
    root.appendChild(wrapped(checkTable(report)));
    if (report.outcomes && OUTCOMES.some(function (o) { return report.outcomes[o]; })) {
      var outcomes = el("p", "meta", "Outcomes: " + tally(report.outcomes, OUTCOMES) +
        (report.verdicts && VERDICTS.some(function (v) { return report.verdicts[v]; })
          ? " · verdicts: " + tally(report.verdicts, VERDICTS) : ""));
      outcomes.id = "outcomes";
      root.appendChild(outcomes);
    }
    if (report.trend) {
      root.appendChild(el("h2", null, "This week against the week before"));
      root.appendChild(trendTable(report));
    }
    if (report.explained && report.explained.length) {
      root.appendChild(el("h2", null, "What the checks mean"));
      root.appendChild(explainedList(report));
    }
    if (report.scorecards && report.scorecards.length) {
      root.appendChild(el("h2", null, "Scorecards"));
      root.appendChild(scorecardList(report));
    }
    root.appendChild(el("h2", null, "Findings per day"));
    root.appendChild(chart(report, Math.max(360, Math.min(900, root.clientWidth || 900))));
    var legend = el("p", "legend meta");
    SEVERITIES.forEach(function (s) {
      legend.appendChild(badge(s));
      legend.appendChild(document.createTextNode(" "));
    });
    root.appendChild(legend);
    root.appendChild(el("h2", null, "Flagged sessions (" + report.sessions.length + "), worst first"));
    if (report.listed > report.sessions.length) {  // a big review: the page carries its worst sessions only
      root.appendChild(el("p", "meta", "The worst " + report.sessions.length + " of " + report.listed +
        " flagged sessions; the json, jsonl and junit reports list them all."));
    }
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
