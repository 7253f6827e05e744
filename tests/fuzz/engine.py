"""The mutation engine shared by the parser fuzzers (hypothesis, no coverage guidance).

A target is a function of raw bytes that feeds an attacker-controlled parser and a tuple of
the error types that parser documents. Inputs start from the target's seed corpus
(``tests/fuzz/corpus/<target>/``: valid inputs made by the library and the test vectors, plus
every crashing input ever found) and are mutated the way byte fuzzers do: bit flips,
truncation, inserted and deleted runs, "interesting" bytes, splices of two seeds, plus plain
random bytes. Hypothesis draws every choice, so a failure shrinks to a small mutation of a
small seed and is replayed from its example database.

:func:`exercise` is the oracle: any exception outside the documented types (IndexError,
KeyError, TypeError, UnicodeDecodeError, RecursionError, struct.error, a bare ValueError, ...)
is a crash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

CORPUS = Path(__file__).parent / "corpus"
# Bytes that sit on the grammar's edges: line ends, separators, base64/bech32 alphabet
# borders, UTF-8 lead and continuation bytes, JSON structure.
INTERESTING = b'\x00\x01\x7f\x80\xbf\xc0\xff\n\r \t-=+/_,;:()"\\[]{}01aAzZ'


@dataclass(frozen=True)
class Target:
    """One attacker-facing parser: ``run`` feeds it ``data``; ``errors`` are its documented
    refusals; ``seeds`` makes the valid inputs the corpus starts from (deterministic)."""

    name: str
    run: Callable[[bytes], object]
    errors: tuple[type[BaseException], ...]
    seeds: Callable[[], Sequence[bytes]]

    @property
    def corpus_dir(self) -> Path:
        return CORPUS / self.name


class CrashError(AssertionError):
    """A parser raised an exception outside its documented error types."""

    def __init__(self, target: str, data: bytes, exc: BaseException) -> None:
        super().__init__(
            f"{target}: {type(exc).__name__}: {exc} (input {len(data)} bytes, "
            f"sha256 {hashlib.sha256(data).hexdigest()[:16]})"
        )
        self.target = target
        self.data = data


def exercise(target: Target, data: bytes) -> bool:
    """Run ``target`` on ``data``: True if accepted, False if refused with a documented
    error; raises :class:`CrashError` (chained to the original) for anything else."""
    try:
        target.run(data)
    except target.errors:
        return False
    except Exception as exc:  # every other type is the finding
        raise CrashError(target.name, data, exc) from exc
    return True


def load_corpus(target: Target) -> list[bytes]:
    """The stored corpus of ``target``, sorted by file name (valid-*, then crash-* ...)."""
    files = sorted(target.corpus_dir.glob("*")) if target.corpus_dir.is_dir() else []
    return [f.read_bytes() for f in files if f.is_file()]


def save_input(target: Target, data: bytes, prefix: str) -> Path:
    """Keep ``data`` in the corpus as ``<prefix>-<sha256[:16]>`` (idempotent)."""
    target.corpus_dir.mkdir(parents=True, exist_ok=True)
    path = target.corpus_dir / f"{prefix}-{hashlib.sha256(data).hexdigest()[:16]}"
    path.write_bytes(data)
    return path


def _mutate_once(draw: st.DrawFn, data: bytearray, seeds: Sequence[bytes]) -> bytearray:
    ops = ("flip", "byte", "truncate", "insert", "delete", "dup", "splice", "token")
    op = draw(st.sampled_from(ops))
    pos = draw(st.integers(0, len(data)))
    if op == "flip" and data:
        i = min(pos, len(data) - 1)
        data[i] ^= 1 << draw(st.integers(0, 7))
    elif op == "byte" and data:
        data[min(pos, len(data) - 1)] = draw(st.sampled_from(INTERESTING))
    elif op == "truncate":
        del data[pos:]
    elif op == "insert":
        data[pos:pos] = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(INTERESTING_RUNS))
    elif op == "delete":
        del data[pos : pos + draw(st.integers(1, 64))]
    elif op == "dup":
        end = pos + draw(st.integers(1, 64))
        data[end:end] = data[pos:end]
    elif op == "token":  # a dictionary token on its own (a whole small document)
        data[:] = draw(st.sampled_from(INTERESTING_RUNS))
    elif op == "splice":
        other = draw(st.sampled_from(seeds))
        data[pos:] = other[draw(st.integers(0, len(other))) :]
    return data


# Runs that reach deep states: long repeats (nesting, big numbers), and grammar tokens.
INTERESTING_RUNS = (
    b"[" * 2000,
    b"9" * 40,
    b"9" * 5000,  # past CPython's int-from-text digit limit (4300)
    b"\xff" * 64,
    b"\n\n",
    b"-> ",
    b"--- ",
    b"\xe2\x80\x94 ",
    b"-----BEGIN AGE ENCRYPTED FILE-----\n",
    b'"\\ud800"',
    b'{"\\udfff":0}',  # lone surrogates, as a value and as an object key
    b"1e400",
)


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes], max_mutations: int = 6) -> bytes:
    """A seed with up to ``max_mutations`` mutations, or (1 in 8) random bytes."""
    if not seeds or draw(st.integers(0, 7)) == 0:
        return draw(st.binary(max_size=512))
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, max_mutations))):
        data = _mutate_once(draw, data, seeds)
    return bytes(data)
