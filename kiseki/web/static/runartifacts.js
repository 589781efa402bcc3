// The run Overview's artifact sections: the versions the run logged (outputs) and used (inputs).
const page = document.getElementById("run-page");

function item(version) {
  const li = document.createElement("li");
  const link = document.createElement("a");
  link.href = version.url;
  link.textContent = `${version.name}:${version.version}`;
  li.append(link, " ");
  const type = document.createElement("span");
  type.className = "muted small";
  type.textContent = version.type + (version.project !== page.dataset.project ? ` · ${version.project}` : "");
  li.append(type);
  for (const alias of version.aliases) {
    const badge = document.createElement("span");
    badge.className = "alias";
    badge.textContent = alias;
    li.append(" ", badge);
  }
  return li;
}

function fill(kind, versions) {
  document.getElementById(`artifact-${kind}`).replaceChildren(...versions.map(item));
  document.getElementById(`artifact-${kind}-count`).textContent = `(${versions.length})`;
  document.getElementById(`artifact-${kind}-empty`).hidden = versions.length > 0;
}

async function load() {
  const parts = [page.dataset.entity, page.dataset.project, page.dataset.run].map(encodeURIComponent);
  const response = await fetch(`/web-api/runs/${parts.join("/")}/artifacts`, { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const data = await response.json();
  fill("outputs", data.outputs);
  fill("inputs", data.inputs);
}

if (page && document.getElementById("run-artifacts")) load();
