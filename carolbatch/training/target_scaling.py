"""StandardisedTarget: a regressor with `partial_fit` that learns the target standardised.

scikit-learn's TransformedTargetRegressor does this for `fit` only; an EpochModel's last step needs
`partial_fit`. A network whose output must grow to the target's scale (house prices around 22, sales in
the thousands) spends its first epochs on the scale and its L2 penalty fights it; on a target of mean 0
and variance 1 the same penalty means the same whatever the units.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted


class StandardisedTarget(RegressorMixin, BaseEstimator):
    """`regressor` fitted on (y - mean) / scale and its predictions mapped back to the target's units.

    The mean and scale come from the targets of the first `partial_fit` (or `fit`) call and stay fixed after
    it: in memory that call gets every train row; trained by chunks it gets the first chunk, a random sample
    of tens of thousands of train rows, whose mean and scale are those of all of them.
    """

    def __init__(self, regressor: BaseEstimator) -> None:
        self.regressor = regressor

    def fit(self, features, target) -> StandardisedTarget:
        for name in ("regressor_", "target_mean_", "target_scale_"):
            self.__dict__.pop(name, None)
        return self._learn("fit", features, target)

    def partial_fit(self, features, target) -> StandardisedTarget:
        return self._learn("partial_fit", features, target)

    def predict(self, features) -> np.ndarray:
        check_is_fitted(self, "regressor_")
        return self.regressor_.predict(features) * self.target_scale_ + self.target_mean_

    def _learn(self, method: str, features, target) -> StandardisedTarget:
        target = np.asarray(target, dtype="float64")
        if not hasattr(self, "regressor_"):
            if not len(target):
                raise ValueError("no target values to standardise")
            self.regressor_ = clone(self.regressor)
            self.target_mean_ = float(np.mean(target))
            spread = float(np.std(target))
            # A constant target keeps its units rather than dividing by zero.
            self.target_scale_ = spread if spread > 0 else 1.0
        getattr(self.regressor_, method)(features, (target - self.target_mean_) / self.target_scale_)
        return self
