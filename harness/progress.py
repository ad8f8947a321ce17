"""Live progress lines while pairs run, visible through pytest's capture and from xdist workers."""

import sys
import time


class Progress:
    def __init__(self, config):
        self.capture = config.pluginmanager.getplugin("capturemanager")
        self.worker = getattr(config, "workerinput", {}).get("workerid", "")
        self.started = time.monotonic()

    def __call__(self, pair, message):
        elapsed = int(time.monotonic() - self.started)
        line = f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {pair}: {message}\n"
        # Suspend capture so the line reaches the terminal now, not in the report at the end.
        if self.capture is not None:
            with self.capture.global_and_fixture_disabled():
                sys.stderr.write(line)
                sys.stderr.flush()
        else:
            sys.stderr.write(line)
