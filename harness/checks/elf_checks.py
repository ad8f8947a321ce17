"""The ELF scans of the tree under test, and the checks read from their output.

Each scan is one shell loop over every ELF file of the tree (found by its magic bytes), run in one
container by verify.runtime_checks:
- LDD_SCAN, in the run image: the libraries each file needs, as the run image resolves them
  (shared_libraries_resolve), then, in the same container, the installed package that owns each
  library resolved outside the tree and the image's distribution (library_packages, run_image_os:
  what the SBOM lists the system libraries as);
- READELF_SCAN, in the build image, which has binutils (run images have none): each file's search
  paths (elf_runpaths_relative), what the interpreter needs and exports (interpreter_static), its
  segments, binding, imports and compilation records (elf_hardening.py), the libraries and glibc
  versions it needs (elf_policy.py), and its compilation records (flags_check.build_flags_check,
  which runs its sysconfig line, SYSCONFIG_SCAN, in the same container).
The functions here only parse; they need no container, so they are tested on real readelf output
(tests/test_hardening.py, tests/test_compiler_hardening.py).
"""

import re

from .check import VERIFY_PREFIX, Check


def _for_each_elf(command: str) -> str:
    """A shell loop running `command` on every ELF file of the tree (by its magic bytes), each
    file's output preceded by "== PATH"; _by_file() splits it up again."""
    return f"""
find {VERIFY_PREFIX} -type f | while read -r f; do
  if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    echo "== $f"; {command}
  fi
done
"""


def _by_file(scan_out: str) -> dict[str, str]:
    """A _for_each_elf scan's output as each file's own text, keyed by the file's path in the tree
    (lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so), in path order."""
    files, current = {}, None
    for line in scan_out.splitlines():
        if line.startswith("== "):
            current = line[3:].removeprefix(VERIFY_PREFIX + "/")
            files[current] = []
        elif line.startswith("::"):  # what a scan prints after its loop (LDD_SCAN's package lines)
            current = None
        elif current is not None:
            files[current].append(line)
    return {name: "\n".join(files[name]) for name in sorted(files)}


def _capped(items: list[str], limit=10) -> str:
    """A list short enough to read in a check's detail, saying how many it leaves out."""
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


OWNER_LINE = "::owner::"  # "::owner:: PATH [PACKAGE VERSION ARCH]"
OS_RELEASE_LINE = "::os-release::"  # "::os-release:: ID [VERSION_ID]" of the run image
# After the ldd loop, in the same shell: the distribution, and for each library resolved outside
# the tree, the installed package that owns it, from the run image's own dpkg database. dpkg knows
# a file by the path its package ships it at, while ldd may name it through merged /usr's
# /lib -> usr/lib link, or through the soname's link to the real file: so the path is looked up as
# ldd gives it, under /usr, and resolved (with and without /usr). The NAMES are filled in below
# (the shell's own ${...} rule out str.format).
_LIBRARY_OWNERS = """
printf '%s\\n' "$scan"
echo "OS_RELEASE_LINE $( [ -r /etc/os-release ] && . /etc/os-release; echo "$ID $VERSION_ID")"
printf '%s\\n' "$scan" | awk '$2 == "=>" && $3 ~ /^\\// {print $3}' | grep -v '^VERIFY_PREFIX/' | sort -u |
while read -r lib; do
  real=$(readlink -f "$lib")
  owner=""
  for path in "$lib" "/usr$lib" "$real" "${real#/usr}"; do
    owner=$(dpkg-query -S "$path" 2>/dev/null | grep -v '^diversion' | head -n 1)
    [ -n "$owner" ] && break
  done
  package=${owner%%: *}; package=${package%%,*}
  echo "OWNER_LINE $lib ${package:+$package $(dpkg-query -W -f '${Version} ${Architecture}' "$package")}"
done
""".replace("OS_RELEASE_LINE", OS_RELEASE_LINE).replace("OWNER_LINE", OWNER_LINE).replace("VERIFY_PREFIX", VERIFY_PREFIX)
# The libraries each ELF file needs, as the run image resolves them ("=> not found" is a failure),
# then the packages they come from (library_packages, run_image_os).
LDD_SCAN = "scan=$(" + _for_each_elf('ldd "$f" 2>&1 || true') + ")" + _LIBRARY_OWNERS
# Each ELF file's header (-h: its machine, for elf_architecture), program headers (-l; one line
# each with -W) and dynamic section (-d): its search paths for elf_runpaths_relative, its segments
# and binding for elf_hardening, the libraries it needs for elf_policy; its notes (-n: BOLT leaves
# a .note.bolt_info with its command line, for build_flags_check; the x86 feature note of
# control-flow protection); its dynamic symbols (--dyn-syms: what the interpreter exports for
# interpreter_static; what each file imports, with glibc versions, for elf_policy, and fortified
# calls for elf_hardening); and last its .GCC.command.line section (the options that made its
# code) for build_flags_check and elf_hardening. One walk of the tree, one container.
READELF_COMMAND = 'readelf -hlW -d -n --dyn-syms "$f" 2>&1 || true; readelf -p .GCC.command.line "$f" 2>/dev/null || true'
READELF_SCAN = _for_each_elf(READELF_COMMAND)


def shared_library_check(ldd_out: str, libraries: dict) -> Check:
    """Every library each ELF file needs resolves in the run image; those from outside the tree
    (the system libraries the runtime depends on) are added to `libraries`, name -> path."""
    files, missing = _by_file(ldd_out), []
    for path, text in files.items():
        for match in re.finditer(r"^[ \t]*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$", text, re.MULTILINE):
            name, resolved = match.groups()
            if resolved == "not found":
                missing.append(f"{name} (needed by {path})")
            elif not resolved.startswith(VERIFY_PREFIX):
                libraries[name] = resolved
    if not files:
        return Check("shared_libraries_resolve", False, "no ELF file found in the tree")
    if missing:
        return Check("shared_libraries_resolve", False, "not found in the run image: " + ", ".join(sorted(set(missing))))
    return Check("shared_libraries_resolve", True, f"{len(files)} ELF files; {len(libraries)} system libraries resolve")


def library_packages(scan_out: str, libraries: dict) -> dict:
    """Each system library of `libraries` (name -> path, as shared_library_check found them) with
    the run image's package that owns it, from LDD_SCAN's owner lines: name -> {"path", "package",
    "version", "arch"}; package, version and arch are None for a file no package owns."""
    owners = {}
    for line in scan_out.splitlines():
        if line.startswith(OWNER_LINE + " "):
            path, *owner = line[len(OWNER_LINE):].split()
            if len(owner) == 3:  # dpkg names a Multi-Arch: same package "libssl3:amd64"
                owners[path] = {"package": owner[0].split(":")[0], "version": owner[1], "arch": owner[2]}
    unowned = {"package": None, "version": None, "arch": None}
    return {name: {"path": path, **owners.get(path, unowned)} for name, path in sorted(libraries.items())}


def run_image_os(scan_out: str) -> dict:
    """The run image's distribution, from LDD_SCAN's /etc/os-release line: {"id": "debian",
    "version_id": "12"} (version_id is None where the release has none, as Debian testing)."""
    for line in scan_out.splitlines():
        if line.startswith(OS_RELEASE_LINE + " "):
            fields = line[len(OS_RELEASE_LINE):].split()
            return {"id": fields[0] if fields else None, "version_id": fields[1] if len(fields) > 1 else None}
    return {"id": None, "version_id": None}


def runpath_check(readelf_out: str) -> Check:
    """Every RUNPATH/RPATH entry must be $ORIGIN-relative: an absolute one points into the build
    machine (or a path an app's image may fill), a relative one is resolved against the current
    directory at run time. And lib/libpython3.so, the stable-ABI shim that needs libpython3.X.so,
    must carry one, or an embedder that loads it finds no libpython."""
    bad, with_paths = [], {}
    files = _by_file(readelf_out)
    for name, text in files.items():
        for match in re.finditer(r"\((?:RUNPATH|RPATH)\).*\[(.*)\]", text):
            entries = match.group(1).split(":")
            with_paths[name] = entries
            bad += [f"{name}: {entry!r}" for entry in entries if not entry.startswith(("$ORIGIN", "${ORIGIN}"))]
    if bad:
        return Check("elf_runpaths_relative", False, "search paths not relative to $ORIGIN: " + _capped(bad))
    if "lib/libpython3.so" in files and "lib/libpython3.so" not in with_paths:
        return Check("elf_runpaths_relative", False, "lib/libpython3.so carries no $ORIGIN RUNPATH to find libpython3.X.so")
    return Check("elf_runpaths_relative", True,
                 f"{len(with_paths)} ELF file(s) with a search path, all $ORIGIN-relative: {', '.join(sorted(with_paths))}")


# A symbol a file defines and exports, in `readelf --dyn-syms -W`: "12: 00000000001a2b30 245 FUNC
# GLOBAL DEFAULT 14 PyList_Append" (an undefined one has UND where the section index is).
EXPORTED_SYMBOL = re.compile(r"^\s*\d+:\s+[0-9a-f]+\s+\d+\s+(?:FUNC|OBJECT)\s+(?:GLOBAL|WEAK)\s+DEFAULT\s+\d+\s+(\S+?)(?:@\S*)?$",
                             re.MULTILINE)


def interpreter_static_check(readelf_out: str) -> Check:
    """bin/python3.X has the core linked in and needs no libpython (builds/build-python.sh: faster
    calls and globals, and a `venv --copies` interpreter that runs anywhere), while
    lib/libpython3.X.so is still shipped for embedders. From readelf -d's NEEDED entries; and the
    interpreter exports every C-API symbol (Py*, _Py*) libpython exports: extension modules find
    the API in the interpreter, and a core linked in part (without --whole-archive) lacks some."""
    files = _by_file(readelf_out)
    interpreters = [name for name in files if re.fullmatch(r"bin/python3\.\d+t?", name)]
    if not interpreters:
        return Check("interpreter_static", False, "no bin/python3.X ELF file in the tree")
    needs = {name: re.findall(r"\(NEEDED\).*\[(libpython[^]]*)\]", files[name]) for name in interpreters}
    linked = [f"{name} needs {', '.join(libs)}" for name, libs in needs.items() if libs]
    shared = [name for name in files if re.fullmatch(r"lib/libpython3\.\d+t?\.so(\.1\.0)?", name)]
    if linked:
        return Check("interpreter_static", False, "; ".join(linked))
    if not shared:
        return Check("interpreter_static", False, "lib/libpython3.X.so is missing (embedders need it)")
    api = {name for name in EXPORTED_SYMBOL.findall(files[shared[0]]) if name.startswith(("Py", "_Py"))}
    lacking = [f"{name} lacks {len(api - exported)} of the {len(api)} C-API symbols {shared[0]} exports: "
               + _capped(sorted(api - exported), 5)
               for name in interpreters if (api - (exported := set(EXPORTED_SYMBOL.findall(files[name]))))]
    if lacking or not api:
        return Check("interpreter_static", False, "; ".join(lacking) or f"{shared[0]} exports no C-API symbol")
    return Check("interpreter_static", True,
                 f"{', '.join(interpreters)} needs no libpython and exports all {len(api)} C-API symbols of "
                 f"{', '.join(shared)}, which is shipped for embedders")


# The ELF header's machine, as readelf names it, of each architecture a stack may declare.
MACHINES = {"amd64": "Advanced Micro Devices X86-64", "arm64": "AArch64"}
MACHINE_LINE = re.compile(r"^\s*Machine:\s*(.+?)\s*$", re.MULTILINE)


def elf_architecture_check(readelf_out: str, arch: str) -> Check:
    """Every ELF file of the archive is for the pair's architecture (readelf -h: Machine), read
    from the binaries themselves: an arm64 pair built on the wrong image, or a stray host binary,
    would otherwise publish under the arm64 key and fail only on the users' machines."""
    files = _by_file(readelf_out)
    if not files:
        return Check("elf_architecture", False, "no ELF file found in the tree")
    want = MACHINES[arch]
    wrong = [f"{name}: {(MACHINE_LINE.search(text) or [None, 'no ELF header'])[1]}" for name, text in files.items()
             if (MACHINE_LINE.search(text) or [None, None])[1] != want]
    if wrong:
        return Check("elf_architecture", False, f"{len(wrong)} of {len(files)} ELF files are not {arch} ({want}): "
                                                f"{_capped(wrong)}")
    return Check("elf_architecture", True, f"{len(files)} ELF files, all {arch} ({want})")
