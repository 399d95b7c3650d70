// The search page: a question and filters in the URL, results with the question's words
// marked, citations that open the source at its page, and buttons that fill the pack.
"use strict";

(() => {
  const { el, announce, json, pack, fileLink, copyText } = KB;
  const { t, languageName, lang: uiLang } = KB_I18N;
  const form = document.getElementById("search-form");
  const box = document.getElementById("q");
  const section = document.getElementById("results-section");
  const list = document.getElementById("results");
  const FIELDS = ["lang", "type", "doc", "org", "year"];
  const select = Object.fromEntries(FIELDS.map((f) => [f, document.getElementById(`f-${f}`)]));
  let documents = [];
  let vocab = null;
  let stopwords = new Set();
  let latest = 0;

  const fold = (text) => text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

  function fill(control, pairs) {
    for (const [value, label] of pairs) control.append(el("option", { value }, label));
  }

  // a search needs kb's vocabulary (small); only the organisation and year filters need the documents
  const vocabLoaded = KB.vocabulary().then((v) => {
    vocab = v;
    stopwords = new Set(Object.values(v.stopwords).flat().map(fold));
  });
  const documentsLoaded = KB.allDocuments().then((docs) => { documents = docs; });

  /** The filters' choices, from what the index holds (GET /types, GET /documents). */
  async function loadChoices() {
    const [counts] = await Promise.all([json("/types"), vocabLoaded, documentsLoaded]);
    const labels = vocab.type_labels[uiLang] || vocab.type_labels.en;
    const langs = Object.keys(counts.passages).filter((l) => l && l !== "?");
    fill(select.lang, langs.map((l) => [l, `${languageName(l)} (${l})`]).sort((a, b) => a[1].localeCompare(b[1])));
    const present = vocab.types.filter((name) => Object.values(counts.types[name] || {}).some((n) => n > 0));
    fill(select.type, present.map((name) => [name, labels[name] || name]));
    fill(select.doc, documents.map((d) => [d.doc_id, d.lang ? `${d.title} (${d.lang})` : d.title])
      .sort((a, b) => a[1].localeCompare(b[1])));
    const orgs = [...new Set(documents.map((d) => d.organisation).filter(Boolean))].sort((a, b) => a.localeCompare(b));
    fill(select.org, orgs.map((o) => [o, o]));
    const years = [...new Set(documents.map((d) => d.year).filter((y) => y !== null && y !== undefined))].sort((a, b) => b - a);
    fill(select.year, years.map((y) => [String(y), String(y)]));
  }

  const choicesLoaded = loadChoices();

  // -- the URL holds the question and the filters ----------------------------------------------
  function readUrl() {
    const params = new URLSearchParams(location.search);
    return Object.fromEntries(["q", ...FIELDS].map((f) => [f, params.get(f) || ""]));
  }

  function readControls() {
    return { q: box.value.trim(), ...Object.fromEntries(FIELDS.map((f) => [f, select[f].value])) };
  }

  function setControls(state) {
    box.value = state.q;
    setFilters(state);
  }

  function setFilters(state) {
    for (const f of FIELDS) {
      const control = select[f];
      if (state[f] && ![...control.options].some((o) => o.value === state[f])) {
        control.append(el("option", { value: state[f] }, state[f]));  // a shared link's filter: keep it, the API judges it
      }
      control.value = state[f];
    }
  }

  function urlOf(state) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(state)) if (value) params.set(name, value);
    const query = params.toString();
    return query ? `/?${query}` : "/";
  }

  /** Organisation and year are properties of documents: they narrow the document filter. */
  function documentIds(state) {
    if (!state.org && !state.year) return state.doc ? [state.doc] : [];
    return documents.filter((d) => (!state.doc || d.doc_id === state.doc)
      && (!state.org || d.organisation === state.org)
      && (!state.year || String(d.year) === state.year)).map((d) => d.doc_id);
  }

  // -- marking the question's words ------------------------------------------------------------
  /** Each meaningful word of the question, as a prefix that also meets its inflections. */
  function terms(question) {
    const words = (question.match(/[\p{L}\p{N}]+/gu) || []).map(fold).filter((w) => w.length >= 3 && !stopwords.has(w));
    return [...new Set(words)].map((w) => (w.length > 6 ? { prefix: w.slice(0, Math.max(5, w.length - 2)) } : { word: w }));
  }

  function matches(word, wanted) {
    const folded = fold(word);
    return wanted.some((w) => (w.prefix ? folded.startsWith(w.prefix) : folded === w.word || folded === `${w.word}s` || folded === `${w.word}es`));
  }

  function highlighted(text, wanted) {
    if (!wanted.length) return [text];
    const parts = [];
    let last = 0;
    for (const found of text.matchAll(/[\p{L}\p{N}]+/gu)) {
      if (!matches(found[0], wanted)) continue;
      if (found.index > last) parts.push(text.slice(last, found.index));
      parts.push(el("mark", {}, found[0]));
      last = found.index + found[0].length;
    }
    parts.push(text.slice(last));
    return parts;
  }

  // -- results ---------------------------------------------------------------------------------
  function addButton(hit) {
    const button = el("button", { type: "button", class: "add", "aria-describedby": `r${hit.rank}-cite` });
    const show = () => {
      const inPack = pack.has(hit.passage_id);
      button.textContent = inPack ? t("in_pack") : t("add");
      button.classList.toggle("in-pack", inPack);
    };
    button.addEventListener("click", () => {
      if (pack.has(hit.passage_id)) {
        announce(t("removed", { n: pack.remove(hit.passage_id) }));
      } else {
        const n = pack.add({ passage_id: hit.passage_id, doc_id: hit.citation.doc_id, cite: hit.cite, text: hit.text,
                             lang: hit.lang, page: hit.citation.page_start });
        announce(t("added", { n }));
      }
      show();
    });
    show();
    return button;
  }

  function result(hit, wanted) {
    const id = `r${hit.rank}`;
    const labels = vocab.type_labels[uiLang] || vocab.type_labels.en;
    const types = Object.entries(hit.types || {}).sort((a, b) => b[1] - a[1])
      .map(([name]) => el("li", { class: `type type-${name}` }, labels[name] || name));
    const c = hit.citation;
    const versions = (hit.translations || []).map((v) => el("li", {},
      fileLink(v.doc_id, v.citation.page_start, v.lang || "?",
        `${v.lang || "?"}: ${t("version_of", { lang: languageName(v.lang), cite: v.cite })}`)));
    const copy = el("button", { type: "button", class: "secondary", "aria-describedby": `${id}-cite` }, t("copy"));
    copy.addEventListener("click", async () => {
      const done = await copyText(hit.cite);
      announce(done ? t("copied", { cite: hit.cite }) : hit.cite);
    });
    return el("li", { class: "result", id },
      el("article", { "aria-labelledby": `${id}-cite` },
        el("h3", { class: "cite", id: `${id}-cite` },
          fileLink(c.doc_id, c.page_start, hit.cite, `${hit.cite} ${t("opens_source")}`)),
        types.length ? el("ul", { class: "types", "aria-label": t("type") }, types) : null,
        el("p", { class: "passage", lang: hit.lang || null }, highlighted(hit.text, wanted)),
        versions.length ? el("div", { class: "versions" }, el("span", {}, `${t("also_in")} `),
          el("ul", { class: "inline" }, versions)) : null,
        el("div", { class: "actions" }, copy, addButton(hit))));
  }

  function show(data, question) {
    const wanted = terms(question);
    list.replaceChildren(...data.results.map((hit) => result(hit, wanted)));
    section.hidden = data.results.length === 0;
    const n = data.results.length;
    announce(n === 0 ? t("no_results") : n === 1 ? t("result_one") : t("results", { n }));
  }

  async function search(state) {
    const mine = ++latest;
    performance.clearMarks("kb-first-result");
    performance.mark("kb-search-start");
    announce(t("searching"));
    list.setAttribute("aria-busy", "true");
    try {
      await vocabLoaded;
      if (state.org || state.year) await documentsLoaded;
      const filters = {};
      if (state.lang) filters.lang = [state.lang];
      if (state.type) filters.type = [state.type];
      const ids = documentIds(state);
      if ((state.org || state.year) && ids.length === 0) {
        list.replaceChildren();
        section.hidden = true;
        announce(t("no_docs_match"));
        return;
      }
      if (ids.length) filters.doc_id = ids;
      const data = await json("/search", { method: "POST", body: { query: state.q, k: vocab.k, filters } });
      if (mine !== latest) return;  // a newer search replaced this one
      show(data, state.q);
      performance.mark("kb-first-result");
    } catch (err) {
      if (mine !== latest) return;
      list.replaceChildren();
      section.hidden = true;
      announce(err.message, true);
    } finally {
      if (mine === latest) list.removeAttribute("aria-busy");
    }
  }

  function go(push) {
    const state = readControls();
    const url = urlOf(state);
    if (push && url !== location.pathname + location.search) history.pushState(null, "", url);
    else history.replaceState(null, "", url);
    if (state.q) search(state);
  }

  KB.startPage();
  const initial = readUrl();
  box.value = initial.q;
  if (initial.q) search(initial);
  choicesLoaded.then(() => setFilters(readUrl()), (err) => announce(err.message, true));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!box.value.trim()) { box.focus(); return; }
    go(true);
  });
  for (const f of FIELDS) select[f].addEventListener("change", () => go(true));
  document.getElementById("clear-filters").addEventListener("click", () => {
    for (const f of FIELDS) select[f].value = "";
    go(true);
  });
  window.addEventListener("popstate", () => {
    const state = readUrl();
    setControls(state);
    if (state.q) search(state);
  });
})();
