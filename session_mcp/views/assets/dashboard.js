// The dashboard: session_stats figures as charts, review_sessions findings per check and the
// flagged sessions; a flagged session opens its transcript in place through a tool call.

function isStats(data) {
  return data && typeof data === "object" && "by_status" in data;
}

function isReview(data) {
  return data && typeof data === "object" && "reviewed" in data && "checks" in data;
}

// Sessions per UTC day as rows of the template's stackedDays: one number per status when the
// result splits the days by status, else the day's total.
function dailyRows(stats) {
  return listOf(stats.per_day)
    .filter((day) => typeof day.day === "string")
    .map((day) => ({ day: day.day, sessions: day.sessions || 0, ...(day.by_status && typeof day.by_status === "object" ? day.by_status : {}) }));
}

function scopeLine(stats) {
  const parts = [`${plural(stats.examined || 0, "session")} examined`];
  if (typeof stats.matched === "number") parts[0] += ` of ${stats.matched} matching`;
  const scan = stats.scan && typeof stats.scan === "object" ? stats.scan : {};
  if (scan.window_start || scan.window_end) parts.push(`${formatTime(scan.window_start)} → ${scan.window_end ? formatTime(scan.window_end) : "now"}`);
  if (stats.limit_hit) parts.push(`limit ${stats.limit} reached`);
  if (stats.unread_count) parts.push(`${plural(stats.unread_count, "session")} could not be read`);
  return parts.join(" · ");
}

const TOP_ROWS = 8; // rows per bar chart: the rest is counted in the chart's note

function tile(label, value, className) {
  return el("div", { class: `tile ${className || ""}`, "data-tile": label }, el("span", { class: "tile-value", text: value }), el("span", { class: "tile-label", text: label }));
}

const STATUSES = ["closed", "started", "pending", "failed"];

// A status's colour class: the four known ones have their own, any other shares one.
function seriesClass(key) {
  return key === "sessions" || STATUSES.includes(key) ? `series-${key}` : "series-others";
}

// "N other things not drawn", or null when nothing was left out.
function leftOut(count, noun) {
  return count > 0 ? `${plural(count, noun)} not drawn` : null;
}

function notes(...parts) {
  return parts.filter(Boolean).join(" · ") || null;
}

function perDayChart(days, stats) {
  const present = new Set(days.flatMap((d) => Object.keys(d)).filter((key) => key !== "day" && key !== "sessions"));
  const keys = STATUSES.filter((status) => present.has(status)).concat([...present].filter((key) => !STATUSES.includes(key)));
  const series = keys.length ? keys : ["sessions"];
  const caption = keys.length ? "Sessions per day (UTC) by status" : "Sessions per day (UTC)";
  const legend = el(
    "ul",
    { class: "legend" },
    series.map((key) => el("li", {}, el("span", { class: `swatch ${seriesClass(key)}` }), `${key} ${days.reduce((sum, d) => sum + (d[key] || 0), 0)}`)),
  );
  const earlier = stats.earlier_days ? `${plural(stats.earlier_days, "earlier day")} (${plural(stats.earlier_sessions || 0, "session")}) not drawn` : null;
  return figure(caption, el("div", {}, window.stackedDays(days, series, caption, CHART_WIDTH), legend), earlier);
}

// Per companion: [label, figures] from `companions` (sessions, failed, cost, durations) or, in
// older results, from the plain counts.
function companionRows(stats) {
  const detailed = listOf(stats.companions).filter((c) => typeof c.companion_id === "string");
  if (detailed.length) return detailed.map((c) => [c.companion_id, c]);
  return countsOf(stats.by_companion).map(([label, sessions]) => [label, { sessions }]);
}

function statsSection(stats) {
  const byStatus = countsOf(stats.by_status);
  const total = byStatus.reduce((sum, [, n]) => sum + n, 0);
  const failed = (stats.by_status && stats.by_status.failed) || 0;
  const duration = stats.duration_seconds || {};
  const cost = stats.cost && typeof stats.cost === "object" ? stats.cost : null;
  const tiles = el(
    "div",
    { class: "tiles" },
    tile("sessions", String(stats.examined || total)),
    tile("failed", total ? `${failed} (${Math.round((100 * failed) / total)}%)` : "0", failed ? "alert" : ""),
    tile("median duration", formatDuration(duration.median)),
    cost && typeof cost.total === "number" ? tile("cost", formatMoney(cost.total)) : null,
  );
  const charts = el("div", { class: "charts" });
  const days = dailyRows(stats);
  if (days.length) charts.append(perDayChart(days, stats));
  if (byStatus.length) {
    charts.append(horizontalBars("Sessions by status", byStatus.map(([label, value]) => ({ label, value, className: seriesClass(label) }))));
  }
  const everyCompanion = companionRows(stats);
  const companions = everyCompanion.slice(0, TOP_ROWS);
  const otherCompanions = everyCompanion.length - companions.length + (Number(stats.other_companions) || 0);
  if (companions.length) {
    const note = leftOut(otherCompanions, "other companion");
    charts.append(horizontalBars("Sessions per companion", companions.map(([label, c]) => ({ label, value: c.sessions || 0 })), { note }));
  }
  const durationRows = companions.filter(([, c]) => c.duration_seconds && c.duration_seconds.count).map(([label, c]) => ({ label, ...c.duration_seconds }));
  if (duration.count) durationRows.unshift({ label: "all sessions", ...duration });
  if (durationRows.length) charts.append(distributionRows("Session duration", durationRows, formatDuration));
  const spend = cost ? listOf(cost.by_companion).filter((a) => typeof a.cost === "number") : [];
  if (spend.length) {
    const note = notes(cost.without_cost ? `${plural(cost.without_cost, "session")} without a cost yet` : null, leftOut(spend.length - TOP_ROWS + (Number(stats.other_companions) || 0), "other companion"));
    charts.append(horizontalBars("Cost per companion", spend.slice(0, TOP_ROWS).map((a) => ({ label: a.key, value: a.cost })), { format: formatMoney, note }));
  }
  const tools = listOf(stats.tools).filter((t) => t.failed);
  if (tools.length) {
    const note = leftOut(tools.length - TOP_ROWS + (Number(stats.other_tools) || 0), "other tool");
    charts.append(horizontalBars("Tool connection failures", tools.slice(0, TOP_ROWS).map((t) => ({ label: t.name, value: t.failed, className: "series-failed" })), { note }));
  }
  return el("section", { class: "stats" }, el("p", { class: "scope", text: scopeLine(stats) }), tiles, charts);
}

const LISTED_IDS = 50; // buttons for the flagged sessions the answer names but does not show

// The QA half, drawn into `section` (already on the page, so its chart takes the width shown) by
// the QA report's own template; each flagged session gets a button that opens its transcript here
// (none when `openSession` is null: the host cannot call tools). The flagged sessions the answer
// left out to fit its budget are counted, and those it names can be opened too.
function drawReview(section, review, openSession) {
  try {
    window.renderQAReport(section, review);
  } catch (error) {
    showError(section, `The QA review could not be drawn: ${error.message}`);
    return;
  }
  const opener = (sessionId, findings, text) => {
    const open = el("button", { type: "button", class: "open-transcript", "data-session-id": sessionId, text });
    open.addEventListener("click", () => openSession(sessionId, findings));
    return open;
  };
  const flagged = new Map(listOf(review.sessions).map((item) => [item.session_id, listOf(item.findings)]));
  for (const card of openSession ? section.querySelectorAll("article.session") : []) {
    const sessionId = card.id.replace(/^session-/, "");
    if (flagged.has(sessionId)) card.querySelector("h3").append(opener(sessionId, flagged.get(sessionId), "Open transcript"));
  }
  const named = (Array.isArray(review.not_shown) ? review.not_shown : []).filter((id) => typeof id === "string");
  const missing = Math.max(named.length, (Number(review.flagged) || 0) - flagged.size);
  if (!missing) return;
  const note = el("div", { class: "not-shown" }, el("p", { class: "muted", text: `${plural(missing, "more flagged session")} not listed (left out to fit the answer's size).` }));
  if (openSession && named.length) {
    const shown = named.slice(0, LISTED_IDS);
    note.append(el("p", { class: "not-shown-ids" }, shown.map((id) => opener(id, null, id)), missing > shown.length ? ` and ${missing - shown.length} more` : null));
  }
  (section.querySelector("#sessions") || section.lastChild).after(note);
}

function mountDashboard(root, host) {
  // pending: the tool whose answer completes the picture, while it runs; missing: why a half is absent.
  const state = { args: {}, stats: null, review: null, pending: null, missing: {} };
  const opened = el("section", { class: "opened", hidden: true, "aria-label": "Opened session" });

  // `findings`: the session's, from the review on the page; null: ask for them (a session the
  // answer named without its findings).
  async function openSession(sessionId, findings) {
    opened.hidden = false;
    clear(opened).append(el("p", { class: "loading", text: `Opening ${sessionId}…` }));
    try {
      const found = findings ? Promise.resolve(findings) : sessionFindings(host, sessionId).catch(() => []);
      const result = await host.callTool("get_session_transcript", { session_id: sessionId });
      const close = el("button", { type: "button", class: "close", text: "Close transcript" });
      close.addEventListener("click", () => {
        opened.hidden = true;
        clear(opened);
      });
      const holder = el("div");
      clear(opened).append(close, holder);
      const view = renderTranscript(holder, result.structuredContent || {}, {
        loadMore: async (offset) => (await host.callTool("get_session_transcript", { session_id: sessionId, offset })).structuredContent,
      });
      view.setFindings((await found) || []);
      opened.scrollIntoView({ block: "start" });
    } catch (error) {
      showError(opened, `Could not open ${sessionId}: ${error.message}`);
    }
  }

  function absent(tool, name) {
    if (state.pending === tool) return el("p", { class: "loading", text: `${name} running…` });
    return state.missing[tool] ? el("p", { class: "muted", text: `${name} unavailable: ${state.missing[tool]}` }) : null;
  }

  function draw() {
    const qa = el("section", { class: "qa" });
    const parts = [
      el("h1", { text: "Sessions" }),
      state.stats ? statsSection(state.stats) : absent("session_stats", "Statistics"),
      state.review ? qa : absent("review_sessions", "QA review"),
    ];
    clear(root).append(el("div", { class: "dashboard" }, parts, opened));
    if (state.review) drawReview(qa, state.review, host.canCallTools() ? openSession : null);
  }

  // The other half of the picture over the same sessions: the review of the statistics' sessions,
  // or the statistics of the reviewed ones (not when the review was of given ids: no filter
  // selects the same set). Without a limit from the model the two tools' defaults differ, so the
  // number of sessions the first one looked at is the limit of the second (within its maximum).
  async function complete(tool) {
    const behind = tool === "review_sessions" ? state.stats.examined : state.review.reviewed;
    const given = { ...state.args };
    if (given.limit === undefined || given.limit === null) given.limit = behind;
    const args = argumentsFor(tool, given);
    try {
      if (args === null) throw new Error(`this server has no ${tool} tool`);
      if (tool === "session_stats" && Array.isArray(state.args.session_ids) && state.args.session_ids.length) {
        throw new Error("the review was of given sessions, which no filter selects");
      }
      if (!behind) throw new Error("no sessions matched");
      const data = (await host.callTool(tool, args)).structuredContent || {};
      if (tool === "review_sessions") state.review = data;
      else state.stats = data;
    } catch (error) {
      state.missing[tool] = error.message;
    } finally {
      state.pending = null;
      draw();
      settle(true);
    }
  }

  return {
    toolInput(args) {
      state.args = args || {};
    },
    toolResult(result) {
      const data = result.structuredContent;
      if (result.isError || !(isStats(data) || isReview(data))) {
        timed(() => showError(root, textOf(result) || "This result has no statistics to show."));
        settle(true);
        return;
      }
      const other = isStats(data) ? "review_sessions" : "session_stats";
      if (isStats(data)) state.stats = data;
      else state.review = data;
      if (!host.canCallTools()) {
        state.missing[other] = "this host does not let the view call tools";
        timed(draw);
        settle(true);
        return;
      }
      state.pending = other;
      timed(draw);
      settle(false);
      complete(other);
    },
  };
}
