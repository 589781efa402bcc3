// Line charts of runs' metrics: one chart per key, grouped into collapsible sections by the
// key's prefix before its last "/". Data comes downsampled from the server (min/max kept, so
// spikes show); charts are drawn when scrolled into view, fetched in one request per batch,
// re-fetched at full resolution when zoomed, and extended with only the new points of running
// runs.
import { api, el, formatNumber } from "./common.js";

const NO_SECTION = "Charts";
const SYSTEM_SECTION = "system";
const LIVE_KEYS_EVERY = 5; // live ticks between looks for newly logged keys

export function sectionOf(key) {
  const cut = key.lastIndexOf("/");
  return cut > 0 ? key.slice(0, cut) : NO_SECTION;
}

export function groupKeys(keys) {
  const sections = new Map();
  for (const key of keys) {
    const name = sectionOf(key);
    if (!sections.has(name)) sections.set(name, []);
    sections.get(name).push(key);
  }
  const rank = (name) => (name === NO_SECTION ? 0 : name.startsWith(SYSTEM_SECTION) ? 2 : 1);
  return [...sections.entries()].sort(
    (a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]),
  );
}

// Debiased exponential moving average (as TensorBoard and W&B draw it); NaN stays a gap.
export function smooth(values, weight) {
  if (!weight) return values;
  const out = new Array(values.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i];
    if (v === null || !isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    count += 1;
    out[i] = last / (1 - weight ** count);
  }
  return out;
}

function themeColors() {
  const style = getComputedStyle(document.documentElement);
  const get = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    text: get("--text", "#1f2328"),
    muted: get("--muted", "#656d76"),
    grid: get("--grid", "#e5e7eb"),
    panel: get("--panel", "#ffffff"),
  };
}

export class ChartBoard {
  // root: element to fill; urls: {keys, series}; options: {collapsed, onCollapse, onAxes, onStatus}
  constructor(root, urls, options = {}) {
    this.root = root;
    this.urls = urls;
    this.options = options;
    this.runs = [];
    this.groups = null;
    this.band = "minmax";
    this.keys = [];
    this.x = "_step";
    this.log = false;
    this.smoothing = 0;
    this.collapsed = new Set(options.collapsed || []);
    this.cache = new Map();
    this.charts = new Map();
    this.sections = new Map();
    this.queue = new Set();
    this.keysFor = null;
    this.ticks = 0;
    this.generation = 0;
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), {
      rootMargin: "300px 0px",
    });
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.redrawAll());
  }

  status(text) {
    if (this.options.onStatus) this.options.onStatus(text);
  }

  cacheKey(run, key) {
    return `${this.x}\u0001${run}\u0001${key}`;
  }

  // runs: [{id, name, color, state}] in drawing order; groups (optional): [{name, color, ids}],
  // each drawn as the mean of its runs with a band (see setOptions({band})).
  async setRuns(runs, groups = null) {
    const ids = runs.map((r) => r.id).sort().join("\u0001");
    this.runs = runs;
    this.groups = groups;
    if (ids !== this.keysFor) {
      this.keysFor = ids;
      await this.loadKeys();
    }
    this.redrawAll();
  }

  setOptions({ x, log, smoothing, band }) {
    let refetch = false;
    if (band !== undefined) this.band = band;
    if (x !== undefined && x !== this.x) {
      this.x = x;
      refetch = true;
      for (const chart of this.charts.values()) chart.zoom = null;
    }
    if (log !== undefined) this.log = log;
    if (smoothing !== undefined) this.smoothing = smoothing;
    this.redrawAll(refetch);
  }

  async loadKeys() {
    const generation = ++this.generation;
    if (!this.runs.length) {
      this.keys = [];
      this.build();
      return;
    }
    try {
      const data = await api("POST", this.urls.keys, { runs: this.runs.map((r) => r.id) });
      if (generation !== this.generation) return;
      this.keys = data.keys;
      if (this.options.onAxes) this.options.onAxes(data.x_axes);
      this.build();
    } catch (err) {
      this.status(err.message);
    }
  }

  build() {
    const grouped = groupKeys(this.keys);
    const wanted = new Set(this.keys);
    for (const [key, chart] of this.charts) {
      if (!wanted.has(key)) {
        this.observer.unobserve(chart.card);
        if (chart.drawn && window.Plotly) Plotly.purge(chart.plot);
        this.charts.delete(key);
      }
    }
    const fragment = document.createDocumentFragment();
    const sections = new Map();
    for (const [name, keys] of grouped) {
      let section = this.sections.get(name);
      if (!section) {
        const grid = el("div", { class: "chart-grid" });
        const details = el(
          "details",
          { class: "chart-section", open: !this.collapsed.has(name), dataset: { section: name } },
          el("summary", {}, el("span", { class: "section-name" }, name), el("span", { class: "count" }, "")),
          grid,
        );
        details.addEventListener("toggle", () => {
          if (details.open) this.collapsed.delete(name);
          else this.collapsed.add(name);
          if (this.options.onCollapse) this.options.onCollapse([...this.collapsed]);
          if (details.open) this.redrawSection(name);
        });
        section = { details, grid };
      }
      section.details.querySelector(".count").textContent = String(keys.length);
      for (const key of keys) {
        let chart = this.charts.get(key);
        if (!chart) {
          const plot = el("div", { class: "plot", role: "img", "aria-label": `Line chart of ${key}` });
          const card = el(
            "figure",
            { class: "chart-card", dataset: { key } },
            el("figcaption", { title: key }, key),
            plot,
            el("div", { class: "chart-note", hidden: true }),
          );
          chart = { key, card, plot, note: card.querySelector(".chart-note"), drawn: false, visible: false, zoom: null };
          this.charts.set(key, chart);
          this.observer.observe(card);
        }
        section.grid.append(chart.card);
      }
      sections.set(name, section);
      fragment.append(section.details);
    }
    this.sections = sections;
    this.root.replaceChildren(fragment);
    if (!this.keys.length) {
      this.root.append(
        el("p", { class: "empty-note" }, this.runs.length ? "The runs shown have logged no metrics yet." : "No runs to chart: show some runs in the sidebar."),
      );
    }
  }

  onVisible(entries) {
    for (const entry of entries) {
      const chart = this.charts.get(entry.target.dataset.key);
      if (!chart) continue;
      chart.visible = entry.isIntersecting;
      if (chart.visible && !chart.drawn) this.request(chart.key);
    }
  }

  redrawSection(name) {
    for (const chart of this.charts.values()) {
      if (sectionOf(chart.key) === name && chart.visible) this.request(chart.key);
    }
  }

  redrawAll(refetch = false) {
    if (refetch) this.cache.clear();
    for (const chart of this.charts.values()) {
      chart.drawn = false;
      if (chart.visible) this.request(chart.key);
    }
  }

  request(key) {
    this.queue.add(key);
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, 0);
  }

  points() {
    const sample = this.charts.values().next().value;
    const width = sample ? sample.plot.clientWidth : 500;
    return Math.max(200, Math.min(2000, Math.round(width * 2)));
  }

  async flush() {
    const keys = [...this.queue];
    this.queue.clear();
    const missingRuns = new Set();
    const missingKeys = new Set();
    for (const key of keys) {
      for (const run of this.runs) {
        if (!this.cache.has(this.cacheKey(run.id, key))) {
          missingRuns.add(run.id);
          missingKeys.add(key);
        }
      }
    }
    if (missingKeys.size) {
      const x = this.x;
      this.status("Loading…");
      try {
        const data = await api("POST", this.urls.series, {
          runs: [...missingRuns],
          keys: [...missingKeys],
          x,
          points: this.points(),
        });
        if (x !== this.x) return;
        for (const run of missingRuns) {
          for (const key of missingKeys) {
            const ck = this.cacheKey(run, key);
            if (!this.cache.has(ck)) this.cache.set(ck, { x: [], y: [], last_step: null, sampled: false });
          }
        }
        for (const s of data.series) this.cache.set(this.cacheKey(s.run, s.key), s);
        this.status(`${data.series.length} series · ${data.server_ms} ms on the server`);
      } catch (err) {
        this.status(err.message);
        return;
      }
    }
    for (const key of keys) this.draw(key);
  }

  seriesOf(chart, runId) {
    return chart.zoom ? chart.zoom.get(runId) : this.cache.get(this.cacheKey(runId, chart.key));
  }

  groupTraces(chart) {
    const bands = [];
    const means = [];
    for (const group of this.groups) {
      const members = group.ids
        .map((id) => this.seriesOf(chart, id))
        .filter((s) => s && s.x.length)
        .map((s) => ({ x: s.x, y: smooth(s.y, this.smoothing) }));
      if (!members.length) continue;
      const agg = aggregate(members, this.band || "minmax");
      const name = escapeForPlotly(group.name);
      const fill = withAlpha(group.color, 0.18);
      bands.push(
        { x: agg.x, y: agg.lower, type: "scatter", mode: "lines", line: { width: 0, color: group.color }, hoverinfo: "skip", showlegend: false, connectgaps: false },
        { x: agg.x, y: agg.upper, type: "scatter", mode: "lines", line: { width: 0, color: group.color }, fill: "tonexty", fillcolor: fill, hoverinfo: "skip", showlegend: false, connectgaps: false },
      );
      means.push({
        x: agg.x, y: agg.mean, type: "scatter", mode: agg.x.length === 1 ? "markers" : "lines", name,
        hovertemplate: "%{y:.5g}", line: { color: group.color, width: 2 }, marker: { color: group.color, size: 5 }, connectgaps: false,
      });
    }
    return [...bands, ...means];
  }

  traces(chart) {
    if (this.groups) return this.groupTraces(chart);
    const traces = [];
    const raw = [];
    const faded = this.smoothing > 0;
    for (const run of this.runs) {
      const s = chart.zoom ? chart.zoom.get(run.id) : this.cache.get(this.cacheKey(run.id, chart.key));
      if (!s || !s.x.length) continue;
      const name = escapeForPlotly(run.name);
      const hovertemplate = "%{y:.5g}";
      if (faded) {
        raw.push({
          x: s.x, y: s.y, type: "scatter", mode: "lines", name, showlegend: false,
          hoverinfo: "skip", line: { color: run.color, width: 1 }, opacity: 0.22,
        });
      }
      traces.push({
        x: s.x,
        y: faded ? smooth(s.y, this.smoothing) : s.y,
        type: "scatter",
        mode: s.x.length === 1 ? "markers" : "lines",
        name,
        hovertemplate,
        line: { color: run.color, width: 1.6 },
        marker: { color: run.color, size: 5 },
        connectgaps: false,
      });
    }
    return [...raw, ...traces];
  }

  draw(key) {
    const chart = this.charts.get(key);
    if (!chart || !window.Plotly) return;
    const traces = this.traces(chart);
    chart.note.hidden = traces.length > 0;
    chart.note.textContent = traces.length ? "" : "No data for the runs shown.";
    const colors = themeColors();
    const layout = {
      margin: { l: 48, r: 12, t: 6, b: 30 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "system-ui, -apple-system, Segoe UI, sans-serif", size: 11, color: colors.muted },
      showlegend: false,
      hovermode: "x unified",
      hoverlabel: { bgcolor: colors.panel, bordercolor: colors.grid, font: { color: colors.text, size: 11 } },
      xaxis: { title: { text: this.x, standoff: 4, font: { size: 10 } }, gridcolor: colors.grid, zeroline: false, automargin: true },
      yaxis: { type: this.log ? "log" : "linear", gridcolor: colors.grid, zeroline: false, automargin: true, exponentformat: "e" },
      uirevision: `${key}|${this.x}|${this.log}`,
      dragmode: "zoom",
    };
    const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d", "toImage"] };
    Plotly.react(chart.plot, traces, layout, config);
    if (!chart.listening) {
      chart.listening = true;
      chart.plot.on("plotly_relayout", (event) => this.onZoom(chart, event));
    }
    chart.drawn = true;
  }

  async onZoom(chart, event) {
    if (event["xaxis.autorange"]) {
      if (chart.zoom) {
        chart.zoom = null;
        this.draw(chart.key);
      }
      return;
    }
    const lo = event["xaxis.range[0]"];
    const hi = event["xaxis.range[1]"];
    if (lo === undefined || hi === undefined || this.x !== "_step") return;
    const sampled = this.runs.some((run) => {
      const s = this.cache.get(this.cacheKey(run.id, chart.key));
      return s && s.sampled;
    });
    if (!sampled) return;
    try {
      const data = await api("POST", this.urls.series, {
        runs: this.runs.map((r) => r.id),
        keys: [chart.key],
        x: "_step",
        points: this.points(),
        min_step: Math.max(0, Math.floor(lo)),
        max_step: Math.max(0, Math.ceil(hi)),
      });
      chart.zoom = new Map(data.series.map((s) => [s.run, s]));
      this.draw(chart.key);
      this.status(`Zoomed: ${formatNumber(Math.floor(lo))}–${formatNumber(Math.ceil(hi))} at full detail`);
    } catch (err) {
      this.status(err.message);
    }
  }

  // Fetch only the points logged since the last look, for the running runs among those drawn.
  async tick() {
    const running = this.runs.filter((r) => r.state === "running");
    if (!running.length || document.hidden) return;
    this.ticks += 1;
    if (this.ticks % LIVE_KEYS_EVERY === 0) {
      const before = this.keys.join("\u0001");
      this.keysFor = null;
      await this.setRuns(this.runs);
      if (before !== this.keys.join("\u0001")) return;
    }
    const keys = [...this.charts.values()].filter((c) => c.drawn).map((c) => c.key);
    if (!keys.length) return;
    const after = {};
    for (const run of running) {
      after[run.id] = {};
      for (const key of keys) {
        const s = this.cache.get(this.cacheKey(run.id, key));
        if (s && s.last_step !== null && s.last_step !== undefined) after[run.id][key] = s.last_step;
      }
    }
    const x = this.x;
    const data = await api("POST", this.urls.series, {
      runs: running.map((r) => r.id), keys, x, points: this.points(), after,
    });
    if (x !== this.x) return;
    const changed = new Set();
    for (const s of data.series) {
      const ck = this.cacheKey(s.run, s.key);
      const old = this.cache.get(ck);
      if (!s.x.length && old) {
        old.last_step = s.last_step;
        continue;
      }
      if (old && old.x.length && after[s.run] && after[s.run][s.key] !== undefined) {
        old.x = old.x.concat(s.x);
        old.y = old.y.concat(s.y);
        if (s.steps && old.steps) old.steps = old.steps.concat(s.steps);
        old.last_step = s.last_step;
      } else {
        this.cache.set(ck, s);
      }
      changed.add(s.key);
    }
    for (const key of changed) {
      const chart = this.charts.get(key);
      if (chart && chart.drawn && !chart.zoom) this.draw(key);
    }
    return data.states;
  }
}

// The mean of several runs' series and a band around it, on a common x grid: the runs' own x
// values when they all share them, else 400 evenly spaced points (each run interpolated
// linearly inside its own range). band: "minmax", "std" or "stderr".
export function aggregate(members, band) {
  const same = members.every((m) => m.x.length === members[0].x.length && m.x.every((v, i) => v === members[0].x[i]));
  let grid;
  let columns;
  if (same) {
    grid = members[0].x;
    columns = members.map((m) => m.y);
  } else {
    let lo = Infinity;
    let hi = -Infinity;
    for (const m of members) {
      lo = Math.min(lo, m.x[0]);
      hi = Math.max(hi, m.x[m.x.length - 1]);
    }
    const count = lo === hi ? 1 : 400;
    grid = Array.from({ length: count }, (_, i) => (count === 1 ? lo : lo + ((hi - lo) * i) / (count - 1)));
    columns = members.map((m) => interpolate(m.x, m.y, grid));
  }
  const mean = [];
  const lower = [];
  const upper = [];
  for (let i = 0; i < grid.length; i += 1) {
    const values = [];
    for (const column of columns) {
      const v = column[i];
      if (v !== null && v !== undefined && isFinite(v)) values.push(v);
    }
    if (!values.length) {
      mean.push(null); lower.push(null); upper.push(null);
      continue;
    }
    const m = values.reduce((a, b) => a + b, 0) / values.length;
    mean.push(m);
    if (band === "minmax") {
      lower.push(Math.min(...values));
      upper.push(Math.max(...values));
    } else {
      const variance = values.length > 1 ? values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1) : 0;
      const spread = band === "stderr" ? Math.sqrt(variance / values.length) : Math.sqrt(variance);
      lower.push(m - spread);
      upper.push(m + spread);
    }
  }
  return { x: grid, mean, lower, upper };
}

function interpolate(xs, ys, grid) {
  const out = new Array(grid.length).fill(null);
  let j = 0;
  for (let i = 0; i < grid.length; i += 1) {
    const g = grid[i];
    if (g < xs[0] || g > xs[xs.length - 1]) continue;
    while (j < xs.length - 2 && xs[j + 1] < g) j += 1;
    const x0 = xs[j];
    const x1 = xs[Math.min(j + 1, xs.length - 1)];
    const y0 = ys[j];
    const y1 = ys[Math.min(j + 1, ys.length - 1)];
    if (y0 === null || y1 === null) continue;
    out[i] = x1 === x0 ? y0 : y0 + ((y1 - y0) * (g - x0)) / (x1 - x0);
  }
  return out;
}

function withAlpha(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

// Plotly renders hover templates as (restricted) HTML: keep run names literal.
function escapeForPlotly(text) {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/%/g, "&#37;")
    .replace(/[{}]/g, (c) => (c === "{" ? "&#123;" : "&#125;"));
}
