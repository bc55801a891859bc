// connectkb web page: browse the KB, ask an eligibility rule (a form generated from the rule's JSON
// Schema), read the change timeline. Plain JavaScript over the JSON API; no build step.
"use strict";

const TEXT = {
  en: {
    browse: "Browse", eligibility: "Eligibility", timeline: "Timeline", type: "Type", search: "Search",
    measures: "Measures", facilities: "Facilities", collateral: "Collateral uses", banks: "Banks",
    institutions: "Institutions", indices: "Bond indices", rule: "Rule", asOf: "As of", evaluate: "Evaluate",
    after: "After", upTo: "Up to", kind: "Kind", all: "all", show: "Show", yes: "yes", no: "no", unknown: "—",
    intro: "Hong Kong–mainland financial connectivity policy and the offshore RMB market, every fact cited.",
    eligible: "eligible", ineligible: "ineligible", undetermined: "undetermined",
    criterion: "Criterion", outcome: "Outcome", message: "Why", source: "Source",
    pass: "pass", fail: "fail", missing: "Missing facts", next: "Ask next", unstated: "Not stated by the source",
    changes: (n) => `${n} change(s)`, agency: "agency", grade: "grade",
  },
  zh: {
    browse: "浏览", eligibility: "资格判断", timeline: "变化时间线", type: "类型", search: "搜索",
    measures: "政策措施", facilities: "安排", collateral: "抵押品用途", banks: "银行",
    institutions: "机构", indices: "债券指数", rule: "规则", asOf: "评估日", evaluate: "判断",
    after: "晚于", upTo: "截至", kind: "类别", all: "全部", show: "显示", yes: "是", no: "否", unknown: "—",
    intro: "两地金融互联互通政策与离岸人民币市场，每项事实均有出处。",
    eligible: "符合资格", ineligible: "不符合资格", undetermined: "无法确定",
    criterion: "条件", outcome: "结果", message: "说明", source: "来源",
    pass: "满足", fail: "不满足", missing: "缺少的事实", next: "下一步应提供", unstated: "来源未说明",
    changes: (n) => `共 ${n} 项变化`, agency: "评级机构", grade: "级别",
  },
};

const state = { lang: new URLSearchParams(location.search).get("lang") === "zh" ? "zh" : "en", rule: null, tab: "browse" };
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.lang][key];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const url = new URL(path, location.origin);
  url.searchParams.set("lang", state.lang);
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(JSON.stringify(body.detail || body));
  return body;
}

function localHref(iri) {
  const base = "https://w3id.org/connectkb/";
  return iri.startsWith(base) ? "/" + iri.slice(base.length) + `?lang=${state.lang}` : iri;
}

// ------------------------------------------------------------------ language and tabs
function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-Hans" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang-en").classList.toggle("active", state.lang === "en");
  $("lang-zh").classList.toggle("active", state.lang === "zh");
}

function showTab(tab) {
  state.tab = tab;
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== tab;
  for (const button of document.querySelectorAll("nav button")) button.classList.toggle("active", button.dataset.tab === tab);
}

// ------------------------------------------------------------------ browse
async function browse() {
  const params = new URLSearchParams({ type: $("browse-type").value, limit: "200" });
  if ($("browse-q").value.trim()) params.set("q", $("browse-q").value.trim());
  const body = await api(`/v1/entities?${params}`);
  $("browse-list").replaceChildren(...body.items.map((item) =>
    el("li", {}, el("a", { href: localHref(item.iri), text: item.label || item.id }), " ", el("small", { text: item.id }))));
}

// ------------------------------------------------------------------ eligibility
async function loadRules() {
  const body = await api("/v1/rules");
  const select = $("rule-select");
  const current = select.value || "witness-account-opening";
  select.replaceChildren(...body.rules.map((rule) => el("option", { value: rule.id, text: rule.label })));
  select.value = body.rules.some((r) => r.id === current) ? current : body.rules[0].id;
  await loadRule();
}

function fieldFor(name, schema) {
  const id = `fact-${name}`;
  const label = el("label", { for: id, text: schema.title || name });
  const hint = el("span", { class: "hint", text: name });
  let input;
  if (schema.type === "boolean") {
    input = el("select", { id, "data-kind": "boolean" },
      el("option", { value: "", text: t("unknown") }), el("option", { value: "true", text: t("yes") }),
      el("option", { value: "false", text: t("no") }));
  } else if (schema.type === "integer" || schema.type === "number") {
    input = el("input", { id, type: "number", step: schema.type === "integer" ? "1" : "any", "data-kind": schema.type });
  } else if (schema.type === "array") {
    input = el("fieldset", { id, "data-kind": "array" },
      ...schema.items.enum.map((value) => el("label", {}, el("input", { type: "checkbox", value, name: id }), value)));
  } else if (schema.type === "object") {
    input = el("span", { id, "data-kind": "rating" },
      el("select", { "aria-label": t("agency") }, el("option", { value: "", text: t("agency") }),
        ...schema.properties.agency.enum.map((a) => el("option", { value: a, text: a }))),
      el("input", { type: "text", placeholder: t("grade"), "aria-label": t("grade") }));
  } else if (schema.enum) {
    input = el("select", { id, "data-kind": "string" }, el("option", { value: "", text: t("unknown") }),
      ...schema.enum.map((value) => el("option", { value, text: value })));
  } else {
    input = el("input", { id, type: schema.format === "date" ? "date" : "text", "data-kind": "string",
      list: schema.examples ? `${id}-examples` : undefined, placeholder: schema.pattern === "^[A-Z]{3}$" ? "CNY" : "" });
    if (schema.examples) {
      return el("div", { class: "field" }, label, input, hint,
        el("datalist", { id: `${id}-examples` }, ...schema.examples.map((v) => el("option", { value: v }))));
    }
  }
  return el("div", { class: "field" }, label, input, hint);
}

async function loadRule() {
  $("rule-form").dataset.loading = "true";  // the fields are replaced: anything typed now would be lost
  const rule = await api(`/v1/rules/${encodeURIComponent($("rule-select").value)}`);
  state.rule = rule;
  const properties = rule.facts_schema.properties;
  // in the order of the rule's criteria
  $("rule-fields").replaceChildren(...Object.keys(properties).map((name) => fieldFor(name, properties[name])));
  $("rule-sources").textContent = rule.citations.map((c) => `${c.title || c.source} (${c.locator})`).join("; ");
  $("verdict").replaceChildren();
  $("rule-form").dataset.rule = rule.id;
  delete $("rule-form").dataset.loading;
}

function collectFacts() {
  const facts = {};
  for (const [name] of Object.entries(state.rule.facts_schema.properties)) {
    const node = $(`fact-${name}`);
    const kind = node.dataset.kind;
    if (kind === "array") {
      const checked = [...node.querySelectorAll("input:checked")].map((box) => box.value);
      if (checked.length) facts[name] = checked;
    } else if (kind === "rating") {
      const [agency, grade] = [node.querySelector("select").value, node.querySelector("input").value.trim()];
      if (agency && grade) facts[name] = { agency, grade };
    } else if (node.value !== "") {
      facts[name] = kind === "boolean" ? node.value === "true" : kind === "integer" ? parseInt(node.value, 10)
        : kind === "number" ? parseFloat(node.value) : node.value;
    }
  }
  return facts;
}

function citationNodes(citations) {
  return citations.map((c) => el("div", { class: "citation" },
    el("small", { text: `${c.title || c.source} — ${c.locator || ""} (${c.tier || ""})` }),
    c.quote ? el("blockquote", { lang: "zh-Hans", text: c.quote }) : null,
    c.note ? el("p", { class: "note", text: c.note }) : null));
}

async function evaluate(event) {
  event.preventDefault();
  const body = { facts: collectFacts() };
  if ($("as-of").value) body.as_of = $("as-of").value;
  let answer;
  try {
    answer = await api(`/v1/rules/${encodeURIComponent(state.rule.id)}/evaluate`,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch (error) {
    $("verdict").replaceChildren(el("p", { class: "verdict ineligible", text: error.message }));
    return;
  }
  const rows = answer.criteria.map((c) => el("tr", { "data-criterion": c.id },
    el("td", { text: c.label }), el("td", { class: `outcome ${c.outcome}`, text: t(c.outcome) }),
    el("td", { text: c.message }), el("td", {}, ...citationNodes(c.citations))));
  const table = el("table", {}, el("tr", {}, el("th", { text: t("criterion") }), el("th", { text: t("outcome") }),
    el("th", { text: t("message") }), el("th", { text: t("source") })), ...rows);
  const extra = [];
  if (answer.missing_facts.length) extra.push(el("p", { text: `${t("missing")}: ${answer.missing_facts.join(", ")} · ${t("next")}: ${answer.next_fact}` }));
  if (answer.unstated_criteria.length) extra.push(el("p", { text: `${t("unstated")}: ${answer.unstated_criteria.map((u) => u.label || u.id).join(", ")}` }));
  $("verdict").replaceChildren(el("div", { class: `verdict ${answer.verdict}`, id: "verdict-value", "data-verdict": answer.verdict,
    text: `${t(answer.verdict)} · ${answer.as_of}` }), table, ...extra);
}

// ------------------------------------------------------------------ timeline
async function timeline(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ from: $("tl-from").value, to: $("tl-to").value });
  if ($("tl-kind").value) params.set("kind", $("tl-kind").value);
  let body;
  try { body = await api(`/v1/changes?${params}`); } catch (error) { $("tl-count").textContent = error.message; return; }
  $("tl-count").textContent = t("changes")(body.changes.length);
  $("tl-list").replaceChildren(...body.changes.map((c) => el("li", { "data-kind": c.kind },
    el("span", { class: "date", text: c.date }),
    el("a", { href: localHref(`https://w3id.org/connectkb/id/${c.subject.id}`), text: c.summary }))));
}

function setFacts(facts) {
  for (const [name, value] of Object.entries(facts)) {
    const node = $(`fact-${name}`);
    if (!node) continue;
    if (node.dataset.kind === "array") {
      for (const box of node.querySelectorAll("input")) box.checked = value.includes(box.value);
    } else if (node.dataset.kind === "rating") {
      node.querySelector("select").value = value.agency;
      node.querySelector("input").value = value.grade;
    } else {
      node.value = String(value);
    }
  }
}

// ------------------------------------------------------------------ start
async function refresh() {
  applyLanguage();
  await Promise.all([browse(), loadRules(), timeline()]);
}

async function switchLanguage(lang) {
  // the same question, answered again in the other language
  const facts = state.rule ? collectFacts() : {};
  const answered = $("verdict").childElementCount > 0;
  state.lang = lang;
  await refresh();
  setFacts(facts);
  if (answered) await evaluate(new Event("submit"));
}

for (const button of document.querySelectorAll("nav button")) button.addEventListener("click", () => showTab(button.dataset.tab));
for (const button of document.querySelectorAll(".lang button")) {
  button.addEventListener("click", () => switchLanguage(button.dataset.lang));
}
$("browse-type").addEventListener("change", browse);
$("browse-q").addEventListener("input", browse);
$("rule-select").addEventListener("change", loadRule);
$("rule-form").addEventListener("submit", evaluate);
$("timeline-form").addEventListener("submit", timeline);
$("as-of").value = new Date().toISOString().slice(0, 10);
showTab(location.hash.replace("#", "") || "browse");
refresh().then(() => document.body.setAttribute("data-ready", "true"));
