// DOM building and formatting shared by every view. Text goes in through textContent only:
// transcripts are user and upstream text, never markup.
const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  return fill(node, attrs, children);
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  return fill(node, attrs, children);
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

// [mm:ss] from the session start, h:mm:ss past an hour (as the text answers write it).
function formatOffset(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "--:--";
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

// 4m 55s, 1h 02m, 12s (as the text answers write it).
function formatDuration(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "-";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

function formatTime(iso) {
  if (typeof iso !== "string") return "-";
  const moment = new Date(iso);
  if (isNaN(moment.getTime())) return "-";
  return moment.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function formatMoney(value) {
  if (typeof value !== "number" || !isFinite(value)) return "-";
  return "$" + value.toFixed(value >= 100 ? 0 : 2);
}

// 2,200: a count with thousands separators (without Intl, whose first call costs tens of ms).
function formatCount(count) {
  return String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function plural(count, noun) {
  return `${count} ${count === 1 ? noun : noun + "s"}`;
}

// A plain object's [key, number] pairs, largest first; anything else is no data.
function countsOf(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return [];
  return Object.entries(value)
    .filter(([, n]) => typeof n === "number" && isFinite(n))
    .sort((a, b) => b[1] - a[1]);
}

function listOf(value) {
  return Array.isArray(value) ? value.filter((item) => item && typeof item === "object") : [];
}

function statusBadge(status) {
  const known = ["closed", "failed", "started", "pending"];
  return el("span", { class: `badge status-${known.includes(status) ? status : "other"}`, text: status || "unknown" });
}

const SEVERITY_RANK = { critical: 3, warning: 2, info: 1 };

function severityBadge(severity) {
  const known = severity in SEVERITY_RANK ? severity : "info";
  return el("span", { class: `badge severity-${known}`, text: severity || "info" });
}

function showError(container, message) {
  clear(container).append(el("p", { class: "error", role: "alert", text: message }));
}

// The render time of the tool result the host handed over, and whether the view has settled
// (no tool call of its own still running), on the root element for whoever measures the view.
function timed(render) {
  const start = performance.now();
  render();
  document.documentElement.dataset.renderMs = (performance.now() - start).toFixed(1);
}

function settle(done) {
  document.documentElement.dataset.state = done ? "ready" : "busy";
}
