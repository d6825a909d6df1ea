"""Loading the RadioML pickles without running what a pickle may carry: a restricted unpickler.

A pickle is a program: every global it names is imported and may be called, so a downloaded ``.pkl`` can run
any code (``os.system``...) the moment it is loaded. The RadioML 2016 / RML22 releases hold only a dict of
numpy arrays, so :class:`RadioMLUnpickler` resolves only the globals such a file references and refuses any
other one **before** it is imported or called, with one line naming the file and the global.

What the released layouts reference (checked by pickling ``{(modulation, snr): float32 array}`` with
protocol 2 under Python 2.7 ``cPickle`` + numpy 1.16, Python 3 + numpy 1.26 and Python 3 + numpy 2.2):

* ``numpy.core.multiarray._reconstruct`` (numpy 2: ``numpy._core.multiarray._reconstruct``), ``numpy.ndarray``
  and ``numpy.dtype``: every array;
* ``numpy.core.multiarray.scalar`` (numpy 2: ``numpy._core.multiarray.scalar``): a numpy integer in a key
  (an SNR stored as ``numpy.int64``);
* ``_codecs.encode``: how Python 3 writes ``bytes`` (an array's data, a ``b'QPSK'`` key) at protocol 2, as
  ``encode(text, 'latin1')``; only that call is allowed;
* ``__builtin__.bytes`` / ``builtins.bytes``: how Python 3 writes an empty ``bytes`` (the data of an array of
  no capture) at protocol 2, as ``bytes()``; only that call, without arguments, is allowed.

Python 2 pickles are read with ``encoding="latin1"`` (their ``str`` are bytes; numpy restores array data from
latin-1 text). Nothing else is needed: pickles of other protocols that reference more (protocol 5 arrays
name ``numpy._core.numeric._frombuffer``) are refused too; re-save them with ``protocol=2``.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class RefusedPickle(ValueError, pickle.UnpicklingError):
    """A pickle names a global that a RadioML pickle does not hold (it may carry code)."""


def _reconstruct() -> Callable[..., Any]:
    # the function numpy's own arrays reduce to, whatever the numpy version calls its module
    return np.ndarray.__reduce__(np.zeros(1, np.float32))[0]


def _scalar() -> Callable[..., Any]:
    return np.float32(0).__reduce__()[0]


def _latin1(text: Any, encoding: Any = None, *rest: Any) -> bytes:
    """``_codecs.encode`` as Python 3 writes bytes at protocol 2: ``encode(str, 'latin1')`` and nothing else."""
    if rest or not isinstance(text, str) or str(encoding).lower().replace("-", "").replace("_", "") != "latin1":
        raise RefusedPickle(f"_codecs.encode called as encode({type(text).__name__}, {encoding!r}); a protocol-2 "
                            "pickle of bytes calls encode(str, 'latin1')")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    """``bytes`` as Python 3 writes an empty bytes object at protocol 2: ``bytes()`` and nothing else."""
    if args:
        raise RefusedPickle("bytes called with arguments; a protocol-2 pickle of b'' calls bytes()")
    return b""


_RESOLVE: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1,
    ("__builtin__", "bytes"): lambda: _empty_bytes,
    ("builtins", "bytes"): lambda: _empty_bytes,
}
#: the ``(module, name)`` globals a RadioML pickle may reference; everything else is refused unimported
ALLOWED = frozenset(_RESOLVE)


class RadioMLUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED` globals (numpy arrays, scalars, bytes) and refuses
    every other one before importing it: ``<where>: refusing to unpickle os.system: ...``."""

    def __init__(self, file: BinaryIO, where: str | Path) -> None:
        super().__init__(file, encoding="latin1")
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        resolve = _RESOLVE.get((module, name))
        if resolve is None:
            raise RefusedPickle(f"{self.where}: refusing to unpickle {module}.{name}: a RadioML pickle holds only "
                                "numpy arrays (the file may carry code)")
        return resolve()

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickle(f"{self.where}: refusing a persistent id in the pickle: a RadioML pickle holds only "
                            "numpy arrays (the file may carry code)")


def load(path: str | Path) -> Any:
    """The object of the pickle file ``path``, unpickled with :class:`RadioMLUnpickler`. A refused global or a
    file that is no readable pickle is a one-line ValueError naming the file."""
    from wfm.data.converters.common import require_file

    path = require_file(path, "a RadioML pickle (.pkl)")
    with open(path, "rb") as f:
        try:
            return RadioMLUnpickler(f, path).load()
        except RefusedPickle as err:
            msg = str(err)
            raise RefusedPickle(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
        except RecursionError:
            raise ValueError(f"{path}: not a readable pickle (nested too deeply)") from None
        except Exception as err:  # noqa: BLE001 - any failure of a malformed pickle becomes one line naming it
            text = " ".join(str(err).split()) or "no detail"
            raise ValueError(f"{path}: not a readable pickle ({type(err).__name__}: {text})") from None
