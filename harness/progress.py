"""Live progress lines while pairs run, visible through pytest's capture and from xdist workers."""

import sys
import threading
import time

from . import redact


class Progress:
    def __init__(self, config):
        self.capture = config.pluginmanager.getplugin("capturemanager")
        self.worker = getattr(config, "workerinput", {}).get("workerid", "")
        self.started = time.monotonic()
        # Lines come from several threads (a build's heartbeat, verification steps side by side),
        # and suspending pytest's capture is not something two threads may do at once.
        self.lock = threading.Lock()

    def __call__(self, pair, message):
        elapsed = int(time.monotonic() - self.started)
        # Redacted: a message can quote a tool's or botocore's text (harness/redact.py).
        line = redact.redact(f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {pair}: {message}") + "\n"
        # Suspend capture so the line reaches the terminal now, not in the report at the end.
        with self.lock:
            self._write(line)

    def _write(self, line):
        if self.capture is not None:
            with self.capture.global_and_fixture_disabled():
                sys.stderr.write(line)
                sys.stderr.flush()
        else:
            sys.stderr.write(line)
