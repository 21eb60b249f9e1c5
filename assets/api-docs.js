// Renders /api/openapi.json as a browsable list: operations by tag, with parameters,
// request body and responses. No external scripts: works on a server without internet.
"use strict";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function resolve(doc, schema) {
  if (schema && schema.$ref) return resolve(doc, doc.components.schemas[schema.$ref.split("/").pop()]);
  return schema;
}

// A compact example-like view of a schema.
function shape(doc, schema, depth) {
  schema = resolve(doc, schema) || {};
  if (depth > 4) return "…";
  if (schema.oneOf || schema.anyOf) return (schema.oneOf || schema.anyOf).map((s) => shape(doc, s, depth + 1)).join(" | ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const type = Array.isArray(schema.type) ? schema.type.filter((t) => t !== "null")[0] : schema.type;
  if (type === "array") return [shape(doc, schema.items, depth + 1)];
  if (type === "object" || schema.properties) {
    const out = {};
    const req = new Set(schema.required || []);
    for (const [k, v] of Object.entries(schema.properties || {})) out[k + (req.has(k) ? "" : "?")] = shape(doc, v, depth + 1);
    return out;
  }
  return type || "any";
}

function block(title, value) {
  const d = el("div");
  d.appendChild(el("div", "muted", title));
  d.appendChild(el("pre", null, typeof value === "string" ? value : JSON.stringify(value, null, 2)));
  return d;
}

async function main() {
  const doc = await (await fetch("/api/openapi.json")).json();
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("description").textContent = doc.info.description || "";
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  const root = document.getElementById("ops");
  root.textContent = "";
  const tagInfo = Object.fromEntries((doc.tags || []).map((t) => [t.name, t.description || ""]));
  for (const [tag, ops] of byTag) {
    root.appendChild(el("h2", null, tag + (tagInfo[tag] ? " — " + tagInfo[tag] : "")));
    for (const { path, method, op } of ops) {
      const d = el("details", "op");
      const s = el("summary");
      s.appendChild(el("span", "m m-" + method, method));
      s.appendChild(el("code", null, path));
      if (op.summary || op.description) s.appendChild(el("span", "muted", "  " + (op.summary || op.description)));
      d.appendChild(s);
      if (op.parameters && op.parameters.length) {
        d.appendChild(block("Параметры", op.parameters.map((p) => `${p.name} (${p.in}${p.required ? ", обязательный" : ""})`).join("\n")));
      }
      const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      if (body) d.appendChild(block("Тело запроса (JSON)", shape(doc, body.schema, 0)));
      for (const [code, r] of Object.entries(op.responses || {})) {
        const json = r.content && r.content["application/json"];
        d.appendChild(block("Ответ " + code + (r.description ? " — " + r.description : ""), json ? shape(doc, json.schema, 0) : "(без тела)"));
      }
      root.appendChild(d);
    }
  }
}

main().catch((e) => { document.getElementById("ops").textContent = "Не удалось загрузить описание API: " + e.message; });
