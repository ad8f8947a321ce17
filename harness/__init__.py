"""The library behind conftest.py: one module per concern of the pipeline.

fetch source (sources, debian_archive) -> build in container (engine, images, build)
-> package (archive) -> verify in run image (verify; the checks in archive_checks, elf_checks,
cext_check, runtime_checks) -> publish (publish, s3server).
"""
