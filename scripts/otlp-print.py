#!/usr/bin/env python3
"""A tiny OpenTelemetry collector for a laptop: receives OTLP/HTTP trace exports
(protobuf, what `s2s up --otlp-endpoint` sends) and prints each trace as a tree.

    python3 -m venv .otlp && .otlp/bin/pip install opentelemetry-proto
    .otlp/bin/python scripts/otlp-print.py            # listens on 127.0.0.1:4318
    s2s up --otlp-endpoint http://127.0.0.1:4318      # in another terminal

Any real collector (the OpenTelemetry Collector, Jaeger, Grafana Tempo, Honeycomb…)
accepts the same exports on its OTLP/HTTP port; this one needs no container.
"""

import argparse
import sys
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

# Every span seen, by trace id; a trace is printed (again, whole) when an export brings
# new spans of it. Ends of spans arrive children first, in batches a few seconds apart.
traces = defaultdict(dict)


def value(any_value):
    kind = any_value.WhichOneof("value")
    found = getattr(any_value, kind) if kind else None
    return str(found).lower() if isinstance(found, bool) else found


def print_trace(trace_id, out):
    spans = traces[trace_id]
    children = defaultdict(list)
    roots = []
    for span_id, (service, span) in spans.items():
        parent = span.parent_span_id.hex()
        (children[parent] if parent in spans else roots).append(span_id)
    out.write(f"trace {trace_id}\n")

    def show(span_id, depth):
        service, span = spans[span_id]
        ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
        attrs = {a.key: value(a.value) for a in span.attributes}
        shown = " ".join(
            f"{k}={attrs[k]}"
            for k in ("server", "status", "outcome", "cache_hit", "refusal", "error")
            if k in attrs
        )
        remote = " (remote parent)" if span.parent_span_id and depth == 0 else ""
        out.write(
            f"  {'  ' * depth}{span.name}  [{service}, {KINDS.get(span.kind, '?')}, "
            f"{ms:.1f} ms]{remote} {shown}\n"
        )
        for child in sorted(children[span_id], key=lambda c: spans[c][1].start_time_unix_nano):
            show(child, depth + 1)

    for root in sorted(roots, key=lambda r: spans[r][1].start_time_unix_nano):
        show(root, 0)
    out.flush()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/v1/traces":
            self.send_error(404, "only /v1/traces")
            return
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        touched = []
        for resource_spans in request.resource_spans:
            attrs = {a.key: value(a.value) for a in resource_spans.resource.attributes}
            service = attrs.get("service.name", "?")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    trace_id = span.trace_id.hex()
                    traces[trace_id][span.span_id.hex()] = (service, span)
                    if trace_id not in touched:
                        touched.append(trace_id)
        for trace_id in touched:
            print_trace(trace_id, sys.stdout)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass  # the traces are the output


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:4318", help="host:port (default %(default)s)")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print(f"receiving OTLP/HTTP traces at http://{args.listen}/v1/traces", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
