// The full runs table the sidebar expands into: chosen columns (run fields, metadata, config,
// summary), resizable, the name column pinned while scrolling sideways, sorted by clicking a
// header (the server sorts, so the order is the sidebar's too). Only the rows in view are in
// the DOM, so thousands of runs scroll smoothly; grouping shows each group's runs under a
// header row. Everything is reachable from the keyboard: headers are buttons, resize handles
// take ←/→, run checkboxes pick runs to compare.
import { el, formatAgo, formatDuration, formatValue } from "./common.js";

const ROW_HEIGHT = 30;
const OVERSCAN = 12;
const MIN_WIDTH = 60;
const NAME_WIDTH = 260;
const DEFAULT_WIDTH = 130;

// Run fields the table can show: id, label, how to show it, the field the server sorts on.
const RUN_COLUMNS = [
  ["state", "State", (r) => r.state, "state"],
  ["created_at", "Created", (r) => formatAgo(r.created_at), "created_at"],
  ["runtime", "Runtime", (r) => formatDuration(r.runtime), "runtime"],
  ["last_step", "Step", (r) => (r.last_step >= 0 ? String(r.last_step) : ""), "last_step"],
  ["tags", "Tags", (r) => r.tags.join(", "), null],
  ["group", "Group", (r) => r.group || "", "group"],
  ["job_type", "Job type", (r) => r.job_type || "", "job_type"],
  ["author", "Author", (r) => r.author || "", "author"],
];
const RUN_BY_ID = new Map(RUN_COLUMNS.map((c) => [c[0], c]));

// A column id ("state", "meta.host", "config.optimizer.lr", "summary.val/acc") described.
export function describeColumn(id) {
  if (RUN_BY_ID.has(id)) {
    const [, label, show, sort] = RUN_BY_ID.get(id);
    return { id, label, kind: "run", show, sort };
  }
  const cut = id.indexOf(".");
  const kind = id.slice(0, cut);
  const path = id.slice(cut + 1);
  if (kind === "meta") return { id, label: path, kind, show: (r) => formatValue(r.meta?.[path]), sort: null };
  if (kind === "config") return { id, label: path, kind, show: (r) => formatValue(r.config[path]), sort: `config.${path}`, numeric: true };
  if (kind === "summary") return { id, label: path, kind, show: (r) => formatValue(r.summary[path]), sort: `summary_metrics.${path}`, numeric: true };
  return null;
}

// Columns shown before the user picks any: state, created, runtime, a few config and summary.
export function defaultColumns(available) {
  return [
    "state", "created_at", "runtime",
    ...available.config.slice(0, 4).map((c) => `config.${c}`),
    ...available.summary.slice(0, 4).map((c) => `summary.${c}`),
  ];
}

export class RunsTable {
  // host: the element to fill; hooks: {state(), items(), loaded(), colorOf(run), isHidden(run),
  // runUrl(run), selected: Set, onSort(order), onColumns(ids), onWidths(map), onSelect()}.
  constructor(host, hooks) {
    this.host = host;
    this.hooks = hooks;
    this.available = { config: [], summary: [], meta: [] };
    this.scroll = el("div", { class: "rt-scroll", tabindex: "0", "aria-label": "Runs table (scrolls)" });
    this.table = el("table", { class: "runs-table", id: "runs-table" });
    this.scroll.append(this.table);
    this.picker = el("div", { class: "panel rt-picker", id: "column-picker", hidden: true });
    this.host.replaceChildren(this.picker, this.scroll);
    this.frame = 0;
    this.scroll.addEventListener("scroll", () => {
      if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.renderRows(); });
    });
    new ResizeObserver(() => this.renderRows()).observe(this.scroll);
  }

  setAvailable(columns) {
    this.available = { config: columns.config || [], summary: columns.summary || [], meta: columns.meta || [] };
  }

  columnIds() {
    const chosen = this.hooks.state().columns;
    return (chosen || defaultColumns(this.available)).filter((id) => describeColumn(id));
  }

  render() {
    const state = this.hooks.state();
    const columns = this.columnIds().map(describeColumn);
    const widths = state.widths || {};
    const width = (id, fallback) => Math.max(MIN_WIDTH, widths[id] || fallback);
    const colgroup = el("colgroup", {},
      el("col", { style: { width: `${width("name", NAME_WIDTH)}px` } }),
      columns.map((c) => el("col", { dataset: { col: c.id }, style: { width: `${width(c.id, DEFAULT_WIDTH)}px` } })));
    const sortField = state.order.replace(/^[+-]/, "");
    const descending = state.order.startsWith("-");
    const header = (column, label, sort, kindLabel) => {
      const active = sort && sortField === sort;
      const th = el("th", {
        scope: "col", class: `rt-${column === "name" ? "name" : "col"}${active ? " sorted" : ""}`,
        dataset: { col: column }, "aria-sort": active ? (descending ? "descending" : "ascending") : "none",
      });
      const button = el("button", {
        type: "button", class: "rt-sort", disabled: !sort,
        title: sort ? `Sort by ${label}${active ? (descending ? " (now descending)" : " (now ascending)") : ""}` : "This column cannot be sorted",
        onclick: () => this.hooks.onSort(`${active && !descending ? "-" : "+"}${sort}`),
      }, kindLabel ? el("span", { class: "rt-kind" }, kindLabel) : null, el("span", { class: "rt-label" }, label),
      active ? el("span", { class: "rt-arrow", "aria-hidden": "true" }, descending ? "↓" : "↑") : null);
      const handle = el("span", {
        class: "rt-resize", role: "separator", tabindex: "0", "aria-orientation": "vertical",
        "aria-label": `Resize column ${label} (←/→)`, title: "Drag to resize (or focus and press ←/→)",
      });
      this.bindResize(handle, column, th);
      th.append(button, handle);
      return th;
    };
    const kindLabels = { config: "config", summary: "summary", meta: "meta" };
    const head = el("thead", {}, el("tr", {},
      header("name", "Name", "display_name", null),
      columns.map((c) => header(c.id, c.label, c.sort, kindLabels[c.kind]))));
    this.body = el("tbody");
    this.columns = columns;
    this.table.replaceChildren(colgroup, head, this.body);
    this.table.style.width = `${width("name", NAME_WIDTH) + columns.reduce((sum, c) => sum + width(c.id, DEFAULT_WIDTH), 0)}px`;
    this.renderRows();
  }

  // Only the rows in view (plus a margin) are built; spacers keep the scroll height right.
  renderRows() {
    if (!this.body) return;
    const items = this.hooks.items();
    const span = this.columns.length + 1;
    const top = this.scroll.scrollTop;
    const height = this.scroll.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(items.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const spacer = (rows) => el("tr", { class: "rt-spacer", "aria-hidden": "true" }, el("td", { colspan: span, style: { height: `${rows * ROW_HEIGHT}px` } }));
    const rows = [];
    if (first > 0) rows.push(spacer(first));
    for (let i = first; i < last; i += 1) rows.push(this.row(items[i], span));
    if (last < items.length) rows.push(spacer(items.length - last));
    if (!items.length) {
      const text = this.hooks.loaded() ? "No runs match the search and filters." : "Loading runs…";
      rows.push(el("tr", {}, el("td", { colspan: span, class: "empty-note" }, text)));
    }
    const focused = document.activeElement && this.body.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    this.body.replaceChildren(...rows);
    if (focused) this.body.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
    this.body.dataset.first = String(first);
    this.body.dataset.rendered = String(last - first);
  }

  row(item, span) {
    if (item.group) {
      return el("tr", { class: "rt-group" }, el("th", { scope: "rowgroup", colspan: span },
        el("span", { class: "swatch static", style: { "--swatch": this.hooks.colorOf(item.group) }, "aria-hidden": "true" }),
        `${item.group.name} `, el("span", { class: "count" }, `(${item.group.runs.length})`)));
    }
    const run = item.run;
    const selected = this.hooks.selected.has(run.id);
    const check = el("input", {
      type: "checkbox", class: "rt-check", checked: selected, dataset: { focusKey: `check:${run.id}` },
      "aria-label": `Select ${run.name} to compare`, onchange: () => this.hooks.onSelect(run, check.checked),
    });
    const name = el("th", { scope: "row", class: "rt-name" }, el("div", { class: "rt-cell" }, check,
      el("span", { class: "swatch static", style: { "--swatch": this.hooks.colorOf(run) }, "aria-hidden": "true" }),
      el("a", { href: this.hooks.runUrl(run), class: "run-name", title: `${run.name} (${run.id})`, dataset: { focusKey: `link:${run.id}` } }, run.name)));
    const cells = this.columns.map((c) => {
      const text = c.show(run);
      return el("td", { class: `${c.numeric && text !== "" && !isNaN(Number(text)) ? "num" : ""}${c.id === "state" ? ` state-${run.state}` : ""}`, title: text }, text);
    });
    return el("tr", { class: `rt-row${this.hooks.isHidden(run) ? " is-hidden" : ""}${selected ? " is-selected" : ""}`, dataset: { id: run.id } }, name, ...cells);
  }

  bindResize(handle, column, th) {
    const state = () => this.hooks.state();
    const apply = (width) => {
      const w = Math.max(MIN_WIDTH, Math.round(width));
      const widths = { ...(state().widths || {}), [column]: w };
      this.hooks.onWidths(widths, false);
      const index = [...th.parentNode.children].indexOf(th);
      this.table.querySelectorAll("col")[index].style.width = `${w}px`;
      const total = [...this.table.querySelectorAll("col")].reduce((sum, col) => sum + parseFloat(col.style.width), 0);
      this.table.style.width = `${total}px`;
    };
    handle.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      const startX = event.clientX;
      const startWidth = th.getBoundingClientRect().width;
      handle.setPointerCapture(event.pointerId);
      const move = (e) => apply(startWidth + e.clientX - startX);
      const up = () => {
        handle.removeEventListener("pointermove", move);
        handle.removeEventListener("pointerup", up);
        this.hooks.onWidths(state().widths, true);
      };
      handle.addEventListener("pointermove", move);
      handle.addEventListener("pointerup", up);
    });
    handle.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      event.preventDefault();
      apply(th.getBoundingClientRect().width + (event.key === "ArrowRight" ? 20 : -20));
      this.hooks.onWidths(state().widths, true);
    });
  }

  // The column picker: a filter box and a checkbox per column, grouped by kind.
  togglePicker(button) {
    const open = this.picker.hidden;
    this.picker.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (!open) return;
    const chosen = new Set(this.columnIds());
    const search = el("input", { type: "search", class: "rt-picker-search", placeholder: "Find a column…", "aria-label": "Find a column" });
    const groups = [
      ["Run", RUN_COLUMNS.map((c) => c[0])],
      ["Metadata", this.available.meta.map((m) => `meta.${m}`)],
      ["Config", this.available.config.map((c) => `config.${c}`)],
      ["Summary", this.available.summary.map((c) => `summary.${c}`)],
    ].filter(([, ids]) => ids.length);
    const boxes = groups.map(([title, ids]) => el("fieldset", { class: "rt-picker-group" }, el("legend", {}, title),
      ids.map((id) => {
        const box = el("input", { type: "checkbox", checked: chosen.has(id), dataset: { col: id } });
        box.addEventListener("change", () => {
          const current = this.columnIds().filter((c) => c !== id);
          this.hooks.onColumns(box.checked ? [...current, id] : current);
        });
        return el("label", { class: "check rt-picker-item", dataset: { text: id.toLowerCase() } }, box, describeColumn(id).label);
      })));
    search.addEventListener("input", () => {
      const needle = search.value.toLowerCase();
      for (const item of this.picker.querySelectorAll(".rt-picker-item")) item.hidden = needle !== "" && !item.dataset.text.includes(needle);
    });
    const reset = el("button", { type: "button", class: "btn small ghost", onclick: () => { this.hooks.onColumns(null); this.togglePicker(button); this.togglePicker(button); } }, "Default columns");
    const done = el("button", { type: "button", class: "btn small", onclick: () => { this.togglePicker(button); button.focus(); } }, "Done");
    this.picker.replaceChildren(el("div", { class: "rt-picker-head" }, search, reset, done), el("div", { class: "rt-picker-groups" }, boxes));
    this.picker.onkeydown = (event) => {
      if (event.key === "Escape") { event.stopPropagation(); this.togglePicker(button); button.focus(); }
    };
    search.focus();
  }
}
