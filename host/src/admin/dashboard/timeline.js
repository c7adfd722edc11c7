// Per-app timelines: bands of asleep, waking, awake and unknown over the
// last 24 h or 7 days, with each wake marked, as /timelines computes them.
// Drawn in pixels (the cell's width), so marks keep their size.
"use strict";

const TIMELINE_HEIGHT = 22;
const BAND_TOP = 5;
const BAND_HEIGHT = 14;
const STATE_LABELS = { asleep: "Asleep", starting: "Waking", awake: "Awake", unknown: "Unknown" };

/// Gridline times for a window: every 6 hours up to two days, else each
/// midnight, in the viewer's time zone.
function timelineTicks(from, to) {
  const step = to - from <= 2 * 86400000 ? 6 : 24;
  const d = new Date(from);
  d.setMinutes(0, 0, 0);
  if (d.getTime() < from) d.setHours(d.getHours() + 1);
  while (d.getHours() % step !== 0) d.setHours(d.getHours() + 1);
  const ticks = [];
  for (; d.getTime() < to; d.setHours(d.getHours() + step)) {
    const at = d.getTime();
    const label = step === 24 || d.getHours() === 0 ? shortDay(at) : String(d.getHours()).padStart(2, "0") + ":00";
    ticks.push({ at, label });
  }
  return ticks;
}

function bandTip(band) {
  const head = STATE_LABELS[band.state] + " " + when(band.from) + " → " + clock(band.to) + " (" + span(band.to - band.from) + ")";
  return band.why ? head + "\n" + band.why : head;
}

function wakeTip(w) {
  const took = w.wake_ms == null ? "duration not recorded" : span(w.wake_ms);
  if (w.ok) return "Woken " + when(w.started) + "\nby " + cause(w.cause) + "\ntook " + took;
  const said = w.output && w.output.length ? "\nlast output:\n" + w.output.slice(-3).join("\n") : "";
  return "Wake failed " + when(w.started) + "\nby " + cause(w.cause) + "\nafter " + took + ": " + w.reason + said;
}

/// Draws `timeline` ({bands, wakes}) over `window` ({from, to}) into
/// `container`, `width` pixels wide (measured once for the whole column:
/// reading each cell's width between drawings would lay the page out again
/// for every row).
function drawTimeline(container, timeline, window, app, width) {
  const scale = width / Math.max(1, window.to - window.from);
  const x = (t) => Math.min(width, Math.max(0, (t - window.from) * scale));
  const root = svg("svg", {
    class: "timeline", width, height: TIMELINE_HEIGHT, viewBox: "0 0 " + width + " " + TIMELINE_HEIGHT,
    role: "img", "aria-label": "Timeline of " + app,
  });
  for (const tick of timelineTicks(window.from, window.to)) {
    root.append(svg("line", { class: "grid", x1: x(tick.at), x2: x(tick.at), y1: 0, y2: TIMELINE_HEIGHT }));
  }
  for (const band of timeline.bands) {
    const left = x(band.from);
    // A wake of a few seconds in a week is a hair: at least a pixel wide.
    const w = Math.max(band.state === "asleep" || band.state === "unknown" ? 0 : 1, x(band.to) - left);
    root.append(svg("rect", {
      class: "band " + band.state, x: left.toFixed(2), y: BAND_TOP, width: w.toFixed(2), height: BAND_HEIGHT,
      dataset: { state: band.state, from: String(band.from), to: String(band.to), tip: bandTip(band) },
    }));
  }
  for (const wake of timeline.wakes) {
    const at = x(wake.started);
    root.append(svg("g", {
      class: "wake " + (wake.ok ? "ok" : "failed"), tabindex: "0",
      dataset: { started: String(wake.started), at: String(wake.at), tip: wakeTip(wake) },
    },
    svg("rect", { class: "hit", x: at - 4, y: 0, width: 8, height: TIMELINE_HEIGHT }),
    svg("line", { x1: at, x2: at, y1: 2, y2: TIMELINE_HEIGHT - 1 }),
    svg("circle", { cx: at, cy: 3, r: 2.5 })));
  }
  container.replaceChildren(root);
}

/// The time labels above the timelines column.
function drawTimelineAxis(container, window, width) {
  const scale = width / Math.max(1, window.to - window.from);
  const root = svg("svg", { class: "axis", width, height: 14, viewBox: "0 0 " + width + " 14", "aria-hidden": "true" });
  // Labels that would touch their neighbour, the edge or "now" are left out.
  const ticks = timelineTicks(window.from, window.to);
  const gap = 8 + 6 * Math.max(3, ...ticks.map((t) => t.label.length));
  let last = -Infinity;
  for (const tick of ticks) {
    const at = (tick.at - window.from) * scale;
    if (at - last < gap || at < gap / 2 || at > width - 24 - gap / 2) continue;
    root.append(svg("text", { x: at, y: 11, "text-anchor": "middle" }, tick.label));
    last = at;
  }
  root.append(svg("text", { x: width, y: 11, "text-anchor": "end" }, "now"));
  container.replaceChildren(root);
}
