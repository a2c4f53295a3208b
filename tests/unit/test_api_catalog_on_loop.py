"""The API never reads the warehouse on its event loop: a recommended product missing from the
cached catalog sends the request to a worker thread, which re-reads the catalog there."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from ecomm.api import predictions
from ecomm.api.warehouse import CatalogStale, Product, WarehouseReader, _Cached
from ecomm.settings import Settings


def _reader(catalogs: list[dict]) -> tuple[WarehouseReader, list[str]]:
    """A reader whose catalog reads return `catalogs` in turn, recording the thread of each read."""
    # a server URL of its own (the engine connects lazily and nothing here queries it): without one,
    # building the engine would start the embedded PostgreSQL of the default home
    unused = "postgresql://nobody@127.0.0.1:9/unused"
    reader = WarehouseReader(Settings(_env_file=None, database_url=unused))
    reads: list[str] = []

    def read():
        reads.append(threading.current_thread().name)
        return catalogs[min(len(reads) - 1, len(catalogs) - 1)]

    reader._catalog = _Cached(read, ttl=300)
    return reader, reads


OLD = {1: Product("mug", "home", 9.5)}
NEW = {**OLD, 2: Product("kettle", "home", 30.0)}


def test_off_the_loop_a_missing_product_re_reads_the_catalog():
    reader, reads = _reader([OLD, NEW])
    assert reader.products([1, 2]) == NEW
    assert len(reads) == 2


def test_on_the_loop_a_missing_product_raises_instead_of_reading():
    reader, reads = _reader([OLD, NEW])
    reader.products([1])  # fill the cache off the loop

    async def on_loop():
        return reader.products([1, 2])

    with pytest.raises(CatalogStale):
        asyncio.run(on_loop())
    assert len(reads) == 1

    async def known_only():
        return reader.products([1])

    assert asyncio.run(known_only()) == OLD  # what the cache holds is answered on the loop


def test_answer_retries_a_stale_catalog_on_a_worker_thread():
    reader, reads = _reader([OLD, NEW])
    reader.products([1])
    known = SimpleNamespace(fast=SimpleNamespace(knows=lambda customer: True))
    request = SimpleNamespace(
        app=SimpleNamespace(
            state=SimpleNamespace(models=SimpleNamespace(get=lambda name: known), warehouse=reader)
        )
    )
    threads: list[str] = []

    def handler(ids):
        threads.append(threading.current_thread().name)
        return reader.products(ids)

    loop_thread = threading.current_thread().name
    assert asyncio.run(predictions._answer(request, 7, handler, [1])) == OLD
    assert threads == [loop_thread]  # a known product: answered on the loop

    threads.clear()
    assert asyncio.run(predictions._answer(request, 7, handler, [1, 2])) == NEW
    assert threads[0] == loop_thread and threads[1] != loop_thread
    assert reads[-1] == threads[1]  # the catalog was re-read on the worker thread
