// The sweep page: trials table, metric over time, parallel coordinates, importance, controls.
// Data comes from GET /web-api/sweeps/{entity}/{project}/{sweep}; it refreshes while the
// sweep runs. User text reaches the page only through el() (textContent), never innerHTML.
import { api, el, formatNumber, formatValue, toast } from "./common.js";

const root = document.getElementById("sweep-page");
const { entity, project, sweep } = root.dataset;
const seg = encodeURIComponent;
const dataUrl = `/web-api/sweeps/${seg(entity)}/${seg(project)}/${seg(sweep)}`;
const REFRESH_MS = 5000;
const MAX_DIMENSIONS = 12;

function themeColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function baseLayout(extra = {}) {
  return {
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: themeColor("--text") },
    margin: { l: 50, r: 20, t: 20, b: 40 },
    ...extra,
  };
}

function runUrl(runId) {
  return `/projects/${seg(entity)}/${seg(project)}/runs/${seg(runId)}`;
}

function renderState(data) {
  const state = document.getElementById("sweep-state");
  state.textContent = data.sweep.state;
  state.className = `state state-${data.sweep.state}`;
  const allowed = {
    pause: ["running"],
    resume: ["paused"],
    stop: ["running", "paused"],
    cancel: ["running", "paused", "finished"],
  };
  for (const button of root.querySelectorAll("[data-action]")) {
    button.disabled = !allowed[button.dataset.action].includes(data.sweep.state);
  }
}

function renderTrials(data) {
  const table = document.getElementById("trials-table");
  const metric = data.metric.name || "metric";
  const head = el("tr", {},
    el("th", { scope: "col" }, "#"),
    el("th", { scope: "col" }, "Run"),
    el("th", { scope: "col" }, "State"),
    el("th", { scope: "col" }, metric),
    ...data.params.map((p) => el("th", { scope: "col" }, p)),
    el("th", { scope: "col" }, "Note"));
  table.tHead.replaceChildren(head);
  const rows = data.trials.map((t) => el("tr", { dataset: { run: t.run_id, state: t.state } },
    el("td", { class: "num" }, String(t.trial_no)),
    el("td", {}, t.run_name ? el("a", { href: runUrl(t.run_id) }, t.run_name) : el("span", { class: "mono" }, t.run_id)),
    el("td", {}, el("span", { class: `state state-${t.state}` }, t.state)),
    el("td", { class: "num" }, t.value === null ? "" : formatNumber(t.value)),
    ...data.params.map((p) => el("td", { class: "num" }, formatValue(t.flat_params[p]))),
    el("td", { class: "muted", title: t.stop_reason || t.error || "" }, t.stop_reason ? "stopped early" : t.error ? "error" : "")));
  table.tBodies[0].replaceChildren(...rows);
  document.getElementById("trial-count").textContent = `(${data.trials.length})`;
}

function renderMetricChart(data) {
  const box = document.getElementById("metric-chart");
  const traces = data.trials
    .filter((t) => data.series[t.run_id])
    .map((t) => ({
      type: "scatter",
      mode: "lines",
      name: t.run_name || t.run_id,
      x: data.series[t.run_id].x,
      y: data.series[t.run_id].y,
    }));
  if (!traces.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No trial has logged the metric yet."));
    return;
  }
  if (box.querySelector("p")) box.replaceChildren();
  Plotly.react(box, traces, baseLayout({
    xaxis: { title: { text: "step" } },
    yaxis: { title: { text: data.metric.name } },
    showlegend: traces.length <= 10,
  }), { displaylogo: false, responsive: true });
  box.dataset.traces = String(traces.length);
}

function dimension(name, values) {
  if (values.every((v) => typeof v === "number")) return { label: name, values };
  const labels = [...new Set(values.map((v) => formatValue(v)))];
  return {
    label: name,
    values: values.map((v) => labels.indexOf(formatValue(v))),
    tickvals: labels.map((_, i) => i),
    ticktext: labels,
  };
}

function renderParcoords(data) {
  const box = document.getElementById("parcoords-chart");
  const done = data.trials.filter((t) => typeof t.value === "number" && Number.isFinite(t.value));
  if (!done.length || !data.params.length) {
    box.replaceChildren(el("p", { class: "muted" }, "Parameters are drawn against the metric once trials report it."));
    return;
  }
  if (box.querySelector("p")) box.replaceChildren();
  const dims = data.params.slice(0, MAX_DIMENSIONS).map((p) => dimension(p, done.map((t) => t.flat_params[p])));
  const values = done.map((t) => t.value);
  dims.push({ label: data.metric.name, values });
  Plotly.react(box, [{
    type: "parcoords",
    dimensions: dims,
    line: { color: values, colorscale: "Viridis", showscale: true, reversescale: data.metric.goal !== "maximize" },
    labelfont: { color: themeColor("--text"), size: 12 },
    tickfont: { color: themeColor("--muted"), size: 11 },
  }], baseLayout({ margin: { l: 60, r: 80, t: 40, b: 20 } }), { displaylogo: false, responsive: true });
  const noWebGl = box.querySelector(".no-webgl");
  if (noWebGl) {
    noWebGl.remove();
    box.append(el("p", { class: "muted" }, "This browser could not start WebGL, which the parallel-coordinates chart draws with: turn on hardware acceleration (or try another browser). The trials table below has the same numbers."));
  }
  box.dataset.dimensions = String(dims.length);
  box.dataset.lines = String(done.length);
}

function renderImportance(data) {
  const body = document.getElementById("importance-table").tBodies[0];
  document.getElementById("importance-empty").hidden = data.importance.length > 0;
  body.replaceChildren(...data.importance.map((row) => el("tr", { dataset: { param: row.param } },
    el("td", {}, row.param),
    el("td", {}, el("span", { class: "importance-bar", style: { width: `${Math.round(row.importance * 120)}px` } }), formatNumber(row.importance)),
    el("td", { class: "num" }, row.correlation === null ? "—" : formatNumber(row.correlation)))));
}

let timer = null;
async function load() {
  clearTimeout(timer);
  const error = document.getElementById("sweep-error");
  try {
    const data = await api("GET", dataUrl);
    error.hidden = true;
    renderState(data);
    renderTrials(data);
    renderImportance(data);
    if (window.Plotly) {
      renderMetricChart(data);
      renderParcoords(data);
    }
    root.dataset.loaded = "true";
    const live = data.sweep.state === "running" || data.trials.some((t) => t.state === "running");
    if (live) timer = setTimeout(load, REFRESH_MS);
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
}

for (const button of root.querySelectorAll("[data-action]")) {
  button.addEventListener("click", async () => {
    try {
      const sweepNow = await api("POST", `${dataUrl}/control`, { action: button.dataset.action });
      toast(`Sweep ${sweepNow.sweep_id} is now ${sweepNow.state}.`);
      await load();
    } catch (err) {
      toast(err.message, "error");
    }
  });
}

window.addEventListener("load", load);
