// The Paastis dashboard: polls the admin API and renders apps, savings and
// events. Plain DOM, no framework, no build step. When the API answers 401
// the page asks for the bearer token and keeps it for this tab only.
"use strict";

const REFRESH_MS = 2000;
const TOKEN_KEY = "paastis-admin-token";

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

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "dataset") Object.assign(node.dataset, v); else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

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
function money(x, currency) {
  // Fractions of a cent still show: a young gateway saves little at first.
  const digits = x > 0 && x < 0.01 ? { maximumSignificantDigits: 2 } : { maximumFractionDigits: 2 };
  try { return new Intl.NumberFormat(undefined, { style: "currency", currency, ...digits }).format(x); }
  catch (_) { return x.toFixed(4) + " " + currency; }
}
function energy(kwh) { return kwh < 1 ? (kwh * 1000).toFixed(kwh < 0.01 ? 2 : 1) + " Wh" : kwh.toFixed(2) + " kWh"; }
function co2(g) { return g < 1000 ? g.toFixed(g < 10 ? 3 : 1) + " g" : (g / 1000).toFixed(2) + " kg"; }

function setStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

// An app cooling down after failed wakes says so, with the reason and
// when the gateway tries again; the Wake button still tries at once.
function stateCell(app) {
  const cell = el("td", { class: "state", dataset: { state: app.state } }, app.state);
  const c = app.cooldown;
  if (c) {
    cell.dataset.state = "cooling-down";
    cell.title = c.reason;
    cell.append(el("span", { class: "cooldown" },
      " · failed " + c.failures + "×, next try in " + Math.ceil(c.retry_in_ms / 1000) + " s"),
      el("div", { class: "reason" }, c.reason));
  }
  return cell;
}

function renderApps(report) {
  const t = report.total;
  document.getElementById("total-cost").textContent = money(t.cost_saved, report.currency);
  document.getElementById("total-energy").textContent = energy(t.energy_saved_kwh);
  document.getElementById("total-co2").textContent = co2(t.co2_saved_g);
  document.getElementById("total-hours").textContent = hours(t.hours_asleep) + " / " + hours(t.hours_awake);
  document.getElementById("method").textContent =
    "Hours asleep × hourly cost; energy = hours asleep × containers × " + report.container_watts +
    " W; CO₂ = energy × " + report.grid_gco2_per_kwh + " gCO₂/kWh.";
  const body = document.querySelector("#apps tbody");
  body.replaceChildren(...report.apps.map((app) => {
    const wake = el("button", { class: "wake", id: "wake-" + app.name, dataset: { app: app.name, action: "wake" } }, "Wake");
    const sleep = el("button", { class: "sleep", id: "sleep-" + app.name, dataset: { app: app.name, action: "sleep" } }, "Sleep");
    wake.disabled = app.state !== "asleep";
    sleep.disabled = app.state !== "awake";
    return el("tr", { id: "app-" + app.name },
      el("td", { class: "name" }, app.name),
      stateCell(app),
      el("td", { class: "activity", title: app.last_activity ? new Date(app.last_activity).toISOString() : "" }, ago(app.last_activity)),
      el("td", { class: "wakes" }, String(app.wakes)),
      policyCell(app),
      el("td", {}, hours(app.savings.hours_asleep)),
      el("td", { class: "saved" }, money(app.savings.cost_saved, report.currency)),
      el("td", {}, co2(app.savings.co2_saved_g)),
      el("td", { class: "actions" }, wake, sleep));
  }));
}

// A degraded app is served by a fallback: the cell says so, and why.
function policyCell(app) {
  if (!app.degraded) return el("td", { class: "policy", title: app.policy_sha256 }, app.policy);
  const d = app.degraded;
  return el("td", { class: "policy degraded", title: d.wanted + " cannot serve it: " + d.reason },
    app.policy, el("span", { class: "degraded-mark" }, " degraded: " + d.wanted + " missing"));
}

function describe(e) {
  switch (e.kind) {
    case "discovered": return "discovered on " + e.backend;
    case "woken": return "woken in " + Math.round(e.wake_ms) + " ms";
    case "wake_failed": return "could not be woken: " + e.reason;
    case "slept": return "put to sleep (" + e.reason + ")";
    case "sleep_failed": return "stopping failed: " + e.reason;
    case "exited": return "exited by itself: " + e.description;
    case "policy_loaded": return "policy " + e.policy + " loaded (" + e.sha256.slice(0, 12) + ")";
    case "policy_refused": return "policy " + e.policy + " refused: " + e.reason;
    case "policy_removed": return "policy " + e.policy + " removed";
    case "policy_reverted": return "policy " + e.policy + " reverted after " + e.failures + " failures";
    case "policy_fallback": return "degraded: served by " + e.serving + ", as policy " + e.policy + " cannot (" + e.reason + ")";
    case "policy_restored": return "served by its policy " + e.policy + " again";
    case "store_recovered": return "the damaged store was moved to " + e.moved_to + "; a fresh one was started";
    case "tick_failed": return "ERROR: ticks of policy " + e.policy + " fail, no app sleeps: " + e.error;
    case "tick_recovered": return "ticks of policy " + e.policy + " work again after " + e.failed_ticks + " failures";
    default: return e.kind;
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

async function refresh() {
  try {
    const [apps, events] = await Promise.all([api("GET", "/apps"), api("GET", "/events?limit=50")]);
    renderApps(apps);
    renderEvents(events.events);
    setStatus("Updated " + new Date().toLocaleTimeString());
  } catch (e) {
    setStatus(e.message, true);
  }
}

document.addEventListener("click", async (event) => {
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
  await refresh();
});

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value);
  document.getElementById("login").hidden = true;
  refresh();
});

refresh();
setInterval(refresh, REFRESH_MS);
