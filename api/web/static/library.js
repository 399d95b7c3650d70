// The documents page: every document with its metadata, languages and passage count; each
// column sorts when its heading is pressed (again: the other way round).
"use strict";

(() => {
  const { el, announce, fileLink } = KB;
  const { t, languageName } = KB_I18N;
  const body = document.getElementById("docs-body");
  const caption = document.getElementById("docs-caption");
  const headers = [...document.querySelectorAll("#docs th[data-key]")];
  let rows = [];
  let sort = { key: "title", direction: 1 };

  /** Each document with the languages it exists in (its own first, then its linked versions). */
  function prepare(docs) {
    const langOf = new Map(docs.map((d) => [d.doc_id, d.lang]));
    return docs.map((d) => {
      const others = [...new Set((d.translations || []).map((id) => langOf.get(id)).filter((l) => l && l !== d.lang))].sort();
      return { ...d, langs: [d.lang || "?", ...others] };
    });
  }

  function value(row, key) {
    if (key === "langs") return row.langs.join(" ");
    const v = row[key];
    return v === null || v === undefined ? "" : v;
  }

  function compare(a, b) {
    const x = value(a, sort.key);
    const y = value(b, sort.key);
    if (x === "" && y !== "") return 1;  // unknown values last, whichever the direction
    if (y === "" && x !== "") return -1;
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return sort.direction * order || a.title.localeCompare(b.title);
  }

  function cell(key, ...content) {
    const label = headers.find((h) => h.dataset.key === key).textContent;
    return el("td", { "data-label": label, class: `col-${key}` }, ...content);
  }

  function render() {
    const sorted = [...rows].sort(compare);
    body.replaceChildren(...sorted.map((d) => el("tr", {},
      cell("title", fileLink(d.doc_id, null, d.title, `${d.title} ${t("opens_source")}`),
        el("br"), el("a", { href: `/?doc=${encodeURIComponent(d.doc_id)}`, class: "small" }, t("search_in"))),
      cell("organisation", d.organisation || ""),
      cell("year", d.year === null || d.year === undefined ? "" : String(d.year)),
      cell("langs", el("span", { title: d.langs.map(languageName).join(", ") }, d.langs.join(" · "))),
      cell("passages", String(d.passages)),
      cell("pages", String(d.pages)),
      cell("format", d.format))));
    for (const th of headers) {
      const active = th.dataset.key === sort.key;
      if (active) th.setAttribute("aria-sort", sort.direction > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  KB.startPage();
  for (const th of headers) {
    const button = th.querySelector("button");
    button.title = t("sort_by", { col: button.textContent });
    button.addEventListener("click", () => {
      sort = { key: th.dataset.key, direction: sort.key === th.dataset.key ? -sort.direction : 1 };
      render();
    });
  }
  KB.allDocuments().then((docs) => {
    rows = prepare(docs);
    caption.textContent = t("docs_count", { n: rows.length });
    render();
    announce("");
  }, (err) => announce(err.message, true));
})();
