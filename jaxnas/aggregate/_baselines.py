"""Model-based baselines on the same features: a scikit-learn random forest regressor.

NAS-Bench-Suite-Zero and GRAF fit tree ensembles (XGBoost / random forests) on proxy scores and
graph features; this is that baseline, on the features the learned aggregators see. Needs the
optional extra ``jaxnas[baselines]`` (scikit-learn).
"""

from __future__ import annotations

import numpy as np


def random_forest(train_features, train_accuracy, features, *, seed: int = 0,
                  n_estimators: int = 200) -> np.ndarray:
  """Fit a random forest regressor on labelled rows and predict every row.

  Args:
    train_features: (N, K) features of the labelled architectures.
    train_accuracy: (N,) their accuracies.
    features: (P, K) features to score.
    seed: ``random_state`` of the forest.
    n_estimators: number of trees.

  Returns:
    (P,) float64 predicted accuracies (higher = better).
  """
  try:
    from sklearn.ensemble import RandomForestRegressor
  except ImportError:
    raise ImportError("The random forest baseline needs scikit-learn: "
                      "pip install 'jaxnas[baselines]'.") from None
  xt = np.asarray(train_features, np.float64)
  yt = np.asarray(train_accuracy, np.float64).ravel()
  x = np.asarray(features, np.float64)
  if xt.ndim != 2 or x.ndim != 2 or xt.shape[0] != yt.size or xt.shape[1] != x.shape[1]:
    raise ValueError(f"`train_features` (N, K), `train_accuracy` (N,) and `features` (P, K) must "
                     f"agree; got shapes {xt.shape}, {yt.shape} and {x.shape}.")
  forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)
  return forest.fit(xt, yt).predict(x)
