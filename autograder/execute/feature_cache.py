"""The cohort's featurisation cache, on the grader's side: computing its entries in a trusted process.

Before a batch runs its notebooks, it asks for the matminer featurisers that several of them build
(autograder.checks.featurisers finds them in the code) and this module computes each of them on its
challenge's official inputs, library code on the official data only: no student code runs here.
Entries live under autograded/.cache/features/ (layout.FEATURE_CACHE_DIR), content-addressed by the
featuriser's class, its whole state and the library versions, so a later batch, a re-run or the next
cohort reuses them. The sandbox shows the folder read-only, and the kernel start-up file serves a
`featurize_many` call from it when every input is there (kernel_startup/autograder_features.py holds
the keys both sides compute, and the rules of what may be served).
"""

from __future__ import annotations

import ast
import importlib.util
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

FEATURES_MODULE = Path(__file__).with_name("kernel_startup") / "autograder_features.py"


@cache
def features_module():
    """kernel_startup/autograder_features.py, loaded by its path (the kernel loads the same file)."""
    spec = importlib.util.spec_from_file_location("autograder_kernel_features", FEATURES_MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class FeaturiserSpec:
    """A featuriser as a notebook builds it, from literals only: `ElementProperty.from_preset("magpie")`
    is ("matminer.featurizers.composition.composite", "ElementProperty", "from_preset", ("'magpie'",), ()).
    The arguments are kept as the literals' source (a list stays a list when it is built)."""

    module: str
    name: str
    constructor: str = ""  # "" for the class itself, else a classmethod such as from_preset
    args: tuple[str, ...] = ()  # each argument's literal, as Python source
    kwargs: tuple[tuple[str, str], ...] = ()  # ((name, literal source), ...)

    @property
    def label(self) -> str:
        if self.constructor == "from_preset" and len(self.args) == 1 and not self.kwargs:
            preset = ast.literal_eval(self.args[0])
            if isinstance(preset, str):
                return f"{self.name}.{preset}"
        arguments = list(self.args) + [f"{k}={v}" for k, v in self.kwargs]
        call = f".{self.constructor}" if self.constructor else ""
        return f"{self.name}{call}({', '.join(arguments)})"

    @property
    def on_compositions(self) -> bool:
        return ".composition." in self.module

    @property
    def on_formulas(self) -> bool:
        return self.module.endswith(".conversions")  # StrToComposition reads the formula strings

    def build(self):
        import importlib

        cls = getattr(importlib.import_module(self.module), self.name)
        if not features_module().allowed_class(cls):
            raise ValueError(f"{self.name} is not a featuriser the cache serves")
        make = getattr(cls, self.constructor) if self.constructor else cls
        args = [ast.literal_eval(a) for a in self.args]
        featuriser = make(*args, **{k: ast.literal_eval(v) for k, v in self.kwargs})
        if hasattr(featuriser, "set_n_jobs"):
            featuriser.set_n_jobs(1)
        return featuriser


def parse_precompute(name: str) -> FeaturiserSpec:
    """`[features] precompute` entries: "ElementProperty.magpie" (a preset) or "Stoichiometry" (defaults)."""
    allowed = features_module().ALLOWED
    cls_name, _, preset = name.partition(".")
    for module, names in allowed.items():
        if cls_name in names:
            return FeaturiserSpec(
                module, cls_name, "from_preset" if preset else "", (repr(preset),) if preset else ()
            )
    known = sorted(n for names in allowed.values() for n in names)
    raise ValueError(f"'{name}' is not a featuriser the cache can hold (it holds {', '.join(known)})")


def official_inputs(task: str, data_dir: str, on_compositions: bool, on_formulas: bool = False) -> list:
    """The challenge's inputs as a notebook gets them from matbench: structures for a structure task
    (their compositions for a composition featuriser), pymatgen Compositions of the formulas otherwise
    (the formula strings themselves for StrToComposition)."""
    import warnings

    if data_dir:
        os.environ["MATMINER_DATA"] = data_dir
    from matbench.task import MatbenchTask
    from pymatgen.core import Composition

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matbench_task = MatbenchTask(task, autoload=False)
        matbench_task.load()
    df = matbench_task.df
    if "structure" in df.columns:
        structures = list(df["structure"])
        return [s.composition for s in structures] if on_compositions else structures
    if on_formulas:
        return list(df["composition"])
    return [Composition(formula) for formula in df["composition"]]


def _compute_part(
    spec: FeaturiserSpec, task: str, data_dir: str, part: int, parts: int
) -> tuple[dict, float]:
    """One worker's share of an entry (runs in a fresh process of the grader's own Python)."""
    import warnings

    module = features_module()
    inputs = official_inputs(task, data_dir, spec.on_compositions, spec.on_formulas)[part::parts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matminer warns about elements without oxidation states
        rows, _, seconds = module.compute_rows(spec.build(), inputs)
    return rows, seconds


@dataclass
class Precomputed:
    """What a batch's precomputation did: for the batch's summary and the README's figures."""

    computed: list[str] = field(default_factory=list)  # "label on task"
    reused: list[str] = field(default_factory=list)  # already in the cache
    failed: list[str] = field(default_factory=list)  # with the reason
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0


def precompute(
    cache_dir: Path, wanted: list[tuple[FeaturiserSpec, str]], data_dir: str, workers: int = 1, progress=None
) -> Precomputed:
    """Compute every (featuriser, task) not yet in the cache (cache_dir/<task>/), each split over `workers`
    processes.
    `progress(label, done, total)` is told as each entry finishes. A featuriser that cannot be built
    is reported, not raised: the notebooks then compute it as written."""
    module = features_module()
    done = Precomputed()
    started = time.monotonic()
    cache_dir.mkdir(parents=True, exist_ok=True)
    for number, (spec, task) in enumerate(wanted, 1):
        label = f"{spec.label} on {task}"
        try:
            key = module.featuriser_key(spec.build())
        except Exception as error:  # noqa: BLE001 - a spec the library refuses: computed as written
            done.failed.append(f"{label}: {type(error).__name__}: {error}"[:300])
            continue
        task_dir = str(cache_dir / task)  # an entry is named by its featuriser: one folder a task
        if Path(module.entry_path(task_dir, key)).is_file():  # written whole or not at all
            done.reused.append(label)
        else:
            parts = max(1, workers)
            rows: dict = {}
            cpu = 0.0
            try:
                with ProcessPoolExecutor(parts, mp_context=multiprocessing.get_context("spawn")) as pool:
                    shares = [
                        pool.submit(_compute_part, spec, task, data_dir, k, parts) for k in range(parts)
                    ]
                    for share in shares:
                        part_rows, seconds = share.result()
                        rows.update(part_rows)
                        cpu += seconds
            except Exception as error:  # noqa: BLE001 - e.g. the data set missing: computed as written
                done.failed.append(f"{label}: {type(error).__name__}: {error}"[:300])
                continue
            module.write_entry(task_dir, key, label, rows, cpu)
            done.computed.append(label)
            done.cpu_seconds += cpu
        if progress is not None:
            progress(label, number, len(wanted))
    done.wall_seconds = time.monotonic() - started
    return done
