// The Media section: for the run page's run (or each run the workspace draws), one panel per
// media key: images with a step slider and captions, histograms over steps as a heatmap or
// ridgeline (Plotly), and tables with sorting, filtering and paging. Images are fetched from
// /web-api/runs/.../media/{digest}, which the browser caches by digest.
import { api, el } from "./common.js";

const TABLE_PAGE = 10;
const MAX_RUNS = 5;
const section = document.getElementById("media-section");
const holder = document.getElementById("media-panels");
const status = document.getElementById("media-status");
const runPage = document.getElementById("run-page");
const workspace = document.getElementById("workspace");
const scope = runPage || workspace;
const { entity, project } = scope ? scope.dataset : {};
const runsBase = `/web-api/runs/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
let loadedFor = null;

function drawnRuns() {
  if (runPage) return [{ id: runPage.dataset.run, name: "" }];
  return [...document.querySelectorAll("#run-list li.run-row.is-drawn")].slice(0, MAX_RUNS).map((row) => ({
    id: row.dataset.id,
    name: (row.querySelector(".run-name") || row).textContent.trim(),
  }));
}

function imageUrl(runId, digest) {
  return `${runsBase}/${encodeURIComponent(runId)}/media/${digest}`;
}

async function load() {
  if (!scope || !section.open) return;
  const runs = drawnRuns();
  const key = runs.map((r) => r.id).join("\u0001");
  if (key === loadedFor) return;
  loadedFor = key;
  if (!runs.length) {
    holder.replaceChildren(el("p", { class: "muted" }, "No runs drawn."));
    status.textContent = "";
    return;
  }
  status.textContent = "loading…";
  let results;
  try {
    results = await Promise.all(runs.map((run) =>
      api("GET", `${runsBase}/${encodeURIComponent(run.id)}/media`).then((data) => ({ run, data }))));
  } catch (err) {
    status.textContent = err.message;
    loadedFor = null;
    return;
  }
  const order = { images: 0, histogram: 1, table: 2 };
  const found = results.flatMap(({ run, data }) => data.panels.map((panel) => ({ run, panel })));
  found.sort((a, b) => order[a.panel.kind] - order[b.panel.kind] || a.panel.key.localeCompare(b.panel.key));
  const panels = found.map(({ run, panel }) => renderPanel(run, panel));
  status.textContent = panels.length ? `${panels.length} panel${panels.length === 1 ? "" : "s"}` : "";
  holder.replaceChildren(...(panels.length ? panels : [el("p", { class: "muted" },
    "No media logged: log kiseki.Image, kiseki.Histogram or kiseki.Table values with run.log().")]));
}

function heading(run, key) {
  return el("h3", {}, key, run.name ? el("span", { class: "run-label" }, run.name) : null);
}

function renderPanel(run, panel) {
  if (panel.kind === "images") return imagePanel(run, panel);
  if (panel.kind === "histogram") return histogramPanel(run, panel);
  return tablePanel(run, panel);
}

// -- images ---------------------------------------------------------------------------------
// Small images (e.g. 28x28 digits) are scaled up, pixelated, so they can be seen.
function displayWidth(image) {
  const width = image.width || 128;
  return width >= 160 ? Math.min(width, 480) : width * Math.ceil(160 / width);
}

function imagePanel(run, panel) {
  const frame = el("div", { class: "media-frame" });
  const last = panel.steps.length - 1;
  const stepLabel = el("output", { class: "media-step" });
  const slider = el("input", {
    type: "range", min: 0, max: last, step: 1, value: last,
    "aria-label": `Step of ${panel.key}`, class: "media-step-slider",
  });
  const show = (index) => {
    stepLabel.textContent = `step ${panel.steps[index]}`;
    frame.replaceChildren(...panel.frames[index].map((image) => el("figure", {},
      el("img", {
        src: imageUrl(run.id, image.digest), alt: image.caption || `${panel.key} at step ${panel.steps[index]}`,
        style: { width: `${displayWidth(image)}px` }, loading: "lazy", dataset: { digest: image.digest },
      }),
      image.caption ? el("figcaption", {}, image.caption) : null)));
  };
  slider.addEventListener("input", () => show(Number(slider.value)));
  show(last);
  return el("section", { class: "media-panel media-image-panel", dataset: { key: panel.key, run: run.id } },
    heading(run, panel.key), frame,
    el("label", { class: "media-slider", hidden: last === 0 }, "Step", slider, stepLabel));
}

// -- histograms -----------------------------------------------------------------------------
function histogramPanel(run, panel) {
  const plot = el("div", { class: "media-hist-plot" });
  const mode = el("select", { class: "media-hist-mode", "aria-label": `View of ${panel.key}` },
    el("option", { value: "heatmap" }, "Heatmap"), el("option", { value: "ridgeline" }, "Ridgeline"));
  const card = el("section", { class: "media-panel media-histogram-panel", dataset: { key: panel.key, run: run.id } },
    el("h3", {}, panel.key, run.name ? el("span", { class: "run-label" }, run.name) : null, mode), plot);
  const draw = () => plotlyReady.then(() => drawHistogram(plot, panel, mode.value));
  mode.addEventListener("change", draw);
  draw();
  return card;
}

// Plotly's script is deferred and may come after this module in the page: wait for it.
const plotlyReady = new Promise((resolve) => {
  if (window.Plotly || document.readyState === "complete") resolve();
  else window.addEventListener("load", resolve, { once: true });
});

// Every step's bins differ, so the heatmap resamples them onto one common grid of edges.
function commonGrid(panel, size = 64) {
  let low = Infinity;
  let high = -Infinity;
  for (const bins of panel.bins) {
    if (!bins.length) continue;
    low = Math.min(low, bins[0]);
    high = Math.max(high, bins[bins.length - 1]);
  }
  if (!(high > low)) high = low + 1;
  const width = (high - low) / size;
  const centers = Array.from({ length: size }, (_, i) => low + width * (i + 0.5));
  const z = panel.values.map((values, s) => {
    const row = new Array(size).fill(0);
    const bins = panel.bins[s];
    values.forEach((count, i) => {
      const mid = (bins[i] + bins[i + 1]) / 2;
      const at = Math.min(size - 1, Math.max(0, Math.floor((mid - low) / width)));
      row[at] += count;
    });
    return row;
  });
  return { centers, z };
}

function drawHistogram(plot, panel, mode) {
  if (!window.Plotly) {
    plot.textContent = "Plotly did not load.";
    return;
  }
  const style = getComputedStyle(document.documentElement);
  const muted = style.getPropertyValue("--muted").trim() || "#656d76";
  const layout = {
    margin: { l: 48, r: 12, t: 8, b: 36 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: muted, size: 11 }, xaxis: { title: { text: "Step" } }, showlegend: false,
  };
  let traces;
  if (mode === "heatmap") {
    const { centers, z } = commonGrid(panel);
    // z rows are values of the y axis: transpose so that x is the step
    const zt = centers.map((_, i) => z.map((row) => row[i]));
    traces = [{ type: "heatmap", x: panel.steps, y: centers, z: zt, colorscale: "Viridis", showscale: false,
      hovertemplate: "step %{x}<br>value %{y:.4g}<br>count %{z}<extra></extra>" }];
    layout.yaxis = { title: { text: panel.key } };
  } else {
    const picks = ridgeSteps(panel.steps.length, 12);
    const peak = Math.max(1, ...picks.flatMap((s) => panel.values[s]));
    traces = picks.map((s, n) => {
      const bins = panel.bins[s];
      const x = panel.values[s].map((_, i) => (bins[i] + bins[i + 1]) / 2);
      return { type: "scatter", mode: "lines", x, y: panel.values[s].map((v) => n + (0.9 * v) / peak),
        fill: "toself", line: { width: 1 }, name: `step ${panel.steps[s]}`,
        hovertemplate: `step ${panel.steps[s]}<br>value %{x:.4g}<extra></extra>` };
    });
    layout.xaxis = { title: { text: panel.key } };
    layout.yaxis = { tickvals: picks.map((_, n) => n), ticktext: picks.map((s) => String(panel.steps[s])), title: { text: "Step" } };
  }
  Plotly.react(plot, traces, layout, { displaylogo: false, responsive: true });
}

function ridgeSteps(count, most) {
  if (count <= most) return Array.from({ length: count }, (_, i) => i);
  return [...new Set(Array.from({ length: most }, (_, i) => Math.round((i * (count - 1)) / (most - 1))))];
}

// -- tables ---------------------------------------------------------------------------------
function isImageCell(value) {
  return value && typeof value === "object" && value._type === "image-file";
}

function cellText(value) {
  if (value === null || value === undefined) return "";
  if (isImageCell(value)) return value.caption || "";
  return String(value);
}

function compareCells(a, b) {
  const an = typeof a === "number";
  const bn = typeof b === "number";
  if (an && bn) return a - b;
  if (an !== bn) return an ? -1 : 1;
  return cellText(a).localeCompare(cellText(b), undefined, { numeric: true });
}

function tablePanel(run, panel) {
  const state = { sort: null, descending: false, filter: "", page: 0 };
  const filter = el("input", { type: "search", placeholder: "Filter rows…", class: "media-table-filter", "aria-label": `Filter ${panel.key}` });
  const count = el("span", { class: "muted media-table-count" });
  const body = el("tbody");
  const headerCells = panel.columns.map((name, index) => {
    const button = el("button", { type: "button", dataset: { column: String(index) } }, name);
    const th = el("th", { scope: "col", "aria-sort": "none" }, button);
    button.addEventListener("click", () => {
      state.descending = state.sort === index ? !state.descending : false;
      state.sort = index;
      state.page = 0;
      render();
    });
    return th;
  });
  const prev = el("button", { type: "button", class: "btn small media-prev" }, "‹ Prev");
  const next = el("button", { type: "button", class: "btn small media-next" }, "Next ›");
  const pageLabel = el("span", { class: "media-page" });
  prev.addEventListener("click", () => { state.page -= 1; render(); });
  next.addEventListener("click", () => { state.page += 1; render(); });
  filter.addEventListener("input", () => { state.filter = filter.value.trim().toLowerCase(); state.page = 0; render(); });

  function rows() {
    let found = panel.data;
    if (state.filter) found = found.filter((row) => row.some((cell) => cellText(cell).toLowerCase().includes(state.filter)));
    if (state.sort !== null) {
      const index = state.sort;
      found = [...found].sort((a, b) => compareCells(a[index], b[index]) * (state.descending ? -1 : 1));
    }
    return found;
  }

  function render() {
    const found = rows();
    const pages = Math.max(1, Math.ceil(found.length / TABLE_PAGE));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    const shown = found.slice(state.page * TABLE_PAGE, (state.page + 1) * TABLE_PAGE);
    body.replaceChildren(...shown.map((row) => el("tr", {}, ...row.map((cell) => el("td", {},
      isImageCell(cell)
        ? el("img", { src: imageUrl(run.id, cell.digest), alt: cell.caption || "image", loading: "lazy" })
        : cellText(cell))))));
    headerCells.forEach((th, index) => th.setAttribute("aria-sort",
      state.sort === index ? (state.descending ? "descending" : "ascending") : "none"));
    count.textContent = `${found.length} of ${panel.data.length} rows`;
    pageLabel.textContent = `page ${state.page + 1} of ${pages}`;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }
  render();
  return el("section", { class: "media-panel media-table-panel", dataset: { key: panel.key, run: run.id } },
    heading(run, `${panel.key} (step ${panel.step})`),
    el("div", { class: "media-table-tools" }, filter, count),
    el("div", { class: "media-table-wrap" }, el("table", { class: "media-table" },
      el("thead", {}, el("tr", {}, ...headerCells)), body)),
    el("div", { class: "media-pager" }, prev, pageLabel, next));
}

if (scope && section) {
  section.addEventListener("toggle", load);
  if (workspace) {
    // redraw when the workspace changes which runs it draws
    let timer = null;
    const list = document.getElementById("run-list");
    if (list) {
      new MutationObserver(() => {
        clearTimeout(timer);
        timer = setTimeout(load, 300);
      }).observe(list, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
    }
  }
  load();
}
