// connectkb web page: browse the KB, ask an eligibility rule (a form generated from the rule's JSON
// Schema), read the change timeline. Plain JavaScript over the JSON API; no build step.
// The strings below are the page's own chrome; every name of the KB (facts, codes, roles, banks, tiers,
// properties) is read from the KB's rdfs:labels through the read-only SPARQL endpoint.
"use strict";

const TEXT = {
  en: {
    browse: "Browse", eligibility: "Eligibility", timeline: "Timeline", type: "Type", search: "Search",
    measures: "Measures", facilities: "Facilities", collateral: "Collateral uses", banks: "Banks",
    institutions: "Institutions", indices: "Bond indices", rule: "Rule", asOf: "As of", evaluate: "Evaluate",
    after: "After", upTo: "Up to", kind: "Kind", all: "all", show: "Show", yes: "yes", no: "no",
    notGiven: "not given", unknown: "unknown", screening: "Screening",
    kindAnnounced: "announced", kindEffective: "took effect", kindEnded: "ended", kindAmended: "amended",
    kindCorrected: "corrected",
    intro: "Hong Kong–mainland financial connectivity policy and the offshore RMB market, every fact cited.",
    eligible: "eligible", ineligible: "ineligible", undetermined: "undetermined",
    criterion: "Criterion", outcome: "Outcome", message: "Why", source: "Source",
    pass: "pass", fail: "fail", missing: "Missing facts", next: "Ask next", unstated: "Not stated by the source",
    changes: (n) => `${n} change(s)`, agency: "agency", grade: "grade",
    invalid: (field) => `${field}: this value is not accepted.`,
    expectInteger: (min) => min === undefined ? "Enter a whole number." : `Enter a whole number of at least ${min}.`,
    expectNumber: (min) => min === undefined ? "Enter a number." : `Enter a number of at least ${min}.`,
    expectDate: "Enter a date (YYYY-MM-DD).", expectCode: "Choose one of the listed values.",
    expectText: "Enter an identifier of letters, digits, '.', '_' or '-'.", failed: "The request failed",
    verdictTimeline: "How this answer changes over time", wouldMake: "What would make it eligible",
    interval: (a, b) => `${a} – ${b}`, because: "because", noneHelps: "No change of the facts makes it eligible on this day.",
    earliest: (d) => `From ${d} on, it would be eligible with:`, asGiven: "the facts as given",
    notStated: "not stated by the sources", moves: { "from this day": "from this day", "after this day": "after this day" },
    locator: [],
  },
  zh: {
    browse: "浏览", eligibility: "资格判断", timeline: "变化时间线", type: "类型", search: "搜索",
    measures: "政策措施", facilities: "安排", collateral: "抵押品用途", banks: "银行",
    institutions: "机构", indices: "债券指数", rule: "规则", asOf: "评估日", evaluate: "判断",
    after: "晚于", upTo: "截至", kind: "类别", all: "全部", show: "显示", yes: "是", no: "否",
    notGiven: "未提供", unknown: "未知", screening: "批量筛查",
    kindAnnounced: "公布", kindEffective: "生效", kindEnded: "终止", kindAmended: "修订", kindCorrected: "更正",
    intro: "两地金融互联互通政策与离岸人民币市场，每项事实均有出处。",
    eligible: "符合资格", ineligible: "不符合资格", undetermined: "无法确定",
    criterion: "条件", outcome: "结果", message: "说明", source: "来源",
    pass: "满足", fail: "不满足", missing: "缺少的事实", next: "下一步应提供", unstated: "来源未说明",
    changes: (n) => `共 ${n} 项变化`, agency: "评级机构", grade: "级别",
    invalid: (field) => `${field}：该值不被接受。`,
    expectInteger: (min) => min === undefined ? "请输入整数。" : `请输入不小于 ${min} 的整数。`,
    expectNumber: (min) => min === undefined ? "请输入数值。" : `请输入不小于 ${min} 的数值。`,
    expectDate: "请输入日期（年-月-日）。", expectCode: "请从所列选项中选择。",
    expectText: "请输入由字母、数字、“.”、“_”或“-”组成的标识。", failed: "请求未成功",
    verdictTimeline: "该结论随时间的变化", wouldMake: "怎样才能符合资格",
    interval: (a, b) => `${a} 至 ${b}`, because: "原因", noneHelps: "在该评估日，改变事实均无法使其符合资格。",
    earliest: (d) => `自 ${d} 起，以下情形将符合资格：`, asGiven: "按所提供的事实",
    notStated: "来源未说明", moves: { "from this day": "自该日起", "after this day": "该日之后" },
    locator: [[/\bsection\s+([^,，\s]+)/g, "第$1节"], [/\bpara(?:graph)?\s+(\d+)/g, "第$1段"],
      [/\bitem\s+(\d+)/g, "第$1项"], [/\bfootnote\s+(\d+)/g, "脚注$1"], [/\btable\s+(\d+)/g, "表$1"],
      [/\bappendix\s+(\d+)/g, "附录$1"], [/\brow\s+(\d+)/g, "第$1行"], [/\brow\s+/g, "行："],
      [/\bcolumn\s+(\d+)/g, "第$1列"], [/\bcaption\b/g, "标题"], [/\bintroduction\b/g, "引言"],
      [/\bpress release body\b/g, "新闻稿正文"], [/\barticle body\b/g, "正文"], [/\bpara after 表(\d+)/g, "表$1之后的段落"], [/\(to 表(\d+)\)/g, "（表$1的脚注）"]],
  },
  "zh-Hant": {
    browse: "瀏覽", eligibility: "資格判斷", timeline: "變化時間線", type: "類型", search: "搜尋",
    measures: "政策措施", facilities: "安排", collateral: "抵押品用途", banks: "銀行",
    institutions: "機構", indices: "債券指數", rule: "規則", asOf: "評估日", evaluate: "判斷",
    after: "晚於", upTo: "截至", kind: "類別", all: "全部", show: "顯示", yes: "是", no: "否",
    notGiven: "未提供", unknown: "未知", screening: "批量篩查",
    kindAnnounced: "公布", kindEffective: "生效", kindEnded: "終止", kindAmended: "修訂", kindCorrected: "更正",
    intro: "兩地金融互聯互通政策與離岸人民幣市場，每項事實均有出處。",
    eligible: "符合資格", ineligible: "不符合資格", undetermined: "無法確定",
    criterion: "條件", outcome: "結果", message: "說明", source: "來源",
    pass: "滿足", fail: "不滿足", missing: "缺少的事實", next: "下一步應提供", unstated: "來源未說明",
    changes: (n) => `共 ${n} 項變化`, agency: "評級機構", grade: "級別",
    invalid: (field) => `${field}：該值不被接受。`,
    expectInteger: (min) => min === undefined ? "請輸入整數。" : `請輸入不小於 ${min} 的整數。`,
    expectNumber: (min) => min === undefined ? "請輸入數值。" : `請輸入不小於 ${min} 的數值。`,
    expectDate: "請輸入日期（年-月-日）。", expectCode: "請從所列選項中選擇。",
    expectText: "請輸入由字母、數字、「.」、「_」或「-」組成的標識。", failed: "請求未成功",
    verdictTimeline: "該結論隨時間的變化", wouldMake: "怎樣才能符合資格",
    interval: (a, b) => `${a} 至 ${b}`, because: "原因", noneHelps: "在該評估日，改變事實均無法使其符合資格。",
    earliest: (d) => `自 ${d} 起，以下情形將符合資格：`, asGiven: "按所提供的事實",
    notStated: "來源未說明", moves: { "from this day": "自該日起", "after this day": "該日之後" },
    locator: [[/\bsection\s+([^,，\s]+)/g, "第$1節"], [/\bpara(?:graph)?\s+(\d+)/g, "第$1段"],
      [/\bitem\s+(\d+)/g, "第$1項"], [/\bfootnote\s+(\d+)/g, "腳註$1"], [/\btable\s+(\d+)/g, "表$1"],
      [/\bappendix\s+(\d+)/g, "附錄$1"], [/\brow\s+(\d+)/g, "第$1行"], [/\brow\s+/g, "行："],
      [/\bcolumn\s+(\d+)/g, "第$1列"], [/\bcaption\b/g, "標題"], [/\bintroduction\b/g, "引言"],
      [/\bpress release body\b/g, "新聞稿正文"], [/\barticle body\b/g, "正文"], [/\bpara after 表(\d+)/g, "表$1之後的段落"], [/\(to 表(\d+)\)/g, "（表$1的腳註）"]],
  },
};
const LANGS = Object.keys(TEXT);
const HTML_LANG = { en: "en", zh: "zh-Hans", "zh-Hant": "zh-Hant" };
// a Traditional Chinese page falls back to Simplified, then English, where the KB has no zh-Hant label
const FALLBACK = { en: ["en"], zh: ["zh", "en"], "zh-Hant": ["zh-Hant", "zh", "en"] };

function langFromUrl() {
  const asked = new URLSearchParams(location.search).get("lang");
  return LANGS.includes(asked) ? asked : "en";
}

const state = { lang: langFromUrl(), rule: null, labels: null, lastAnswer: null };
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

class ApiError extends Error {
  constructor(status, body) {
    super(`${status}`);
    this.status = status;
    this.body = body;
  }

  // [{loc: [...], msg}] from either a problem+json body (`errors`) or FastAPI's `detail`
  get items() {
    const body = this.body || {};
    if (Array.isArray(body.errors)) return body.errors;
    if (Array.isArray(body.detail)) return body.detail;
    return [];
  }

  get text() {
    const body = this.body || {};
    return typeof body.detail === "string" ? body.detail : (body.title || `HTTP ${this.status}`);
  }
}

async function api(path, options = {}) {
  const url = new URL(path, location.origin);
  url.searchParams.set("lang", state.lang);
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function localHref(iri) {
  const base = "https://w3id.org/connectkb/";
  return iri.startsWith(base) ? "/" + iri.slice(base.length) + `?lang=${encodeURIComponent(state.lang)}` : iri;
}

// ------------------------------------------------------------------ labels from the KB
// One fixed query (no user text in it): the labels of input facts, of the codes each fact takes, of roles,
// banks and source tiers by their ck:code, and of the ontology's properties.
const LABEL_QUERY = `PREFIX ck: <https://w3id.org/connectkb/ontology/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX org: <http://www.w3.org/ns/org#>
SELECT ?kind ?key ?code ?label WHERE {
  { ?f a ck:InputFact ; ck:jsonName ?key ; rdfs:label ?label . BIND("fact" AS ?kind) }
  UNION { ?f a ck:InputFact ; ck:jsonName ?key ; ck:valuesFrom ?s . ?c skos:inScheme ?s ; ck:code ?code ; rdfs:label ?label .
          BIND("code" AS ?kind) }
  UNION { VALUES ?cls { ck:Tier org:Role <https://spec.edmcouncil.org/fibo/ontology/FBC/FunctionalEntities/FinancialServicesEntities/CommercialBank> }
          ?x a ?cls ; ck:code ?key ; rdfs:label ?label . BIND(IF(?cls = ck:Tier, "tier", "id") AS ?kind) }
  UNION { VALUES ?pcls { owl:ObjectProperty owl:DatatypeProperty } ?p a ?pcls ; rdfs:label ?label .
          FILTER(STRSTARTS(STR(?p), STR(ck:))) BIND(CONCAT("ck:", STRAFTER(STR(?p), STR(ck:))) AS ?key) BIND("prop" AS ?kind) }
}`;

function tagKey(tag) {
  const lower = (tag || "").toLowerCase();
  if (lower.startsWith("zh")) return /^zh-(hant|hk|tw|mo)/.test(lower) ? "zh-Hant" : "zh";
  return lower.startsWith("en") ? "en" : null;
}

async function loadLabels() {
  const response = await fetch("/sparql", {
    method: "POST", body: new URLSearchParams({ query: LABEL_QUERY }),
    headers: { Accept: "application/sparql-results+json" },
  });
  const labels = { fact: {}, code: {}, id: {}, tier: {}, prop: {} };
  if (!response.ok) return labels;  // the page still works, showing the API's own names
  const body = await response.json();
  for (const row of body.results.bindings) {
    const key = tagKey(row.label["xml:lang"]);
    if (!key) continue;
    const kind = row.kind.value;
    const name = row.code ? `${row.key.value}\u0000${row.code.value}` : row.key.value;
    const entry = (labels[kind][name] ||= {});
    entry[key] ||= row.label.value;
  }
  return labels;
}

function pick(entry) {
  if (!entry) return null;
  for (const lang of FALLBACK[state.lang]) if (entry[lang]) return entry[lang];
  return null;
}

const factLabel = (name) => pick(state.labels.fact[name]) || name;
const codeLabel = (fact, code) => pick(state.labels.code[`${fact}\u0000${code}`]) || pick(state.labels.id[code]) || code;
const tierLabel = (tier) => pick(state.labels.tier[tier]) || tier || "";
const propLabel = (prop) => pick(state.labels.prop[prop]) || prop;

function locatorText(locator) {
  let text = locator || "";
  for (const [pattern, replacement] of t("locator")) text = text.replace(pattern, replacement);
  return text;
}

// A message of the engine may name a fact, a role or a bank by its id: the officer reads its label.
function readable(text) {
  if (!text) return text;
  const names = [...Object.keys(state.labels.fact).map((k) => [k, state.labels.fact[k]]),
    ...Object.keys(state.labels.id).map((k) => [k, state.labels.id[k]])];
  // in English a one-word id ("documents", "age") is also a plain word of the message: left as it is
  const ids = names.filter(([id]) => text.includes(id) && (state.lang !== "en" || /[_-]/.test(id)))
    .sort((a, b) => b[0].length - a[0].length);
  for (const [id, entry] of ids) {
    const label = pick(entry);
    if (label) text = text.replace(new RegExp(`(?<![\\w-])${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])`, "g"), label);
  }
  return text;
}

function valueText(fact, value) {
  if (value === null || value === undefined) return t("notGiven");
  if (typeof value === "boolean") return value ? t("yes") : t("no");
  if (Array.isArray(value)) return value.map((v) => valueText(fact, v)).join("、");
  if (typeof value === "object") return Object.values(value).join(" ");
  return typeof value === "string" ? codeLabel(fact, value) : String(value);
}

// ------------------------------------------------------------------ language and tabs
function applyLanguage() {
  document.documentElement.lang = HTML_LANG[state.lang];
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const button of document.querySelectorAll(".lang button")) {
    button.classList.toggle("active", button.dataset.lang === state.lang);
    button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
  }
}

function currentTab() {
  const tab = location.hash.replace("#", "");
  return document.querySelector(`section.tab#${CSS.escape(tab || "browse")}`) ? (tab || "browse") : "browse";
}

function showTab() {
  const tab = currentTab();
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== tab;
  for (const link of document.querySelectorAll("nav [role=tab]")) {
    const selected = link.dataset.tab === tab;
    link.setAttribute("aria-selected", String(selected));
    link.classList.toggle("active", selected);
    link.tabIndex = selected ? 0 : -1;
  }
}

// ------------------------------------------------------------------ browse
async function browse() {
  const params = new URLSearchParams({ type: $("browse-type").value, limit: "200" });
  if ($("browse-q").value.trim()) params.set("q", $("browse-q").value.trim());
  const body = await api(`/v1/entities?${params}`);
  $("browse-list").replaceChildren(...body.items.map((item) =>
    el("li", {}, el("a", { href: localHref(item.iri), text: item.label || item.id }))));
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
  const title = schema.title || factLabel(name);
  const error = el("p", { class: "field-error", id: `${id}-error`, role: "alert", hidden: "" });
  const described = { "aria-describedby": `${id}-error` };
  let input;
  if (schema.type === "boolean") {
    input = el("select", { id, "data-kind": "boolean", ...described },
      el("option", { value: "", text: t("notGiven") }), el("option", { value: "true", text: t("yes") }),
      el("option", { value: "false", text: t("no") }));
  } else if (schema.type === "integer" || schema.type === "number") {
    input = el("input", { id, type: "number", step: schema.type === "integer" ? "1" : "any", "data-kind": schema.type,
      inputmode: schema.type === "integer" ? "numeric" : "decimal", ...described });
  } else if (schema.type === "array") {
    // a group of checkboxes: its legend is the fact's label
    const group = el("fieldset", { id, "data-kind": "array", ...described }, el("legend", { text: title }),
      ...schema.items.enum.map((value) => el("label", { class: "check" },
        el("input", { type: "checkbox", value, name: id }), codeLabel(name, value))));
    return el("div", { class: "field", "data-fact": name }, group, error);
  } else if (schema.type === "object") {
    input = el("span", { id, "data-kind": "rating", ...described },
      el("select", { "aria-label": t("agency") }, el("option", { value: "", text: t("agency") }),
        ...schema.properties.agency.enum.map((a) => el("option", { value: a, text: codeLabel(name, a) }))),
      el("input", { type: "text", placeholder: t("grade"), "aria-label": t("grade") }));
  } else if (schema.enum) {
    input = el("select", { id, "data-kind": "string", ...described }, el("option", { value: "", text: t("notGiven") }),
      ...schema.enum.map((value) => el("option", { value, text: codeLabel(name, value) })));
  } else {
    input = el("input", { id, type: schema.format === "date" ? "date" : "text", "data-kind": "string", ...described,
      list: schema.examples ? `${id}-examples` : undefined, placeholder: schema.pattern === "^[A-Z]{3}$" ? "CNY" : "" });
    if (schema.examples) {
      return el("div", { class: "field", "data-fact": name }, el("label", { for: id, text: title }), input,
        el("datalist", { id: `${id}-examples` }, ...schema.examples.map((v) => el("option", { value: v, label: codeLabel(name, v) }))),
        error);
    }
  }
  return el("div", { class: "field", "data-fact": name }, el("label", { for: id, text: title }), input, error);
}

async function loadRule() {
  $("rule-form").dataset.loading = "true";  // the fields are replaced: anything typed now would be lost
  const rule = await api(`/v1/rules/${encodeURIComponent($("rule-select").value)}`);
  state.rule = rule;
  const properties = rule.facts_schema.properties;
  // in the order of the rule's criteria
  $("rule-fields").replaceChildren(...Object.keys(properties).map((name) => fieldFor(name, properties[name])));
  $("rule-sources").textContent = rule.citations.map((c) => `${c.title || c.source} (${locatorText(c.locator)})`).join("; ");
  $("verdict").replaceChildren();
  $("verdict-more").replaceChildren();
  clearErrors();
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
      // a number the browser cannot read is sent as typed: the API names the field, nothing is guessed
      const number = Number(node.value);
      facts[name] = kind === "boolean" ? node.value === "true"
        : (kind === "integer" || kind === "number") && node.value.trim() !== "" && !Number.isNaN(number) ? number
          : node.value;
    } else if ((kind === "integer" || kind === "number") && node.validity && node.validity.badInput) {
      facts[name] = "";  // typed but not a number: let the API say which field is wrong
    }
  }
  return facts;
}

// ---- input errors, at the field they concern
function clearErrors() {
  for (const node of document.querySelectorAll("#rule-form .field-error")) { node.hidden = true; node.textContent = ""; }
  for (const node of document.querySelectorAll("#rule-form [aria-invalid]")) node.removeAttribute("aria-invalid");
}

function expectation(name) {
  if (name === "as_of") return t("expectDate");
  const schema = (state.rule.facts_schema.properties || {})[name] || {};
  if (schema.type === "integer") return t("expectInteger")(schema.minimum);
  if (schema.type === "number") return t("expectNumber")(schema.minimum);
  if (schema.format === "date") return t("expectDate");
  if (schema.enum || schema.type === "array" || schema.type === "object") return t("expectCode");
  return t("expectText");
}

function showErrors(error) {
  clearErrors();
  let placed = false;
  for (const item of error.items) {
    const loc = (item.loc || []).filter((part) => part !== "body" && part !== "query");
    const name = loc[0] === "facts" ? loc[1] : loc[0];
    const isDate = name === "as_of";
    const box = isDate ? $("as-of-error") : $(`fact-${name}-error`);
    if (!box) continue;
    const label = isDate ? t("asOf") : (state.rule.facts_schema.properties[name]?.title || factLabel(name));
    // the API's own words in English; a Chinese page says what is expected in its language
    box.textContent = state.lang === "en" ? `${label}: ${item.msg}` : `${t("invalid")(label)}${expectation(name)}`;
    box.hidden = false;
    (isDate ? $("as-of") : $(`fact-${name}`)).setAttribute("aria-invalid", "true");
    placed = true;
  }
  if (!placed) {
    $("form-error").textContent = `${t("failed")} (${error.status || ""}): ${error.text || ""}`;
    $("form-error").hidden = false;
  }
}

function citationNodes(citations) {
  return citations.map((c) => el("div", { class: "citation" },
    el("small", { text: `${c.title || c.source} — ${locatorText(c.locator)} (${tierLabel(c.tier)})` }),
    // the quote stays in the source's own words and script
    c.quote ? el("blockquote", { lang: "zh-Hans", text: c.quote }) : null,
    c.note ? el("p", { class: "note", lang: "en", text: c.note }) : null));
}

function verdictTable(answer) {
  const head = [t("criterion"), t("outcome"), t("message"), t("source")];
  const rows = answer.criteria.map((c) => el("tr", { "data-criterion": c.id },
    el("td", { "data-label": head[0], text: c.label }),
    el("td", { "data-label": head[1], class: `outcome ${c.outcome}`, text: t(c.outcome) }),
    el("td", { "data-label": head[2], text: readable(c.message) }),
    el("td", { "data-label": head[3] }, ...citationNodes(c.citations))));
  return el("div", { class: "table-box" }, el("table", { class: "verdict-table" },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", text: h })))), el("tbody", {}, ...rows)));
}

async function evaluate(event) {
  if (event) event.preventDefault();
  clearErrors();
  const body = { facts: collectFacts() };
  if ($("as-of").value) body.as_of = $("as-of").value;
  let answer;
  try {
    answer = await api(`/v1/rules/${encodeURIComponent(state.rule.id)}/evaluate`,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  } catch (error) {
    $("verdict").replaceChildren();
    $("verdict-more").replaceChildren();
    showErrors(error instanceof ApiError ? error : new ApiError(0, { detail: String(error) }));
    return;
  }
  state.lastAnswer = { facts: body.facts, as_of: answer.as_of };
  const extra = [];
  if (answer.missing_facts.length) {
    extra.push(el("p", { id: "missing-facts", text: `${t("missing")}: ${answer.missing_facts.map(factLabel).join("、")}` }));
    // only an open answer has a next question: a decided one does not change with more facts
    if (answer.verdict === "undetermined" && answer.next_fact) {
      extra.push(el("p", { id: "next-fact", text: `${t("next")}: ${factLabel(answer.next_fact)}` }));
    }
  }
  if (answer.unstated_criteria.length) {
    extra.push(el("p", { text: `${t("unstated")}: ${answer.unstated_criteria.map((u) => u.label || u.id).join("、")}` }));
  }
  $("verdict").replaceChildren(el("div", { class: `verdict ${answer.verdict}`, id: "verdict-value", "data-verdict": answer.verdict,
    text: `${t(answer.verdict)} · ${answer.as_of}` }), verdictTable(answer), ...extra);
  $("verdict-more").replaceChildren(counterfactualNodes(answer));
  await verdictTimeline(body.facts, answer.as_of);
}

// ---- what would make it eligible
function stepText(step) {
  const condition = step.condition ? ` (${readable(step.condition)})` : "";
  return `${factLabel(step.fact)}: ${valueText(step.fact, step.from)} → ${valueText(step.fact, step.to)}${condition}`;
}

function optionNodes(options) {
  return el("ul", { class: "options" }, ...options.map((option) => el("li", { class: "option" },
    ...option.changes.map((step) => el("div", { class: "step" }, el("span", { text: stepText(step) }),
      ...step.satisfies.map((s) => el("small", { class: "satisfies", text: ` ✓ ${s.label || s.criterion}` })))))));
}

function counterfactualNodes(answer) {
  const cf = answer.counterfactuals;
  if (!cf || answer.verdict === "eligible") return "";
  const box = el("section", { id: "counterfactuals", class: "more" }, el("h2", { text: t("wouldMake") }));
  if (cf.options && cf.options.length) box.append(optionNodes(cf.options));
  else if (cf.none_helps) box.append(el("p", { class: "none-helps", text: t("noneHelps") }));
  if (cf.earliest) {
    box.append(el("p", { class: "earliest", text: t("earliest")(cf.earliest.date) }));
    box.append(cf.earliest.options && cf.earliest.options.length ? optionNodes(cf.earliest.options)
      : el("p", { text: t("asGiven") }));
  }
  return box;
}

// ---- the verdict's timeline: a year either side of the as-of day
async function verdictTimeline(facts, asOf) {
  const year = Number(asOf.slice(0, 4));
  const request = { facts, from: `${year - 1}-01-01`, to: `${year + 1}-12-31` };
  let body;
  try {
    body = await api(`/v1/rules/${encodeURIComponent(state.rule.id)}/timeline`,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) });
  } catch {
    return;  // an answer without a timeline is still an answer
  }
  const items = body.intervals.map((iv) => {
    const item = el("li", { "data-verdict": iv.verdict },
      el("span", { class: "date", text: t("interval")(iv.from, iv.to) }),
      el("span", { class: `verdict-word ${iv.verdict}`, text: t(iv.verdict) }));
    if (iv.change) {
      for (const b of iv.change.because || []) {
        const moves = t("moves")[b.moves] || "";
        item.append(el("div", { class: "because" }, el("small", {
          text: `${t("because")}: ${b.subject.label || b.subject.id} — ${propLabel(b.property)} ${b.date} ${moves}` }),
        ...citationNodes(b.citations || [])));
      }
    }
    if (iv.open) {
      for (const u of iv.open.not_stated || []) {
        item.append(el("div", { class: "because" },
          el("small", { text: `${t("notStated")}: ${u.subject.label || u.subject.id} — ${propLabel(u.property)}` })));
      }
      if (iv.open.missing_facts && iv.open.missing_facts.length) {
        item.append(el("small", { class: "missing", text: `${t("missing")}: ${iv.open.missing_facts.map(factLabel).join("、")}` }));
      }
    }
    return item;
  });
  $("verdict-more").append(el("section", { id: "verdict-timeline", class: "more" },
    el("h2", { text: t("verdictTimeline") }), el("ol", { class: "intervals" }, ...items)));
}

// ------------------------------------------------------------------ timeline of changes
async function timeline(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ from: $("tl-from").value, to: $("tl-to").value });
  if ($("tl-kind").value) params.set("kind", $("tl-kind").value);
  let body;
  try { body = await api(`/v1/changes?${params}`); } catch (error) {
    $("tl-count").textContent = `${t("failed")}: ${error instanceof ApiError ? error.text : error}`;
    return;
  }
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
  // the same question, answered again in the other language; the address keeps the language
  const facts = state.rule ? collectFacts() : {};
  const answered = $("verdict").childElementCount > 0;
  state.lang = lang;
  const url = new URL(location.href);
  url.searchParams.set("lang", lang);
  history.replaceState(null, "", url);
  await refresh();
  setFacts(facts);
  if (answered) await evaluate();
}

async function offerScreening() {
  // the screening page is served beside this one where the package has it
  try {
    const response = await fetch($("screening-link").getAttribute("href"), { method: "GET" });
    $("screening-link").hidden = !response.ok;
  } catch {
    $("screening-link").hidden = true;
  }
}

for (const button of document.querySelectorAll(".lang button")) {
  button.addEventListener("click", () => switchLanguage(button.dataset.lang));
}
window.addEventListener("hashchange", showTab);
$("browse-type").addEventListener("change", browse);
$("browse-q").addEventListener("input", browse);
$("rule-select").addEventListener("change", loadRule);
$("rule-form").addEventListener("submit", evaluate);
$("timeline-form").addEventListener("submit", timeline);
$("as-of").value = new Date().toISOString().slice(0, 10);
showTab();
loadLabels().then((labels) => { state.labels = labels; })
  .catch(() => { state.labels = { fact: {}, code: {}, id: {}, tier: {}, prop: {} }; })
  .then(() => Promise.all([refresh(), offerScreening()]))
  .then(() => document.body.setAttribute("data-ready", "true"));
