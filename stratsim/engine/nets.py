"""Torch modules of the trainable models, with their normalization inside.

One module class, :class:`TabularNet`, covers the four kinds:

=============  ============  ===============================================
role           kind          body
=============  ============  ===============================================
satisfaction   ``linear``    ``Linear(k, 1)`` (S = alpha*F + beta*U + gamma*R + c)
satisfaction   ``mlp``       ``Linear(k, h1) -> SiLU -> ... -> Linear(h, 1)``
privacy        ``logistic``  ``Linear(k, 1)`` (a linear logit)
privacy        ``mlp``       as above, output a logit
=============  ============  ===============================================

Inputs are standardized inside the module with statistics of the training split,
held in buffers so they travel in the state dict: ``x_mean`` ``[k]``, ``x_std`` ``[k]``
(clamped to >= 1e-8). A regressor predicts the standardized target and maps it back
with the buffers ``y_mean``, ``y_std`` (scalars, satisfaction points); a classifier
outputs the training logit.

``logit_offset`` (scalar) corrects the classifier's prior: training with
``BCEWithLogitsLoss(pos_weight=w)`` multiplies the fitted odds by ``w`` (weighting the
positives ``w`` times is the same as seeing ``w`` times more of them), so the
calibrated probability is ``sigmoid(logit - log w)``; the trainer sets
``logit_offset = -log(w)`` (the prior correction of King & Zeng 2001, "Logistic
regression in rare events data", Political Analysis 9(2)).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .errors import ModelError

#: Model kinds per role; the first is the default.
KINDS: dict[str, tuple[str, ...]] = {
    "satisfaction": ("linear", "mlp"),
    "privacy": ("logistic", "mlp"),
}
#: Default hidden layer sizes of the MLP kinds.
DEFAULT_HIDDEN: tuple[int, ...] = (64, 64)


class TabularNet(nn.Module):
    """A regressor or binary classifier on ``k`` raw features.

    Args:
        n_features: ``k``, the number of input columns.
        task: ``"regression"`` or ``"classification"``.
        hidden: hidden layer sizes; ``()`` for a linear model.

    Shapes: ``forward(x [n, k]) -> [n]``.
    """

    def __init__(self, n_features: int, task: str, hidden: tuple[int, ...] = ()) -> None:
        super().__init__()
        if task not in ("regression", "classification"):
            raise ValueError(f"task must be regression or classification, not {task!r}")
        if n_features < 1:
            raise ValueError("n_features must be >= 1")
        self.task = task
        self.n_features = int(n_features)
        self.hidden = tuple(int(h) for h in hidden)
        layers: list[nn.Module] = []
        width = n_features
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)
        self.register_buffer("x_mean", torch.zeros(n_features))
        self.register_buffer("x_std", torch.ones(n_features))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))
        self.register_buffer("logit_offset", torch.zeros(()))

    @property
    def is_linear(self) -> bool:
        """True for the linear / logistic kinds (no hidden layer)."""
        return not self.hidden

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-initialize weights as ``nn.Linear`` does (U(-1/sqrt(fan_in), +)), seeded.

        Uses ``generator`` instead of the global RNG, so training is reproducible
        without touching ``torch.manual_seed``. Biases are zeroed for the output layer.
        """
        with torch.no_grad():
            for m in self.body:
                if isinstance(m, nn.Linear):
                    bound = 1.0 / math.sqrt(m.in_features)
                    m.weight.uniform_(-bound, bound, generator=generator)
                    m.bias.uniform_(-bound, bound, generator=generator)
            self.body[-1].bias.zero_()

    def set_normalization(
        self,
        x_mean: torch.Tensor,
        x_std: torch.Tensor,
        y_mean: float = 0.0,
        y_std: float = 1.0,
    ) -> None:
        """Store training-split statistics (``x_*`` ``[k]``; ``y_*`` scalars)."""
        with torch.no_grad():
            self.x_mean.copy_(x_mean)
            self.x_std.copy_(x_std.clamp_min(1e-8))
            self.y_mean.fill_(float(y_mean))
            self.y_std.fill_(max(float(y_std), 1e-8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, k]`` raw features -> ``[n]``: prediction in target units, or a logit.

        The logit is the *training* logit (before ``logit_offset``); see
        :meth:`predict_output` for the calibrated probability.
        """
        return self.forward_normalized(self.normalize(x))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, k]`` raw features -> standardized ``(x - x_mean) / x_std`` (``[n, k]``)."""
        return (x - self.x_mean) / self.x_std

    def forward_normalized(self, xn: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` of features already :meth:`normalize`-d: the trainer standardizes
        its data once instead of in every batch (2 of the MLP's ops per forward pass);
        the same numbers, elementwise."""
        z = self.body(xn).squeeze(-1)
        if self.task == "regression":
            return z * self.y_std + self.y_mean
        return z

    def predict_output(self, x: torch.Tensor) -> torch.Tensor:
        """``[n, k]`` -> ``[n]``: satisfaction (unclipped) or calibrated probability 0..1."""
        out = self.forward(x)
        if self.task == "classification":
            return torch.sigmoid(out + self.logit_offset)
        return out

    def linear_coefficients(self, features: tuple[str, ...]) -> dict[str, float]:
        """Coefficients of a linear/logistic model in the original feature units.

        Regression: ``S = sum_i coef_i * x_i + intercept`` (satisfaction points).
        Classification: the calibrated logit ``sum_i coef_i * x_i + intercept``
        (``logit_offset`` included). Derived from ``y_std * w_i / x_std_i`` and
        ``y_mean + y_std * (b - sum_i w_i * x_mean_i / x_std_i)``.

        Raises:
            ModelError: the model has hidden layers.
        """
        if not self.is_linear:
            raise ModelError("coefficients exist only for the linear/logistic kinds")
        lin = self.body[-1]
        w = lin.weight.detach().double().cpu().reshape(-1)
        b = float(lin.bias.detach().double().cpu().reshape(()))
        mu = self.x_mean.detach().double().cpu()
        sd = self.x_std.detach().double().cpu()
        scale = float(self.y_std) if self.task == "regression" else 1.0
        shift = float(self.y_mean) if self.task == "regression" else float(self.logit_offset)
        coef = scale * w / sd
        intercept = shift + scale * (b - float((w * mu / sd).sum()))
        out = {name: float(c) for name, c in zip(features, coef.tolist(), strict=True)}
        out["intercept"] = intercept
        return out


def build_net(
    role: str,
    kind: str,
    n_features: int,
    hidden: tuple[int, ...] = DEFAULT_HIDDEN,
    generator: torch.Generator | None = None,
) -> TabularNet:
    """Build an initialized :class:`TabularNet` for ``role``/``kind`` (on the CPU, float32).

    ``kind`` ``linear`` for the privacy role is read as ``logistic``; ``hidden`` is
    ignored by the linear kinds.

    Raises:
        ModelError: unknown role or kind.
    """
    kind = normalize_kind(role, kind)
    task = "regression" if role == "satisfaction" else "classification"
    net = TabularNet(n_features, task, tuple(hidden) if kind == "mlp" else ())
    net.reset_parameters(generator)
    return net


def normalize_kind(role: str, kind: str | None) -> str:
    """Validate ``kind`` for ``role`` (None -> default; privacy ``linear`` -> ``logistic``).

    Raises:
        ModelError: unknown role or kind.
    """
    if role not in KINDS:
        raise ModelError(f"unknown model role {role!r}; expected satisfaction or privacy")
    if kind is None:
        return KINDS[role][0]
    if role == "privacy" and kind == "linear":
        kind = "logistic"
    if kind not in KINDS[role]:
        raise ModelError(
            f"unknown {role} model kind {kind!r}; expected one of {', '.join(KINDS[role])}"
        )
    return kind
