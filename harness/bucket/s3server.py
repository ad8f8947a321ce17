"""The embedded S3 of dry runs: a moto server on loopback, one per run, shared by all workers.

The controller process starts it before xdist spawns workers and hands its address down in the
environment, so every worker uploads to the same server over real HTTP.
"""

import logging

ENDPOINT_ENV = "PYRUNTIMES_DRY_RUN_S3"


def start():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines in the report
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"
