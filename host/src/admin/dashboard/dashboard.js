// The Paastis dashboard: polls the admin API and renders savings (totals
// and per day), the apps (sortable, filterable, paged, each with its
// timeline) and events. Plain DOM and SVG, no framework, no build step.
// When the API answers 401 the page asks for the bearer token and keeps it
// for this tab only. Timings of each fetch and render are left as
// performance measures ("paastis:…") for whoever wants to look.
"use strict";

const REFRESH_MS = 2000;
const TIMELINE_REFRESH_MS = 15000;
const DAILY_REFRESH_MS = 60000;
const PAGE_SIZE = 50;
const TOKEN_KEY = "paastis-admin-token";

const view = {
  report: null,           // the last GET /apps
  sort: { key: "name", dir: 1 },
  filter: { name: "", state: "" },
  page: 0,
  span: "24h",
  timelines: null,        // the last GET /timelines: { key, from, to, apps: Map }
  timelinesAt: 0,
  daily: null,            // the last GET /savings/daily
  dailyAt: 0,
  days: 7,
  metric: "cost_saved",
  rows: new Map(),        // app name -> its <tr>, kept across refreshes
};

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(method, path) {
  const headers = { "Accept": "application/json" };
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  const response = await fetch(path, { method, headers, cache: "no-store" });
  if (response.status === 401) {
    document.getElementById("login").hidden = false;
    throw new Error("the admin API needs its token");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || (method + " " + path + ": " + response.status));
  return body;
}

/// Runs `work` between two performance marks named after `what`.
async function measured(what, work) {
  const start = "paastis:" + what + ":start";
  performance.mark(start);
  try { return await work(); } finally { performance.measure("paastis:" + what, start); }
}

function setStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

// ---- Savings -------------------------------------------------------------

function renderTotals(report) {
  const t = report.total;
  document.getElementById("total-cost").textContent = money(t.cost_saved, report.currency);
  document.getElementById("total-energy").textContent = energy(t.energy_saved_kwh);
  document.getElementById("total-co2").textContent = co2(t.co2_saved_g);
  document.getElementById("total-hours").textContent = hours(t.hours_asleep) + " / " + hours(t.hours_awake);
  document.getElementById("method").textContent =
    "Hours asleep × hourly cost; energy = hours asleep × containers × " + report.container_watts +
    " W; CO₂ = energy × " + report.grid_gco2_per_kwh + " gCO₂/kWh. Totals since each app was first seen; " +
    "days from the event history.";
}

function renderDaily() {
  if (!view.daily) return;
  drawDaily(document.getElementById("daily-chart"), view.daily, view.metric);
  const c = view.daily.coverage;
  const note = document.getElementById("daily-note");
  const first = view.daily.days[0];
  if (c.from == null || (first && c.from > first.from)) {
    const since = c.from == null ? "" : " before " + when(c.from);
    note.textContent = c.trimmed
      ? "Older events were dropped (admin.event_retention): days" + since + " count only what is left."
      : "The event history begins " + (c.from == null ? "now" : when(c.from)) + "; earlier hours count neither way.";
  } else {
    note.textContent = "";
  }
}

async function refreshDaily(force) {
  if (!force && Date.now() - view.dailyAt < DAILY_REFRESH_MS) return;
  view.dailyAt = Date.now();
  const offset = -new Date().getTimezoneOffset();
  view.daily = await measured("daily-fetch", () => api("GET", "/savings/daily?days=" + view.days + "&utc_offset_min=" + offset));
  await measured("daily-render", async () => renderDaily());
}

// ---- Apps ----------------------------------------------------------------

const SORT_KEYS = {
  name: (a) => a.name,
  state: (a) => a.state,
  activity: (a) => a.last_activity || 0,
  wakes: (a) => a.wakes,
  policy: (a) => a.policy,
  asleep: (a) => a.savings.hours_asleep,
  saved: (a) => a.savings.cost_saved,
  co2: (a) => a.savings.co2_saved_g,
};

/// The state filter: a state, or a mark another part of the gateway sets
/// (a fallback policy, a cool-down after failed wakes).
function matchesState(app, wanted) {
  switch (wanted) {
    case "": return true;
    case "degraded": return Boolean(app.degraded);
    case "cooldown": return Boolean(app.cooldown);
    default: return app.state === wanted;
  }
}

/// The apps of the current page, after filter and sort, and the count that matched.
function visibleApps() {
  const apps = view.report ? view.report.apps : [];
  const name = view.filter.name.trim().toLowerCase();
  const matching = apps.filter((a) =>
    (!name || a.name.toLowerCase().includes(name)) && matchesState(a, view.filter.state));
  const key = SORT_KEYS[view.sort.key];
  matching.sort((a, b) => {
    const x = key(a), y = key(b);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return order * view.sort.dir || a.name.localeCompare(b.name);
  });
  const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
  view.page = Math.min(view.page, pages - 1);
  const start = view.page * PAGE_SIZE;
  return { page: matching.slice(start, start + PAGE_SIZE), matched: matching.length, total: apps.length, start, pages };
}

function row(app) {
  let tr = view.rows.get(app.name);
  if (!tr) {
    const wake = el("button", { class: "wake", id: "wake-" + app.name, dataset: { app: app.name, action: "wake" } }, "Wake");
    const sleep = el("button", { class: "sleep", id: "sleep-" + app.name, dataset: { app: app.name, action: "sleep" } }, "Sleep");
    tr = el("tr", { id: "app-" + app.name, dataset: { app: app.name } },
      el("td", { class: "name" }, app.name),
      el("td", { class: "state" }),
      el("td", { class: "timeline-cell" }),
      el("td", { class: "activity" }),
      el("td", { class: "wakes" }),
      el("td", { class: "policy" }),
      el("td", { class: "asleep" }),
      el("td", { class: "saved" }),
      el("td", { class: "co2" }),
      el("td", { class: "actions" }, wake, sleep));
    view.rows.set(app.name, tr);
  }
  const cell = (cls) => tr.querySelector("td." + cls);
  const currency = view.report.currency;
  const state = cell("state");
  state.dataset.state = app.state;
  state.replaceChildren(app.state);
  // Cooling down after failed wakes: the reason, and when the gateway
  // tries again; the Wake button still tries at once.
  const c = app.cooldown;
  if (c) {
    state.dataset.state = "cooling-down";
    state.title = c.reason;
    state.append(el("span", { class: "cooldown" },
      " · failed " + c.failures + "×, next try in " + Math.ceil(c.retry_in_ms / 1000) + " s"),
      el("div", { class: "reason" }, c.reason));
  } else {
    state.title = "";
  }
  cell("activity").textContent = ago(app.last_activity);
  cell("activity").title = app.last_activity ? new Date(app.last_activity).toISOString() : "";
  cell("wakes").textContent = String(app.wakes);
  const policy = cell("policy");
  policy.replaceChildren(app.policy);
  policy.title = app.policy_sha256;
  policy.classList.toggle("degraded", Boolean(app.degraded));
  if (app.degraded) {
    // Served by a fallback: say so, and why.
    const d = app.degraded;
    policy.title = d.wanted + " cannot serve it: " + d.reason;
    policy.append(el("span", { class: "degraded-mark" }, " degraded: " + d.wanted + " missing"));
  }
  cell("asleep").textContent = hours(app.savings.hours_asleep);
  cell("saved").textContent = money(app.savings.cost_saved, currency);
  cell("co2").textContent = co2(app.savings.co2_saved_g);
  tr.querySelector("button.wake").disabled = app.state !== "asleep";
  tr.querySelector("button.sleep").disabled = app.state !== "awake";
  return tr;
}

function renderApps() {
  const shown = visibleApps();
  const body = document.querySelector("#apps tbody");
  body.replaceChildren(...shown.page.map(row));
  document.getElementById("apps-empty").hidden = shown.matched > 0;
  const info = shown.matched === 0 ? "0 of " + shown.total
    : (shown.start + 1) + "–" + (shown.start + shown.page.length) + " of " + shown.matched +
      (shown.matched < shown.total ? " (" + shown.total + " in all)" : "");
  document.getElementById("page-info").textContent = info;
  document.getElementById("page-prev").disabled = view.page === 0;
  document.getElementById("page-next").disabled = view.page >= shown.pages - 1;
  for (const th of document.querySelectorAll("#apps th[data-sort]")) {
    const sorted = th.dataset.sort === view.sort.key;
    th.setAttribute("aria-sort", sorted ? (view.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  drawTimelines(shown.page);
  return shown.page.map((a) => a.name);
}

// ---- Timelines -----------------------------------------------------------

function drawTimelines(apps) {
  const t = view.timelines;
  if (!t || t.span !== view.span) return;
  const axis = document.getElementById("timeline-axis");
  const width = Math.max(120, Math.floor(axis.clientWidth));
  drawTimelineAxis(axis, t, width);
  for (const app of apps) {
    const data = t.apps.get(app.name);
    const tr = view.rows.get(app.name);
    if (data && tr) drawTimeline(tr.querySelector("td.timeline-cell"), data, t, app.name, width);
  }
}

/// Fetches the timelines of the apps on the page when the page, the span or
/// their age calls for it.
async function refreshTimelines(names, force) {
  const key = view.span + "|" + names.join(",");
  const t = view.timelines;
  const stale = Date.now() - view.timelinesAt >= TIMELINE_REFRESH_MS;
  if (!force && t && t.key === key && !stale) return;
  if (names.length === 0) return;
  view.timelinesAt = Date.now();
  const answer = await measured("timelines-fetch",
    () => api("GET", "/timelines?span=" + view.span + "&apps=" + names.map(encodeURIComponent).join(",")));
  view.timelines = {
    key, span: view.span, from: answer.from, to: answer.to, coverage: answer.coverage,
    apps: new Map(answer.apps.map((a) => [a.name, a])),
  };
  await measured("timelines-render", async () => drawTimelines(visibleApps().page));
}

// ---- Events --------------------------------------------------------------

function describe(e) {
  switch (e.kind) {
    case "discovered": return "discovered on " + e.backend;
    case "woken": return "woken in " + span(e.wake_ms) + (e.cause ? " by " + cause(e.cause) : "");
    case "wake_failed": return "could not be woken" + (e.cause ? " for " + cause(e.cause) : "") + ": " + e.reason;
    case "slept": return "put to sleep (" + e.reason + ")";
    case "sleep_failed": return "stopping failed: " + e.reason;
    case "exited": return "exited by itself: " + e.description;
    case "adopted": return "found running by discovery";
    case "stopped_outside": return "stopped outside the gateway";
    case "policy_loaded": return "policy " + e.policy + " loaded (" + e.sha256.slice(0, 12) + ")";
    case "policy_refused": return "policy " + e.policy + " refused: " + e.reason;
    case "policy_removed": return "policy " + e.policy + " removed";
    case "policy_reverted": return "policy " + e.policy + " reverted after " + e.failures + " failures";
    case "policy_fallback": return "degraded: served by " + e.serving + ", as policy " + e.policy + " cannot (" + e.reason + ")";
    case "policy_restored": return "served by its policy " + e.policy + " again";
    case "store_recovered": return "the damaged store was moved to " + e.moved_to + "; a fresh one was started";
    case "tick_failed": return "ERROR: ticks of policy " + e.policy + " fail, no app sleeps: " + e.error;
    case "tick_recovered": return "ticks of policy " + e.policy + " work again after " + e.failed_ticks + " failures";
    default: return e.kind.replace(/_/g, " ");
  }
}

function renderEvents(events) {
  const list = document.getElementById("events");
  list.replaceChildren(...events.map((e) => el("li", { dataset: { kind: e.kind, id: String(e.id) } },
    el("time", { datetime: new Date(e.at).toISOString() }, new Date(e.at).toLocaleTimeString()),
    el("span", { class: "kind" + (e.kind.endsWith("failed") || e.kind.endsWith("refused") || e.kind === "policy_fallback" ? " failed" : "") }, e.app || "gateway"),
    describe(e),
    ...(e.output && e.output.length ? [el("pre", { class: "output" }, e.output.join("\n"))] : []))));
}

// ---- Refresh and controls ------------------------------------------------

let refreshing = null;

async function refresh(force) {
  // One refresh at a time: a slow answer must not pile up requests.
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const [apps, events] = await measured("apps-fetch",
        () => Promise.all([api("GET", "/apps"), api("GET", "/events?limit=50")]));
      view.report = apps;
      const names = await measured("apps-render", async () => {
        renderTotals(apps);
        renderEvents(events.events);
        return renderApps();
      });
      await Promise.all([refreshTimelines(names, force), refreshDaily(force)]);
      setStatus("Updated " + new Date().toLocaleTimeString());
    } catch (e) {
      setStatus(e.message, true);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/// After a control changed what is shown: draw at once from what we have,
/// then fetch what the new view needs.
function rerender() {
  if (!view.report) return;
  const names = renderApps();
  refreshTimelines(names, false).catch((e) => setStatus(e.message, true));
}

function press(group, button) {
  for (const b of group.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
}

document.addEventListener("click", async (event) => {
  const sortBy = event.target.closest("th[data-sort] button");
  if (sortBy) {
    const key = sortBy.parentElement.dataset.sort;
    view.sort = { key, dir: view.sort.key === key ? -view.sort.dir : 1 };
    rerender();
    return;
  }
  const pick = event.target.closest("button[data-span], button[data-metric], button[data-days]");
  if (pick) {
    press(pick.parentElement, pick);
    if (pick.dataset.span) { view.span = pick.dataset.span; rerender(); }
    if (pick.dataset.metric) { view.metric = pick.dataset.metric; renderDaily(); }
    if (pick.dataset.days) {
      view.days = Number(pick.dataset.days);
      refreshDaily(true).catch((e) => setStatus(e.message, true));
    }
    return;
  }
  if (event.target.closest("#page-prev")) { view.page = Math.max(0, view.page - 1); rerender(); return; }
  if (event.target.closest("#page-next")) { view.page += 1; rerender(); return; }
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const { app, action } = button.dataset;
  button.disabled = true;
  setStatus((action === "wake" ? "Waking " : "Putting to sleep ") + app + "…");
  try {
    await api("POST", "/apps/" + encodeURIComponent(app) + "/" + action);
  } catch (e) {
    setStatus(e.message, true);
    return;
  }
  await refresh(true);
});

document.getElementById("filter-name").addEventListener("input", (event) => {
  view.filter.name = event.target.value;
  view.page = 0;
  rerender();
});
document.getElementById("filter-state").addEventListener("change", (event) => {
  view.filter.state = event.target.value;
  view.page = 0;
  rerender();
});

let resizing = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => { rerender(); renderDaily(); }, 150);
});

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value);
  document.getElementById("login").hidden = true;
  refresh(true);
});

refresh(true);
setInterval(() => refresh(false), REFRESH_MS);
