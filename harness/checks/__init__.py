"""Everything a verification runs: a change to any file of this folder makes earlier verification
results stale (verify.checks_sha256 hashes the folder whole, so a new module needs no list).

- verify: the entry point (verify: every check); runs the checks' containers in the stack's run and
  build images, and hashes this folder;
- check: the Check result type, and VERIFY_PREFIX, where the tree is mounted in the containers;
- archive_checks: the archive and the build log, read on the host (verify runs them first);
- elf_checks: the ldd and readelf scans, and the checks read from their output;
- cext_check: the C-extension build, and the pinned setuptools wheel it needs;
- embed_check: the programs that embed the runtime through libpython3.X.so and libpython3.so;
- flags_check: the compilation records, sysconfig's flags and the built-in modules, against the build
  script's statement;
- tls_material: the CA and certificate the TLS checks use;
- runtime_checks.py: the checks the runtime under test runs on itself;
- cext_package/, embed_program/: the C extension pip builds, the programs that embed the runtime.
"""
