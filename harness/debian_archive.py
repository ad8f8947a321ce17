"""Finding an upstream CPython tarball in the host's Debian source archive.

Debian ships each upstream release unchanged as pythonX.Y_X.Y.Z.orig.tar.*; its Sources index
lists the file's sha256, so we look for the file whose sha256 is the formula's pin.

The host's apt settings are never changed: a private apt configuration (its own sources file,
lists and cache under our cache folder) is derived from the host's own `deb` entries, with the
type changed to `deb-src` and the suites that carry the Python versions we build.
"""

import re
import shutil
import subprocess
import time
from pathlib import Path

from filelock import FileLock

SUITES = ("bullseye", "bookworm", "trixie", "sid")  # bullseye: python3.9 3.9.2
LISTS_MAX_AGE = 24 * 3600
HOST_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


class Unavailable(Exception):
    pass


def find_tarball(formula, apt_dir: Path, log=print) -> str:
    if not shutil.which("apt-get"):
        raise Unavailable("this host has no apt")
    options = _private_apt(apt_dir, log)
    package = f"python{formula.minor}"
    result = subprocess.run(["apt-cache", *options, "showsrc", package], capture_output=True, text=True)
    if result.returncode != 0:
        raise Unavailable(f"apt-cache showsrc {package} failed: {result.stderr.strip()[-200:]}")
    for record in result.stdout.split("\n\n"):
        directory = re.search(r"^Directory: (\S+)$", record, re.M)
        match = re.search(rf"^ {formula.sha256} \d+ (\S+)$", record, re.M)
        if directory and match:
            base = _uris(apt_dir)[0]
            return f"{base.rstrip('/')}/{directory.group(1)}/{match.group(1)}"
    raise Unavailable(f"no {package} source in suites {', '.join(SUITES)} has sha256 {formula.sha256}")


def _private_apt(apt_dir: Path, log):
    apt_dir.mkdir(parents=True, exist_ok=True)
    sources = apt_dir / "sources.list.d"
    lists = apt_dir / "lists"
    options = [
        "-o=Dir::Etc::SourceList=/dev/null",
        f"-o=Dir::Etc::SourceParts={sources}",
        f"-o=Dir::State::Lists={lists}",
        f"-o=Dir::Cache={apt_dir / 'cache'}",
        "-o=Dir::Etc::Preferences=/dev/null",
        f"-o=Dir::Etc::PreferencesParts={apt_dir / 'preferences.d'}",
    ]
    with FileLock(str(apt_dir / "update.lock")):
        stamp = apt_dir / "updated"
        # The stamp names the suites it indexed: a changed SUITES refreshes the index at once.
        if (stamp.exists() and time.time() - stamp.stat().st_mtime < LISTS_MAX_AGE
                and stamp.read_text() == " ".join(SUITES)):
            return options
        entries = host_deb_src_entries()
        if not entries:
            raise Unavailable("the host has no Debian 'deb' entries to derive source entries from")
        for folder in (sources, lists / "partial", apt_dir / "cache" / "archives" / "partial", apt_dir / "preferences.d"):
            folder.mkdir(parents=True, exist_ok=True)
        (sources / "pyruntimes-src.sources").write_text("\n\n".join(entries) + "\n")
        log("updating the private Debian source index")
        result = subprocess.run(["apt-get", *options, "-q", "update"], capture_output=True, text=True)
        if result.returncode != 0:
            raise Unavailable(f"apt-get update failed: {result.stderr.strip()[-300:]}")
        stamp.write_text(" ".join(SUITES))
    return options


def _uris(apt_dir: Path):
    text = (apt_dir / "sources.list.d" / "pyruntimes-src.sources").read_text()
    return re.findall(r"^URIs: (\S+)", text, re.M)


def host_deb_src_entries():
    """deb822 deb-src entries for our suites, one per Debian archive URI the host uses.

    Security archives are skipped: upstream tarballs live in the main archive.
    """
    uris, signed_by = [], {}
    for path in _host_source_files():
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for paragraph in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([\w-]+):\s*(.*)$", paragraph, re.M))
                if "deb" not in fields.get("Types", "").split():
                    continue
                suites = fields.get("Suites", "").split()
                if not suites or all(suite.endswith("-security") for suite in suites):
                    continue
                for uri in fields.get("URIs", "").split():
                    uris.append(uri)
                    signed_by[uri] = fields.get("Signed-By", "")
        else:
            for line in text.splitlines():
                match = re.match(r"^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)", line)
                if match and not match.group(3).endswith("-security"):
                    uris.append(match.group(2))
                    signed = re.search(r"signed-by=(\S+)", match.group(1) or "")
                    signed_by[match.group(2)] = signed.group(1) if signed else ""
    entries = []
    for uri in dict.fromkeys(uris):
        entry = f"Types: deb-src\nURIs: {uri}\nSuites: {' '.join(SUITES)}\nComponents: main"
        if signed_by.get(uri):
            entry += f"\nSigned-By: {signed_by[uri]}"
        entries.append(entry)
    return entries


def _host_source_files():
    listing, parts = HOST_SOURCES
    files = [listing] if listing.is_file() else []
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources") and p.is_file())
    return files


def host_mirror() -> str:
    """The host's first Debian archive URI: where debootstrap fetches a stack's base system."""
    for entry in host_deb_src_entries():
        return re.search(r"^URIs: (\S+)", entry, re.M).group(1)
    raise Unavailable("the host has no Debian 'deb' entries to bootstrap from")
