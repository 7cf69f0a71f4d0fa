"""scikit-learn's estimator checks on both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skqat import NMPQATClassifier, NMPQATRegressor


_NOT_EQUIVALENT = (
    "Mini-batch training with shuffling: a sample of weight 2 and two copies of it "
    "fall into different batches, so the two fits take different optimization paths."
)


def _expected_failed_checks(estimator):
    return {
        "check_sample_weight_equivalence_on_dense_data": _NOT_EQUIVALENT,
        "check_sample_weight_equivalence_on_sparse_data": _NOT_EQUIVALENT,
    }


@parametrize_with_checks(
    [NMPQATClassifier(hidden_layer_sizes=(32,), random_state=0),
     NMPQATRegressor(hidden_layer_sizes=(32,), random_state=0)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
