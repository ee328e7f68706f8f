// Drives Debian's Chromium through playwright-core (no browser download): opens the test host
// page for each run of the plan (JSON on stdin), waits for the view to settle, collects what its
// DOM shows, then performs the run's steps inside the view's frame (fill, click, wait for a
// selector, screenshot) or the host's (a theme change), collecting the DOM again after each. Prints one JSON report on stdout.
import { createRequire } from "node:module";
import path from "node:path";

const kit = process.env.VIEWS_KIT;
const { chromium } = createRequire(path.join(kit, "package.json"))("playwright-core");
const plan = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

// Everything a test may assert on, read from the view's DOM (runs inside the view's frame).
function collect() {
  const text = (node) => (node ? node.textContent.trim() : null);
  const numberOf = (value) => (value === undefined ? null : Number(value));
  const root = document.documentElement;
  const style = getComputedStyle(document.body);
  return {
    state: root.dataset.state || null,
    renderMs: numberOf(root.dataset.renderMs),
    theme: root.dataset.theme || null,
    colorScheme: getComputedStyle(root).colorScheme,
    background: style.backgroundColor,
    color: style.color,
    width: root.clientWidth,
    overflowX: root.scrollWidth > root.clientWidth,
    policies: [...document.querySelectorAll('meta[http-equiv="Content-Security-Policy"]')].map((m) => m.content),
    errors: [...document.querySelectorAll(".error")].map(text),
    notes: [...document.querySelectorAll(".muted, .loading")].map(text),
    scope: [...document.querySelectorAll(".scope")].map(text),
    tiles: Object.fromEntries([...document.querySelectorAll(".tile")].map((t) => [t.dataset.tile, text(t.querySelector(".tile-value"))])),
    charts: [...document.querySelectorAll("figure.chart")].map((f) => ({
      caption: text(f.querySelector("figcaption")),
      note: text(f.querySelector(".chart-note")),
      columns: [...f.querySelectorAll("g.bar[data-day]")].map((g) => ({
        day: g.dataset.day,
        segments: [...g.querySelectorAll("rect")].map((r) => ({ series: r.getAttribute("class").replace(/^seg-/, ""), value: Number(r.dataset.value), height: Number(r.getAttribute("height")) })),
      })),
      rows: [...f.querySelectorAll("g.row")].map((g) => {
        const bar = g.querySelector("rect.bar");
        return { label: g.dataset.label, value: numberOf(g.dataset.value), median: numberOf(g.dataset.median), p90: numberOf(g.dataset.p90), max: numberOf(g.dataset.max), barWidth: bar ? Number(bar.getAttribute("width")) : null, fill: bar ? getComputedStyle(bar).fill : null };
      }),
      legend: [...f.querySelectorAll(".legend li")].map(text),
      swatches: [...f.querySelectorAll(".legend .swatch")].map((swatch) => getComputedStyle(swatch).backgroundColor),
      segmentFills: [...new Set([...f.querySelectorAll("g.bar[data-day] rect")].map((r) => getComputedStyle(r).fill))],
    })),
    qa: document.querySelector(".qa")
      ? {
          counts: Object.fromEntries([...document.querySelectorAll(".qa [id^=count-]")].map((b) => [b.id.slice(6), Number(b.textContent)])),
          checks: Object.fromEntries([...document.querySelectorAll(".qa #checks tr[data-check]")].map((tr) => [tr.dataset.check, Number(tr.children[2].textContent)])),
          perDay: [...document.querySelectorAll(".qa #per-day-chart g.bar")].map((g) => ({ day: g.dataset.day, rects: g.querySelectorAll("rect").length, filled: [...g.querySelectorAll("rect")].every((r) => getComputedStyle(r).fill !== "rgb(0, 0, 0)") })),
          sessions: [...document.querySelectorAll(".qa article.session")].map((a) => ({ id: a.id.replace(/^session-/, ""), open: Boolean(a.querySelector("button.open-transcript")), meta: text(a.querySelector(".meta")) })),
          companions: Object.fromEntries([...document.querySelectorAll(".qa #companions tr[data-companion]")].map((tr) => [tr.dataset.companion, Number(tr.children[1].textContent)])),
          outcomes: text(document.querySelector(".qa #outcomes")),
          notShown: text(document.querySelector(".qa .not-shown p")),
          notShownIds: [...document.querySelectorAll(".qa .not-shown button.open-transcript")].map((b) => b.dataset.sessionId),
          notShownIdsText: text(document.querySelector(".qa .not-shown .not-shown-ids")),
        }
      : null,
    transcripts: [...document.querySelectorAll("article.transcript")].map((a) => ({
      sessionId: a.dataset.sessionId,
      title: text(a.querySelector("h1")),
      facts: Object.fromEntries([...a.querySelectorAll(".facts dt")].map((dt) => [dt.textContent, text(dt.nextElementSibling)])),
      summary: [...a.querySelectorAll(".findings-summary li")].map((li) => li.dataset.check),
      matchCount: text(a.querySelector(".match-count")),
      windowNote: text(a.querySelector(".window-note")),
      loadMore: Boolean(a.querySelector(".load-more")),
      notice: text(a.querySelector(".notice")),
      turns: [...a.querySelectorAll(".turn")].map((li) => ({
        index: Number(li.dataset.turnIndex),
        role: li.dataset.role,
        offset: text(li.querySelector(".offset")),
        label: text(li.querySelector(".role")),
        text: text(li.querySelector(".turn-text")),
        hidden: li.hidden,
        marks: li.querySelectorAll("mark").length,
        flagged: li.classList.contains("flagged"),
        severity: li.dataset.severity || null,
        checks: [...li.querySelectorAll(".turn-findings [data-check]")].map((x) => x.dataset.check),
        background: getComputedStyle(li).backgroundColor,
      })),
    })),
  };
}

// The view's document is the sandbox proxy's srcdoc child; it appears once that frame navigates.
async function viewFrame(page) {
  const isView = (frame) => frame.url() === "about:srcdoc";
  const found = page.frames().find(isView);
  if (found) return found;
  return page.waitForEvent("framenavigated", { predicate: isView, timeout: 20000 });
}

const settled = () => document.documentElement.dataset.state === "ready";

async function step(page, frame, action) {
  if (action.screenshot) {
    await page.locator("#view").screenshot({ path: action.screenshot });
    return;
  }
  if (action.hostTheme) {
    await page.evaluate((theme) => window.harness.setTheme(theme), action.hostTheme);
    await frame.waitForFunction((theme) => document.documentElement.dataset.theme === theme, action.hostTheme);
  }
  if (action.fill !== undefined) await frame.fill(action.fill, action.value);
  if (action.click) await frame.click(action.click);
  if (action.waitFor) await frame.waitForSelector(action.waitFor, { state: "attached", timeout: 20000 });
  await frame.waitForFunction(settled, null, { timeout: 20000 });
}

const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  chromiumSandbox: false,
  args: ["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const report = { browser: browser.version(), origins: [plan.host, plan.sandbox], runs: [] };
try {
  for (const run of plan.runs) {
    // Tall enough for the whole frame: Chromium paints a cross-origin frame only inside the viewport.
    const context = await browser.newContext({ viewport: { width: run.width + 32, height: plan.maxHeight + 32 }, colorScheme: run.theme });
    const page = await context.newPage();
    const messages = [];
    const requests = [];
    page.on("console", (message) => messages.push({ type: message.type(), text: message.text(), frame: message.location().url }));
    page.on("pageerror", (error) => messages.push({ type: "pageerror", text: String(error) }));
    page.on("request", (request) => requests.push(request.url()));
    const started = Date.now();
    const query = new URLSearchParams({ scenario: run.scenario, theme: run.theme, width: String(run.width), maxHeight: String(plan.maxHeight), sandbox: plan.sandbox, serverTools: run.serverTools === false ? "0" : "1" });
    await page.goto(`${plan.host}/host.html?${query}`);
    const frame = await viewFrame(page);
    await frame.waitForFunction(settled, null, { timeout: 30000 });
    const result = { name: run.name, theme: run.theme, readyMs: Date.now() - started, facts: [await frame.evaluate(collect)] };
    for (const action of run.steps || []) {
      await step(page, frame, action);
      if (!action.screenshot) result.facts.push(await frame.evaluate(collect));
    }
    // The view tells the host its size through the bridge as it settles, so the message may still be
    // on its way when the view says ready: wait for the host to hear a grown size (or give up, and the
    // test fails on what was recorded).
    await page.waitForFunction(() => window.harness.sizes.some((height) => height > 120), null, { timeout: 10000 }).catch(() => {});
    result.host = await page.evaluate(() => window.harness);
    result.console = messages.slice();
    // Last, so its refusal is not counted among the run's console errors: the view cannot reach
    // the network, not even the host's own origin.
    result.fetchProbe = await frame.evaluate((url) => fetch(url).then(() => "allowed", () => "blocked"), `${plan.host}/host.html`);
    result.requests = requests;
    report.runs.push(result);
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
