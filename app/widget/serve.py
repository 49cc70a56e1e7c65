"""Serve the widget demo page (`make widget-demo`): a host site on its own port embedding the chat.

The page is `demo.html`, which embeds the chat server at http://127.0.0.1:8000; `--chat-server`
points it at another address (the browser tests use a free port). Being on another port makes the
embed a real cross-origin one, so it also exercises the chat server's allowed origins (CORS, the
socket.io handshake, CSP frame-ancestors): the chat must list this page's origin in
TRIALFINDER_ALLOWED_ORIGINS, as `make widget-demo` does.

    python -m app.widget.serve --port 8001 [--host 127.0.0.1] [--chat-server http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEMO_PAGE = Path(__file__).with_name("demo.html")
DEFAULT_CHAT_SERVER = "http://127.0.0.1:8000"


def demo_html(chat_server: str = DEFAULT_CHAT_SERVER) -> str:
    """The demo page with the widget pointed at `chat_server` (scheme://host:port, no trailing slash)."""
    return DEMO_PAGE.read_text(encoding="utf-8").replace(DEFAULT_CHAT_SERVER, chat_server.rstrip("/"))


def make_server(host: str, port: int, chat_server: str = DEFAULT_CHAT_SERVER) -> ThreadingHTTPServer:
    """An HTTP server answering `/` (and `/demo.html`) with the demo page; anything else is 404."""
    page = demo_html(chat_server).encode("utf-8")

    class DemoHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?", 1)[0] not in ("/", "/demo.html", "/index.html"):
                self.send_error(HTTPStatus.NOT_FOUND, "Only the demo page lives here: open /")
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (signature of the base class)
            sys.stderr.write(f"widget-demo: {self.address_string()} {format % args}\n")

    return ThreadingHTTPServer((host, port), DemoHandler)


def main(argv: list[str] | None = None) -> int:
    """Run the demo host page until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m app.widget.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--chat-server",
        default=DEFAULT_CHAT_SERVER,
        help="address of the running `trialfinder chat` (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.chat_server)
    print(
        f"widget demo: http://{args.host}:{args.port}/ embedding {args.chat_server}; the chat must allow this "
        f"page's origin: TRIALFINDER_ALLOWED_ORIGINS='[\"http://{args.host}:{args.port}\"]' trialfinder chat "
        "(`make widget-demo` starts both)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
