"""The index page, PREFIX/index.html: every runtime the manifest lists, by stack and architecture,
for a person deciding what to deploy. Static HTML with its style inline: no JavaScript, no request
beyond the page itself; a table on a wide screen, one card per runtime on a phone (CSS only).

Each row: version, architecture, size, build date, checks passed, end of life, sha256, and links to
the archive, its checksum file, SBOM, provenance statement and record. Links are relative to the
page (it lies at the prefix, the archives below it), so the page works whatever host serves it;
each stack's uv catalog is shown with the command that uses it, by its absolute URL.

Made from the manifest alone (harness/bucket/listings.py writes it): no clock, no other input, so
the same manifest gives the same bytes, and a rerun or check-published can tell a stale page.
"""

import html
import urllib.parse

from . import catalog, manifest, s3

NAME = "index.html"
CONTENT_TYPE = "text/html; charset=utf-8"

STYLE = """
:root { color-scheme: light dark; --line: #8884; --muted: #777; --good: #1a7f37; --bad: #c62828; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 88rem; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; }
h2 { font-size: 1.2rem; margin: 2rem 0 .25rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; color: var(--muted); }
p { margin: .25rem 0 .75rem; }
code { font: .85rem/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { overflow-x: auto; padding: .5rem .75rem; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .6rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; white-space: nowrap; }
td.sha256 code { word-break: break-all; }
td.version, td.size, td.built, td.eol { white-space: nowrap; }
td.links a { margin-right: .6rem; white-space: nowrap; }
.good { color: var(--good); }
.bad { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); }
@media (max-width: 44rem) {
  thead { display: none; }
  table, tbody, tr, td { display: block; width: 100%; }
  tr { border: 1px solid var(--line); border-radius: 8px; margin: 0 0 .75rem; padding: .25rem 0; }
  td { border: 0; padding: .2rem .75rem; }
  td::before { content: attr(data-label) ": "; font-weight: 600; }
  td.version { font-size: 1.1rem; font-weight: 600; }
  td.version::before { content: none; }
}
"""

COLUMNS = ("Version", "Size", "Built", "Checks", "End of life", "sha256", "Files")


def render(listing: manifest.Manifest, target: s3.Target, base_url: str) -> bytes:
    stacks = catalog.stacks(listing)
    count = len(listing.entries)
    parts = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
             '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
             '<title>Python runtimes</title>\n'
             f'<style>{STYLE}</style>\n</head>\n<body>\n<h1>Python runtimes</h1>\n'
             f'<p>{count} runtime{"s" if count != 1 else ""} on {len(stacks)} stack{"s" if len(stacks) != 1 else ""}, '
             'each built from a pinned CPython source in its stack\'s build image and verified in its run image. '
             f'Machine-readable: <a href="{_href(manifest.NAME)}">{manifest.NAME}</a>, and a uv catalog per stack.</p>\n']
    if stacks:
        parts.append('<p>Stacks: ' + ", ".join(f'<a href="#{_e(stack)}">{_e(stack)}</a>' for stack in stacks) + "</p>\n")
    else:
        parts.append("<p>Nothing is published here yet.</p>\n")
    for stack in stacks:
        parts.append(_stack_section(listing, target, base_url, stack))
    parts.append('<p class="muted">Made from manifest.json at each publish. Check an archive with '
                 '<code>sha256sum -c</code> against its .sha256 file.</p>\n</body>\n</html>\n')
    return "".join(parts).encode()


def _stack_section(listing, target, base_url, stack) -> str:
    entries = [entry for entry in listing.entries if entry.stack == stack]
    catalog_key = catalog.key_for(target, stack)
    catalog_url = catalog.url_of(base_url, catalog_key)
    parts = [f'<section id="{_e(stack)}">\n<h2>{_e(stack)}</h2>\n'
             f'<p>With uv, on a {_e(stack)} machine: '
             f'<a href="{_href(_relative(target, catalog_key))}">{catalog.NAME}</a></p>\n'
             f'<pre><code>uv python install {_e(_newest_minor(listing, entries))} '
             f'--python-downloads-json-url {_e(catalog_url)}</code></pre>\n']
    for arch in sorted({entry.arch for entry in entries}):
        parts.append(f'<h3>{_e(arch)}</h3>\n<table>\n<thead><tr>'
                     + "".join(f"<th>{column}</th>" for column in COLUMNS) + "</tr></thead>\n<tbody>\n")
        for entry in sorted((e for e in entries if e.arch == arch), key=lambda e: _version_key(listing, e),
                            reverse=True):
            parts.append(_row(listing, target, entry))
        parts.append("</tbody>\n</table>\n")
    parts.append("</section>\n")
    return "".join(parts)


def _row(listing, target, entry: manifest.Entry) -> str:
    fields = listing.fields(entry)
    keys = s3.Keys(entry.key)
    version = catalog.version_of(listing, entry)
    passed, total = fields.get("checks_passed"), fields.get("checks_total")
    checks = ('<span class="muted">unknown</span>' if passed is None or total is None else
              f'<span class="{"good" if passed == total else "bad"}">{passed}/{total}</span>')
    links = (("archive", keys.archive), ("sha256", keys.sha256), ("SBOM", keys.sbom),
             ("provenance", keys.provenance), ("record", keys.record))
    cells = (
        ("version", "Version", f"Python {_e(version)}"),
        ("size", "Size", f'<span title="{entry.size} bytes">{_size(entry.size)}</span>'),
        ("built", "Built", _e(fields.get("build_date") or "unknown")),
        ("checks", "Checks", checks),
        ("eol", "End of life", _e(fields.get("end_of_life") or "not set")),
        ("sha256", "sha256", f"<code>{_e(entry.sha256)}</code>"),
        ("links", "Files", " ".join(f'<a href="{_href(_relative(target, key))}">{name}</a>' for name, key in links)),
    )
    return ("<tr>" + "".join(f'<td class="{css}" data-label="{label}">{value}</td>' for css, label, value in cells)
            + "</tr>\n")


def _relative(target: s3.Target, key: str) -> str:
    """A key as a link from the page, which lies at the prefix."""
    return key.removeprefix(target.prefix)


def _href(path: str) -> str:
    return html.escape(urllib.parse.quote(path, safe="/"), quote=True)


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _newest_minor(listing, entries) -> str:
    """The command's example: the newest X.Y the stack has."""
    major, minor, _ = max(_version_key(listing, entry) for entry in entries)
    return f"{major}.{minor}"


def _version_key(listing, entry) -> tuple:
    parts = catalog.VERSION.fullmatch(catalog.version_of(listing, entry))
    return (int(parts["major"]), int(parts["minor"]), int(parts["patch"])) if parts else (0, 0, 0)

