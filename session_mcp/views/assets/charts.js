// Small SVG charts built with DOM calls (no markup strings, no library), beside the per-day chart
// of the QA report's template (stackedDays). Each returns a <figure> whose drawn marks carry
// data-* attributes naming what they show, so a reader, a test or a screen reader can tell a bar
// from its value.
const CHART_WIDTH = 360;

function figure(caption, chart, note) {
  return el("figure", { class: "chart" }, el("figcaption", { text: caption }), chart, note ? el("p", { class: "chart-note", text: note }) : null);
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

// One horizontal bar per row: counts or money per companion, findings per check.
function horizontalBars(caption, rows, options) {
  const format = (options && options.format) || ((value) => String(value));
  const rowHeight = 22;
  const labelWidth = 118;
  const valueWidth = 56;
  const height = rows.length * rowHeight + 4;
  const max = Math.max(0, ...rows.map((row) => row.value)) || 1;
  const chart = svg("svg", { viewBox: `0 0 ${CHART_WIDTH} ${height}`, class: "plot", role: "img", "aria-label": caption });
  rows.forEach((row, i) => {
    const y = 2 + i * rowHeight;
    const width = Math.max(1, (row.value / max) * (CHART_WIDTH - labelWidth - valueWidth));
    chart.append(
      svg(
        "g",
        { class: "row", "data-label": row.label, "data-value": row.value },
        svg("text", { class: "label", x: labelWidth - 6, y: y + 14, "text-anchor": "end", text: shorten(row.label, 18) }),
        svg("rect", { class: `bar ${row.className || "series-default"}`, x: labelWidth, y: y + 3, width, height: rowHeight - 8 }, svg("title", { text: `${row.label}: ${format(row.value)}` })),
        svg("text", { class: "value", x: labelWidth + width + 4, y: y + 14, text: format(row.value) }),
      ),
    );
  });
  return figure(caption, chart, options && options.note);
}

// Per row, a distribution on one shared axis: a bar to p90, a dot at the median, a line to the max.
// The axis fits the p90s; a max beyond it is drawn to the edge and written out.
function distributionRows(caption, rows, format, note) {
  const rowHeight = 24;
  const labelWidth = 118;
  const right = 16;
  const height = rows.length * rowHeight + 18;
  const axisMax = niceMax(Math.max(0, ...rows.map((row) => Math.max(row.p90 || 0, row.median || 0))) * 1.2);
  const scale = (value) => labelWidth + (Math.min(value, axisMax) / axisMax) * (CHART_WIDTH - labelWidth - right);
  const chart = svg("svg", { viewBox: `0 0 ${CHART_WIDTH} ${height}`, class: "plot", role: "img", "aria-label": caption });
  rows.forEach((row, i) => {
    const y = 4 + i * rowHeight + rowHeight / 2;
    const beyond = (row.max || 0) > axisMax;
    chart.append(
      svg(
        "g",
        { class: "row", "data-label": row.label, "data-median": row.median, "data-p90": row.p90, "data-max": row.max },
        svg("text", { class: "label", x: labelWidth - 6, y: y + 4, "text-anchor": "end", text: shorten(row.label, 18) }),
        svg("line", { class: "whisker", x1: scale(0), x2: scale(row.max || 0), y1: y, y2: y }),
        svg("rect", { class: "bar series-default", x: scale(0), y: y - 5, width: Math.max(1, scale(row.p90 || 0) - scale(0)), height: 10 }),
        svg("circle", { class: "median", cx: scale(row.median || 0), cy: y, r: 4 }),
        beyond ? svg("text", { class: "axis", x: CHART_WIDTH - 2, y: y - 7, "text-anchor": "end", text: `max ${format(row.max)} →` }) : null,
        svg("title", { text: `${row.label}: median ${format(row.median)}, p90 ${format(row.p90)}, max ${format(row.max)} (n=${row.count})` }),
      ),
    );
  });
  [0, axisMax / 2, axisMax].forEach((tick, i) => {
    const anchor = ["start", "middle", "end"][i];
    chart.append(svg("text", { class: "axis", x: scale(tick), y: height - 4, "text-anchor": anchor, text: format(tick) }));
  });
  return figure(caption, chart, note || "bar: up to p90 · dot: median · line: to the max");
}

function shorten(text, limit) {
  const value = String(text);
  return value.length > limit ? value.slice(0, limit - 1) + "…" : value;
}
