"""ZeptoDB quickstart: ingest ticks and batches, ask direct questions, read columns.

Run with `make serve` (until the HTTP server lands) or `python examples/quickstart.py`.
"""

import numpy as np

import zeptodb


def main() -> None:
    pipeline = zeptodb.Pipeline()
    pipeline.start()  # background drain thread for single ticks

    # Single ticks through the lock-free queue.
    pipeline.ingest(symbol="AAPL", price=15000, volume=100)
    pipeline.ingest(symbol="AAPL", price=15010, volume=50, timestamp=1_711_000_000_000_000_000)

    # A vectorized batch: one C++ call, validated whole, stored whole.
    rng = np.random.default_rng(7)
    n = 1_000_000
    symbols = rng.integers(100, 110, n)
    prices = 10_000 + rng.integers(-50, 50, n).cumsum() % 1_000
    volumes = rng.integers(1, 500, n)
    timestamps = 1_711_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 1_000
    pipeline.ingest_batch(symbols, prices, volumes, timestamps)

    pipeline.drain()  # every accepted tick is now visible

    aapl = pipeline.symbol_id("AAPL")
    print(f"AAPL (id {aapl}): {pipeline.count(symbol='AAPL')} trades, VWAP {pipeline.vwap(symbol='AAPL'):.2f}")
    for sym in range(100, 103):
        px = pipeline.get_column(symbol=sym, name="price")  # zero-copy, read-only view
        print(f"symbol {sym}: {len(px):,} trades, VWAP {pipeline.vwap(symbol=sym):.2f}, "
              f"max price {px.max()}, volume {pipeline.sum(symbol=sym, col='volume'):,}")
    print(pipeline.stats())
    pipeline.stop()


if __name__ == "__main__":
    main()
