// connectkb screening page: a CSV of bonds posted to POST /v1/screenings, its NDJSON answer read as it
// streams into a bond × rule matrix; a cell opens the bond's criteria for that rule, failing ones first.
// The results download as CSV, built here from the answer (the server keeps nothing to fetch again).
// Plain JavaScript, no build step and no outside assets.
"use strict";

const TEXT = {
  en: {
    title: "Screen a bond universe", file: "Bonds (CSV)", rules: "Rules", asOf: "As of", run: "Screen",
    intro: "Upload a CSV of bonds (a column per fact, plus id; lists separated by ';', ratings as moodys:Baa3) and see every bond against every rule.",
    download: "Download results (CSV)", bond: "Bond", row: "Row", eligible: "eligible", ineligible: "ineligible",
    undetermined: "undetermined", error: "bad row", pass: "pass", fail: "fail", unknown: "unknown",
    criterion: "Criterion", outcome: "Outcome", missing: "Missing facts", next: "Collect next", none: "none",
    badRows: "Bad rows", field: "Field", message: "What was expected", rule: "Rule",
    reading: (n) => `Screening… ${n} answers so far`, done: (bonds, rules) => `${bonds} bonds × ${rules} rules screened.`,
    cut: "The screening stopped early:", failed: "The request failed", pick: "Choose a CSV file first.",
    fails: "fails", details: (bond, rule) => `${bond} against ${rule}`,
  },
  zh: {
    title: "批量筛查债券", file: "债券（CSV）", rules: "规则", asOf: "评估日", run: "筛查",
    intro: "上传债券 CSV 文件（每个事实一列，另加 id 列；列表以“;”分隔，评级写作 moodys:Baa3），查看每只债券对每条规则的结论。",
    download: "下载结果（CSV）", bond: "债券", row: "行", eligible: "符合资格", ineligible: "不符合资格",
    undetermined: "无法确定", error: "有误的行", pass: "满足", fail: "不满足", unknown: "未知",
    criterion: "条件", outcome: "结果", missing: "缺少的事实", next: "下一步应收集", none: "无",
    badRows: "有误的行", field: "字段", message: "应为", rule: "规则",
    reading: (n) => `筛查中…已得到 ${n} 项结论`, done: (bonds, rules) => `已筛查 ${bonds} 只债券 × ${rules} 条规则。`,
    cut: "筛查提前终止：", failed: "请求未成功", pick: "请先选择 CSV 文件。",
    fails: "不满足", details: (bond, rule) => `${bond}：${rule}`,
  },
  "zh-Hant": {
    title: "批量篩查債券", file: "債券（CSV）", rules: "規則", asOf: "評估日", run: "篩查",
    intro: "上載債券 CSV 檔案（每個事實一欄，另加 id 欄；列表以「;」分隔，評級寫作 moodys:Baa3），查看每隻債券對每條規則的結論。",
    download: "下載結果（CSV）", bond: "債券", row: "行", eligible: "符合資格", ineligible: "不符合資格",
    undetermined: "無法確定", error: "有誤的行", pass: "滿足", fail: "不滿足", unknown: "未知",
    criterion: "條件", outcome: "結果", missing: "缺少的事實", next: "下一步應收集", none: "無",
    badRows: "有誤的行", field: "欄位", message: "應為", rule: "規則",
    reading: (n) => `篩查中…已得到 ${n} 項結論`, done: (bonds, rules) => `已篩查 ${bonds} 隻債券 × ${rules} 條規則。`,
    cut: "篩查提前終止：", failed: "請求未成功", pick: "請先選擇 CSV 檔案。",
    fails: "不滿足", details: (bond, rule) => `${bond}：${rule}`,
  },
};
const LANGS = Object.keys(TEXT);
const HTML_LANG = { en: "en", zh: "zh-Hans", "zh-Hant": "zh-Hant" };
const FALLBACK = { en: ["en"], zh: ["zh", "en"], "zh-Hant": ["zh-Hant", "zh", "en"] };
const $ = (id) => document.getElementById(id);

const state = {
  lang: LANGS.includes(new URLSearchParams(location.search).get("lang")) ? new URLSearchParams(location.search).get("lang") : "en",
  labels: { rules: {}, criteria: {} },  // rule id → labels by language; "rule criterion" → labels
  bonds: new Map(),  // row number → { id, answers: Map(rule → answer), error }
  rules: [], final: null, selected: null,
};
const t = (key) => TEXT[state.lang][key];

function pickLabel(labels, fallback) {
  if (!labels) return fallback;
  for (const lang of FALLBACK[state.lang]) {
    const key = Object.keys(labels).find((k) => k === lang || (lang === "zh" && /^zh(-hans)?$/i.test(k)) ||
      (lang === "zh-Hant" && /^zh-hant/i.test(k)));
    if (key) return labels[key];
  }
  return fallback;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// ------------------------------------------------------------------ language
function applyLanguage() {
  document.documentElement.lang = HTML_LANG[state.lang];
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const button of document.querySelectorAll(".lang button")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
    button.classList.toggle("active", button.dataset.lang === state.lang);
  }
  $("home").href = `/?lang=${encodeURIComponent(state.lang)}`;
  render();
}

for (const button of document.querySelectorAll(".lang button")) {
  button.addEventListener("click", () => {
    state.lang = button.dataset.lang;
    const url = new URL(location.href);
    url.searchParams.set("lang", state.lang);
    history.replaceState(null, "", url);
    applyLanguage();
  });
}

async function loadLabels() {
  try {
    const catalogue = await (await fetch("/v1/rules?lang=en")).json();
    for (const rule of catalogue.rules) state.labels.rules[rule.id] = rule.labels;
  } catch (err) {
    // labels are a nicety: the matrix shows ids without them
  }
}

async function loadCriteria(ruleId) {
  if (state.labels.criteria[ruleId]) return;
  state.labels.criteria[ruleId] = {};
  try {
    const rule = await (await fetch(`/v1/rules/${encodeURIComponent(ruleId)}?lang=en`)).json();
    for (const c of rule.criteria || []) state.labels.criteria[ruleId][c.id] = c.labels;
  } catch (err) {
    // the criterion ids stand in for their labels
  }
}

// ------------------------------------------------------------------ screening
function record(line) {
  if (line.error && line.row === undefined) { state.final = line.error; return; }
  let bond = state.bonds.get(line.row);
  if (!bond) { bond = { id: line.id, answers: new Map(), error: null }; state.bonds.set(line.row, bond); }
  if (line.error) { bond.error = line.error; return; }
  if (!state.rules.includes(line.rule)) state.rules.push(line.rule);
  bond.answers.set(line.rule, line);
}

async function screen(event) {
  event.preventDefault();
  const file = $("file").files[0];
  $("problem").hidden = true;
  if (!file) { showProblem(t("pick")); return; }
  Object.assign(state, { bonds: new Map(), rules: [], final: null, selected: null });
  delete document.body.dataset.screened;
  $("download").hidden = true;
  const url = new URL("/v1/screenings", location.origin);
  url.searchParams.set("rules", $("rules").value.trim() || "index-*");
  if ($("as-of").value) url.searchParams.set("as_of", $("as-of").value);
  $("run").disabled = true;
  try {
    const response = await fetch(url, { method: "POST", body: file,
      headers: { "Content-Type": "text/csv", Accept: "application/x-ndjson" } });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      showProblem(`${t("failed")} (${response.status}): ${body.detail || response.statusText}`);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "", count = 0;
    for (;;) {
      const { value, done } = await reader.read();
      pending += decoder.decode(value || new Uint8Array(), { stream: !done });
      const lines = pending.split("\n");
      pending = done ? "" : lines.pop();
      for (const line of lines) if (line.trim()) { record(JSON.parse(line)); count += 1; }
      $("status").textContent = t("reading")(count);
      if (done) break;
    }
    await Promise.all(state.rules.map(loadCriteria));
    if (state.final) showProblem(`${t("cut")} ${state.final.message}`);
    offerDownload();
    render();
    document.body.dataset.screened = String(state.bonds.size);  // for tests and scripts waiting on the page
  } catch (err) {
    showProblem(`${t("failed")}: ${err.message}`);
  } finally {
    $("run").disabled = false;
  }
}

function showProblem(text) {
  $("problem").textContent = text;
  $("problem").hidden = false;
}

// ------------------------------------------------------------------ rendering
function ruleLabel(ruleId) { return pickLabel(state.labels.rules[ruleId], ruleId); }
function criterionLabel(ruleId, id) { return pickLabel((state.labels.criteria[ruleId] || {})[id], id); }

function render() {
  const table = $("matrix");
  table.replaceChildren();
  if (!state.bonds.size) return;
  $("status").textContent = t("done")(state.bonds.size, state.rules.length);
  renderSummary();
  table.append(el("thead", {}, el("tr", {}, el("th", { text: t("row") }), el("th", { text: t("bond") }),
    ...state.rules.map((r) => el("th", { title: r, text: ruleLabel(r) })))));
  const body = el("tbody");
  for (const [row, bond] of state.bonds) {
    const cells = state.rules.map((rule) => {
      const answer = bond.answers.get(rule);
      const verdict = bond.error ? "error" : answer ? answer.verdict : null;
      if (!verdict) return el("td");
      const failing = answer ? Object.entries(answer.criteria || {}).filter(([, o]) => o === "fail").map(([c]) => c) : [];
      const key = `${row} ${rule}`;
      return el("td", {}, el("button", {
        type: "button", class: `v-${verdict}`, "aria-pressed": String(state.selected === key),
        title: failing.length ? `${t("fails")}: ${failing.map((c) => criterionLabel(rule, c)).join(", ")}` : null,
        text: t(verdict), onclick: () => { state.selected = key; render(); },
      }));
    });
    body.append(el("tr", {}, el("td", { text: String(row) }), el("td", { text: bond.id }), ...cells));
  }
  table.append(body);
  renderDetail();
  renderBadRows();
}

function renderSummary() {
  const counts = state.rules.map((rule) => {
    const c = { eligible: 0, ineligible: 0, undetermined: 0 };
    for (const bond of state.bonds.values()) { const a = bond.answers.get(rule); if (a) c[a.verdict] += 1; }
    return [rule, c];
  });
  $("summary").replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, el("th", { text: t("rule") }), el("th", { text: t("eligible") }),
      el("th", { text: t("ineligible") }), el("th", { text: t("undetermined") }))),
    el("tbody", {}, ...counts.map(([rule, c]) => el("tr", {}, el("td", { text: ruleLabel(rule) }),
      el("td", { text: String(c.eligible) }), el("td", { text: String(c.ineligible) }),
      el("td", { text: String(c.undetermined) }))))));
}

function renderDetail() {
  const box = $("detail");
  if (!state.selected) { box.hidden = true; return; }
  const [row, rule] = [Number(state.selected.split(" ")[0]), state.selected.split(" ").slice(1).join(" ")];
  const bond = state.bonds.get(row);
  const answer = bond && bond.answers.get(rule);
  box.hidden = false;
  if (!answer) {
    box.replaceChildren(el("h2", { text: `${bond ? bond.id : row}` }),
      bond && bond.error ? el("p", { text: `${bond.error.field}: ${bond.error.message}` }) : null);
    return;
  }
  // failing criteria first: the reason is the first thing read
  const order = { fail: 0, unknown: 1, pass: 2 };
  const criteria = Object.entries(answer.criteria || {}).sort((a, b) => order[a[1]] - order[b[1]]);
  box.replaceChildren(
    el("h2", { text: t("details")(bond.id, ruleLabel(rule)) }),
    el("p", { class: `v-${answer.verdict}`, text: t(answer.verdict) }),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: t("criterion") }), el("th", { text: t("outcome") }))),
      el("tbody", {}, ...criteria.map(([id, outcome]) => el("tr", {},
        el("td", { title: id, text: criterionLabel(rule, id) }), el("td", { class: `o-${outcome}`, text: t(outcome) }))))),
    el("p", { text: `${t("missing")}: ${(answer.missing_facts || []).join(", ") || t("none")}` }),
    el("p", { text: `${t("next")}: ${answer.next_fact || t("none")}` }));
}

function renderBadRows() {
  const bad = [...state.bonds.entries()].filter(([, b]) => b.error);
  const box = $("bad-rows");
  box.hidden = !bad.length;
  if (!bad.length) return;
  box.replaceChildren(el("h2", { text: t("badRows") }), el("table", {},
    el("thead", {}, el("tr", {}, el("th", { text: t("row") }), el("th", { text: t("bond") }),
      el("th", { text: t("field") }), el("th", { text: t("message") }))),
    el("tbody", {}, ...bad.map(([row, b]) => el("tr", {}, el("td", { text: String(row) }), el("td", { text: b.id }),
      el("td", { text: b.error.field }), el("td", { text: b.error.message }))))));
}

// ------------------------------------------------------------------ download
function csvCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function offerDownload() {
  const criteria = [...new Set(state.rules.flatMap((rule) => {
    for (const bond of state.bonds.values()) { const a = bond.answers.get(rule); if (a) return Object.keys(a.criteria || {}); }
    return [];
  }))];
  const lines = [["row", "id", "rule", "verdict", "missing_facts", "next_fact", "error_field", "error_message", ...criteria]];
  for (const [row, bond] of state.bonds) {
    if (bond.error) { lines.push([row, bond.id, "", "", "", "", bond.error.field, bond.error.message]); continue; }
    for (const rule of state.rules) {
      const a = bond.answers.get(rule);
      if (a) lines.push([row, bond.id, rule, a.verdict, (a.missing_facts || []).join(";"), a.next_fact, "", "",
        ...criteria.map((c) => (a.criteria || {})[c])]);
    }
  }
  const blob = new Blob([lines.map((l) => l.map(csvCell).join(",")).join("\n") + "\n"], { type: "text/csv" });
  const link = $("download");
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
  link.download = "screening-results.csv";
  link.hidden = false;
}

$("screen-form").addEventListener("submit", screen);
loadLabels().then(applyLanguage);
