"""What `python -m harness` offers beside pytest (harness/__main__.py parses the command line and
calls each one's main): build_image, matrix, published (check-published), rebuild, subjects
(attest-subjects), prune; on_bucket holds what those reading the real bucket share. No case runs
them, so a change here selects no pair for --changed-since (harness/inputs.py)."""
