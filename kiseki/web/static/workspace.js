// The project workspace: runs sidebar (search, filters, sort, hide, colour, rename, delete,
// stop, how many to draw) and the charts of the first N visible runs.
//
// Workspace state (wsstate.js) is saved per user and project on the server (in localStorage
// for anonymous viewers) and mirrored in the URL's query string, so a view can be shared by
// its link; a link's state wins over the saved one.
import {
  api, defaultColor, DISTINCT_COLORS, el, formatAgo, formatDuration, formatValue, isTyping, PRESET_COLORS, toast,
} from "./common.js";
import { ChartBoard } from "./charts.js";
import { FILTER_FIELDS, filterToMongo, OPERATORS, operatorsFor } from "./filters.js";
import { openColorPicker, openRunMenu, popupOpen } from "./runactions.js";
import { RunsTable } from "./runstable.js";
import { DEFAULTS, WorkspaceStore } from "./wsstate.js";

const root = document.getElementById("workspace");
const entity = root.dataset.entity;
const project = root.dataset.project;
const base = `/web-api/projects/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
const runBase = `/web-api/runs/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
const pageBase = `/projects/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
const LIVE_MS = 3000;

const MAX_RUNS_PER_GROUP = 100;
const SORT_BASICS = [
  ["created_at", "Created"], ["display_name", "Name"], ["runtime", "Runtime"],
  ["state", "State"], ["last_step", "Last step"], ["group", "Group"], ["job_type", "Job type"],
];

const $ = (id) => document.getElementById(id);
const stateStore = new WorkspaceStore(entity, project, root.dataset.save === "server");
const loaded = await stateStore.load();
let state = loaded.state;
root.dataset.stateSource = loaded.source;
let runs = [];
let columns = { config: [], summary: [] };
let knownColumns = { config: new Set(), summary: new Set() };
let requestSeq = 0;
const selected = new Set();
let runsLoaded = false;
const COMPARE_MAX = 5;
let searchTimer = null;

const board = new ChartBoard($("charts"), { keys: `${base}/keys`, series: `${base}/series` }, {
  collapsed: state.collapsed,
  onCollapse: (collapsed) => { state.collapsed = collapsed; saveState(); },
  onAxes: fillAxes,
  onStatus: (text) => { $("chart-status").textContent = text; },
});

// -- state: saved per user on the server (or in this browser) and mirrored in the URL ----------
function saveState({ persist = true } = {}) {
  stateStore.save(state, { persist });
}

let assignedColors = new Map();
const colorOf = (run) => state.colors[run.id] || assignedColors.get(run.id) || defaultColor(run.id);

// Runs drawn together get distinct default colours: each starts from its id's colour and moves
// on to the next preset not yet taken (so a run keeps its colour unless another one has it).
function assignColors(drawnRuns) {
  const used = new Set(drawnRuns.map((r) => state.colors[r.id]).filter(Boolean));
  assignedColors = new Map();
  for (const run of drawnRuns) {
    if (state.colors[run.id]) continue;
    const start = PRESET_COLORS.indexOf(defaultColor(run.id));
    const order = [
      ...Array.from({ length: DISTINCT_COLORS }, (_, k) => PRESET_COLORS[(start + k) % DISTINCT_COLORS]),
      ...PRESET_COLORS.slice(DISTINCT_COLORS),
    ];
    const pick = order.find((candidate) => !used.has(candidate)) || order[0];
    used.add(pick);
    assignedColors.set(run.id, pick);
  }
}
const isHidden = (run) => state.hidden.includes(run.id);

// -- runs ---------------------------------------------------------------------------------------
async function loadRuns({ quiet = false } = {}) {
  const seq = ++requestSeq;
  const list = $("run-list");
  if (!quiet) list.setAttribute("aria-busy", "true");
  const filters = filterToMongo(state.filters);
  try {
    const data = await api("POST", `${base}/runs`, { filters, search: state.q || null, order: state.order });
    if (seq !== requestSeq) return;
    $("runs-error").hidden = true;
    runs = data.runs;
    columns = data.columns;
    for (const c of columns.config) knownColumns.config.add(c);
    for (const c of columns.summary) knownColumns.summary.add(c);
    $("run-count").textContent = `(${data.total})`;
    root.dataset.runCount = data.total;
    runsLoaded = true;
    if (data.total === 0) {
      if (state.table) setTableMode(false);  // the empty project's first-run lines live there
      showEmptyProject();
    }
    renderRuns(data);
    table.setAvailable(columns);
    if (state.table) table.render();
    fillSortFields();
    fillGroupFields();
    renderFilters(false);
  } catch (err) {
    if (seq !== requestSeq) return;
    $("runs-error").textContent = err.message;
    $("runs-error").hidden = false;
  } finally {
    if (seq === requestSeq) list.setAttribute("aria-busy", "false");
  }
}

function showEmptyProject() {
  const pane = root.querySelector(".charts-pane");
  pane.replaceChildren($("empty-project").content.cloneNode(true));
}

function sortField() {
  return state.order.replace(/^[+-]/, "");
}

function sortValue(run) {
  const field = sortField();
  if (field.startsWith("config.")) return formatValue(run.config[field.slice(7)]);
  if (field.startsWith("summary_metrics.")) return formatValue(run.summary[field.slice(16)]);
  if (field === "runtime") return formatDuration(run.runtime);
  if (field === "last_step") return run.last_step >= 0 ? `step ${run.last_step}` : "";
  if (field === "group") return run.group || "";
  if (field === "job_type") return run.job_type || "";
  return formatAgo(run.created_at);
}

function visualized() {
  return runs.filter((r) => !isHidden(r)).slice(0, state.n);
}

// -- grouping -------------------------------------------------------------------------------------
function groupValue(run) {
  const field = state.group;
  if (field === "group") return run.group;
  if (field === "job_type") return run.job_type;
  if (field.startsWith("config.")) return run.config[field.slice(7)];
  return undefined;
}

// Groups in the order of their first run in the sidebar (so sorting orders the groups too).
function groupsOf(list) {
  const groups = new Map();
  for (const run of list) {
    const value = groupValue(run);
    const name = value === undefined || value === null || value === "" ? "(none)" : formatValue(value);
    if (!groups.has(name)) groups.set(name, { id: `group:${name}`, name, runs: [] });
    groups.get(name).runs.push(run);
  }
  return [...groups.values()];
}

function drawnGroups(groups) {
  return groups.filter((g) => g.runs.some((r) => !isHidden(r))).slice(0, state.n);
}

function groupRow(group, drawn) {
  const allHidden = group.runs.every(isHidden);
  const open = state.expanded.includes(group.name);
  const color = colorOf(group);
  const row = el("li", {
    class: `run-row group-row${allHidden ? " is-hidden" : ""}${drawn ? " is-drawn" : ""}`,
    dataset: { id: group.id, group: group.name },
  });
  row.append(
    el("button", {
      type: "button", class: "swatch", style: { "--swatch": color }, title: "Change colour",
      "aria-label": `Colour of group ${group.name}`,
      onclick: (event) => pickColor(group, event.currentTarget),
    }),
    el("button", {
      type: "button", class: "eye", "aria-pressed": String(!allHidden),
      title: allHidden ? "Show the group in charts" : "Hide the group in charts",
      "aria-label": `${allHidden ? "Show" : "Hide"} group ${group.name} in charts`,
      onclick: () => {
        const ids = group.runs.map((r) => r.id);
        state.hidden = allHidden ? state.hidden.filter((id) => !ids.includes(id)) : [...new Set([...state.hidden, ...ids])];
        saveState();
        renderRuns();
      },
    }, eyeIcon(!allHidden)),
    el("button", {
      type: "button", class: "group-toggle", "aria-expanded": String(open),
      title: open ? "Collapse the group" : "Show the group's runs",
      onclick: () => {
        state.expanded = open ? state.expanded.filter((n) => n !== group.name) : [...state.expanded, group.name];
        saveState();
        renderRuns();
      },
    }, el("span", { class: "caret", "aria-hidden": "true" }, open ? "▾" : "▸"), el("span", { class: "group-name" }, group.name)),
    el("span", { class: "run-meta" }, `${group.runs.length} run${group.runs.length === 1 ? "" : "s"}`),
  );
  return row;
}

function renderRuns(data) {
  if (state.group) {
    renderGroups(data);
    return;
  }
  const list = $("run-list");
  assignColors(visualized());
  const drawn = new Set(visualized().map((r) => r.id));
  const focusKey = rememberFocus();
  // In the runs table the sidebar list and the charts are out of sight: build neither (the
  // table builds only the rows in view); leaving the table renders them again.
  if (!state.table) list.replaceChildren(...runs.map((run) => runRow(run, drawn.has(run.id))));
  if (!runs.length && !state.table) {
    const filtered = state.q || state.filters.length;
    list.append(el("li", { class: "empty-note" }, filtered ? "No run matches the search and filters." : "No runs yet."));
  }
  restoreFocus(focusKey);
  const visible = runs.filter((r) => !isHidden(r)).length;
  $("visualized").textContent = `${drawn.size} visualized`;
  $("visualized").title = `${drawn.size} of ${visible} visible runs drawn in the charts (${data ? data.matched : runs.length} listed)`;
  $("toggle-all").textContent = runs.length && runs.every(isHidden) ? "Show all" : "Hide all";
  if (state.table) {
    table.renderRows();
    return;
  }
  board.setRuns(visualized().map((r) => ({ id: r.id, name: r.name, color: colorOf(r), state: r.state })));
}

function renderGroups(data) {
  const list = $("run-list");
  const groups = groupsOf(runs);
  const drawn = drawnGroups(groups);
  assignColors(drawn);
  const drawnIds = new Set(drawn.map((g) => g.id));
  const focusKey = rememberFocus();
  const rows = [];
  for (const group of groups) {
    rows.push(groupRow(group, drawnIds.has(group.id)));
    if (state.expanded.includes(group.name)) {
      for (const run of group.runs) {
        const row = runRow(run, drawnIds.has(group.id) && !isHidden(run));
        row.classList.add("member");
        rows.push(row);
      }
    }
  }
  if (!state.table) list.replaceChildren(...rows);
  if (!runs.length && !state.table) list.append(el("li", { class: "empty-note" }, "No run matches the search and filters."));
  restoreFocus(focusKey);
  $("visualized").textContent = `${drawn.length} group${drawn.length === 1 ? "" : "s"} visualized`;
  $("visualized").title = `${drawn.length} of ${groups.length} groups drawn in the charts, each as the mean of its visible runs (${data ? data.matched : runs.length} runs listed)`;
  $("toggle-all").textContent = runs.length && runs.every(isHidden) ? "Show all" : "Hide all";
  if (state.table) {
    table.renderRows();
    return;
  }
  const members = [];
  const specs = [];
  for (const group of drawn) {
    const ids = group.runs.filter((r) => !isHidden(r)).slice(0, MAX_RUNS_PER_GROUP);
    for (const run of ids) members.push({ id: run.id, name: run.name, color: colorOf(group), state: run.state });
    specs.push({ name: `${group.name} (${ids.length})`, color: colorOf(group), ids: ids.map((r) => r.id) });
  }
  board.setRuns(members, specs);
}

function rememberFocus() {
  const focused = document.activeElement && document.activeElement.closest(".run-row");
  return focused ? [focused.dataset.id, [...focused.querySelectorAll("button, a")].indexOf(document.activeElement)] : null;
}

function restoreFocus(focusKey) {
  if (!focusKey) return;
  const row = $("run-list").querySelector(`.run-row[data-id="${CSS.escape(focusKey[0])}"]`);
  const target = row && row.querySelectorAll("button, a")[focusKey[1]];
  if (target) target.focus();
}

function runRow(run, drawn) {
  const hidden = isHidden(run);
  const color = colorOf(run);
  const row = el("li", {
    class: `run-row${hidden ? " is-hidden" : ""}${drawn ? " is-drawn" : ""}`,
    dataset: { id: run.id, state: run.state },
  });
  const swatch = el("button", {
    type: "button", class: "swatch", style: { "--swatch": color },
    title: "Change colour", "aria-label": `Colour of ${run.name}`,
    onclick: (event) => pickColor(run, event.currentTarget),
  });
  const eye = el("button", {
    type: "button", class: "eye", "aria-pressed": String(!hidden),
    title: hidden ? "Show in charts" : "Hide in charts",
    "aria-label": `${hidden ? "Show" : "Hide"} ${run.name} in charts`,
    onclick: () => toggleHidden(run),
  }, eyeIcon(!hidden));
  const name = el("a", { class: "run-name", href: `${pageBase}/runs/${encodeURIComponent(run.id)}`, title: `${run.name} (${run.id})` }, run.name);
  const meta = el("span", { class: "run-meta" }, sortValue(run));
  const dot = el("span", { class: `state-dot state-${run.state}`, title: run.state, "aria-label": run.state, role: "img" });
  const kebab = el("button", {
    type: "button", class: "kebab", "aria-haspopup": "menu", "aria-expanded": "false",
    title: "Run actions", "aria-label": `Actions for ${run.name}`,
    onclick: (event) => openMenu(run, event.currentTarget),
  }, "⋮");
  const pick = el("input", {
    type: "checkbox", class: "run-select", checked: selected.has(run.id),
    "aria-label": `Select ${run.name} to compare`, title: "Select to compare",
    onchange: (event) => selectRun(run, event.currentTarget.checked),
  });
  row.append(pick, swatch, eye, name, meta, dot, kebab);
  if (selected.has(run.id)) row.classList.add("is-selected");
  return row;
}

function eyeIcon(open) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", open
    ? "M12 5C6.5 5 2.7 9.1 1.5 12c1.2 2.9 5 7 10.5 7s9.3-4.1 10.5-7C21.3 9.1 17.5 5 12 5zm0 11a4 4 0 1 1 0-8 4 4 0 0 1 0 8z"
    : "M3.3 2.3 2 3.6l3.3 3.2C3.5 8.2 2.2 10 1.5 12c1.2 2.9 5 7 10.5 7 1.9 0 3.5-.4 4.9-1.1l3.5 3.4 1.3-1.3L3.3 2.3zM12 16a4 4 0 0 1-3.9-4.9l4.9 4.8c-.3.1-.7.1-1 .1zm0-11c-1.2 0-2.3.2-3.3.5l2.1 2.1A4 4 0 0 1 16 12c0 .4 0 .8-.1 1.2l3.4 3.3c1.5-1.3 2.6-2.9 3.2-4.5C21.3 9.1 17.5 5 12 5z");
  svg.append(path);
  return svg;
}

function toggleHidden(run) {
  state.hidden = isHidden(run) ? state.hidden.filter((id) => id !== run.id) : [...state.hidden, run.id];
  saveState();
  renderRuns();
}

// -- run menu and colour picker (runactions.js) -----------------------------------------------------
const runActions = {
  pageBase,
  runBase,
  onChanged: () => loadRuns({ quiet: true }),
  onDeleted: (run) => {
    state.hidden = state.hidden.filter((id) => id !== run.id);
    delete state.colors[run.id];
    saveState();
  },
};

function openMenu(run, button) {
  openRunMenu(run, button, runActions);
}

function pickColor(target, button) {
  openColorPicker(target, button, colorOf(target), (color) => {
    if (color) state.colors[target.id] = color.toLowerCase();
    else delete state.colors[target.id];
    saveState();
    renderRuns();
  });
}

// -- search, filters, sort ---------------------------------------------------------------------
$("run-search").value = state.q;
$("run-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.q = $("run-search").value;
    saveState();
    loadRuns();
  }, 180);
});

function togglePanel(button, panel) {
  const open = panel.hidden;
  panel.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
  if (open) {
    const first = panel.querySelector("select, input, button");
    if (first) first.focus();
  }
}
$("filter-toggle").addEventListener("click", () => {
  togglePanel($("filter-toggle"), $("filter-panel"));
  if (!$("filter-panel").hidden && !state.filters.length) addFilter();
});
$("sort-toggle").addEventListener("click", () => togglePanel($("sort-toggle"), $("sort-panel")));

function fieldOptions(selected) {
  const groups = [el("optgroup", { label: "Run" }, FILTER_FIELDS.map(([value, label]) => el("option", { value, selected: value === selected }, label)))];
  const cfg = [...knownColumns.config].sort();
  const sum = [...knownColumns.summary].sort();
  if (cfg.length) groups.push(el("optgroup", { label: "Config" }, cfg.map((c) => el("option", { value: `config.${c}`, selected: `config.${c}` === selected }, c))));
  if (sum.length) groups.push(el("optgroup", { label: "Summary" }, sum.map((c) => el("option", { value: `summary_metrics.${c}`, selected: `summary_metrics.${c}` === selected }, c))));
  return groups;
}

function addFilter() {
  state.filters.push({ field: "state", op: "=", value: "" });
  renderFilters(true, state.filters.length - 1);
}

// Rebuild the filter rows; while the user is in one, only when asked (force), so a refresh
// of the runs never pulls the field from under their cursor. focus: index of a row to focus.
function renderFilters(force, focus = null) {
  const box = $("filter-rows");
  const count = state.filters.filter((f) => String(f.value ?? "").trim() !== "").length;
  $("filter-count").hidden = count === 0;
  $("filter-count").textContent = String(count);
  if (!force && box.contains(document.activeElement)) return;
  box.replaceChildren(...state.filters.map((f, index) => filterRow(f, index)));
  if (focus !== null && box.children[focus]) box.children[focus].querySelector("select").focus();
}

function filterRow(filter, index) {
  const field = el("select", { "aria-label": "Field", class: "f-field" }, fieldOptions(filter.field));
  const op = el("select", { "aria-label": "Operator", class: "f-op" },
    operatorsFor(filter.field).map((o) => el("option", { value: o, selected: o === filter.op }, OPERATORS[o].label)));
  const isTime = filter.field === "created_at";
  const value = el("input", {
    type: isTime ? "datetime-local" : "text", class: "f-value text-input", "aria-label": "Value",
    value: filter.value, placeholder: filter.op === "in" ? "a, b, c" : filter.field === "state" ? "finished" : "value",
    list: filter.field === "state" ? "state-values" : null, spellcheck: "false",
  });
  const remove = el("button", { type: "button", class: "icon-only", "aria-label": "Remove filter", title: "Remove filter" }, "×");
  const changed = () => { saveState(); loadRuns(); };
  field.addEventListener("change", () => {
    filter.field = field.value;
    if (!operatorsFor(filter.field).includes(filter.op)) filter.op = operatorsFor(filter.field)[0];
    filter.value = "";
    renderFilters(true, index);
    changed();
  });
  op.addEventListener("change", () => { filter.op = op.value; changed(); });
  let timer = null;
  value.addEventListener("input", () => {
    filter.value = value.value;
    clearTimeout(timer);
    timer = setTimeout(changed, 250);
  });
  remove.addEventListener("click", () => {
    state.filters.splice(index, 1);
    renderFilters(true);
    const rows = $("filter-rows").children;
    (rows[Math.min(index, rows.length - 1)]?.querySelector("select") || $("filter-add")).focus();
    changed();
  });
  return el("div", { class: "filter-row" }, field, op, value, remove);
}

$("filter-add").addEventListener("click", () => addFilter());
$("filter-clear").addEventListener("click", () => {
  state.filters = [];
  renderFilters(true);
  saveState();
  loadRuns();
});
document.body.append(el("datalist", { id: "state-values" }, ["running", "finished", "failed", "crashed", "killed"].map((s) => el("option", { value: s }))));

function fillSortFields() {
  const select = $("sort-field");
  if (select.contains(document.activeElement)) return;
  const current = sortField();
  const groups = [el("optgroup", { label: "Run" }, SORT_BASICS.map(([v, l]) => el("option", { value: v, selected: v === current }, l)))];
  const cfg = [...knownColumns.config].sort();
  const sum = [...knownColumns.summary].sort();
  if (sum.length) groups.push(el("optgroup", { label: "Summary" }, sum.map((c) => el("option", { value: `summary_metrics.${c}`, selected: `summary_metrics.${c}` === current }, c))));
  if (cfg.length) groups.push(el("optgroup", { label: "Config" }, cfg.map((c) => el("option", { value: `config.${c}`, selected: `config.${c}` === current }, c))));
  if (![...SORT_BASICS.map(([v]) => v), ...cfg.map((c) => `config.${c}`), ...sum.map((c) => `summary_metrics.${c}`)].includes(current)) {
    groups.push(el("option", { value: current, selected: true }, current));
  }
  select.replaceChildren(...groups);
  const descending = state.order.startsWith("-");
  $("sort-dir").textContent = descending ? "↓ Descending" : "↑ Ascending";
  $("sort-dir").setAttribute("aria-pressed", String(descending));
  $("sort-toggle").textContent = `Sort: ${select.selectedOptions[0] ? select.selectedOptions[0].textContent : current} ${descending ? "↓" : "↑"}`;
}
$("sort-field").addEventListener("change", () => {
  const descending = state.order.startsWith("-");
  state.order = `${descending ? "-" : "+"}${$("sort-field").value}`;
  saveState();
  fillSortFields();
  loadRuns();
});
$("sort-dir").addEventListener("click", () => {
  state.order = `${state.order.startsWith("-") ? "+" : "-"}${sortField()}`;
  saveState();
  fillSortFields();
  loadRuns();
});

function fillGroupFields() {
  const select = $("group-field");
  $("band").value = state.band;
  $("band-field").hidden = !state.group;
  if (select.contains(document.activeElement)) return;
  const cfg = [...knownColumns.config].sort();
  const options = [
    el("option", { value: "", selected: !state.group }, "No grouping"),
    el("optgroup", { label: "Run" },
      el("option", { value: "group", selected: state.group === "group" }, "Group"),
      el("option", { value: "job_type", selected: state.group === "job_type" }, "Job type")),
  ];
  if (cfg.length) options.push(el("optgroup", { label: "Config" }, cfg.map((c) => el("option", { value: `config.${c}`, selected: `config.${c}` === state.group }, c))));
  select.replaceChildren(...options);
  const label = state.group ? (select.selectedOptions[0] ? select.selectedOptions[0].textContent : state.group) : "";
  $("group-toggle").textContent = state.group ? `Group: ${label}` : "Group";
}
$("group-toggle").addEventListener("click", () => togglePanel($("group-toggle"), $("group-panel")));
$("group-field").addEventListener("change", () => {
  state.group = $("group-field").value;
  state.expanded = [];
  saveState();
  fillGroupFields();
  const label = $("group-field").selectedOptions[0];
  $("group-toggle").textContent = state.group && label ? `Group: ${label.textContent}` : "Group";
  renderRuns();
});
$("band").addEventListener("change", () => {
  state.band = $("band").value;
  saveState();
  board.setOptions({ band: state.band });
});

// -- how many runs, hide all ---------------------------------------------------------------------
$("run-limit").value = state.n;
$("run-limit").addEventListener("change", () => {
  const n = Math.max(1, Math.min(1000, parseInt($("run-limit").value, 10) || DEFAULTS.n));
  $("run-limit").value = n;
  state.n = n;
  saveState();
  renderRuns();
});
$("toggle-all").addEventListener("click", () => {
  const ids = runs.map((r) => r.id);
  if (runs.length && runs.every(isHidden)) state.hidden = state.hidden.filter((id) => !ids.includes(id));
  else state.hidden = [...new Set([...state.hidden, ...ids])];
  saveState();
  renderRuns();
});

// -- chart options ---------------------------------------------------------------------------------
function fillAxes(axes) {
  const select = $("x-axis");
  const all = axes.includes(state.x) ? axes : [...axes, state.x];
  select.replaceChildren(...all.map((a) => el("option", { value: a, selected: a === state.x }, a)));
}
fillAxes(["_step", "_runtime", "_timestamp"]);
$("x-axis").addEventListener("change", () => { state.x = $("x-axis").value; saveState(); board.setOptions({ x: state.x }); });
$("log-scale").checked = state.log;
$("log-scale").addEventListener("change", () => { state.log = $("log-scale").checked; saveState(); board.setOptions({ log: state.log }); });
$("smoothing").value = state.smooth;
$("smoothing-value").textContent = String(state.smooth);
$("smoothing").addEventListener("input", () => {
  state.smooth = Number($("smoothing").value);
  $("smoothing-value").textContent = state.smooth.toFixed(2);
  saveState();
  board.setOptions({ smoothing: state.smooth });
});
board.setOptions({ x: state.x, log: state.log, smoothing: state.smooth, band: state.band });

// -- runs table and compare ------------------------------------------------------------------------
function tableItems() {
  if (!state.group) return runs.map((run) => ({ run }));
  return groupsOf(runs).flatMap((group) => [{ group }, ...group.runs.map((run) => ({ run }))]);
}

const table = new RunsTable($("runs-table-host"), {
  state: () => state,
  items: tableItems,
  loaded: () => runsLoaded,
  colorOf,
  isHidden,
  selected,
  runUrl: (run) => `${pageBase}/runs/${encodeURIComponent(run.id)}`,
  onSort: (order) => {
    state.order = order;
    saveState();
    fillSortFields();
    loadRuns();
  },
  onColumns: (ids) => {
    state.columns = ids;
    saveState();
    table.render();
  },
  onWidths: (widths, done) => {
    state.widths = widths;
    if (done) saveState();
  },
  onSelect: (run, on) => selectRun(run, on),
});

function setTableMode(on) {
  state.table = on;
  root.classList.toggle("table-mode", on);
  $("run-list").hidden = on;
  $("runs-table-host").hidden = !on;
  $("columns-toggle").hidden = !on;
  $("table-toggle").setAttribute("aria-pressed", String(on));
  $("table-toggle").textContent = on ? "⤡ Back to charts" : "⤢ Runs table";
  $("table-toggle").title = on ? "Collapse the table back into the sidebar (t)" : "Expand the runs list into the full runs table (t)";
  if (on) table.render();
  else if (runsLoaded) renderRuns();
}
$("table-toggle").addEventListener("click", () => {
  setTableMode(!state.table);
  saveState();
});
$("columns-toggle").addEventListener("click", () => table.togglePicker($("columns-toggle")));

function selectRun(run, on) {
  if (on && selected.size >= COMPARE_MAX && !selected.has(run.id)) {
    toast(`Compare takes at most ${COMPARE_MAX} runs: untick one first.`, "error");
  } else if (on) selected.add(run.id);
  else selected.delete(run.id);
  updateCompare();
  if (state.table) table.renderRows();
  for (const box of $("run-list").querySelectorAll(".run-row[data-id] .run-select")) {
    const id = box.closest(".run-row").dataset.id;
    box.checked = selected.has(id);
    box.closest(".run-row").classList.toggle("is-selected", selected.has(id));
  }
}

function compareUrl() {
  const params = new URLSearchParams(location.search);
  params.set("runs", [...selected].join(","));
  return `${pageBase}/compare?${params}`;
}

function updateCompare() {
  const button = $("compare-btn");
  const count = selected.size;
  button.disabled = count < 2;
  button.textContent = count ? `Compare (${count})` : "Compare";
  button.title = count < 2 ? "Tick 2 to 5 runs, then compare them (c)" : `Compare the ${count} ticked runs side by side (c)`;
  root.classList.toggle("has-selection", count > 0);
}
$("compare-btn").addEventListener("click", async () => {
  await stateStore.flush(false);
  location.href = compareUrl();
});

// -- keyboard ------------------------------------------------------------------------------------------
document.addEventListener("keydown", (event) => {
  const typing = isTyping(document.activeElement);
  if (event.key === "/" && !typing) {
    event.preventDefault();
    $("run-search").focus();
  } else if (event.key === "t" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey && !popupOpen()) {
    $("table-toggle").click();
  } else if (event.key === "c" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey && !$("compare-btn").disabled) {
    $("compare-btn").click();
  } else if (event.key === "Escape" && document.activeElement === $("run-search") && $("run-search").value) {
    $("run-search").value = "";
    $("run-search").dispatchEvent(new Event("input"));
  }
});

// -- live updates ------------------------------------------------------------------------------------
let ticking = false;
let liveTicks = 0;
setInterval(async () => {
  if (ticking || document.hidden || popupOpen() || document.querySelector("dialog[open]")) return;
  if (!runs.some((r) => r.state === "running")) return;
  ticking = true;
  try {
    const states = await board.tick();
    const changed = states && runs.some((r) => states[r.id] && states[r.id] !== r.state);
    liveTicks += 1;
    if (changed || liveTicks % 2 === 0) await loadRuns({ quiet: true });
  } catch (err) {
    $("chart-status").textContent = err.message;
  } finally {
    ticking = false;
  }
}, LIVE_MS);

saveState({ persist: false });
setTableMode(state.table);
updateCompare();
loadRuns();
