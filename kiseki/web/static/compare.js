// The compare view: config and summary of 2-5 runs side by side (differences marked, with an
// "only differences" toggle, key d), and a parallel-coordinates chart (Plotly parcoords) of
// config parameters against a chosen summary metric for every visible run of the workspace.
// The workspace's search, filters and hidden runs come from the URL the workspace's Compare
// button built (or from the saved workspace when the URL has none).
import { api, el, formatValue, isTyping } from "./common.js";
import { filterToMongo } from "./filters.js";
import { WorkspaceStore } from "./wsstate.js";

const root = document.getElementById("compare-page");
const entity = root.dataset.entity;
const project = root.dataset.project;
const base = `/web-api/projects/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
const MAX_DIMENSIONS = 14;
const MAX_CATEGORIES = 40;
const $ = (id) => document.getElementById(id);
// Blue (low) through green to amber (high): every line readable on the light and dark theme.
const COLORSCALE = [[0, "#3b82f6"], [0.5, "#10b981"], [1, "#f59e0b"]];

// -- only differences ------------------------------------------------------------------------
const onlyDiff = $("only-diff");
function applyOnlyDiff() {
  const on = onlyDiff.checked;
  root.classList.toggle("only-diff", on);
  for (const card of root.querySelectorAll(".compare-card")) {
    const note = card.querySelector(".all-same");
    if (note) note.hidden = !(on && !card.querySelector("tr.differs"));
  }
  const url = new URL(location.href);
  if (on) url.searchParams.set("diff", "1");
  else url.searchParams.delete("diff");
  history.replaceState(null, "", url);
}
if (onlyDiff) {
  onlyDiff.checked = new URL(location.href).searchParams.get("diff") === "1";
  onlyDiff.addEventListener("change", applyOnlyDiff);
  applyOnlyDiff();
  document.addEventListener("keydown", (event) => {
    if (event.key === "d" && !isTyping(document.activeElement) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      onlyDiff.checked = !onlyDiff.checked;
      applyOnlyDiff();
    }
  });
}

// The workspace link keeps the workspace's view (search, filters, hidden runs, ...).
const back = $("back-to-workspace");
const workspaceParams = new URLSearchParams(location.search);
workspaceParams.delete("runs");
workspaceParams.delete("diff");
workspaceParams.delete("metric");
if (back && workspaceParams.toString()) back.href = `${back.getAttribute("href")}?${workspaceParams}`;

// -- parallel coordinates ------------------------------------------------------------------------
const box = $("parcoords");
let visibleRuns = [];

function note(text, kind = "") {
  box.replaceChildren(el("p", { class: `chart-empty muted ${kind}`.trim() }, text));
  box.setAttribute("aria-busy", "false");
}

function isNumber(v) {
  return typeof v === "number" && isFinite(v);
}

// One parcoords dimension from a field's values (numbers, or up to MAX_CATEGORIES labels).
function dimension(label, values) {
  const present = values.filter((v) => v !== undefined && v !== null && v !== "");
  if (!present.length) return null;
  const distinct = new Set(present.map((v) => JSON.stringify(v)));
  if (distinct.size < 2) return null;
  if (present.every(isNumber)) {
    const finite = values.map((v) => (isNumber(v) ? v : NaN));
    const low = Math.min(...present);
    const high = Math.max(...present);
    if (low > 0 && high / low >= 100) return logDimension(label, finite, low, high);
    return { label, values: finite };
  }
  if (distinct.size > MAX_CATEGORIES) return null;
  const labels = [...distinct].map((d) => formatValue(JSON.parse(d))).sort();
  const index = new Map(labels.map((l, i) => [l, i]));
  return {
    label,
    values: values.map((v) => (v === undefined || v === null || v === "" ? NaN : index.get(formatValue(v)))),
    tickvals: labels.map((_, i) => i),
    ticktext: labels,
  };
}

// Values spanning orders of magnitude (learning rates) on a log axis, ticks at powers of ten.
function logDimension(label, values, low, high) {
  const ticks = [];
  for (let p = Math.floor(Math.log10(low)); p <= Math.ceil(Math.log10(high)); p += 1) ticks.push(p);
  return {
    label: `${label} (log)`,
    values: values.map((v) => (isFinite(v) ? Math.log10(v) : NaN)),
    tickvals: ticks,
    ticktext: ticks.map((p) => (p < -3 || p > 5 ? `1e${p}` : String(10 ** p))),
  };
}

function metricChoices() {
  const keys = new Set();
  for (const run of visibleRuns) for (const [k, v] of Object.entries(run.summary)) if (isNumber(v)) keys.add(k);
  return [...keys].sort((a, b) => a.localeCompare(b));
}

function draw(metric) {
  if (!window.Plotly) return note("The chart library did not load: reload the page.", "error");
  if (!visibleRuns.length) return note("No visible runs in the workspace: show some runs, or clear its search and filters.");
  if (!metric) return note("These runs have no numeric summary metric yet to plot against.");
  const configKeys = [...new Set(visibleRuns.flatMap((r) => Object.keys(r.config)))].sort((a, b) => a.localeCompare(b));
  const dims = [];
  for (const key of configKeys) {
    const d = dimension(key, visibleRuns.map((r) => r.config[key]));
    if (d) dims.push(d);
    if (dims.length >= MAX_DIMENSIONS) break;
  }
  if (!dims.length) return note("No config parameter varies across the visible runs, so there is nothing to spread along the axes.");
  const metricValues = visibleRuns.map((r) => (isNumber(r.summary[metric]) ? r.summary[metric] : NaN));
  dims.push({ label: metric, values: metricValues });
  const style = getComputedStyle(document.documentElement);
  const color = (name) => style.getPropertyValue(name).trim();
  const finite = metricValues.filter(isFinite);
  box.replaceChildren();
  Plotly.newPlot(box, [{
    type: "parcoords",
    dimensions: dims,
    line: { color: metricValues.map((v) => (isFinite(v) ? v : Math.min(...finite))), colorscale: COLORSCALE, showscale: true, colorbar: { title: { text: metric }, thickness: 12 } },
    labelfont: { color: color("--text"), size: 12 },
    tickfont: { color: color("--muted"), size: 11 },
    rangefont: { color: color("--muted"), size: 10 },
  }], {
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: color("--text") },
    margin: { l: 70, r: 90, t: 50, b: 24 },
  }, { displaylogo: false, responsive: true });
  const noWebGl = box.querySelector(".no-webgl");
  if (noWebGl) {
    noWebGl.remove();
    box.append(el("p", { class: "chart-empty error" }, "This browser could not start WebGL, which the parallel-coordinates chart draws with: turn on hardware acceleration (or try another browser). The tables above do not need it."));
  }
  box.setAttribute("aria-busy", "false");
  box.dataset.dimensions = String(dims.length);
  box.dataset.lines = String(visibleRuns.length);
}

async function loadParcoords() {
  const store = new WorkspaceStore(entity, project, root.dataset.save === "server");
  try {
    const { state } = await store.load();
    const data = await api("POST", `${base}/runs`, { filters: filterToMongo(state.filters), search: state.q || null, order: state.order });
    const hidden = new Set(state.hidden);
    visibleRuns = data.runs.filter((r) => !hidden.has(r.id));
    $("parcoords-count").textContent = `(${visibleRuns.length} run${visibleRuns.length === 1 ? "" : "s"})`;
    const choices = metricChoices();
    const wanted = new URL(location.href).searchParams.get("metric");
    const metric = choices.includes(wanted) ? wanted : choices.find((k) => /loss/i.test(k)) || choices[0];
    const select = $("pc-metric");
    select.replaceChildren(...choices.map((k) => el("option", { value: k, selected: k === metric }, k)));
    select.disabled = !choices.length;
    select.onchange = () => {
      const url = new URL(location.href);
      url.searchParams.set("metric", select.value);
      history.replaceState(null, "", url);
      draw(select.value);
    };
    draw(metric);
  } catch (err) {
    note(`Could not load the workspace's runs: ${err.message}`, "error");
  }
}
loadParcoords();
