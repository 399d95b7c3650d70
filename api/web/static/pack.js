// The pack page: the chosen passages in order, moved with buttons (no dragging, so the
// keyboard does it all), and downloaded as the API renders it (POST /briefs with their ids).
"use strict";

(() => {
  const { el, announce, pack, fileLink } = KB;
  const { t, lang: uiLang } = KB_I18N;
  const list = document.getElementById("pack-items");
  const title = document.getElementById("pack-title");
  const format = document.getElementById("pack-format");
  const count = document.getElementById("pack-count");
  const empty = document.getElementById("pack-empty");
  const clear = document.getElementById("clear-pack");

  function control(label, index, onClick, disabled) {
    return el("button", { type: "button", class: "secondary", disabled, "aria-describedby": `item-${index}-label`,
                          onclick: onClick }, label);
  }

  /** Draw the list; `focus` = [index, "up"|"down"|"remove"] puts the keyboard back where it was. */
  function render(focus) {
    const items = pack.items();
    count.textContent = t("pack_count", { n: items.length });
    empty.hidden = items.length > 0;
    clear.hidden = items.length === 0;
    list.replaceChildren(...items.map((item, i) => el("li", { class: "pack-item", id: `item-${i}`, "data-passage-id": item.passage_id },
      el("p", { class: "item-label", id: `item-${i}-label` }, t("item_label", { n: i + 1, total: items.length }),
        " — ", fileLink(item.doc_id, item.page, item.cite, `${item.cite} ${t("opens_source")}`)),
      el("p", { class: "passage", lang: item.lang || null }, item.text),
      el("div", { class: "actions" },
        control(t("move_up"), i, () => move(i, -1, "up"), i === 0),
        control(t("move_down"), i, () => move(i, 1, "down"), i === items.length - 1),
        control(t("remove"), i, () => remove(i), false)))));
    if (focus) {
      const [index, kind] = focus;
      const row = document.getElementById(`item-${index}`);
      const buttons = row ? [...row.querySelectorAll("button")] : [];
      const order = { up: [0, 1], down: [1, 0], remove: [2] }[kind] || [0];
      const target = order.map((k) => buttons[k]).find((b) => b && !b.disabled);
      if (target) target.focus();
      else (clear.hidden ? title : clear).focus();
    }
  }

  function move(index, delta, kind) {
    const to = pack.move(index, delta);
    render([to, kind]);
    announce(t("moved", { n: to + 1 }));
  }

  function remove(index) {
    const item = pack.items()[index];
    const n = pack.remove(item.passage_id);
    announce(t("removed", { n }));
    render([Math.min(index, n - 1), "remove"]);
  }

  async function download(event) {
    event.preventDefault();
    const items = pack.items();
    if (!items.length) { announce(t("empty_pack"), true); return; }
    const name = title.value.trim();
    if (!name) { title.focus(); return; }
    pack.setTitle(name);
    const button = document.getElementById("download");
    button.disabled = true;
    announce(t("building"));
    try {
      const body = { title: name, passages: items.map((i) => i.passage_id), lang: uiLang, format: format.value };
      const response = await KB.api("/briefs", { method: "POST", body });
      const file = KB.fileName(response) || `pack.${format.value}`;
      KB.save(await response.blob(), file);
      announce(t("downloaded", { file }));
    } catch (err) {
      announce(err.message, true);
    } finally {
      button.disabled = false;
    }
  }

  KB.startPage();
  title.value = pack.title() || t("pack_title");
  title.addEventListener("change", () => pack.setTitle(title.value.trim()));
  document.getElementById("pack-form").addEventListener("submit", download);
  clear.addEventListener("click", () => { pack.clear(); render(); title.focus(); announce(t("pack_count", { n: 0 })); });
  window.addEventListener("storage", () => render());
  render();
})();
