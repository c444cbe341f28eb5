"""
Scaling out with Dask: encode on a cluster, store the codes, search sharded
==========================================================================

The pattern for collections larger than one machine: fit the hasher on a
sample, encode every row on the cluster with :func:`sklhash.dask.encode`
(the model travels once per worker), write the codes to Parquet, and search
them where they lie with :class:`sklhash.dask.DaskHammingIndex`, whose
answers are exactly those of :class:`sklhash.neighbors.HammingIndex`.

A ``LocalCluster`` of two worker processes stands in for a real cluster;
with dask-jobqueue or Kubernetes only the line that creates the cluster
changes. Worker processes re-import this script, hence the ``__main__``
guard.
"""

# %%
import os
import tempfile
import time

import dask.array as da
import dask.dataframe as dd
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklhash import ITQHasher
from sklhash.dask import BlockStream, DaskHammingIndex, encode
from sklhash.neighbors import HammingIndex


def main():
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    client = Client(cluster)

    # %%
    # A "large" collection: 40 noisy copies of the digits (71,880 rows) as a
    # dask array of 12 blocks. In real use this is ``da.from_zarr``,
    # ``dd.read_parquet`` or images decoded block by block on the workers.
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    rng = da.random.default_rng(0)
    big = da.concatenate([da.from_array(X, chunks=(6000, 64))] * 40)
    big = (big + rng.normal(0, 0.5, size=big.shape, chunks=big.chunks)).astype(
        np.float32
    )
    big = big.rechunk((6000, 64))

    # %%
    # Fit on a sample that fits in memory, encode everything on the cluster.
    pipe = make_pipeline(StandardScaler(), ITQHasher(bits=32, random_state=0))
    pipe.fit(X)
    codes = encode(pipe, big)
    print(
        f"lazy codes: shape {codes.shape}, dtype {codes.dtype}, "
        f"{codes.numblocks[0]} blocks"
    )

    # %%
    # Write the codes to Parquet (one column per byte), then read them back.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "codes.parquet")
        columns = [f"hash{i}" for i in range(codes.shape[1])]
        start = time.perf_counter()
        dd.from_dask_array(codes, columns=columns).to_parquet(path)
        print(
            f"encoded and wrote {len(big):,} codes in "
            f"{time.perf_counter() - start:.1f} s"
        )
        stored = dd.read_parquet(path).to_dask_array(lengths=True)

        # %%
        # Search sharded: each worker searches its partitions, the client
        # merges the per-partition top-k by (distance, index).
        index = DaskHammingIndex(n_bits=32).fit(stored)
        queries = pipe.transform(X[:5])
        dist, ind = index.kneighbors(queries, n_neighbors=10)
        print(f"{index.n_codes_:,} codes in {index.n_partitions_} partitions")
        print("labels of the 10 nearest codes of 5 queries:")
        print(np.tile(y, 40)[ind])

        # The same answer as one in-memory index, ties included.
        ref = HammingIndex(backend="numpy", n_bits=32).fit(stored.compute())
        rdist, rind = ref.kneighbors(queries, n_neighbors=10)
        assert np.array_equal(ind, rind) and np.array_equal(dist, rdist)
        print("identical to HammingIndex:", np.array_equal(ind, rind))

    # %%
    # Training data larger than memory: a BlockStream yields shuffled
    # mini-batches block by block (here from the dask array; an np.memmap
    # works the same way), one pass over the data an epoch.
    stream = BlockStream(big, batch_size=256, blocks_per_buffer=2, random_state=0)
    n_rows = sum(len(batch["idx"]) for batch in stream)
    print(
        f"one epoch: {len(stream)} batches, {n_rows:,} rows, "
        f"{stream.n_blocks} blocks read, at most 2 x 2 blocks in memory"
    )

    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
