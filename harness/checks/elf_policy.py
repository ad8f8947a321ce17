"""The elf_policy check: every ELF file of the archive asks of the system only what the stack's
policy allows (stack.toml [policy], harness/stacks.py ElfPolicy): the shared libraries outside the
archive it needs, by soname, and the glibc symbol versions it references, none newer than the
stack's own glibc. python-build-standalone's validator holds its binaries to the same kind of
allow-list (src/validation.rs). It catches a library a build-image change pulled in (a different
readline, a new -dev package found by configure) before anyone decided to depend on it, and a
binary linked against a newer glibc than the stack runs (a wrong image, or a wrong sysroot when
cross-compiling), which would fail to load on the users' machines with "version `GLIBC_2.38' not
found". It only parses READELF_SCAN's output, so tests feed it real readelf output."""

from .check import Check
from .elf_checks import _by_file, _capped
from .elf_symbols import Imports


def _version(parts: tuple) -> str:
    return ".".join(str(part) for part in parts)


def elf_policy_problems(name: str, imports: Imports, policy, own_sonames: set) -> list[str]:
    """What one file asks of the system outside the policy: each library it needs that is neither
    the archive's own (own_sonames: libpython3.13.so.1.0) nor allowed, and a glibc symbol version
    newer than the stack's (the newest, naming a symbol that needs it)."""
    problems = [f"{name} needs {soname}, which the stack's policy does not allow"
                for soname in imports.needed if soname not in own_sonames and soname not in policy.libraries]
    too_new = max(((version, symbol) for symbol, version in imports.glibc_versions().items()
                   if version > policy.glibc_version), default=None)
    if too_new:
        problems.append(f"{name} references {too_new[1]}@GLIBC_{_version(too_new[0])}, newer than "
                        f"the stack's glibc {policy.glibc}")
    return problems


def elf_policy_check(readelf_out: str, policy) -> Check:
    """Every ELF file within the stack's policy; each one outside it named with what it asks."""
    files = _by_file(readelf_out)
    if not files:
        return Check("elf_policy", False, "no ELF file found in the tree")
    if policy is None:
        return Check("elf_policy", False, "the stack states no [policy] (stack.toml): nothing says what the runtime "
                                          "may need")
    own = {name.rsplit("/", 1)[-1] for name in files}
    imports = {name: Imports.of(text) for name, text in files.items()}  # each file's, read once
    problems = [problem for name, found in imports.items() for problem in elf_policy_problems(name, found, policy, own)]
    if problems:
        return Check("elf_policy", False, f"{len(problems)} outside the stack's policy: {_capped(problems)}")
    needed = sorted({soname for found in imports.values() for soname in found.needed} - own)
    newest = max((version for found in imports.values() for version in found.glibc_versions().values()), default=None)
    return Check("elf_policy", True,
                 f"{len(files)} ELF files need {len(needed)} system libraries, all allowed ({', '.join(needed)}); "
                 f"newest glibc symbol version {_version(newest) if newest else 'none'} <= the stack's {policy.glibc}")
