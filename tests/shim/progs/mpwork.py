# SPDX-License-Identifier: MIT
"""Real work in a multiprocessing pool (fork start method): the shim must
follow every worker and leave the result unchanged."""
import hashlib
import multiprocessing as mp


def work(i):
    data = bytearray(200_000)
    for j in range(0, len(data), 4096):
        data[j] = (i + j) & 0xff
    return hashlib.sha256(bytes(data) + i.to_bytes(4, "little")).hexdigest()[:8]


if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(2) as pool:
        out = pool.map(work, range(40))
    print(len(out), hashlib.sha256("".join(out).encode()).hexdigest()[:16])
