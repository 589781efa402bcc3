// Workspace state: what a user set up in a project's workspace (hidden runs, colours, filters,
// grouping, sort, N, x axis, smoothing, collapsed sections, runs-table columns).
//
// Signed-in users keep it on the server (GET/PUT /web-api/projects/{e}/{p}/state), anonymous
// viewers and failed loads fall back to this browser's localStorage. The state is mirrored in
// the URL's query string so a view can be shared; a link that carries state wins over the
// saved one (and is saved only once the user changes something).
import { api, toast } from "./common.js";

export const DEFAULTS = {
  q: "", filters: [], order: "-created_at", n: 10, hidden: [], colors: {},
  x: "_step", log: false, smooth: 0, collapsed: ["system"], group: "", band: "minmax", expanded: [],
  table: false, columns: null, widths: {},
};
const URL_KEYS = ["q", "f", "sort", "n", "hide", "color", "x", "log", "smooth", "collapsed", "group", "band", "table", "cols"];
const SAVE_DELAY_MS = 500;

// Keep only known keys of the right kinds (a damaged or older saved state never breaks the page).
export function cleanState(raw) {
  const s = { ...DEFAULTS };
  if (!raw || typeof raw !== "object") return s;
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    const value = raw[key];
    if (value === undefined) continue;
    const fits = Array.isArray(fallback) ? Array.isArray(value)
      : fallback === null ? value === null || Array.isArray(value)
        : typeof value === typeof fallback && value !== null && !Array.isArray(value);
    if (fits) s[key] = value;
  }
  s.n = Math.max(1, Math.min(1000, parseInt(s.n, 10) || DEFAULTS.n));
  s.smooth = Math.min(0.99, Math.max(0, Number(s.smooth) || 0));
  if (!["minmax", "std", "stderr"].includes(s.band)) s.band = "minmax";
  return s;
}

export function hasUrlState(url = location.href) {
  const params = new URL(url).searchParams;
  return URL_KEYS.some((k) => params.has(k));
}

export function stateFromUrl(url = location.href) {
  const params = new URL(url).searchParams;
  const s = { ...DEFAULTS };
  s.q = params.get("q") || "";
  try { s.filters = JSON.parse(params.get("f") || "[]"); } catch { s.filters = []; }
  if (!Array.isArray(s.filters)) s.filters = [];
  s.order = params.get("sort") || DEFAULTS.order;
  s.n = Math.max(1, parseInt(params.get("n") || DEFAULTS.n, 10) || DEFAULTS.n);
  s.hidden = (params.get("hide") || "").split(",").filter(Boolean);
  s.colors = {};
  for (const pair of (params.get("color") || "").split(",").filter(Boolean)) {
    const cut = pair.lastIndexOf(":");
    const id = decodeURIComponent(pair.slice(0, cut));
    const hex = pair.slice(cut + 1);
    if (cut > 0 && /^[0-9a-fA-F]{6}$/.test(hex)) s.colors[id] = `#${hex}`;
  }
  s.x = params.get("x") || "_step";
  s.log = params.get("log") === "1";
  s.smooth = Math.min(0.99, Math.max(0, Number(params.get("smooth") || 0) || 0));
  s.collapsed = params.has("collapsed") ? params.get("collapsed").split(",").filter(Boolean) : DEFAULTS.collapsed;
  s.group = params.get("group") || "";
  s.band = ["minmax", "std", "stderr"].includes(params.get("band")) ? params.get("band") : "minmax";
  s.expanded = params.getAll("open");
  s.table = params.get("table") === "1";
  s.columns = params.has("cols") ? params.get("cols").split(",").filter(Boolean).map(decodeURIComponent) : null;
  return s;
}

// The query string that reproduces ``state`` (defaults left out).
export function stateToParams(state) {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  if (state.filters.length) params.set("f", JSON.stringify(state.filters));
  if (state.order !== DEFAULTS.order) params.set("sort", state.order);
  if (state.n !== DEFAULTS.n) params.set("n", String(state.n));
  if (state.hidden.length) params.set("hide", state.hidden.join(","));
  const colors = Object.entries(state.colors).map(([id, c]) => `${encodeURIComponent(id)}:${c.slice(1)}`);
  if (colors.length) params.set("color", colors.join(","));
  if (state.x !== "_step") params.set("x", state.x);
  if (state.log) params.set("log", "1");
  if (state.smooth) params.set("smooth", String(state.smooth));
  if (state.collapsed.join(",") !== DEFAULTS.collapsed.join(",")) params.set("collapsed", state.collapsed.join(","));
  if (state.group) {
    params.set("group", state.group);
    if (state.band !== DEFAULTS.band) params.set("band", state.band);
    for (const name of state.expanded) params.append("open", name);
  }
  if (state.table) params.set("table", "1");
  if (state.columns) params.set("cols", state.columns.map(encodeURIComponent).join(","));
  return params;
}

// Where a project's workspace state is kept, and how it is read and written.
export class WorkspaceStore {
  constructor(entity, project, onServer) {
    this.url = `/web-api/projects/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/state`;
    this.key = `kiseki:workspace:${entity}/${project}`;
    this.onServer = onServer;
    this.timer = null;
    this.pending = null;
    this.warned = false;
    addEventListener("pagehide", () => this.flush(true));
  }

  // The state to start from: the URL's when it carries one, else the saved one, else defaults.
  async load() {
    if (hasUrlState()) return { state: stateFromUrl(), source: "url" };
    if (this.onServer) {
      try {
        const data = await api("GET", this.url);
        if (data.state) return { state: cleanState(data.state), source: "server" };
      } catch (err) {
        toast(`Could not load your saved workspace: ${err.message}`, "error");
      }
    }
    try {
      const stored = JSON.parse(localStorage.getItem(this.key) || "null");
      if (stored && typeof stored === "object") return { state: cleanState(stored), source: "browser" };
    } catch { /* a damaged entry: start fresh */ }
    return { state: { ...DEFAULTS }, source: "defaults" };
  }

  // Mirror ``state`` in the URL; with persist, also save it (debounced on the server).
  save(state, { persist = true } = {}) {
    const query = stateToParams(state).toString();
    history.replaceState(null, "", query ? `${location.pathname}?${query}` : location.pathname);
    if (!persist) return;
    try { localStorage.setItem(this.key, JSON.stringify(state)); } catch { /* private mode */ }
    if (!this.onServer) return;
    this.pending = JSON.parse(JSON.stringify(state));
    document.body.dataset.savePending = "1";
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(false), SAVE_DELAY_MS);
  }

  // Send a pending save now (keepalive lets it finish while the page unloads).
  async flush(unloading) {
    clearTimeout(this.timer);
    if (!this.pending) return;
    const body = { state: this.pending };
    this.pending = null;
    if (unloading) {
      const csrf = document.querySelector('meta[name="csrf-token"]');
      const headers = { "Content-Type": "application/json", "X-Kiseki-Web": "1" };
      if (csrf) headers["X-CSRF-Token"] = csrf.content;
      fetch(this.url, { method: "PUT", headers, body: JSON.stringify(body), keepalive: true }).catch(() => {});
      return;
    }
    try {
      await api("PUT", this.url, body);
      document.body.dataset.workspaceSaved = String(Date.now());
    } catch (err) {
      if (!this.warned) toast(`Your workspace was not saved on the server: ${err.message}`, "error");
      this.warned = true;
    } finally {
      if (!this.pending) delete document.body.dataset.savePending;
    }
  }
}
