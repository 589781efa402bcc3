// The workspace's filter rows ({field, op, value}) and their translation into the MongoDB-style
// filters the server understands (docs/read-api.md).

export const FILTER_FIELDS = [
  ["state", "State"], ["tags", "Tags"], ["display_name", "Name"], ["group", "Group"],
  ["job_type", "Job type"], ["author", "Author"], ["created_at", "Created"],
  ["runtime", "Runtime (s)"], ["notes", "Notes"], ["id", "Run id"],
];

export const OPERATORS = {
  "=": { label: "=", mongo: "$eq" },
  "!=": { label: "≠", mongo: "$ne" },
  "<": { label: "<", mongo: "$lt" },
  "<=": { label: "≤", mongo: "$lte" },
  ">": { label: ">", mongo: "$gt" },
  ">=": { label: "≥", mongo: "$gte" },
  in: { label: "in", mongo: "$in" },
  contains: { label: "contains", mongo: "$regex" },
  regex: { label: "regex", mongo: "$regex" },
};

const TEXT_OPS = ["=", "!=", "in", "contains", "regex"];
const ORDERED_OPS = ["=", "!=", "<", "<=", ">", ">="];
const ALL_OPS = [...ORDERED_OPS, "in", "contains", "regex"];

export function operatorsFor(field) {
  if (field === "created_at") return [">=", "<=", ">", "<"];
  if (field === "runtime") return ORDERED_OPS;
  if (field === "state") return ["=", "!=", "in"];
  if (field.startsWith("config.") || field.startsWith("summary_metrics.")) return ALL_OPS;
  return TEXT_OPS;
}

function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// A typed value from what the user typed: numbers, true/false/null; "quoted" stays a string.
export function parseValue(field, text) {
  const raw = String(text).trim();
  if (field === "created_at") {
    const time = new Date(raw).getTime();
    return Number.isFinite(time) ? time / 1000 : raw;
  }
  if (field === "runtime") {
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }
  if (!field.startsWith("config.") && !field.startsWith("summary_metrics.")) return raw;
  if (/^".*"$/.test(raw) && raw.length >= 2) return raw.slice(1, -1);
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw === "null") return null;
  if (raw !== "" && Number.isFinite(Number(raw))) return Number(raw);
  return raw;
}

function condition(filter) {
  const op = OPERATORS[filter.op];
  if (!op || String(filter.value ?? "").trim() === "") return null;
  if (filter.op === "in") {
    const values = String(filter.value).split(",").map((v) => v.trim()).filter(Boolean);
    return { [filter.field]: { $in: values.map((v) => parseValue(filter.field, v)) } };
  }
  if (filter.op === "contains") {
    return { [filter.field]: { $regex: escapeRegex(String(filter.value).trim()), $options: "i" } };
  }
  if (filter.op === "regex") return { [filter.field]: { $regex: String(filter.value).trim() } };
  return { [filter.field]: { [op.mongo]: parseValue(filter.field, filter.value) } };
}

// The filter document for a list of rows; null when no row is complete.
export function filterToMongo(filters) {
  const parts = (filters || []).map(condition).filter(Boolean);
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0] : { $and: parts };
}
