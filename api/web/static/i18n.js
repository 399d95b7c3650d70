// The page's own words in English, French and Spanish, chosen from the browser's languages.
// kb's vocabulary (lesson types) comes from the server (/web/vocabulary), not from here.
"use strict";

const KB_STRINGS = {
  en: {
    app: "Knowledge base", skip: "Skip to main content",
    nav_label: "Main", nav_search: "Search", nav_documents: "Documents", nav_pack: "Briefing pack ({n})",
    search_title: "Search the library", question: "Your question, in any language", search: "Search",
    filters: "Filters", lang: "Language", type: "Lesson type", doc: "Document", org: "Organisation", year: "Year",
    any: "Any", clear_filters: "Clear filters",
    searching: "Searching…", results: "{n} results", result_one: "1 result", results_heading: "Results",
    no_results: "No passage found. Try other words or fewer filters.",
    no_docs_match: "No document matches these filters.",
    result_n: "Result {n}", also_in: "Also in", copy: "Copy citation", copied: "Citation copied: {cite}",
    add: "Add to pack", in_pack: "Remove from pack", added: "Added to the pack ({n} passages)",
    removed: "Removed from the pack ({n} passages)", opens_source: "(opens the source)",
    version_of: "{lang} version: {cite}",
    pack_title: "Briefing pack", pack_heading: "Your briefing pack", title_label: "Title of the pack",
    format: "Format", fmt_html: "Web page (HTML)", fmt_docx: "Word document (DOCX)", fmt_md: "Markdown",
    download: "Download", move_up: "Move up", move_down: "Move down", remove: "Remove",
    item_label: "Passage {n} of {total}", empty_pack: "The pack is empty. Add passages from the search results.",
    clear_pack: "Empty the pack", building: "Building the pack…", downloaded: "Downloaded {file}",
    moved: "Moved to position {n}", pack_count: "{n} passages",
    docs_title: "Documents in the library", docs_count: "{n} documents", col_title: "Title",
    col_org: "Organisation", col_year: "Year", col_langs: "Languages", col_passages: "Passages",
    col_pages: "Pages", col_format: "Format", sort_by: "Sort by {col}", search_in: "Search in this document",
    key_title: "API key needed", key_text: "This server asks for a key. Ask the person who runs it; the page keeps it for this tab only.",
    key_label: "API key", key_submit: "Continue", key_wrong: "That key was refused. Check it and try again.",
    server_error: "The server answered: {detail}", network_error: "The server could not be reached.",
    loading: "Loading…",
  },
  fr: {
    app: "Base de connaissances", skip: "Aller au contenu principal",
    nav_label: "Principal", nav_search: "Recherche", nav_documents: "Documents", nav_pack: "Dossier ({n})",
    search_title: "Chercher dans la bibliothèque", question: "Votre question, dans n’importe quelle langue",
    search: "Rechercher", filters: "Filtres", lang: "Langue", type: "Type d’enseignement", doc: "Document",
    org: "Organisation", year: "Année", any: "Tous", clear_filters: "Effacer les filtres",
    searching: "Recherche…", results: "{n} résultats", result_one: "1 résultat", results_heading: "Résultats",
    no_results: "Aucun passage trouvé. Essayez d’autres mots ou moins de filtres.",
    no_docs_match: "Aucun document ne correspond à ces filtres.",
    result_n: "Résultat {n}", also_in: "Existe aussi en", copy: "Copier la citation", copied: "Citation copiée : {cite}",
    add: "Ajouter au dossier", in_pack: "Retirer du dossier", added: "Ajouté au dossier ({n} passages)",
    removed: "Retiré du dossier ({n} passages)", opens_source: "(ouvre la source)",
    version_of: "Version {lang} : {cite}",
    pack_title: "Dossier", pack_heading: "Votre dossier", title_label: "Titre du dossier",
    format: "Format", fmt_html: "Page web (HTML)", fmt_docx: "Document Word (DOCX)", fmt_md: "Markdown",
    download: "Télécharger", move_up: "Monter", move_down: "Descendre", remove: "Retirer",
    item_label: "Passage {n} sur {total}", empty_pack: "Le dossier est vide. Ajoutez des passages depuis les résultats.",
    clear_pack: "Vider le dossier", building: "Préparation du dossier…", downloaded: "Téléchargé : {file}",
    moved: "Déplacé en position {n}", pack_count: "{n} passages",
    docs_title: "Documents de la bibliothèque", docs_count: "{n} documents", col_title: "Titre",
    col_org: "Organisation", col_year: "Année", col_langs: "Langues", col_passages: "Passages",
    col_pages: "Pages", col_format: "Format", sort_by: "Trier par {col}", search_in: "Chercher dans ce document",
    key_title: "Clé d’accès requise", key_text: "Ce serveur demande une clé. Demandez-la à la personne qui le gère ; la page la garde pour cet onglet seulement.",
    key_label: "Clé d’accès", key_submit: "Continuer", key_wrong: "Cette clé a été refusée. Vérifiez-la et réessayez.",
    server_error: "Le serveur a répondu : {detail}", network_error: "Le serveur est injoignable.",
    loading: "Chargement…",
  },
  es: {
    app: "Base de conocimientos", skip: "Ir al contenido principal",
    nav_label: "Principal", nav_search: "Búsqueda", nav_documents: "Documentos", nav_pack: "Dosier ({n})",
    search_title: "Buscar en la biblioteca", question: "Su pregunta, en cualquier idioma", search: "Buscar",
    filters: "Filtros", lang: "Idioma", type: "Tipo de lección", doc: "Documento", org: "Organización", year: "Año",
    any: "Todos", clear_filters: "Borrar filtros",
    searching: "Buscando…", results: "{n} resultados", result_one: "1 resultado", results_heading: "Resultados",
    no_results: "No se encontró ningún pasaje. Pruebe con otras palabras o menos filtros.",
    no_docs_match: "Ningún documento corresponde a estos filtros.",
    result_n: "Resultado {n}", also_in: "También en", copy: "Copiar la cita", copied: "Cita copiada: {cite}",
    add: "Añadir al dosier", in_pack: "Quitar del dosier", added: "Añadido al dosier ({n} pasajes)",
    removed: "Quitado del dosier ({n} pasajes)", opens_source: "(abre la fuente)",
    version_of: "Versión en {lang}: {cite}",
    pack_title: "Dosier", pack_heading: "Su dosier", title_label: "Título del dosier",
    format: "Formato", fmt_html: "Página web (HTML)", fmt_docx: "Documento Word (DOCX)", fmt_md: "Markdown",
    download: "Descargar", move_up: "Subir", move_down: "Bajar", remove: "Quitar",
    item_label: "Pasaje {n} de {total}", empty_pack: "El dosier está vacío. Añada pasajes desde los resultados.",
    clear_pack: "Vaciar el dosier", building: "Preparando el dosier…", downloaded: "Descargado: {file}",
    moved: "Movido a la posición {n}", pack_count: "{n} pasajes",
    docs_title: "Documentos de la biblioteca", docs_count: "{n} documentos", col_title: "Título",
    col_org: "Organización", col_year: "Año", col_langs: "Idiomas", col_passages: "Pasajes",
    col_pages: "Páginas", col_format: "Formato", sort_by: "Ordenar por {col}", search_in: "Buscar en este documento",
    key_title: "Se necesita una clave", key_text: "Este servidor pide una clave. Pídala a quien lo administra; la página la guarda solo para esta pestaña.",
    key_label: "Clave de acceso", key_submit: "Continuar", key_wrong: "La clave fue rechazada. Revísela e inténtelo de nuevo.",
    server_error: "El servidor respondió: {detail}", network_error: "No se pudo contactar con el servidor.",
    loading: "Cargando…",
  },
};

const KB_I18N = (() => {
  const wanted = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"]);
  const lang = wanted.map((l) => String(l).toLowerCase().split("-")[0]).find((l) => l in KB_STRINGS) || "en";
  const words = KB_STRINGS[lang];
  const names = (typeof Intl !== "undefined" && Intl.DisplayNames) ? new Intl.DisplayNames([lang], { type: "language" }) : null;

  /** The label for `key`, with {name} placeholders filled from `vars`. */
  function t(key, vars) {
    const text = words[key] || KB_STRINGS.en[key] || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => (vars && name in vars ? String(vars[name]) : ""));
  }

  /** A language's name in the page's language ("fr" -> "French"), the code when unknown. */
  function languageName(code) {
    if (!code || code === "?") return "?";
    try { return (names && names.of(code)) || code; } catch (err) { return code; }
  }

  /** Fill the static labels of a page: data-i18n (text), data-i18n-aria (aria-label), data-i18n-placeholder. */
  function apply(root) {
    document.documentElement.lang = lang;
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of root.querySelectorAll("[data-i18n-aria]")) node.setAttribute("aria-label", t(node.dataset.i18nAria));
    for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  }

  return { lang, t, languageName, apply };
})();
