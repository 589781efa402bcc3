// On a run page: if the run is a sweep trial, link its sweep and say why the sweep stopped it.
import { api, el } from "./common.js";

const page = document.getElementById("run-page");
const note = document.getElementById("sweep-note");
const seg = encodeURIComponent;

async function showSweep() {
  const { entity, project, run } = page.dataset;
  let data;
  try {
    data = await api("GET", `/web-api/sweep-of-run/${seg(entity)}/${seg(project)}/${seg(run)}`);
  } catch {
    return; // the note is an extra: the page works without it
  }
  if (!data.sweep) return;
  const href = `/projects/${seg(entity)}/${seg(project)}/sweeps/${seg(data.sweep.sweep_id)}`;
  note.replaceChildren(
    `Trial ${data.trial.trial_no} of sweep `,
    el("a", { href }, data.sweep.name || data.sweep.sweep_id),
    ` (${data.sweep.method}).`,
  );
  if (data.trial.stop_reason) note.append(el("span", { class: "stop-reason" }, data.trial.stop_reason));
  note.hidden = false;
}

if (page && note) showSweep();
