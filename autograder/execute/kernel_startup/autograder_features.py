# Autograder featurisation cache: the part shared by the grader and the student's kernel.
#
# Stands alone (imports nothing of the autograder package): the grader loads this file by its path
# to compute the cache (autograder/execute/feature_cache.py), and the kernel start-up file
# (autograder_trace.py) loads it inside the sandbox to serve from it. Both sides must compute the
# same keys, so the keys are computed here only.
#
# An entry is one featuriser configuration on one challenge's official inputs, stored as one file
# named by the digest of (the featuriser's class, its whole state, the library versions). The file
# maps each input's exact value to the row that `featurize` returned for it. The kernel serves a
# call of `featurize_many` (and so `featurize_dataframe`, which calls it) only when the featuriser
# is an allow-listed class itself (no subclass), none of its methods or the methods of the objects
# it holds was replaced, its state can be keyed, and every input is in the entry; otherwise matminer
# computes it as the student wrote it.

import hashlib
import importlib.metadata
import json
import os
import pickle
import sys
import time

FORMAT = 1

# Deterministic featurisers with no fitted state and no random state, as module -> class names.
# Each one is checked both ways (computed and served, bitwise) in tests/execute/test_feature_cache.py.
ALLOWED = {
    "matminer.featurizers.composition.composite": ("ElementProperty", "Meredig"),
    "matminer.featurizers.composition.element": (
        "Stoichiometry",
        "ElementFraction",
        "TMetalFraction",
        "BandCenter",
    ),
    "matminer.featurizers.composition.orbital": ("ValenceOrbital",),
    "matminer.featurizers.composition.ion": ("IonProperty",),
    "matminer.featurizers.structure.sites": ("SiteStatsFingerprint",),
    "matminer.featurizers.structure.order": ("DensityFeatures",),
    "matminer.featurizers.structure.symmetry": ("GlobalSymmetryFeatures",),
    # formula strings to pymatgen Compositions (with matminer's default process pool, a slow step)
    "matminer.featurizers.conversions": ("StrToComposition",),
}
COMPOSITE = ("matminer.featurizers.base", "MultipleFeaturizer")
# Attributes that never change a featuriser's values: parallelism, where a data file was read from,
# and scratch that pymatgen's neighbour finders and order parameters overwrite on every call.
VOLATILE = frozenset(
    {"_n_jobs", "n_jobs", "_chunksize", "chunksize", "data_dir", "_last_nneigh", "_last_structure"}
    | {"_last_bonded_structure", "_pow_sin_t", "_pow_cos_t", "_sin_n_p", "_cos_n_p"}
)
# Objects a featuriser's state may hold: classes from these packages (their methods are checked
# unchanged), plain data, numpy arrays.
LIBRARIES = ("matminer.", "pymatgen.", "ruamel.yaml.", "monty.")
MAX_DEPTH = 40


class Unkeyable(Exception):
    """The featuriser's state (or an input) holds something the cache cannot key: compute instead."""


def versions() -> str:
    names = ("matminer", "pymatgen", "pymatgen-core", "numpy", "scipy", "pandas")
    found = []
    for name in names:
        try:
            found.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return f"python={sys.version_info[0]}.{sys.version_info[1]};" + ";".join(found)


def _class_name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def allowed_class(cls) -> bool:
    names = ALLOWED.get(cls.__module__, ())
    if cls.__qualname__ not in names:
        return False
    module = sys.modules.get(cls.__module__)
    return module is not None and getattr(module, cls.__qualname__, None) is cls


def _pristine_function(function, owner) -> bool:
    """A function as the library defined it: in the owner's own module, named as its method."""
    code = getattr(function, "__code__", None)
    if code is None:
        return True  # a builtin or a descriptor of C code: not something a notebook writes
    module = getattr(function, "__module__", "") or ""
    qualname = getattr(function, "__qualname__", "") or ""
    return module.startswith(LIBRARIES) and qualname.startswith(owner.__qualname__ + ".")


def pristine_class(cls) -> bool:
    """No method of the class (or of a library base class) replaced since the library defined it."""
    for klass in cls.__mro__:
        if klass.__module__ in ("builtins", "abc") or klass.__module__.startswith(
            ("sklearn.", "collections")
        ):
            continue  # BaseFeaturizer's own bases: nothing of featurising comes from them
        if not klass.__module__.startswith(LIBRARIES):
            return False  # a class of the notebook's in the hierarchy
        for value in vars(klass).values():
            function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if getattr(function, "__code__", None) is not None and not _pristine_function(function, klass):
                return False
    return True


def _feed(digest, value, depth, seen):
    """Feed the exact value of a featuriser's state into the digest, or raise Unkeyable."""
    if depth > MAX_DEPTH:
        raise Unkeyable("state too deep")
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes):
        digest.update(f"{kind.__name__}:{value!r};".encode())
        return
    if id(value) in seen:
        digest.update(f"ref:{seen[id(value)]};".encode())
        return
    seen[id(value)] = len(seen)
    module = kind.__module__
    if module == "numpy" or module.startswith("numpy."):
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype == object:
                digest.update(f"ndarray-object{value.shape};".encode())
                for item in value.ravel():
                    _feed(digest, item, depth + 1, seen)
            else:
                digest.update(f"ndarray:{value.dtype.str}{value.shape};".encode())
                digest.update(np.ascontiguousarray(value).tobytes())
            return
        if isinstance(value, np.generic):
            digest.update(f"{kind.__name__}:{value!r};".encode())
            return
        raise Unkeyable(f"numpy {kind.__name__}")
    if isinstance(value, (list, tuple)) and module == "builtins":
        digest.update(f"{kind.__name__}[{len(value)}](".encode())
        for item in value:
            _feed(digest, item, depth + 1, seen)
        digest.update(b")")
        return
    if isinstance(value, (set, frozenset)):
        parts = sorted(_digest_of(item, depth + 1) for item in value)
        digest.update(f"set({','.join(parts)});".encode())
        return
    if isinstance(value, dict):
        if module not in ("builtins", "collections") and not module.startswith(LIBRARIES):
            raise Unkeyable(f"a {_class_name(kind)}")
        items = sorted((_digest_of(k, depth + 1), v) for k, v in value.items())
        digest.update(f"{_class_name(kind)}{{{len(items)}}}(".encode())
        for key, item in items:
            digest.update(key.encode())
            _feed(digest, item, depth + 1, seen)
        digest.update(b")")
        if not hasattr(value, "__dict__"):
            return
    if isinstance(value, type):
        if not value.__module__.startswith(LIBRARIES) or not pristine_class(value):
            raise Unkeyable(f"the class {_class_name(value)}")
        digest.update(f"class:{_class_name(value)};".encode())
        return
    if callable(value) and hasattr(value, "__code__"):
        if not (getattr(value, "__module__", "") or "").startswith(LIBRARIES + ("numpy", "math")):
            raise Unkeyable("a function of the notebook")
        digest.update(f"function:{value.__module__}.{value.__qualname__};".encode())
        return
    if kind.__name__ in ("builtin_function_or_method", "ufunc") and (
        getattr(value, "__module__", None) in (None, "numpy", "builtins", "math") or kind.__name__ == "ufunc"
    ):
        digest.update(
            f"builtin:{getattr(value, '__module__', '')}.{getattr(value, '__name__', '')};".encode()
        )
        return
    if not module.startswith(LIBRARIES) or not pristine_class(kind):
        raise Unkeyable(f"a {_class_name(kind)}")
    state = getattr(value, "__dict__", None)
    if state is None:
        slots = [name for klass in kind.__mro__ for name in getattr(klass, "__slots__", ())]
        state = {name: getattr(value, name) for name in slots if hasattr(value, name)}
    for name, item in state.items():
        function = callable(item) and hasattr(item, "__code__") and not isinstance(item, type)
        if function and not _pristine_function(item, kind):
            raise Unkeyable(f"{kind.__qualname__}.{name} replaced on the object")
    digest.update(f"object:{_class_name(kind)}(".encode())
    for name in sorted(state):
        if name in VOLATILE:
            continue
        digest.update(f"{name}=".encode())
        _feed(digest, state[name], depth + 1, seen)
    digest.update(b")")


def _digest_of(value, depth=0) -> str:
    digest = hashlib.sha256()
    _feed(digest, value, depth, {})
    return digest.hexdigest()


def featuriser_key(featuriser) -> str:
    """The digest naming a featuriser's cache entry (its class, its whole state, the versions)."""
    cls = type(featuriser)
    if not allowed_class(cls):
        raise Unkeyable(f"{cls.__qualname__} is not cached")
    if not pristine_class(cls):
        raise Unkeyable(f"a method of {cls.__qualname__} was replaced")
    for name in ("featurize", "featurize_many", "featurize_wrapper", "feature_labels", "featurize_dataframe"):
        if name in vars(featuriser):
            raise Unkeyable(f"{cls.__qualname__}.{name} replaced on the object")
    digest = hashlib.sha256(f"autograder-features/{FORMAT};{versions()};".encode())
    _feed(digest, featuriser, 0, {})
    return digest.hexdigest()


def input_key(value) -> str:
    """The exact value of one input (a pymatgen Composition or Structure, or a formula string)."""
    kind = type(value)
    name = kind.__name__
    if kind is str:
        return "str:" + value
    module = kind.__module__
    if module.startswith("pymatgen.") and name == "Composition":
        items = sorted((f"{type(k).__name__}:{k}", repr(float(v))) for k, v in value.items())
        return f"Composition:{value.allow_negative}:" + ";".join(f"{k}={v}" for k, v in items)
    if module.startswith("pymatgen.") and name in ("Structure", "IStructure"):
        text = json.dumps(value.as_dict(), sort_keys=True, default=repr)
        return f"{name}:" + hashlib.sha256(text.encode()).hexdigest()
    raise Unkeyable(f"an input of type {name}")


def entry_path(cache_dir: str, key: str) -> str:
    return os.path.join(cache_dir, key[:2], key + ".pkl")


def compute_rows(featuriser, inputs) -> tuple[dict, int, float]:
    """Featurise each input exactly as featurize_many(..., ignore_errors=True) does, one at a time:
    {input key: (row, failed)}, the number that failed, and the seconds it took."""
    rows = {}
    failed = 0
    started = time.process_time()
    for value in inputs:
        key = input_key(value)
        if key in rows:
            continue
        try:
            rows[key] = (featuriser.featurize(value), False)
        except BaseException:  # noqa: BLE001 - as matminer's featurize_wrapper with ignore_errors
            rows[key] = ([float("nan")] * len(featuriser.feature_labels()), True)
            failed += 1
    return rows, failed, time.process_time() - started


def write_entry(cache_dir: str, key: str, description: str, rows: dict, seconds: float) -> str:
    """Store one entry atomically (a reader sees the whole file or none), read-only."""
    path = entry_path(cache_dir, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "wb") as handle:
        pickle.dump(
            {
                "format": FORMAT,
                "featuriser": description,
                "versions": versions(),
                "rows": rows,
                "seconds": seconds,
            },
            handle,
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    os.chmod(partial, 0o444)
    os.replace(partial, path)
    return path


def read_entry(cache_dir: str, key: str):
    try:
        with open(entry_path(cache_dir, key), "rb") as handle:
            entry = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError):
        return None
    return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None


# --- in the kernel --------------------------------------------------------------------------------


def install(base_module, cache_dir: str, emit) -> None:
    """Wrap BaseFeaturizer.featurize_many of matminer.featurizers.base (just imported) so that an
    allow-listed featuriser whose every input is in the cache is served from it. `emit(event, **fields)`
    writes to the protocol trace."""
    import copy

    base = getattr(base_module, "BaseFeaturizer", None)
    composite = getattr(base_module, "MultipleFeaturizer", None)
    if base is None or "featurize_many" not in vars(base):
        return
    original = base.featurize_many
    entries_read = {}

    def entry_for(featuriser):
        key = featuriser_key(featuriser)
        if key not in entries_read:
            entries_read[key] = read_entry(cache_dir, key)
        if entries_read[key] is None:
            raise Unkeyable(f"{type(featuriser).__qualname__} with these settings is not in the cache")
        return entries_read[key]

    def components(featuriser):
        if composite is not None and type(featuriser) is composite:
            if not pristine_class(composite):
                raise Unkeyable("a method of MultipleFeaturizer was replaced")
            for name in ("featurize", "featurize_many", "featurize_wrapper"):
                if name in vars(featuriser):
                    raise Unkeyable(f"MultipleFeaturizer.{name} replaced on the object")
            parts = list(featuriser.featurizers)
            if not parts:
                raise Unkeyable("an empty MultipleFeaturizer")
            return parts
        return [featuriser]

    def served(featuriser, entries, ignore_errors, return_errors, pbar):
        if return_errors:
            raise Unkeyable("return_errors asks for matminer's tracebacks")
        if type(entries).__name__ not in ("list", "tuple", "ndarray", "Series", "DataFrame"):
            raise Unkeyable("entries matminer does not take")
        started = time.perf_counter()
        tables = [entry_for(part) for part in components(featuriser)]
        if len(entries) == 0:
            raise Unkeyable("no entries")
        # the entries as matminer's featurize_many reads them: a row of a frame, or a tuple, is the arguments
        kind = type(entries).__name__
        values = list(entries.values) if kind == "DataFrame" else list(entries)
        if kind == "DataFrame" or (
            kind != "Series" and type(values[0]).__name__ in ("tuple", "list", "ndarray")
        ):
            if any(len(v) != 1 for v in values):
                raise Unkeyable("several arguments an entry")
            values = [v[0] for v in values]
        keys = [input_key(v) for v in values]
        rows = []
        for key in keys:
            parts = []
            for table in tables:
                found = table["rows"].get(key)
                if found is None:
                    raise Unkeyable("an input not in the cache")
                row, failed = found
                if failed and not ignore_errors:
                    raise Unkeyable(
                        "an input the featuriser fails on (computed, so that it raises as written)"
                    )
                parts.append(row)
            rows.append(parts)
        if pbar:  # the progress bar the student asked for, as matminer draws it
            from tqdm.auto import tqdm

            for _ in tqdm(
                rows, desc=featuriser.__class__.__name__, **(pbar if isinstance(pbar, dict) else {})
            ):
                pass
        if len(tables) == 1:
            result = [copy.deepcopy(parts[0]) for parts in rows]
        else:  # MultipleFeaturizer concatenates its featurisers' rows
            result = [[feature for part in parts for feature in part] for parts in rows]
            result = copy.deepcopy(result)
        saved = sum(table["seconds"] * len(keys) / max(len(table["rows"]), 1) for table in tables)
        emit(
            "feature_cache",
            featuriser=featuriser.__class__.__name__,
            served=len(keys),
            seconds_saved=round(saved, 3),
            seconds_serving=round(time.perf_counter() - started, 3),
        )
        return result

    def featurize_many(self, entries, ignore_errors=False, return_errors=False, pbar=True):
        try:
            if type(self) is composite or allowed_class(type(self)):
                return served(self, entries, ignore_errors, return_errors, pbar)
        except Unkeyable as reason:
            emit("feature_cache", featuriser=type(self).__name__, served=0, reason=str(reason)[:200])
        except Exception as error:  # noqa: BLE001 - the cache must never break the notebook
            emit("feature_cache", featuriser=type(self).__name__, served=0, reason=f"error: {error!r}"[:200])
        return original(self, entries, ignore_errors=ignore_errors, return_errors=return_errors, pbar=pbar)

    featurize_many.__doc__ = original.__doc__
    featurize_many.__name__ = original.__name__
    featurize_many.__qualname__ = original.__qualname__
    featurize_many.__module__ = original.__module__
    featurize_many.__wrapped__ = original
    base.featurize_many = featurize_many
