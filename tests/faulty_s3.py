"""An HTTP proxy in front of an S3 server that injects real, over-the-wire faults: the first N
requests answered with an error (5xx, throttling) for the client's retry logic to get through;
every request a predicate picks answered with an error (a write that S3 refuses); or conditional
headers dropped on the way (a store that ignores If-None-Match / If-Match)."""

import http.server
import threading
import urllib.error
import urllib.request


class FaultyProxy:
    def __init__(self, upstream: str, fail_first: int = 0, status=503, code="SlowDown", fail_if=None,
                 drop_headers=()):
        self.upstream, self.remaining, self.status, self.code = upstream.rstrip("/"), fail_first, status, code
        self.fail_if = fail_if or (lambda method, path: False)  # (method, path) -> answer with the error
        self.drop_headers = {name.lower() for name in drop_headers}
        self.failed = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    fail = proxy.remaining > 0 or proxy.fail_if(self.command, self.path)
                    if fail:
                        proxy.remaining = max(0, proxy.remaining - 1)
                        proxy.failed += 1
                if fail:
                    payload = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{proxy.code}</Code>"
                               f"<Message>injected fault</Message></Error>").encode()
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", *proxy.drop_headers)}
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command,
                                                 headers=headers)
                try:
                    response = urllib.request.urlopen(request, timeout=60)
                except urllib.error.HTTPError as exc:
                    response = exc
                data = response.read()
                self.send_response(response.status if hasattr(response, "status") else response.code)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                # A HEAD answer has no body but announces the object's length.
                length = response.headers.get("Content-Length", "0") if self.command == "HEAD" else len(data)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
