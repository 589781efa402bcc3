// A run's ⋮ menu (open, rename, stop, delete, with confirmations) and the colour picker, both
// small popups that close on Escape or a click elsewhere and give focus back to their button.
import { api, el, openDialog, PRESET_COLORS, toast } from "./common.js";

let openMenuEl = null;
let openPicker = null;

// Whether a menu or a colour picker is open (live refreshes wait until it closes).
export function popupOpen() {
  return Boolean(openMenuEl || openPicker);
}

function closeMenu(focusBack = true) {
  if (!openMenuEl) return;
  const { menu, button } = openMenuEl;
  openMenuEl = null;
  menu.remove();
  button.setAttribute("aria-expanded", "false");
  if (focusBack) button.focus();
}

function closePicker(focusBack = true) {
  if (!openPicker) return;
  const back = openPicker.returnFocus;
  openPicker.remove();
  openPicker = null;
  if (focusBack && back) back.focus();
}

document.addEventListener("mousedown", (event) => {
  if (openMenuEl && !openMenuEl.menu.contains(event.target) && event.target !== openMenuEl.button) closeMenu(false);
  if (openPicker && !openPicker.contains(event.target)) closePicker(false);
});

function place(popup, button, alignRight) {
  const box = button.getBoundingClientRect();
  popup.style.top = `${Math.min(window.innerHeight - popup.offsetHeight - 8, box.bottom + 4)}px`;
  popup.style.left = alignRight ? `${Math.max(8, box.right - popup.offsetWidth)}px` : `${box.left}px`;
}

// ctx: {pageBase, runBase, onChanged(), onDeleted(run)}
export function openRunMenu(run, button, ctx) {
  if (openMenuEl && openMenuEl.button === button) { closeMenu(); return; }
  closeMenu(false);
  closePicker(false);
  const items = [
    ["Open run", () => { location.href = `${ctx.pageBase}/runs/${encodeURIComponent(run.id)}`; }],
    ["Rename…", () => renameRun(run, ctx)],
  ];
  if (run.state === "running") items.push(["Stop run…", () => stopRun(run, ctx)]);
  items.push(["Delete…", () => deleteRun(run, ctx), "danger"]);
  const menu = el("div", { class: "menu", role: "menu", "aria-label": `Actions for ${run.name}` },
    items.map(([label, action, kind]) => el("button", {
      type: "button", role: "menuitem", class: kind ? `menu-item ${kind}` : "menu-item", tabindex: "-1",
      onclick: () => { closeMenu(false); action(); },
    }, label)));
  document.body.append(menu);
  place(menu, button, true);
  button.setAttribute("aria-expanded", "true");
  openMenuEl = { menu, button };
  const buttons = [...menu.querySelectorAll("button")];
  buttons[0].focus();
  menu.addEventListener("keydown", (event) => {
    const i = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown") { event.preventDefault(); buttons[(i + 1) % buttons.length].focus(); }
    else if (event.key === "ArrowUp") { event.preventDefault(); buttons[(i - 1 + buttons.length) % buttons.length].focus(); }
    else if (event.key === "Home") { event.preventDefault(); buttons[0].focus(); }
    else if (event.key === "End") { event.preventDefault(); buttons[buttons.length - 1].focus(); }
    else if (event.key === "Escape" || event.key === "Tab") { event.preventDefault(); closeMenu(); }
  });
}

async function act(call, message, ctx) {
  try {
    await call();
    toast(message);
    await ctx.onChanged();
  } catch (err) {
    toast(err.message, "error");
  }
}

async function renameRun(run, ctx) {
  const input = el("input", { type: "text", class: "text-input", value: run.name, maxlength: "256", "aria-label": "New name", required: true });
  const answer = await openDialog({ title: "Rename run", body: [el("label", { class: "field block" }, "Name", input)], confirm: "Rename", initialFocus: input });
  const name = input.value.trim();
  if (answer !== "ok" || !name || name === run.name) return;
  await act(() => api("PATCH", `${ctx.runBase}/${encodeURIComponent(run.id)}`, { name }), `Renamed to ${name}`, ctx);
}

async function deleteRun(run, ctx) {
  const answer = await openDialog({
    title: "Delete run?",
    body: el("p", {}, "Delete ", el("strong", {}, run.name), ` (${run.id}) and all its history? This cannot be undone.`),
    confirm: "Delete run", danger: true,
  });
  if (answer !== "ok") return;
  await act(async () => {
    await api("DELETE", `${ctx.runBase}/${encodeURIComponent(run.id)}`);
    ctx.onDeleted(run);
  }, `Deleted ${run.name}`, ctx);
}

async function stopRun(run, ctx) {
  const answer = await openDialog({
    title: "Stop run?",
    body: el("p", {}, "Ask ", el("strong", {}, run.name), " to stop? Its process learns it at its next heartbeat and the run ends as killed."),
    confirm: "Stop run", danger: true,
  });
  if (answer !== "ok") return;
  await act(() => api("POST", `${ctx.runBase}/${encodeURIComponent(run.id)}/stop`), `Asked ${run.name} to stop`, ctx);
}

// target: {id, name}; onPick(colour or null for the default).
export function openColorPicker(target, button, current, onPick) {
  closePicker(false);
  closeMenu(false);
  const pick = (color) => { closePicker(false); onPick(color); };
  const custom = el("input", { type: "color", value: current, "aria-label": "Custom colour" });
  custom.addEventListener("change", () => pick(custom.value));
  const picker = el("div", { class: "color-picker", role: "dialog", "aria-label": `Colour of ${target.name}` },
    el("div", { class: "preset-grid" }, PRESET_COLORS.map((c) => el("button", {
      type: "button", class: "preset", style: { "--swatch": c }, title: c, "aria-label": `Colour ${c}`,
      "aria-pressed": String(c === current), onclick: () => pick(c),
    }))),
    el("div", { class: "picker-row" },
      el("label", { class: "field" }, "Custom ", custom),
      el("button", { type: "button", class: "link-btn", onclick: () => pick(null) }, "Reset")));
  picker.returnFocus = button;
  document.body.append(picker);
  place(picker, button, false);
  picker.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); closePicker(); } });
  openPicker = picker;
  picker.querySelector(".preset").focus();
}
