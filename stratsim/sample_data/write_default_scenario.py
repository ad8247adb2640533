"""Write ``default_scenario.toml`` from the defaults in :mod:`stratsim.engine.scenario`,
each key preceded by the source of its default. Run: ``python -m stratsim.sample_data.write_default_scenario``.
A test checks that the shipped file loads to exactly ``Scenario()``."""

from __future__ import annotations

import tomli_w

from stratsim.engine.outputs import write_bytes
from stratsim.engine.scenario import DEFAULT_SCENARIO_PATH, SCENARIO_FILE, Scenario


def render(scenario: Scenario) -> str:
    lines = [
        "# stratsim default scenario: every parameter of the model, with the source of its default.",
        "# Units: currency per month for money flows; fractions 0..1 for shares and rates (per month",
        "# unless said); 0..10 for capability stocks and satisfaction. Any float parameter may be",
        '# uncertain, e.g. bass_p = { dist = "lognormal", median = 0.0025, sigma = 0.3 }, drawn once per path.',
        "",
        tomli_w.dumps({"name": scenario.name}).strip(),
    ]
    for section in type(scenario).model_fields:
        if section == "name":
            continue
        sec = getattr(scenario, section)
        doc = (type(sec).__doc__ or "").strip().splitlines()
        lines += ["", *(f"# {d.strip()}" for d in doc if d.strip()), f"[{section}]"]
        for name, info in type(sec).model_fields.items():
            value = sec.model_dump()[name]
            if info.description:
                lines.append(f"# {info.description}")
            if isinstance(value, dict):
                lines.append(
                    f"{name} = {{ " + ", ".join(f"{k} = {v!r}" for k, v in value.items()) + " }"
                )
            else:
                lines.append(tomli_w.dumps({name: value}).strip())
    return "\n".join(lines) + "\n"


__all__ = ["SCENARIO_FILE", "main", "render"]


def main() -> None:
    write_bytes(DEFAULT_SCENARIO_PATH, render(Scenario()).encode("utf-8"), SCENARIO_FILE)
    print(f"wrote {DEFAULT_SCENARIO_PATH}")


if __name__ == "__main__":
    main()
