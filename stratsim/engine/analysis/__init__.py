"""Decision support over the vectorized simulation: batched evaluation of many points
(decisions and scenario values) as paths of one simulation, and the analyses built on it
(optimization, sweeps, sensitivity). No Textual or rich here: the CLI and the TUI drive it."""


def parse_finite(text: str, where: str) -> float:
    """``text`` as a finite float; the one number parser of the analysis options.

    Raises:
        StratsimError: ``WHERE 'text': expected a number`` (or ``a finite number``).
    """
    import math

    from ..errors import StratsimError

    try:
        v = float(text)
    except ValueError:
        raise StratsimError(f"{where} {text!r}: expected a number") from None
    if not math.isfinite(v):
        raise StratsimError(f"{where} {text!r}: expected a finite number")
    return v
