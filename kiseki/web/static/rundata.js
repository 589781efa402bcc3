// The run page's Logs tab (console output: search, stderr highlighted, live tail that fetches
// only new lines while the run is running) and Files tab (saved files: sizes, downloads).
import { api, el, formatTime } from "./common.js";

const page = document.getElementById("run-page");
const { entity, project, run: runId, tab } = page.dataset;
const base = `/web-api/runs/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/${encodeURIComponent(runId)}`;
const TAIL_MS = 2000;
const MAX_DOM_LINES = 20000;

function clock(epoch) {
  const d = new Date(epoch * 1000);
  return d.toTimeString().slice(0, 8);
}

// -- logs ---------------------------------------------------------------------------------
function startLogs() {
  const view = document.getElementById("log-view");
  const search = document.getElementById("logs-search");
  const stderrOnly = document.getElementById("logs-stderr-only");
  const follow = document.getElementById("logs-follow");
  const status = document.getElementById("logs-status");
  const empty = document.getElementById("logs-empty");
  let after = -1;
  let generation = 0;
  let timer = null;
  let state = page.dataset.state;

  function lineNode(line) {
    return el("span", { class: `log-line stream-${line.stream}`, dataset: { line: line.line_no, stream: line.stream } },
      el("span", { class: "log-time", title: new Date(line.timestamp * 1000).toString() }, clock(line.timestamp)),
      el("span", { class: "log-text" }, line.text), "\n");
  }

  async function fetchMore() {
    const mine = generation;
    clearTimeout(timer);
    const params = new URLSearchParams({ after: String(after) });
    if (search.value) params.set("search", search.value);
    if (stderrOnly.checked) params.set("stream", "stderr");
    let data;
    try {
      data = await api("GET", `${base}/logs?${params}`);
    } catch (err) {
      status.textContent = err.message;
      timer = setTimeout(fetchMore, TAIL_MS * 2);
      return;
    }
    if (mine !== generation) return;
    state = data.state;
    if (data.lines.length) {
      const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 4;
      view.append(...data.lines.map(lineNode));
      while (view.childElementCount > MAX_DOM_LINES) view.firstElementChild.remove();
      after = data.next_after;
      if (follow.checked || atBottom) view.scrollTop = view.scrollHeight;
    }
    const shown = view.childElementCount;
    empty.hidden = shown > 0 || Boolean(search.value) || stderrOnly.checked;
    status.textContent = `${shown} line${shown === 1 ? "" : "s"}${search.value || stderrOnly.checked ? " matching" : ""}${state === "running" ? " · live" : ""}`;
    if (data.more) fetchMore();
    else if (state === "running") timer = setTimeout(fetchMore, TAIL_MS);
  }

  function restart() {
    generation += 1;
    after = -1;
    view.replaceChildren();
    fetchMore();
  }

  let debounce = null;
  search.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(restart, 250); });
  stderrOnly.addEventListener("change", restart);
  fetchMore();
}

// -- files --------------------------------------------------------------------------------
function formatBytes(size) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${size} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

async function startFiles() {
  const body = document.getElementById("files-body");
  const empty = document.getElementById("files-empty");
  const status = document.getElementById("files-status");
  let data;
  try {
    data = await api("GET", `${base}/files`);
  } catch (err) {
    status.textContent = err.message;
    return;
  }
  body.replaceChildren(...data.files.map((file) => {
    const href = `${base}/files/${file.path.split("/").map(encodeURIComponent).join("/")}`;
    return el("tr", { dataset: { path: file.path } },
      el("td", {}, el("a", { href, download: file.path.split("/").pop(), class: "mono file-link" }, file.path),
        file.kind === "code" ? el("span", { class: "muted small" }, " code") : null),
      el("td", { class: "num", title: `${file.size} bytes` }, formatBytes(file.size)),
      el("td", { title: new Date(file.saved_at * 1000).toString() }, formatTime(file.saved_at)),
      el("td", { class: "num" }, String(file.versions)));
  }));
  empty.hidden = data.files.length > 0;
  document.getElementById("files-table").hidden = data.files.length === 0;
  const total = data.files.reduce((n, f) => n + f.size, 0);
  status.textContent = data.files.length ? `${data.files.length} file${data.files.length === 1 ? "" : "s"}, ${formatBytes(total)}` : "";
}

if (tab === "logs") startLogs();
if (tab === "files") startFiles();
