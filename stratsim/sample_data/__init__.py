"""The data shipped with stratsim: sample training files and the default scenario.

Located with :mod:`importlib.resources`, so they are found wherever the package is
installed (see ``README.md`` here for what each file holds).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def sample_file(name: str) -> Path:
    """Filesystem path of the shipped file ``name`` (e.g. ``"incidents.csv"``).

    The package is installed as a folder (``pyproject.toml`` lists these files as package
    data), so the resource is a real file that pandas, ``open`` and ``os.stat`` can read.
    """
    return Path(str(files(__name__).joinpath(name)))
