// A transcript as a timeline: the session header, the turns with [mm:ss] and their roles, QA
// findings marked on their turns, and search within the transcript. Shared by the transcript view
// and the dashboard (which opens a flagged session's transcript in place).

const ROLE_LABELS = { agent: "Agent", user: "User" };

function roleLabel(role) {
  if (ROLE_LABELS[role]) return ROLE_LABELS[role];
  const text = String(role || "other");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function sessionFacts(session) {
  const facts = [
    ["Companion", [session.companion_id, session.companion_name].filter(Boolean).join(" · ") || null],
    ["Agent", [session.agent_id, session.agent_name].filter(Boolean).join(" · ") || null],
    ["Client", session.external_client_id],
    ["Started", session.started_at ? formatTime(session.started_at) : session.created_at ? "never started" : null],
    ["Duration", session.duration_seconds !== undefined ? formatDuration(session.duration_seconds) : null],
    ["Close reason", session.close_reason],
    ["Type", [session.session_type, session.modality].filter(Boolean).join(" · ") || null],
    ["Cost", typeof session.cost === "number" ? formatMoney(session.cost) : null],
    ["Tags", tagText(session.tags)],
    ["Failed tools", failedTools(session.tools)],
  ];
  return facts.filter(([, value]) => value !== null && value !== undefined && value !== "");
}

function tagText(tags) {
  if (!tags || typeof tags !== "object") return null;
  const pairs = Object.entries(tags).map(([key, value]) => `${key}=${value}`);
  return pairs.length ? pairs.join(", ") : null;
}

// The WebSocket tools that failed to connect (functionMetrics), with their error.
function failedTools(tools) {
  const failed = listOf(tools).filter((tool) => tool.state === "failed");
  if (!failed.length) return null;
  return failed
    .map((tool) => {
      const detail = [tool.error_code, tool.error_message].filter(Boolean).join(": ");
      return detail ? `${tool.name} (${detail})` : String(tool.name);
    })
    .join(", ");
}

function renderTranscript(container, result, options) {
  const settings = options || {};
  const session = (result && result.session) || {};
  const turns = listOf(result && result.turns);
  const state = { findings: [], query: "", next: result ? result.next_offset : undefined, loading: null };

  const head = el(
    "header",
    { class: "session-head" },
    el("h1", {}, "Session ", el("code", { text: session.id || "?" }), " ", statusBadge(session.status)),
    el("dl", { class: "facts" }, sessionFacts(session).map(([name, value]) => [el("dt", { text: name }), el("dd", { text: value })])),
  );
  const summary = el("section", { class: "findings-summary", hidden: true, "aria-label": "QA findings" });
  const search = el("input", { type: "search", placeholder: "Search this transcript", "aria-label": "Search this transcript" });
  const matchCount = el("span", { class: "match-count", "aria-live": "polite" });
  const timeline = el("ol", { class: "timeline" });
  const windowNote = el("p", { class: "window-note" });
  const total = typeof result.total_turns === "number" ? result.total_turns : turns.length;

  function turnItem(turn) {
    const role = String(turn.role || "other");
    const known = ROLE_LABELS[role] ? role : "other";
    return el(
      "li",
      { class: `turn role-${known}`, "data-turn-index": turn.index, "data-role": role, id: `turn-${turn.index}` },
      el(
        "div",
        { class: "turn-meta" },
        el("time", { class: "offset", text: `[${formatOffset(turn.offset_seconds)}]` }),
        el("span", { class: "role", text: roleLabel(role) }),
      ),
      el("p", { class: "turn-text", text: String(turn.text || "") }),
    );
  }

  function addTurns(list) {
    for (const turn of list) timeline.append(turnItem(turn));
    updateWindowNote();
    markFindings();
    applySearch();
  }

  function updateWindowNote() {
    clear(windowNote);
    const shown = timeline.children.length;
    if (!total) {
      windowNote.textContent = "No transcript: nothing was said in this session.";
      return;
    }
    windowNote.append(shown >= total ? `${plural(total, "turn")}.` : `Showing ${shown} of ${total} turns. `);
    if (canLoad() && !settings.loadMore) windowNote.append("This host does not let the view load more.");
    if (canLoad() && settings.loadMore) {
      const button = el("button", { type: "button", class: "load-more", text: "Load more turns" });
      button.addEventListener("click", async () => {
        button.disabled = true;
        button.textContent = "Loading…";
        try {
          await loadNext();
        } catch (error) {
          windowNote.append(el("span", { class: "error", text: ` ${error.message}` }));
          button.disabled = false;
          button.textContent = "Load more turns";
        }
      });
      windowNote.append(button);
    }
  }

  function canLoad() {
    return state.next !== undefined && state.next !== null;
  }

  // The next page of turns; one request at a time, whether the button or a finding's jump asked.
  function loadNext() {
    if (!state.loading) {
      state.loading = settings
        .loadMore(state.next)
        .then((more) => {
          state.next = more.next_offset;
          addTurns(listOf(more.turns).filter((turn) => !turnNode(turn.index)));
        })
        .finally(() => {
          state.loading = null;
        });
    }
    return state.loading;
  }

  function turnNode(index) {
    return timeline.querySelector(`[data-turn-index="${index}"]`);
  }

  // A finding's turn, loading the pages up to it first when it is not loaded yet.
  async function jumpTo(index, jump) {
    let item = turnNode(index);
    try {
      while (!item && canLoad() && settings.loadMore) {
        await loadNext();
        item = turnNode(index);
      }
    } catch (error) {
      jump.after(el("span", { class: "error", text: ` ${error.message}` }));
      return;
    }
    if (item) item.scrollIntoView({ block: "center" });
    else if (!jump.nextElementSibling || !jump.nextElementSibling.classList.contains("not-loaded")) {
      jump.after(el("span", { class: "muted not-loaded", text: " (turn not loaded)" }));
    }
  }

  function markFindings() {
    for (const node of timeline.querySelectorAll(".turn-findings")) node.remove();
    for (const node of timeline.querySelectorAll(".turn.flagged")) {
      node.classList.remove("flagged");
      delete node.dataset.severity;
    }
    for (const finding of state.findings) {
      if (typeof finding.turn_index !== "number") continue;
      const item = timeline.querySelector(`[data-turn-index="${finding.turn_index}"]`);
      if (!item) continue;
      let marks = item.querySelector(".turn-findings");
      if (!marks) {
        marks = el("ul", { class: "turn-findings" });
        item.append(marks);
      }
      item.classList.add("flagged");
      const rank = SEVERITY_RANK[finding.severity] || 1;
      if (rank > (SEVERITY_RANK[item.dataset.severity] || 0)) item.dataset.severity = finding.severity;
      marks.append(
        el("li", { "data-check": finding.check }, severityBadge(finding.severity), " ", el("strong", { text: finding.check }), " ", finding.message || ""),
      );
    }
  }

  function renderSummary() {
    clear(summary);
    summary.hidden = state.findings.length === 0;
    if (summary.hidden) return;
    const ordered = state.findings
      .slice()
      .sort((a, b) => (SEVERITY_RANK[b.severity] || 0) - (SEVERITY_RANK[a.severity] || 0));
    summary.append(
      el("h2", { text: `QA findings (${ordered.length})` }),
      el(
        "ul",
        {},
        ordered.map((finding) => {
          let jump = el("span", { class: "muted", text: "whole session" });
          if (typeof finding.turn_index === "number") {
            jump = el("button", { type: "button", class: "link", "data-turn-index": finding.turn_index, text: `[${formatOffset(finding.offset_seconds)}]` });
            const target = jump;
            jump.addEventListener("click", () => jumpTo(finding.turn_index, target));
          }
          return el("li", { "data-check": finding.check }, severityBadge(finding.severity), " ", el("strong", { text: finding.check }), " ", jump, " ", finding.message || "");
        }),
      ),
    );
  }

  function highlight(paragraph, text, query) {
    clear(paragraph);
    if (!query) {
      paragraph.textContent = text;
      return;
    }
    const lower = text.toLowerCase();
    let from = 0;
    for (let at = lower.indexOf(query, from); at !== -1; at = lower.indexOf(query, from)) {
      paragraph.append(text.slice(from, at), el("mark", { text: text.slice(at, at + query.length) }));
      from = at + query.length;
    }
    paragraph.append(text.slice(from));
  }

  function applySearch() {
    const query = state.query;
    let matches = 0;
    const items = timeline.querySelectorAll(".turn");
    for (const item of items) {
      const paragraph = item.querySelector(".turn-text");
      const text = paragraph.textContent;
      const hit = !query || text.toLowerCase().includes(query);
      item.hidden = !hit;
      if (hit && query) matches += 1;
      highlight(paragraph, text, hit ? query : "");
    }
    const scope = total > items.length ? `${formatCount(items.length)} loaded turns (${formatCount(total)} in all)` : plural(items.length, "turn");
    matchCount.textContent = query ? `${matches} of ${scope} match` : "";
  }

  search.addEventListener("input", () => {
    state.query = search.value.trim().toLowerCase();
    applySearch();
  });

  clear(container).append(
    el("article", { class: "transcript", "data-session-id": session.id || "" }, head, settings.notice ? el("p", { class: "muted notice", text: settings.notice }) : null, summary, el("div", { class: "toolbar" }, search, matchCount), timeline, windowNote),
  );
  addTurns(turns);

  return {
    setFindings(findings) {
      state.findings = listOf(findings);
      renderSummary();
      markFindings();
    },
  };
}

// The QA findings of one session (review_sessions of it alone, with the server's rules); null when
// this server offers views no review.
async function sessionFindings(host, sessionId) {
  const args = argumentsFor("review_sessions", { session_ids: [sessionId] });
  if (args === null) return null;
  const found = await host.callTool("review_sessions", args);
  const flagged = listOf((found.structuredContent || {}).sessions).find((s) => s.session_id === sessionId);
  return flagged ? listOf(flagged.findings) : [];
}
