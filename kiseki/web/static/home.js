// Home page: filter the project list as the user types; "/" focuses the search, Enter opens
// the first match.
import { localizeTimes } from "./common.js";

const input = document.getElementById("project-search");
const rows = [...document.querySelectorAll("#project-list tbody tr")];
const noMatch = document.getElementById("no-match");
localizeTimes();

function apply() {
  const query = input.value.trim().toLowerCase();
  let shown = 0;
  for (const row of rows) {
    const hit = !query || row.dataset.search.includes(query);
    row.hidden = !hit;
    if (hit) shown += 1;
  }
  noMatch.hidden = shown > 0;
  document.getElementById("no-match-text").textContent = input.value;
  const url = new URL(location.href);
  if (query) url.searchParams.set("q", input.value);
  else url.searchParams.delete("q");
  history.replaceState(null, "", url);
}

if (input) {
  input.value = new URL(location.href).searchParams.get("q") || "";
  input.addEventListener("input", apply);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      const first = rows.find((row) => !row.hidden);
      if (first) first.querySelector("a").click();
    } else if (event.key === "ArrowDown") {
      const first = rows.find((row) => !row.hidden);
      if (first) { event.preventDefault(); first.querySelector("a").focus(); }
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && document.activeElement !== input) {
      event.preventDefault();
      input.focus();
    }
  });
  apply();
}
