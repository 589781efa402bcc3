// Shared helpers for kiseki's pages: JSON calls, safe DOM building, formatting, colours.
// User text only ever reaches the page through textContent or attribute setters, never innerHTML.

export const WRITE_HEADERS = { "Content-Type": "application/json", "X-Kiseki-Web": "1" };

export class RequestError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// Call a JSON endpoint; throws RequestError with the server's message on failure.
export async function api(method, url, body, options = {}) {
  const headers = method === "GET" ? {} : { ...WRITE_HEADERS };
  const csrf = document.querySelector('meta[name="csrf-token"]');
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf.content;
  const init = { method, headers, signal: options.signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new RequestError("The kiseki server did not answer: is `kiseki ui` still running?", 0);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    let message = data && (data.error || data.detail);
    if (Array.isArray(message)) message = message.map((d) => d.msg || String(d)).join("; ");
    throw new RequestError(message || `Request failed (${response.status}).`, response.status);
  }
  return data;
}

// el("a", {href, class: "x", onclick}, "text", child) builds an element; strings become text.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "style" && typeof value === "object") {
      for (const [prop, v] of Object.entries(value)) node.style.setProperty(prop, v);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Whether keys typed now go into a text field (so single-key shortcuts must not fire).
export function isTyping(element) {
  if (!element) return false;
  if (element.isContentEditable || element.tagName === "TEXTAREA" || element.tagName === "SELECT") return true;
  return element.tagName === "INPUT" && !["checkbox", "radio", "button", "range", "submit"].includes(element.type);
}

export function formatNumber(value) {
  if (typeof value !== "number") return value === null || value === undefined ? "" : String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

export function formatValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  let minutes = Math.floor(Math.round(seconds) / 60);
  const secs = Math.round(seconds) % 60;
  if (minutes < 60) return `${minutes}m ${String(secs).padStart(2, "0")}s`;
  let hours = Math.floor(minutes / 60);
  minutes %= 60;
  if (hours < 48) return `${hours}h ${String(minutes).padStart(2, "0")}m`;
  const days = Math.floor(hours / 24);
  hours %= 24;
  return `${days}d ${hours}h`;
}

export function formatTime(epoch) {
  if (!epoch) return "";
  return new Date(epoch * 1000).toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

export function formatAgo(epoch, now = Date.now() / 1000) {
  if (!epoch) return "";
  const diff = Math.max(0, now - epoch);
  if (diff < 45) return "just now";
  if (diff < 3600) return `${Math.round(diff / 60)} min ago`;
  if (diff < 86400) return `${Math.round(diff / 3600)} h ago`;
  if (diff < 86400 * 30) return `${Math.round(diff / 86400)} d ago`;
  return formatTime(epoch);
}

// Show <time data-epoch> elements in the browser's time zone.
export function localizeTimes(root = document) {
  for (const node of root.querySelectorAll("time[data-epoch]")) {
    const epoch = Number(node.dataset.epoch);
    node.textContent = node.dataset.format === "ago" ? formatAgo(epoch) : formatTime(epoch);
    node.title = new Date(epoch * 1000).toString();
  }
}

// Colour presets: the first ten as distinct as possible (runs drawn together get those first),
// then darker variants; all readable on the light and the dark theme.
export const PRESET_COLORS = [
  "#3b82f6", "#f97316", "#10b981", "#ef4444", "#8b5cf6", "#eab308", "#06b6d4", "#ec4899",
  "#84cc16", "#78716c", "#1d4ed8", "#c2410c", "#047857", "#b91c1c", "#6d28d9", "#a16207",
  "#0e7490", "#be185d", "#4d7c0f", "#64748b",
];
export const DISTINCT_COLORS = 10;

// A run's default colour: stable for its id, whatever is filtered or sorted.
export function defaultColor(id) {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i += 1) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return PRESET_COLORS[(hash >>> 0) % DISTINCT_COLORS];
}

let toastTimer = null;
export function toast(message, kind = "info") {
  let box = document.getElementById("toast");
  if (!box) {
    box = el("div", { id: "toast", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  box.textContent = message;
  box.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.className = "toast"; }, kind === "error" ? 6000 : 2500);
}

// A modal <dialog>: resolves with the button's value, or null on Escape / Cancel.
export function openDialog({ title, body, confirm = "OK", danger = false, initialFocus }) {
  return new Promise((resolve) => {
    const form = el("form", { method: "dialog", class: "dialog-form" });
    const cancel = el("button", { type: "button", class: "btn", value: "cancel" }, "Cancel");
    const ok = el("button", { type: "submit", class: danger ? "btn danger" : "btn primary", value: "ok" }, confirm);
    form.append(el("h2", {}, title), ...(Array.isArray(body) ? body : [body]), el("div", { class: "dialog-buttons" }, cancel, ok));
    const dialog = el("dialog", { class: "dialog" }, form);
    document.body.append(dialog);
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", () => { result = "ok"; });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    dialog.showModal();
    (initialFocus || ok).focus();
    if (initialFocus && initialFocus.select) initialFocus.select();
  });
}
