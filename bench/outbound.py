"""CPU per outbound request: the OutboundClient on its own HTTP/1.1 transport against the same client on
httpx (`httpx.AsyncHTTPTransport`), and the HTTP/1.1 codecs alone (ours, h11, httptools' parser).

    .venv/bin/python bench/outbound.py [--requests 5000] [--concurrency 1,32] [--lms-cpu 0] [--client-cpu 1]

The fake LMS of bench/scores.py runs in its own process (uvicorn + httptools) on `--lms-cpu`; this process
runs on `--client-cpu` and POSTs score-sized JSON bodies (with a bearer token, answered 401 since the
token was never issued: a small JSON body back) to it over 127.0.0.1, `--requests` per run, with
`--concurrency` requests in flight. Prints requests/s and this process's CPU per request. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import timeit
from pathlib import Path

from harness import free_port, pinned, wait_port

SCRIPT = Path(__file__).resolve().parent / "scores.py"
BODY = (
    b'{"userId":"user-1","scoreGiven":7.0,"scoreMaximum":10.0,"activityProgress":"Completed",'
    b'"gradingProgress":"FullyGraded","timestamp":"2024-01-01T00:00:00.000000+00:00"}'
)


async def run_client(kind: str, port: int, requests: int, concurrency: int) -> tuple[float, float]:
    import httpx

    from ltigate.net.client import OutboundClient

    transport = httpx.AsyncHTTPTransport() if kind == "httpx" else None
    headers = {"Authorization": "Bearer " + "t" * 32, "Content-Type": "application/vnd.ims.lis.v1.score+json"}
    async with OutboundClient(transport=transport, allow_private_addresses=True) as client:
        for n in range(min(concurrency, 50)):  # warm up: connections open, code paths hot
            await client.exchange(
                "POST", f"http://127.0.0.1:{port}/p/0/lineitems/{n}/lineitem/scores", headers=headers, body=BODY
            )
        left = requests

        async def one_by_one() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                url = f"http://127.0.0.1:{port}/p/0/lineitems/{left}/lineitem/scores"
                answer = await client.exchange("POST", url, headers=headers, body=BODY)
                assert answer.status == 401, answer.status

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one_by_one() for _ in range(concurrency)))
        return time.perf_counter() - wall, time.process_time() - cpu


def codecs() -> None:
    import h11

    from ltigate.net.http11 import ResponseParser, encode_request

    answer = (
        b"HTTP/1.1 204 No Content\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\nserver: uvicorn\r\n"
        b"content-length: 0\r\n\r\n"
    )
    headers = [
        ("Host", "lms.example:8443"),
        ("User-Agent", "ltigate/0.1.0"),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Authorization", "Bearer " + "t" * 32),
        ("Content-Type", "application/vnd.ims.lis.v1.score+json"),
    ]

    def ours() -> None:
        encode_request("POST", "/p/3/lineitems/1234/lineitem/scores", headers, BODY)
        parser = ResponseParser("POST", max_body_bytes=1 << 20)
        parser.feed(answer)
        assert parser.done

    def with_h11() -> None:
        connection = h11.Connection(h11.CLIENT)
        target = "/p/3/lineitems/1234/lineitem/scores"
        length = [("Content-Length", str(len(BODY)))]
        connection.send(h11.Request(method="POST", target=target, headers=headers + length))
        connection.send(h11.Data(data=BODY))
        connection.send(h11.EndOfMessage())
        connection.receive_data(answer)
        while type(connection.next_event()) is not h11.EndOfMessage:
            pass

    import httptools

    class Sink:
        def on_header(self, name: bytes, value: bytes) -> None:
            pass

    def with_httptools() -> None:
        encode_request("POST", "/p/3/lineitems/1234/lineitem/scores", headers, BODY)
        httptools.HttpResponseParser(Sink()).feed_data(answer)

    for name, work in (
        ("ltigate.net.http11", ours),
        ("h11", with_h11),
        ("httptools (parse) + our encoder", with_httptools),
    ):
        runs = 20_000
        seconds = min(timeit.repeat(work, number=runs, repeat=3)) / runs
        print(f"  {name:32} {seconds * 1e6:6.1f} µs per request written and 204 answer parsed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", default="1,32")
    parser.add_argument("--lms-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    args = parser.parse_args()
    if args.client_cpu is not None:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpu.split(",")})
    print("codecs (one core, no I/O):")
    codecs()
    port = free_port()
    lms = subprocess.Popen(
        pinned(args.lms_cpu, [sys.executable, str(SCRIPT), "lms", "--port", str(port)]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        asyncio.run(wait_port(port, lms, "the fake LMS"))
        print(f"client against the fake LMS (CPU {args.lms_cpu}); this process on CPU {args.client_cpu}:")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            for kind in ("ltigate", "httpx"):
                wall, cpu = asyncio.run(run_client(kind, port, args.requests, concurrency))
                print(
                    f"  {kind:8} concurrency {concurrency:3}: {args.requests / wall:7,.0f} requests/s, "
                    f"{cpu / args.requests * 1e6:5.0f} µs CPU per request"
                )
    finally:
        lms.terminate()
        lms.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
