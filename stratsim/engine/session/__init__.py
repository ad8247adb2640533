"""Sessions: a run saved to TOML, reloaded to exactly where it was (DESIGN.md section 3).

A session file stands alone: it holds the full scenario, the run's settings, every
decision taken so far, the KPI history shown to the operator, and references to the
trained model files it used. Reloading re-simulates the decisions from the seed
(:meth:`Simulation.replay`), so the reloaded simulation is bit-identical to the saved one
on the same device and dtype, and the next period is the same as if it had never been
saved.

File layout (schema version 4, :data:`SCHEMA_VERSION`)::

    schema_version = 4
    [meta]      name (str), created, saved (TOML offset date-times, UTC; an ISO 8601
                string with an offset is accepted on load), app_version (str)
    [run]       seed (int), n_paths (int), dtype ("float32"|"float64"),
                device ("cpu"|"cuda"|"mps", the device the run used), policy
                ("manual"|"fixed"|"feedback"), period (int, months simulated)
    [run.next_decision]   the allocation held for the next period (the manual policy's
                current allocation; Decision.to_dict())
    [models.satisfaction] / [models.privacy]   only for trained models: path (relative to
                the session file's folder), sha256 (hex of the file), kind, metrics
                (table of numbers; metrics that are undefined, e.g. NaN ROC-AUC with one
                class, are listed in ``undefined_metrics`` instead). The shipped default
                models are omitted.
    [scenario]  every parameter, Scenario.to_dict(); uncertain ones as tables
    [[decisions]]  one per period: period (1-based) + Decision.to_dict()
    [[history]]    one per period: period + one table per KPI {mean, p10, p50, p90}
    [[optimizations]]  optional: one per optimization run (``stratsim optimize``, the
                   Advise tab): period, settings (method, levers, seed, ...), the
                   recommendation and its evaluation (Recommendation.record()); kept as
                   written. Files without it load unchanged.
    [[model_switches]]  optional: one per model adopted "from the next period" (the TUI's
                   offer after training): role, period (the first period simulated with
                   it, 2..run.period + 1), and the model reference keys of [models.ROLE];
                   [models] then holds the models used from period 1. The replay applies
                   each switch at its period, so the history reproduces exactly.
    [[branches]]   optional: kept branches (name, period, policy, next_decision,
                   optional draft, [[branches.decisions]]): :mod:`.branches`.

Schema version 3 lacks only the two optional arrays above; versions 1 and 2 are older
formats. Schema version 1 (the first format) differs in three ways and is migrated on load by
:func:`stratsim.engine.session_migrate.migrate`: no ``meta.app_version``, ``run.paths``
instead of ``run.n_paths``, and each decision's splits flattened into
``c_split_product, c_split_ux, ...`` keys. A file with a newer schema version than this
program reads is refused.

Package layout (every name below is importable from ``stratsim.engine.session``):
:mod:`.schema` (version, keys, data classes), :mod:`.validate` (typed reading, one-line
errors), :mod:`.store` (document, atomic save, read/parse), :mod:`.replay` (load_session,
compare_histories), :mod:`.autosave` (paths, recovery, snapshots), :mod:`.signals`
(SignalAutosave), :mod:`.branches` (kept branches), :mod:`.export` (tables).

Public API (the TUI and the CLI use only these):

* :func:`save_session` ``(sim, path, *, name=None, created=None, force=False) -> Path``:
  atomic save (temporary file in the same folder, flush, ``os.fsync``, ``os.replace``,
  fsync of the folder): a crash at any moment leaves the old file or the new one, never a
  broken one. A symbolic link or an existing file that is not a session
  (:data:`SESSION_FILE`) is refused (:class:`~stratsim.engine.fileio.OutputError`) unless
  ``force``; ask first with :func:`stratsim.engine.outputs.output_problem`.
  A crash may leave a stray ``.NAME.toml.*.tmp`` file in the folder; it is never read.
* :func:`load_session` ``(path, *, allow_external_models=False, device=None) ->
  LoadedSession``: validate, migrate, check model files, rebuild and replay; nothing is
  returned half-built. :class:`LoadedSession` has ``.simulation``, ``.meta``,
  ``.stored_history``, ``.warnings``, ``.matches`` and ``.first_difference()``.
* :func:`read_session` ``(path, ...) -> SessionData``: validation only, no replay
  (used by ``stratsim export``).
* :func:`autosave_path` ``(path)``: ``DIR/NAME.autosave.toml`` for ``DIR/NAME.toml``;
  :func:`autosave` ``(sim, path, ...)`` saves there (call it after every period stepped);
  :func:`find_recovery` ``(path) -> Path | None``: an autosave newer than its session (or
  one whose session does not exist), to offer for recovery on start;
  :func:`discard_autosave` ``(path)`` removes it after an explicit save.
* :func:`snapshot` ``(sim) -> SessionSnapshot``: a consistent copy to autosave while a
  worker replays ``sim`` (what a signal handler should save then).
* :func:`install_signal_autosave` ``(get_simulation, path, ...) -> SignalAutosave``:
  on SIGHUP (lost SSH connection) and SIGTERM, autosave then exit with status
  128 + signal number (or call ``on_saved``); ``.uninstall()`` restores the previous
  handlers. Must be called from the main thread.
* :func:`decisions_frame` ``(decisions) -> DataFrame``: decisions as a flat table.

Errors: every problem with a file is a :class:`~stratsim.engine.errors.SessionError`
whose message names the file, the key path (``decisions[3].c_split.ux``: the third
``[[decisions]]`` table, counting from 1), the value and the expectation. An unknown key is
not an error: it is reported in ``LoadedSession.warnings`` (the TUI logs them, the CLI
prints them). Values that TOML cannot hold (NaN, infinities, integers outside 64 bits)
are refused on save, naming the key path, before anything is written.
"""

from .autosave import (
    SessionSnapshot,
    autosave,
    autosave_path,
    discard_autosave,
    find_recovery,
    snapshot,
)
from .export import decisions_frame
from .replay import Difference, LoadedSession, compare_histories, load_session
from .schema import (
    AUTOSAVE_SUFFIX,
    DEFAULT_REL_TOL,
    MODEL_ROLES,
    SCHEMA_VERSION,
    SESSION_FILE,
    ModelRef,
    SessionData,
    SessionMeta,
)
from .signals import SignalAutosave, default_autosave_signals, install_signal_autosave
from .store import (
    _is_default_model,
    atomic_write_bytes,
    parse_session,
    read_session,
    save_session,
    session_document,
)

__all__ = [
    "AUTOSAVE_SUFFIX",
    "DEFAULT_REL_TOL",
    "MODEL_ROLES",
    "SCHEMA_VERSION",
    "SESSION_FILE",
    "Difference",
    "LoadedSession",
    "ModelRef",
    "SessionData",
    "SessionMeta",
    "SessionSnapshot",
    "SignalAutosave",
    "_is_default_model",
    "atomic_write_bytes",
    "autosave",
    "autosave_path",
    "compare_histories",
    "decisions_frame",
    "default_autosave_signals",
    "discard_autosave",
    "find_recovery",
    "install_signal_autosave",
    "load_session",
    "parse_session",
    "read_session",
    "save_session",
    "session_document",
    "snapshot",
]
