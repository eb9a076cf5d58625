"""How fast the emulator streams: `python -m benchmarks.emulator_throughput [--chunks N] [--repeat R]`.

Starts the emulator in its own process at --token-delay 0, reads a stream of N content chunks
(the `[[chunks=N]]` directive) with plain httpx, and prints chunks per second, end to end (the
reader included) and per CPU-second of the emulator process alone (Linux /proc; the emulator is
one thread, so that is one core). The emulator must never be what a benchmark measures: the goal
is at least 20,000 chunks/s on one core.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import httpx

from junis_jupyter.emulator.process import start_emulator_process


def one_stream(client: httpx.Client, chunks: int) -> tuple[int, float]:
    """(content chunks received, seconds from request to [DONE])."""
    body = {"messages": [{"role": "user", "content": f"Benchmark [[chunks={chunks}]]"}],
            "stream": True}
    started = time.perf_counter()
    received = 0
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith('data: {') and '"content":' in line:
                received += 1
            elif line == "data: [DONE]":
                break
    return received, time.perf_counter() - started


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far, where /proc tells it."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with start_emulator_process(token_delay=0.0, rpm=100_000) as server, \
            httpx.Client(base_url=server.url, headers={"X-API-Key": server.key}, timeout=60) as client:
        one_stream(client, 100)                       # warm-up: connection, imports, first session
        rates = []
        cpu_before = cpu_seconds(server.process.pid)
        for _ in range(args.repeat):
            received, seconds = one_stream(client, args.chunks)
            if received != args.chunks:
                raise SystemExit(f"expected {args.chunks} chunks, received {received}")
            rates.append(received / seconds)
        cpu_after = cpu_seconds(server.process.pid)
    print(f"emulator stream: {args.chunks} chunks x {args.repeat}: "
          f"median {statistics.median(rates):,.0f} chunks/s end to end, "
          f"min {min(rates):,.0f}, max {max(rates):,.0f}")
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        print(f"emulator process alone: {args.chunks * args.repeat / (cpu_after - cpu_before):,.0f} "
              f"chunks per CPU-second ({cpu_after - cpu_before:.2f} s of CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
