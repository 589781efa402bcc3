// The collapsible System section: one chart per system metric (CPU, memory, disk, network,
// GPUs) over the run's runtime, for the run page or the runs drawn in the workspace.
// Samples are fetched only while the section is open; running runs refresh every 15 s.
import { api, el } from "./common.js";

const SAMPLES = 300;
const REFRESH_MS = 15000;
const section = document.getElementById("system-section");
const holder = document.getElementById("system-charts");
const status = document.getElementById("system-status");
const runPage = document.getElementById("run-page");
const workspace = document.getElementById("workspace");
const scope = runPage || workspace;
const { entity, project } = scope ? scope.dataset : {};
let timer = null;
let runsKey = "";

// The runs to draw: the run of the run page, or the runs the workspace's charts draw.
function drawnRuns() {
  if (runPage) return [{ id: runPage.dataset.run, name: document.getElementById("run-name").textContent, color: "#3b82f6", state: runPage.dataset.state }];
  return [...document.querySelectorAll("#run-list li.run-row.is-drawn")].map((row) => ({
    id: row.dataset.id,
    name: (row.querySelector(".run-name") || row).textContent.trim(),
    color: (row.querySelector(".swatch") || row).style.getPropertyValue("--swatch") || "#3b82f6",
    state: row.dataset.state,
  }));
}

function label(key) {
  return key.replace(/^system[/.]/, "");
}

async function load() {
  if (!section.open || !scope) return;
  const runs = drawnRuns();
  runsKey = runs.map((r) => r.id).join("\u0001");
  if (!runs.length) {
    holder.replaceChildren(el("p", { class: "muted" }, "No runs drawn."));
    return;
  }
  status.textContent = "loading…";
  const base = `/web-api/runs/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
  let results;
  try {
    results = await Promise.all(runs.map((run) =>
      api("GET", `${base}/${encodeURIComponent(run.id)}/system?samples=${SAMPLES}`).then((data) => ({ run, data }))));
  } catch (err) {
    status.textContent = err.message;
    return;
  }
  const keys = new Set();
  for (const { data } of results) for (const row of data.samples) for (const key of Object.keys(row)) if (!key.startsWith("_")) keys.add(key);
  const sorted = [...keys].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const total = results.reduce((n, r) => n + r.data.count, 0);
  status.textContent = sorted.length ? `${sorted.length} metrics, ${total} samples` : "";
  if (!sorted.length) {
    holder.replaceChildren(el("p", { class: "muted" }, "No system metrics were recorded (they are sampled every 15 s; settings stats_interval)."));
  } else {
    draw(sorted, results);
  }
  schedule(runs);
}

function draw(keys, results) {
  const existing = new Map([...holder.querySelectorAll(".chart-card")].map((card) => [card.dataset.key, card]));
  const cards = keys.map((key) => {
    let card = existing.get(key);
    if (!card) {
      card = el("figure", { class: "chart-card system-chart", dataset: { key } },
        el("figcaption", { title: key }, label(key)), el("div", { class: "plot" }));
    }
    return card;
  });
  holder.replaceChildren(...cards);
  if (!window.Plotly) return;
  const style = getComputedStyle(document.documentElement);
  const muted = style.getPropertyValue("--muted").trim() || "#656d76";
  const grid = style.getPropertyValue("--grid").trim() || "#e5e7eb";
  for (const card of cards) {
    const key = card.dataset.key;
    const traces = results.map(({ run, data }) => {
      const rows = data.samples.filter((row) => typeof row[key] === "number");
      return {
        x: rows.map((row) => row._runtime), y: rows.map((row) => row[key]), name: run.name,
        type: "scatter", mode: "lines", line: { color: run.color, width: 1.5 },
        hovertemplate: `%{y}<extra>${run.name.replace(/[<>&]/g, "")}</extra>`,
      };
    }).filter((t) => t.x.length);
    const layout = {
      margin: { l: 48, r: 12, t: 6, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { size: 11, color: muted }, showlegend: false, hovermode: "x unified",
      xaxis: { title: { text: "runtime (s)", standoff: 4, font: { size: 10 } }, gridcolor: grid, zeroline: false },
      yaxis: { gridcolor: grid, zeroline: false, automargin: true }, uirevision: key,
    };
    window.Plotly.react(card.querySelector(".plot"), traces, layout, { displaylogo: false, responsive: true });
  }
}

function schedule(runs) {
  clearTimeout(timer);
  if (runs.some((r) => r.state === "running")) timer = setTimeout(load, REFRESH_MS);
}

if (section && scope) {
  section.addEventListener("toggle", () => { if (section.open) load(); else clearTimeout(timer); });
  if (workspace) {
    // the workspace re-renders its run list when runs are shown, hidden or recoloured
    const list = document.getElementById("run-list");
    new MutationObserver(() => {
      const key = drawnRuns().map((r) => r.id).join("\u0001");
      if (section.open && key !== runsKey) load();
    }).observe(list, { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] });
  }
}
