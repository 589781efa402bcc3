// The run page: edit notes and tags (Overview), search config and summary, the run's charts
// (Charts tab), and live state for a running run.
import { api, el, formatDuration, localizeTimes, toast } from "./common.js";
import { ChartBoard } from "./charts.js";

const page = document.getElementById("run-page");
const { entity, project, run: runId, tab } = page.dataset;
const canWrite = page.dataset.canWrite === "true";
const runUrl = `/web-api/runs/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/${encodeURIComponent(runId)}`;
const projectApi = `/web-api/projects/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`;
const data = JSON.parse(document.getElementById("run-data").textContent);
const $ = (id) => document.getElementById(id);

localizeTimes();

async function patch(changes) {
  const updated = await api("PATCH", runUrl, changes);
  Object.assign(data, { name: updated.name, notes: updated.notes, tags: updated.tags });
  return updated;
}

// -- notes ----------------------------------------------------------------------------------------
if (canWrite && $("notes-form")) {
  const view = $("notes-view");
  const form = $("notes-form");
  const input = $("notes-input");
  const edit = $("notes-edit");
  const close = () => { form.hidden = true; view.hidden = false; edit.hidden = false; edit.focus(); };
  edit.addEventListener("click", () => {
    input.value = data.notes || "";
    form.hidden = false; view.hidden = true; edit.hidden = true;
    input.focus();
  });
  $("notes-cancel").addEventListener("click", close);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.preventDefault(); close(); }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const updated = await patch({ notes: input.value.trim() ? input.value : null });
      view.textContent = updated.notes || "No notes";
      view.classList.toggle("empty", !updated.notes);
      toast("Notes saved");
      close();
    } catch (err) {
      toast(err.message, "error");
    }
  });
}

// -- privacy ------------------------------------------------------------------------------------
if (canWrite && $("privacy")) {
  const select = $("privacy");
  let current = select.value;
  select.addEventListener("change", async () => {
    try {
      const updated = await patch({ privacy: select.value });
      current = updated.privacy;
      toast(`The run is now ${updated.privacy}`);
    } catch (err) {
      select.value = current;
      toast(err.message, "error");
    }
  });
}

// -- tags ---------------------------------------------------------------------------------------------
function renderTags() {
  const list = $("tag-list");
  const input = $("tag-input");
  const chips = data.tags.map((tag) => el("span", { class: "tag", dataset: { tag } }, tag,
    el("button", { type: "button", "aria-label": `Remove tag ${tag}`, title: "Remove tag", onclick: () => removeTag(tag) }, "×")));
  list.replaceChildren(...chips, input);
}

async function saveTags(tags, message) {
  try {
    await patch({ tags });
    renderTags();
    toast(message);
  } catch (err) {
    toast(err.message, "error");
  }
}

function removeTag(tag) {
  saveTags(data.tags.filter((t) => t !== tag), `Removed tag ${tag}`).then(() => $("tag-input").focus());
}

if (canWrite && $("tag-input")) {
  for (const chip of $("tag-list").querySelectorAll(".tag button")) {
    chip.addEventListener("click", () => removeTag(chip.parentElement.dataset.tag));
  }
  $("tag-input").addEventListener("keydown", (event) => {
    const input = event.currentTarget;
    const value = input.value.trim().replace(/,$/, "");
    if ((event.key === "Enter" || event.key === ",") && value) {
      event.preventDefault();
      if (data.tags.includes(value)) { input.value = ""; return; }
      input.value = "";
      saveTags([...data.tags, value], `Added tag ${value}`).then(() => $("tag-input").focus());
    } else if (event.key === "Backspace" && !input.value && data.tags.length) {
      removeTag(data.tags[data.tags.length - 1]);
    }
  });
}

// -- config / summary search ------------------------------------------------------------------------
for (const search of document.querySelectorAll(".kv-search")) {
  const table = document.getElementById(search.dataset.table);
  if (!table) continue;
  const none = table.nextElementSibling;
  search.addEventListener("input", () => {
    const query = search.value.trim().toLowerCase();
    const rows = [...table.querySelectorAll("tr")];
    const visiblePaths = [];
    let shown = 0;
    for (const row of rows) {
      if (!row.classList.contains("kv-leaf")) continue;
      const hit = !query || row.dataset.text.includes(query);
      row.hidden = !hit;
      if (hit) { shown += 1; visiblePaths.push(row.dataset.path); }
    }
    for (const row of rows) {
      if (!row.classList.contains("kv-group")) continue;
      const prefix = `${row.dataset.path}.`;
      row.hidden = !visiblePaths.some((p) => p.startsWith(prefix));
    }
    if (none) none.hidden = shown > 0;
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && search.value) { search.value = ""; search.dispatchEvent(new Event("input")); }
  });
}

// -- charts tab ------------------------------------------------------------------------------------------
let board = null;
if (tab === "charts") {
  const storageKey = `kiseki:run-charts:${entity}/${project}`;
  let prefs = { x: "_step", log: false, smooth: 0, collapsed: ["system"] };
  try { prefs = { ...prefs, ...JSON.parse(localStorage.getItem(storageKey) || "{}") }; } catch { /* fresh */ }
  const save = () => { try { localStorage.setItem(storageKey, JSON.stringify(prefs)); } catch { /* private mode */ } };
  board = new ChartBoard($("charts"), { keys: `${projectApi}/keys`, series: `${projectApi}/series` }, {
    collapsed: prefs.collapsed,
    onCollapse: (collapsed) => { prefs.collapsed = collapsed; save(); },
    onAxes: (axes) => {
      const select = $("x-axis");
      const all = axes.includes(prefs.x) ? axes : [...axes, prefs.x];
      select.replaceChildren(...all.map((a) => el("option", { value: a, selected: a === prefs.x }, a)));
    },
    onStatus: (text) => { $("chart-status").textContent = text; },
  });
  $("log-scale").checked = prefs.log;
  $("smoothing").value = prefs.smooth;
  $("smoothing-value").textContent = String(prefs.smooth);
  $("x-axis").addEventListener("change", () => { prefs.x = $("x-axis").value; save(); board.setOptions({ x: prefs.x }); });
  $("log-scale").addEventListener("change", () => { prefs.log = $("log-scale").checked; save(); board.setOptions({ log: prefs.log }); });
  $("smoothing").addEventListener("input", () => {
    prefs.smooth = Number($("smoothing").value);
    $("smoothing-value").textContent = prefs.smooth.toFixed(2);
    save();
    board.setOptions({ smoothing: prefs.smooth });
  });
  board.setOptions({ x: prefs.x, log: prefs.log, smoothing: prefs.smooth });
  const start = () => board.setRuns([{ id: data.id, name: data.name, color: "#3b82f6", state: data.state }]);
  if (window.Plotly) start();
  else window.addEventListener("load", start);
}

// -- live state of a running run ---------------------------------------------------------------------
if (data.state === "running") {
  const age = $("heartbeat-age");
  let heartbeat = age ? Number(age.dataset.heartbeat) : null;
  setInterval(() => {
    if (age && heartbeat) age.textContent = formatDuration(Math.max(0, Date.now() / 1000 - heartbeat));
  }, 1000);
  const poll = setInterval(async () => {
    if (document.hidden) return;
    try {
      const run = await api("GET", runUrl);
      heartbeat = run.heartbeat_at;
      if ($("fact-duration")) $("fact-duration").textContent = formatDuration(run.duration);
      if (board) await board.tick();
      if (run.state !== data.state) {
        data.state = run.state;
        for (const id of ["run-state", "fact-state"]) {
          const node = $(id);
          if (node) {
            node.textContent = run.state;
            if (id === "run-state") node.className = `state state-${run.state}`;
          }
        }
        if ($("heartbeat")) $("heartbeat").hidden = true;
        if (board) board.setRuns([{ id: data.id, name: data.name, color: "#3b82f6", state: run.state }]);
        clearInterval(poll);
      }
    } catch (err) {
      toast(err.message, "error");
    }
  }, 3000);
}
