// Formatting for the dashboard: times, durations, money, energy, CO₂, and
// what began a wake. Pure functions; no DOM.
"use strict";

function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return (s / 3600).toFixed(1) + " h ago";
  return (s / 86400).toFixed(1) + " d ago";
}

function hours(h) {
  if (h * 60 < 1) return Math.round(h * 3600) + " s";
  return h < 1 ? Math.round(h * 60) + " min" : h.toFixed(1) + " h";
}

/// A span of milliseconds: "850 ms", "2.4 s", "12 min", "3 h 05 min", "2 d 4 h".
function span(ms) {
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  const min = Math.round(ms / 60000);
  if (min < 60) return min + " min";
  const h = Math.floor(min / 60), m = min % 60;
  if (h < 48) return h + " h " + String(m).padStart(2, "0") + " min";
  return Math.floor(h / 24) + " d " + (h % 24) + " h";
}

// Intl formatters are costly to make and cheap to use: made once each.
const FORMATS = new Map();
function format(key, make) {
  let f = FORMATS.get(key);
  if (!f) { f = make(); FORMATS.set(key, f); }
  return f;
}
const DAY_FORMAT = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const SHORT_DAY_FORMAT = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" });
const LONG_DAY_FORMAT = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const CLOCK_FORMAT = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

function money(x, currency) {
  // Fractions of a cent still show: a young gateway saves little at first.
  const small = x > 0 && x < 0.01;
  const digits = small ? { maximumSignificantDigits: 2 } : { maximumFractionDigits: 2 };
  try {
    return format("money:" + currency + ":" + small,
      () => new Intl.NumberFormat(undefined, { style: "currency", currency, ...digits })).format(x);
  } catch (_) { return x.toFixed(4) + " " + currency; }
}
function energy(kwh) { return kwh < 1 ? (kwh * 1000).toFixed(kwh < 0.01 ? 2 : 1) + " Wh" : kwh.toFixed(2) + " kWh"; }
function co2(g) { return g < 1000 ? g.toFixed(g < 10 ? 3 : 1) + " g" : (g / 1000).toFixed(2) + " kg"; }

/// "Tue 10 Mar, 14:03:12" in the viewer's time zone.
function when(ms) { return DAY_FORMAT.format(ms) + ", " + TIME_FORMAT.format(ms); }
function clock(ms) { return CLOCK_FORMAT.format(ms); }
/// "Tue 10"
function shortDay(ms) { return SHORT_DAY_FORMAT.format(ms); }
/// "Tuesday 10 March"
function longDay(ms) { return LONG_DAY_FORMAT.format(ms); }

/// What began a wake, as the history recorded it (`WakeCause`).
function cause(c) {
  if (!c) return "unrecorded";
  switch (c.by) {
    case "request": return "request " + c.method + " " + c.path + (c.user_agent ? " (" + c.user_agent + ")" : "");
    case "policy": return "policy " + c.policy;
    case "admin": return "the admin API";
    case "linked": return "linked app " + c.app;
    default: return c.by;
  }
}
