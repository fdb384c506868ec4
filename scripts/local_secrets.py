#!/usr/bin/env python3
"""The local Secrets Manager of `make dev`: moto's server, unreachable from web browsers.

`moto_server` answers any Origin with permissive CORS and checks no signature, so while it holds
the real CLERK_SECRET_KEY any page open in the developer's browser could POST GetSecretValue to
it and read the key (or, by DNS rebinding, reach it under its own host name). This serves the same
moto WSGI application behind a guard that refuses, with a bare 403 (no CORS headers, nothing from
moto):
  - any request with an `Origin` header (every cross-origin fetch and every CORS preflight
    carries one) or a `Sec-Fetch-*` header (sent only by browsers);
  - any `Host` other than 127.0.0.1:PORT or localhost:PORT (DNS rebinding).
The AWS SDKs (the Rust functions, boto3) send none of these, so they keep working.

Usage: local_secrets.py --port PORT   (run with the venv's python; binds 127.0.0.1 only)
"""
import argparse
import signal
import sys

REFUSED = b"refused: this local Secrets Manager answers only the AWS SDK on 127.0.0.1\n"


def guard(app, port):
    """WSGI middleware: the AWS SDK on loopback passes; anything browser-shaped gets a bare 403."""
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    def guarded(environ, start_response):
        browser = "HTTP_ORIGIN" in environ or any(k.startswith("HTTP_SEC_FETCH_") for k in environ)
        if browser or environ.get("HTTP_HOST", "").lower() not in hosts:
            start_response(
                "403 Forbidden",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(REFUSED)))],
            )
            return [REFUSED]
        return app(environ, start_response)

    return guarded


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    def stop(*_):
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    app = guard(DomainDispatcherApplication(create_backend_app), args.port)
    run_simple("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
