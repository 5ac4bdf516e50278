"""A small queue benchmark of pgqueuer on a given PostgreSQL server, for scripts/peer-bench.sh.

Enqueues --jobs no-op jobs in batches, then drains the queue with --consumers processes (one connection each,
pgqueuer's own dequeue with --batch-size), and prints one JSON line: jobs, consumers, enqueue and drain seconds,
jobs per second over the drain. Each job is one row taken, run (a no-op coroutine) and acknowledged, which is what a
Cloacina task costs the database at least: compare jobs/s with cloacina-bench's tasks/s on the same server.
"""

import argparse
import asyncio
import json
import multiprocessing
import time
from datetime import timedelta

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from pgqueuer.types import QueueExecutionMode


async def prepare(dsn: str, jobs: int) -> float:
    connection = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(connection))
    try:
        await queries.install()
    except asyncpg.exceptions.DuplicateObjectError:
        pass
    await queries.clear_queue()
    started = time.perf_counter()
    chunk = 1000
    for first in range(0, jobs, chunk):
        count = min(chunk, jobs - first)
        await queries.enqueue(["noop"] * count, [None] * count, [0] * count)
    elapsed = time.perf_counter() - started
    await connection.close()
    return elapsed


async def consume(dsn: str, batch_size: int) -> None:
    connection = await asyncpg.connect(dsn)
    queuer = PgQueuer(AsyncpgDriver(connection))

    @queuer.entrypoint("noop")
    async def noop(job) -> None:
        return None

    await queuer.run(
        mode=QueueExecutionMode.drain,
        batch_size=batch_size,
        dequeue_timeout=timedelta(milliseconds=200),
        log_aggregation_interval=timedelta(seconds=3600),
    )
    await connection.close()


def consumer(dsn: str, batch_size: int, ready, start) -> None:
    ready.release()
    start.wait()
    asyncio.run(consume(dsn, batch_size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=10)
    arguments = parser.parse_args()

    enqueue_seconds = asyncio.run(prepare(arguments.dsn, arguments.jobs))
    context = multiprocessing.get_context("fork")
    ready, start = context.Semaphore(0), context.Event()
    processes = [
        context.Process(target=consumer, args=(arguments.dsn, arguments.batch_size, ready, start))
        for _ in range(arguments.consumers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    started = time.perf_counter()
    start.set()
    for process in processes:
        process.join()
    drain_seconds = time.perf_counter() - started
    failed = [process.exitcode for process in processes if process.exitcode != 0]
    print(
        json.dumps(
            {
                "peer": "pgqueuer",
                "jobs": arguments.jobs,
                "consumers": arguments.consumers,
                "batch_size": arguments.batch_size,
                "enqueue_s": round(enqueue_seconds, 3),
                "drain_s": round(drain_seconds, 3),
                "jobs_per_s": round(arguments.jobs / drain_seconds, 1),
                "failed_consumers": failed,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
