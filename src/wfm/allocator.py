"""Host allocator setting of the ``wfm`` command: keep freed memory in the process for the next training step.

glibc's ``malloc`` serves every large block (above a threshold that rises to at most 32 MiB) with a fresh
``mmap`` and unmaps it on ``free``, and it trims the top of the heap back to the system when enough of it is
free. A training step on the CPU allocates the same large activations every step, so every step faults their
pages in again: on the quickstart (2 cores) 5.6-6.4 M minor page faults and 14-15 s of system time in its
first 40 steps, which the setting below takes from 64 s of wall time to 58 s (docs/benchmarks.md, "Host
allocator"), and the whole quickstart from 8 min 54 s to 7 min 42 s. ``mallopt(M_MMAP_MAX, 0)`` serves large
blocks from the heap and a 2 GiB ``M_TRIM_THRESHOLD`` keeps freed heap memory for reuse — what PyTorch's
caching allocator does for GPU memory — at the price of a higher peak RSS (4.2 GB instead of 3.4 on the
quickstart).

Only glibc is touched; ``WFM_MALLOC=system`` keeps its defaults, and so does any ``MALLOC_MMAP_MAX_`` /
``MALLOC_TRIM_THRESHOLD_`` the user set (as does a preloaded jemalloc or tcmalloc, which glibc's settings do
not reach).
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # the largest value mallopt takes: ~2 GiB of free heap kept before trimming
USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")  # glibc's own variables: the user's choice wins


def is_glibc() -> bool:
    """Whether this process runs on Linux with glibc, the only allocator the setting applies to."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_freed_memory() -> bool:
    """Apply the setting above to this process; True if it was applied (glibc, not opted out)."""
    if os.environ.get("WFM_MALLOC", "") == "system":
        return False
    if any(k in os.environ for k in USER_SETTINGS):
        return False
    if not is_glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
