// What every page shares: building elements (text only, never markup), calling the API with
// the key this tab was given, the briefing pack kept in the browser, and links to source files.
"use strict";

const KB = (() => {
  const { t } = KB_I18N;
  const KEY_SLOT = "kb.apiKey";      // sessionStorage: asked once per tab, forgotten when it closes
  const PACK_SLOT = "kb.pack.v1";    // localStorage: the pack survives a reload and is shared by tabs

  /** An element whose children are nodes or strings; strings become text, never HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Say something to screen readers and on screen, in the page's status line. */
  function announce(message, isError) {
    const status = document.getElementById("status");
    if (!status) return;
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  // -- the API, with the key when the server asks for one ------------------------------------
  class ApiError extends Error {}
  let pendingKey = null;

  function keyDialog(wasWrong) {
    let dialog = document.getElementById("key-dialog");
    if (!dialog) {
      dialog = el("dialog", { id: "key-dialog", "aria-labelledby": "key-title" },
        el("form", { id: "key-form" },
          el("h2", { id: "key-title", text: t("key_title") }),
          el("p", { text: t("key_text") }),
          el("p", { id: "key-error", class: "error", role: "alert" }),
          el("label", { for: "key-input", text: t("key_label") }),
          el("input", { id: "key-input", type: "password", autocomplete: "off", required: true }),
          el("button", { type: "submit", text: t("key_submit") })));
      document.body.append(dialog);
      dialog.addEventListener("cancel", (event) => event.preventDefault());  // nothing works without it
    }
    dialog.querySelector("#key-error").textContent = wasWrong ? t("key_wrong") : "";
    return dialog;
  }

  /** Ask for the key once, however many calls were refused at the same time. */
  function askKey(wasWrong) {
    if (pendingKey) return pendingKey;
    pendingKey = new Promise((resolve) => {
      const dialog = keyDialog(wasWrong);
      const form = dialog.querySelector("form");
      const input = dialog.querySelector("input");
      input.value = "";
      form.onsubmit = (event) => {
        event.preventDefault();
        sessionStorage.setItem(KEY_SLOT, input.value.trim());
        dialog.close();
        pendingKey = null;
        resolve();
      };
      dialog.showModal();
      input.focus();
    });
    return pendingKey;
  }

  function detailOf(body) {
    const detail = body && body.detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg).join("; ");
    return detail ? String(detail) : "";
  }

  /** fetch() with JSON in and the tab's key; a refused key is asked for again, then the call retried. */
  async function api(path, options) {
    const { method = "GET", body = null } = options || {};
    for (;;) {
      const headers = { Accept: "application/json" };
      if (body !== null) headers["Content-Type"] = "application/json";
      const key = sessionStorage.getItem(KEY_SLOT);
      if (key) headers["X-API-Key"] = key;
      let response;
      try {
        response = await fetch(path, { method, headers, body: body === null ? undefined : JSON.stringify(body) });
      } catch (err) {
        throw new ApiError(t("network_error"));
      }
      if (response.status === 401) { await askKey(Boolean(key)); continue; }
      if (!response.ok) {
        let detail = response.statusText;
        try { detail = detailOf(await response.json()) || detail; } catch (err) { /* not JSON */ }
        throw new ApiError(t("server_error", { detail }));
      }
      return response;
    }
  }

  async function json(path, options) { return (await api(path, options)).json(); }

  /** Every document, page by page (GET /documents is paginated). */
  async function allDocuments() {
    const items = [];
    for (let offset = 0; ; ) {
      const page = await json(`/documents?limit=500&offset=${offset}`);
      items.push(...page.items);
      offset += page.items.length;
      if (!page.items.length || offset >= page.total) return items;
    }
  }

  let vocabularyPromise = null;
  function vocabulary() {
    vocabularyPromise = vocabularyPromise || json("/web/vocabulary");
    return vocabularyPromise;
  }

  // -- source files --------------------------------------------------------------------------
  function fileHref(docId, page) {
    return `/documents/${encodeURIComponent(docId)}/file` + (page ? `#page=${page}` : "");
  }

  /** With a key, a link cannot carry it: fetch the file with the key and open it from memory.
   *  Anything but a PDF opens as plain text, so a source's own markup never runs here. */
  async function openWithKey(docId, page) {
    const tab = window.open("", "_blank");  // now, while the click counts: after the fetch it would be blocked
    try {
      const response = await api(fileHref(docId));
      const type = response.headers.get("Content-Type") || "";
      const data = await response.blob();
      if (type.startsWith("application/pdf")) {
        tab.location.href = URL.createObjectURL(new Blob([data], { type: "application/pdf" })) + (page ? `#page=${page}` : "");
      } else if (type.startsWith("text/")) {
        tab.location.href = URL.createObjectURL(new Blob([data], { type: "text/plain;charset=utf-8" }));
      } else {
        if (tab) tab.close();
        save(data, fileName(response) || "document");
      }
    } catch (err) {
      if (tab) tab.close();
      announce(err.message, true);
    }
  }

  function fileLink(docId, page, children, label) {
    const link = el("a", { href: fileHref(docId, page), target: "_blank", rel: "noopener", "aria-label": label }, children);
    link.addEventListener("click", (event) => {
      if (!sessionStorage.getItem(KEY_SLOT)) return;
      event.preventDefault();
      openWithKey(docId, page);
    });
    return link;
  }

  /** The file name a response's Content-Disposition gives (RFC 6266, UTF-8 form first). */
  function fileName(response) {
    const header = response.headers.get("Content-Disposition") || "";
    const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(header);
    if (utf8) { try { return decodeURIComponent(utf8[1]); } catch (err) { /* fall through */ } }
    const plain = /filename="([^"]+)"/i.exec(header);
    return plain ? plain[1] : "";
  }

  /** Save a blob under a name (a download, as the browser does for a link with `download`). */
  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  /** Copy text; navigator.clipboard needs https or localhost, an office server is often plain http. */
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (err) { /* try the old way */ }
    }
    const active = document.activeElement;
    const area = el("textarea", { readonly: true, class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let done = false;
    try { done = document.execCommand("copy"); } catch (err) { done = false; }
    area.remove();
    if (active && active.focus) active.focus();
    return done;
  }

  // -- the briefing pack, kept in this browser ------------------------------------------------
  function readPack() {
    try {
      const stored = JSON.parse(localStorage.getItem(PACK_SLOT) || "null");
      if (stored && Array.isArray(stored.items)) return { title: String(stored.title || ""), items: stored.items };
    } catch (err) { /* a damaged entry: start afresh */ }
    return { title: "", items: [] };
  }

  function writePack(pack) {
    localStorage.setItem(PACK_SLOT, JSON.stringify(pack));
    showPackCount();
  }

  const pack = {
    items: () => readPack().items,
    title: () => readPack().title,
    has: (id) => readPack().items.some((item) => item.passage_id === id),
    add(item) { const p = readPack(); if (!p.items.some((i) => i.passage_id === item.passage_id)) p.items.push(item); writePack(p); return p.items.length; },
    remove(id) { const p = readPack(); p.items = p.items.filter((i) => i.passage_id !== id); writePack(p); return p.items.length; },
    move(index, delta) {
      const p = readPack();
      const target = index + delta;
      if (target < 0 || target >= p.items.length) return index;
      const [item] = p.items.splice(index, 1);
      p.items.splice(target, 0, item);
      writePack(p);
      return target;
    },
    setTitle(title) { const p = readPack(); p.title = title; writePack(p); },
    clear() { writePack({ title: readPack().title, items: [] }); },
  };

  function showPackCount() {
    const link = document.getElementById("nav-pack");
    if (link) link.textContent = t("nav_pack", { n: readPack().items.length });
  }

  /** Labels, the pack count in the menu, and the current page marked in it. */
  function startPage() {
    KB_I18N.apply(document);
    showPackCount();
    window.addEventListener("storage", (event) => { if (event.key === PACK_SLOT) showPackCount(); });
    for (const link of document.querySelectorAll("nav a")) {
      if (link.getAttribute("href") === location.pathname) link.setAttribute("aria-current", "page");
    }
  }

  return { el, announce, api, json, allDocuments, vocabulary, fileHref, fileLink, fileName, save, copyText, pack, startPage, ApiError };
})();
