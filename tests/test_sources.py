"""Sources: only bytes with the pinned sha256 are used or cached, whatever the candidate serves."""

import dataclasses
import functools
import hashlib
import http.server
import socket
import threading

import pytest

from harness import layout, sources
from harness.hashing import file_sha256
from harness.errors import PairError
from harness.formulas import load_formulas


@pytest.fixture
def mirror(tmp_path):
    """A python.org-shaped mirror over real HTTP on loopback; tests put files under its root."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def fake_formula(content: bytes):
    real = load_formulas(layout.RUNTIMES)["python-3.11.2"]
    return dataclasses.replace(real, version="3.99.1", name="python-3.99.1",
                               url="http://127.0.0.1:9/unreachable/Python-3.99.1.tgz",
                               sha256=hashlib.sha256(content).hexdigest())


def serve(root, version, content):
    (root / version).mkdir(exist_ok=True)
    (root / version / f"Python-{version}.tgz").write_bytes(content)


def test_mirror_with_right_bytes_is_used_and_cached(tmp_path, mirror):
    root, url = mirror
    content = b"pretend tarball " * 1000
    formula = fake_formula(content)
    serve(root, "3.99.1", content)
    path = sources.fetch_source(formula, tmp_path / "cache", mirrors=[url], log=lambda m: None)
    assert path.read_bytes() == content
    (root / "3.99.1" / "Python-3.99.1.tgz").unlink()  # the cache answers now
    assert sources.fetch_source(formula, tmp_path / "cache", mirrors=[url], log=lambda m: None) == path


def test_wrong_bytes_and_404_are_skipped_for_the_next_mirror(tmp_path, mirror):
    root, good = mirror
    content = b"the real thing"
    formula = fake_formula(content)
    serve(root, "3.99.1", content)
    (root / "wrong").mkdir()
    serve(root / "wrong", "3.99.1", b"tampered")
    messages = []
    path = sources.fetch_source(formula, tmp_path / "cache", mirrors=[good + "/nothing-here", good + "/wrong", good],
                                log=messages.append)
    assert path.read_bytes() == content
    assert any("HTTP 404" in m for m in messages), messages
    assert any("/wrong/" in m and "does not match" in m for m in messages), messages


def test_no_matching_source_fails_and_caches_nothing(tmp_path, mirror):
    root, url = mirror
    formula = fake_formula(b"what the formula pins")
    serve(root, "3.99.1", b"something else entirely")
    cache = tmp_path / "cache"
    with pytest.raises(PairError) as info:
        sources.fetch_source(formula, cache, mirrors=[url], log=lambda m: None)
    assert f"mirror {url}: sha256" in str(info.value) and "does not match" in str(info.value)
    assert not [p for p in (cache / "sources").rglob("*") if p.is_file() and not p.name.endswith(".lock")]


def test_corrupted_cache_file_is_replaced(tmp_path, mirror):
    root, url = mirror
    content = b"good bytes" * 100
    formula = fake_formula(content)
    serve(root, "3.99.1", content)
    path = sources.fetch_source(formula, tmp_path / "cache", mirrors=[url], log=lambda m: None)
    path.write_bytes(content[:50])  # truncated
    messages = []
    assert sources.fetch_source(formula, tmp_path / "cache", mirrors=[url], log=messages.append).read_bytes() == content
    assert any("does not match its sha256" in m for m in messages)


@pytest.mark.network
def test_debian_source_archive_supplies_the_upstream_tarball(tmp_path):
    """python.org is unreachable here: the host's Debian archive must supply the pinned bytes."""
    formula = load_formulas(layout.RUNTIMES)["python-3.11.2"]
    formula = dataclasses.replace(formula, url="http://127.0.0.1:9/Python-3.11.2.tgz")  # force the fallback
    messages = []
    path = sources.fetch_source(formula, tmp_path / "cache", log=messages.append)
    assert file_sha256(path) == formula.sha256
    assert any("/pool/main/p/python3.11/python3.11_3.11.2.orig.tar.gz" in m for m in messages), messages


def test_a_mirror_that_never_answers_is_given_up_for_the_next(tmp_path, mirror, monkeypatch):
    """A mirror that accepts the connection and then says nothing: after the timeout, the next
    candidate is tried and the source still arrives."""
    root, good = mirror
    content = b"worth the wait"
    formula = fake_formula(content)
    serve(root, "3.99.1", content)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepted by the kernel, never read or answered
    monkeypatch.setattr(sources, "TIMEOUT", 2)
    messages = []
    try:
        path = sources.fetch_source(formula, tmp_path / "cache",
                                    mirrors=[f"http://127.0.0.1:{silent.getsockname()[1]}", good], log=messages.append)
    finally:
        silent.close()
    assert path.read_bytes() == content
    assert any("timed out" in message for message in messages), messages
    assert not list((tmp_path / "cache").rglob(".partial-*"))
