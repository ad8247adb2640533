"""Typed model parameters: one frozen dataclass per scenario section.

:func:`draw_params` turns a :class:`~.scenario.Scenario` into a :class:`Params`: each
section (``params.to_c``, ``params.to_b``, ...) is a frozen dataclass whose fields are the
section's parameters (the field names, units and sources are those of the scenario
section; see ``docs/MODEL.md``). A field is

* a Python ``float`` when the parameter is certain (path-invariant): arithmetic with a
  Python float costs no tensor and no float64->float32 cast, which made the step about
  1.5x faster at 10,000 paths; or
* a tensor ``[n_paths]`` (the run's dtype and device) when it is uncertain (drawn once
  per path) or overridden per path (``overrides={"to_b.win_rate": tensor[n_paths]}``,
  the form sweeps and sensitivity analyses use to batch scenario points as paths).

The section classes are generated from the scenario's pydantic sections, so a parameter
is declared once (in :mod:`.scenario`, with its default, bounds and source).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, make_dataclass
from typing import TYPE_CHECKING, Any, Union

from .scenario import PARAM_SECTIONS, Capability, Finance, Privacy, Satisfaction, ToB, ToC

if TYPE_CHECKING:
    import torch

Value = Union[float, "torch.Tensor"]


def _section_class(name: str, model: type) -> type:
    cls = make_dataclass(name, [(f, "Value") for f in model.model_fields], frozen=True)
    cls.__doc__ = (
        f"Parameters of scenario section ``{model.__name__}`` (see its docstring): each field a "
        "Python float (certain) or a tensor ``[n_paths]`` (uncertain or overridden per path)."
    )
    cls.__module__ = __name__
    return cls


CapabilityParams = _section_class("CapabilityParams", Capability)
SatisfactionParams = _section_class("SatisfactionParams", Satisfaction)
ToCParams = _section_class("ToCParams", ToC)
ToBParams = _section_class("ToBParams", ToB)
PrivacyParams = _section_class("PrivacyParams", Privacy)
FinanceParams = _section_class("FinanceParams", Finance)

_SECTION_TYPES = {
    "capability": CapabilityParams,
    "satisfaction": SatisfactionParams,
    "to_c": ToCParams,
    "to_b": ToBParams,
    "privacy": PrivacyParams,
    "finance": FinanceParams,
}
assert tuple(_SECTION_TYPES) == PARAM_SECTIONS


@dataclass(frozen=True)
class Params:
    """Every model parameter of a run, by section (``params.to_c.bass_p``).

    ``n_paths``, ``dtype`` and ``device`` are those of the run; ``params["to_c.bass_p"]``
    reads a field by its dotted key.
    """

    capability: Any
    satisfaction: Any
    to_c: Any
    to_b: Any
    privacy: Any
    finance: Any
    n_paths: int
    dtype: Any
    device: Any

    def __getitem__(self, key: str) -> Value:
        section, _, name = key.partition(".")
        if section not in _SECTION_TYPES or not hasattr(getattr(self, section), name):
            raise KeyError(key)
        return getattr(getattr(self, section), name)

    def keys(self) -> list[str]:
        """Every dotted parameter key, in scenario order."""
        return [f"{s}.{f.name}" for s in PARAM_SECTIONS for f in fields(_SECTION_TYPES[s])]

    def as_tensors(self) -> dict[str, torch.Tensor]:
        """``{"section.name": Tensor[n_paths]}`` with certain values expanded (for tests,
        export and the scalar reference)."""
        import torch

        out = {}
        for k in self.keys():
            v = self[k]
            if not isinstance(v, torch.Tensor):
                v = torch.full((self.n_paths,), float(v), dtype=self.dtype, device=self.device)
            out[k] = v
        return out

    @classmethod
    def from_flat(
        cls,
        flat: Mapping[str, Value],
        n_paths: int | None = None,
        dtype: Any = None,
        device: Any = None,
    ) -> Params:
        """Build from ``{"section.name": float | Tensor[n_paths]}`` (every key present)."""
        import torch

        tensors = [v for v in flat.values() if isinstance(v, torch.Tensor)]
        ref = tensors[0] if tensors else torch.zeros(())
        if n_paths is None:
            n_paths = int(ref.shape[0]) if tensors and ref.dim() else 1
        sections = {}
        for s, typ in _SECTION_TYPES.items():
            sections[s] = typ(**{f.name: flat[f"{s}.{f.name}"] for f in fields(typ)})
        return cls(
            **sections, n_paths=n_paths, dtype=dtype or ref.dtype, device=device or ref.device
        )


def as_params(params: Params | Mapping[str, Value]) -> Params:
    """``params`` as :class:`Params` (a flat ``{"section.name": value}`` dict is converted)."""
    return params if isinstance(params, Params) else Params.from_flat(params)


def draw_params(
    scenario: Any,
    n_paths: int,
    generator: torch.Generator,
    dtype: torch.dtype,
    device: torch.device,
    overrides: Mapping[str, Any] | None = None,
) -> Params:
    """Draw the run's parameters: certain ones as Python floats, uncertain ones once per path.

    Args:
        scenario: a validated :class:`~.scenario.Scenario`.
        n_paths, generator, dtype, device: as for :func:`~.scenario.draw_parameters`
            (the same random numbers in the same order: an override does not shift the
            draws of the other keys, so runs with and without it share random numbers).
        overrides: ``{"section.name": float | sequence | Tensor[n_paths]}``: per-path (or
            common) values replacing the scenario's for those keys; checked against the
            key's bounds (:class:`~.errors.ScenarioError` naming the key and the path).

    Returns:
        :class:`Params`.
    """
    from .scenario_draw import draw_flat

    flat = draw_flat(
        scenario, n_paths, generator, dtype, device, overrides=overrides, keep_scalars=True
    )
    return Params.from_flat(flat, n_paths, dtype, device)
