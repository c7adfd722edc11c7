// The gateway's savings per day as a bar chart (/savings/daily): money,
// energy, CO₂ or hours asleep, one bar per day, details on hover.
"use strict";

const CHART_HEIGHT = 190;
const CHART_LEFT = 64;
const CHART_BOTTOM = 22;
const CHART_TOP = 8;

const METRICS = {
  cost_saved: { label: "Money saved", format: (v, r) => money(v, r.currency) },
  energy_saved_kwh: { label: "Energy saved", format: (v) => energy(v) },
  co2_saved_g: { label: "CO₂ avoided", format: (v) => co2(v) },
  hours_asleep: { label: "App-hours asleep", format: (v) => (v === 0 ? "0 h" : hours(v)) },
};

/// The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `x`: a round top for the axis.
function niceMax(x) {
  if (!(x > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

function dayTip(day, report) {
  const lines = [
    longDay(day.from + (day.to - day.from) / 2),
    "Money saved: " + money(day.cost_saved, report.currency),
    "Energy saved: " + energy(day.energy_saved_kwh),
    "CO₂ avoided: " + co2(day.co2_saved_g),
    "Asleep: " + hours(day.hours_asleep) + " · awake: " + hours(day.hours_awake) + " (all apps)",
  ];
  if (day.hours_unknown > 0) lines.push("Not in the history: " + hours(day.hours_unknown));
  return lines.join("\n");
}

function drawDaily(container, report, metric) {
  const spec = METRICS[metric];
  const width = Math.max(240, Math.floor(container.clientWidth));
  const plotW = width - CHART_LEFT - 4;
  const plotH = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM;
  const days = report.days;
  const top = niceMax(Math.max(0, ...days.map((d) => d[metric])));
  const y = (v) => CHART_TOP + plotH - (v / top) * plotH;
  const root = svg("svg", {
    class: "daily", width, height: CHART_HEIGHT, viewBox: "0 0 " + width + " " + CHART_HEIGHT,
    role: "img", "aria-label": spec.label + " per day", dataset: { metric },
  });
  for (const v of [0, top / 2, top]) {
    root.append(svg("line", { class: "grid", x1: CHART_LEFT, x2: width, y1: y(v), y2: y(v) }));
    root.append(svg("text", { class: "y", x: CHART_LEFT - 6, y: y(v) + 4, "text-anchor": "end" }, spec.format(v, report)));
  }
  const slot = plotW / Math.max(1, days.length);
  const labelEvery = Math.ceil(days.length / Math.max(1, Math.floor(plotW / 56)));
  days.forEach((day, i) => {
    const value = day[metric];
    const left = CHART_LEFT + i * slot + slot * 0.15;
    root.append(svg("rect", {
      class: "bar", x: left.toFixed(2), y: y(value).toFixed(2), width: (slot * 0.7).toFixed(2),
      height: Math.max(0, CHART_TOP + plotH - y(value)).toFixed(2), tabindex: "0",
      dataset: { date: day.date, value: String(value), tip: dayTip(day, report) },
    }));
    if ((days.length - 1 - i) % labelEvery === 0) {
      const label = i === days.length - 1 ? "today" : shortDay(day.from + (day.to - day.from) / 2);
      root.append(svg("text", { class: "x", x: left + slot * 0.35, y: CHART_HEIGHT - 6, "text-anchor": "middle" }, label));
    }
  });
  container.replaceChildren(root);
}
