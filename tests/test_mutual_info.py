"""The mutual-information cross-loss (METHOD.md §7) against hand / numpy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cocluster_kit.module._mutual_info import MutualInformationLoss, mutual_information


def _numpy_mi(table: np.ndarray) -> float:
    joint = table / table.sum()
    row = joint.sum(1)
    column = joint.sum(0)
    total = 0.0
    for a in range(joint.shape[0]):
        for b in range(joint.shape[1]):
            if joint[a, b] > 0:
                total += joint[a, b] * math.log(joint[a, b] / (row[a] * column[b]))
    return total


def _planted(seed: int = 0):
    """A 12 x 10 block matrix with 3 row and 2 column clusters, plus the true labels."""
    rng = np.random.default_rng(seed)
    row_labels = np.repeat([0, 1, 2], 4)
    column_labels = np.repeat([0, 1], 5)
    levels = np.array([[5.0, 0.2], [0.2, 5.0], [3.0, 3.0]])
    block = levels[row_labels][:, column_labels] * rng.uniform(0.9, 1.1, (12, 10))
    return block, row_labels, column_labels


def _one_hot(labels: np.ndarray, k: int) -> torch.Tensor:
    return torch.as_tensor(np.eye(k)[labels])


def test_mutual_information_random_table():
    table = np.random.default_rng(1).uniform(0.1, 3.0, (3, 4))
    got = mutual_information(torch.as_tensor(table)).item()
    assert got == pytest.approx(_numpy_mi(table), rel=1e-6, abs=1e-9)
    assert got > 0


def test_mutual_information_independent_table_is_zero():
    rng = np.random.default_rng(2)
    table = np.outer(rng.uniform(0.1, 1, 4), rng.uniform(0.1, 1, 5))
    assert mutual_information(torch.as_tensor(table)).item() == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_mutual_information_diagonal_is_log_k(k):
    table = torch.eye(k, dtype=torch.float64) * 2.5
    assert mutual_information(table).item() == pytest.approx(math.log(k), rel=1e-6)


def test_deepcc_needs_equal_cluster_counts():
    with pytest.raises(ValueError, match="weighted"):
        MutualInformationLoss(3, 2, variant="deepcc")
    MutualInformationLoss(3, 3, variant="deepcc")
    with pytest.raises(ValueError):
        MutualInformationLoss(3, 3, variant="other")


def test_true_partition_has_lower_loss_than_random():
    block, row_labels, column_labels = _planted()
    block_t = torch.as_tensor(block)
    true_loss = MutualInformationLoss(3, 2).double()(
        block_t, None, _one_hot(row_labels, 3), _one_hot(column_labels, 2)
    )
    rng = np.random.default_rng(3)
    random_losses = []
    for _ in range(5):
        loss = MutualInformationLoss(3, 2).double()(
            block_t,
            None,
            _one_hot(rng.integers(0, 3, 12), 3),
            _one_hot(rng.integers(0, 2, 10), 2),
        )
        random_losses.append(loss.item())
    # the true partition keeps almost all of the block's information (constant blocks up to
    # +-10% noise), a random one little of it
    assert true_loss.item() < 0.05
    assert true_loss.item() < min(random_losses) - 0.2
    # the value itself: 1 - I(Gamma_r^T P Gamma_c) / I(P) computed with numpy
    p = block / block.sum()
    clustered = np.eye(3)[row_labels].T @ p @ np.eye(2)[column_labels]
    expected = 1.0 - _numpy_mi(clustered) / _numpy_mi(p)
    assert true_loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_unobserved_entries_are_left_out():
    block, row_labels, column_labels = _planted(seed=4)
    observed = np.random.default_rng(5).random(block.shape) < 0.7
    perturbed = np.where(observed, block, 100.0)
    responsibilities = (_one_hot(row_labels, 3) * 0.8 + 0.2 / 3, _one_hot(column_labels, 2))
    losses = [
        MutualInformationLoss(3, 2).double()(
            torch.as_tensor(values), torch.as_tensor(observed), *responsibilities
        )
        for values in (block, perturbed)
    ]
    assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-12)
    unmasked = MutualInformationLoss(3, 2).double()(
        torch.as_tensor(np.where(observed, block, 0.0)), None, *responsibilities
    )
    assert losses[0].item() == pytest.approx(unmasked.item(), rel=1e-12)


def _soft(rng: np.random.Generator, n: int, k: int) -> torch.Tensor:
    logits = torch.as_tensor(rng.normal(size=(n, k)) * 2.0)
    return torch.softmax(logits, dim=1)


def test_moving_average_of_the_table():
    rng = np.random.default_rng(6)
    module = MutualInformationLoss(3, 4, momentum=0.9).double()
    batches = []
    for _ in range(2):
        block = rng.uniform(0.0, 2.0, (7, 5))
        rows, columns = _soft(rng, 7, 3), _soft(rng, 5, 4)
        batches.append((block, rows.numpy(), columns.numpy()))
        loss = module(torch.as_tensor(block), None, rows, columns)
    tables = [r.T @ (b / b.sum()) @ c for b, r, c in batches]
    informations = [_numpy_mi(b / b.sum()) for b, _, _ in batches]
    expected_table = 0.1 * tables[1] + 0.9 * tables[0]
    np.testing.assert_allclose(module.table.numpy(), expected_table, rtol=1e-6, atol=1e-12)
    expected_information = 0.1 * informations[1] + 0.9 * informations[0]
    assert module.data_information.item() == pytest.approx(expected_information, rel=1e-6)
    assert int(module.n_updates) == 2
    expected_loss = 1.0 - _numpy_mi(expected_table) / expected_information
    assert loss.item() == pytest.approx(expected_loss, rel=1e-5, abs=1e-8)


def test_first_update_takes_the_batch_table():
    rng = np.random.default_rng(7)
    module = MutualInformationLoss(2, 3, momentum=0.9).double()
    block = rng.uniform(0.0, 2.0, (6, 4))
    rows, columns = _soft(rng, 6, 2), _soft(rng, 4, 3)
    module(torch.as_tensor(block), None, rows, columns)
    expected = rows.numpy().T @ (block / block.sum()) @ columns.numpy()
    np.testing.assert_allclose(module.table.numpy(), expected, rtol=1e-6)


def test_gradients_flow_only_through_the_current_batch():
    rng = np.random.default_rng(8)
    module = MutualInformationLoss(3, 2, momentum=0.9).double()
    block_1 = torch.as_tensor(rng.uniform(0.0, 2.0, (6, 5)))
    block_2 = torch.as_tensor(rng.uniform(0.0, 2.0, (6, 5)))
    columns = _soft(rng, 5, 2)
    logits_1 = torch.as_tensor(rng.normal(size=(6, 3)), dtype=torch.float64).requires_grad_()
    logits_2 = torch.as_tensor(rng.normal(size=(6, 3)), dtype=torch.float64).requires_grad_()

    loss_1 = module(block_1, None, torch.softmax(logits_1, 1), columns)
    assert loss_1.requires_grad and not module.table.requires_grad
    loss_1.backward()
    gradient_1 = logits_1.grad.clone()
    assert torch.isfinite(gradient_1).all() and gradient_1.abs().sum() > 0

    # The second step must not reach back into the first step's (freed) graph.
    loss_2 = module(block_2, None, torch.softmax(logits_2, 1), columns)
    loss_2.backward()
    assert torch.equal(logits_1.grad, gradient_1)
    gradient_2 = logits_2.grad
    assert torch.isfinite(gradient_2).all() and gradient_2.abs().sum() > 0

    # Independent surrogate: 1 - I(0.1 * current + 0.9 * old) / information, old constant.
    old = (torch.softmax(logits_1, 1).T @ (block_1 / block_1.sum()) @ columns).detach()
    information = 0.1 * _numpy_mi(block_2.numpy()) + 0.9 * _numpy_mi(block_1.numpy())
    logits = logits_2.detach().clone().requires_grad_()
    current = torch.softmax(logits, 1).T @ (block_2 / block_2.sum()) @ columns
    joint = 0.1 * current + 0.9 * old
    joint = joint / joint.sum()
    outer = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)
    surrogate = 1.0 - (joint * torch.log(joint / outer)).sum() / information
    (expected,) = torch.autograd.grad(surrogate, logits)
    assert loss_2.item() == pytest.approx(surrogate.item(), rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(gradient_2.numpy(), expected.numpy(), rtol=1e-4, atol=1e-9)


def test_reset_zeroes_the_state():
    rng = np.random.default_rng(9)
    module = MutualInformationLoss(2, 2, momentum=0.9).double()
    for _ in range(2):
        module(torch.as_tensor(rng.uniform(0, 1, (4, 4))), None, _soft(rng, 4, 2), _soft(rng, 4, 2))
    assert module.table.abs().sum() > 0 and module.data_information > 0
    module.reset()
    assert torch.equal(module.table, torch.zeros(2, 2, dtype=torch.float64))
    assert module.data_information.item() == 0.0 and int(module.n_updates) == 0
    # after a reset the next batch is taken as is again
    block = rng.uniform(0, 1, (4, 4))
    rows, columns = _soft(rng, 4, 2), _soft(rng, 4, 2)
    module(torch.as_tensor(block), None, rows, columns)
    expected = rows.numpy().T @ (block / block.sum()) @ columns.numpy()
    np.testing.assert_allclose(module.table.numpy(), expected, rtol=1e-6)


def test_deepcc_variant_value():
    block, row_labels, column_labels = _planted(seed=10)
    rng = np.random.default_rng(11)
    rows, columns = _soft(rng, 12, 2), _soft(rng, 10, 2)
    loss = MutualInformationLoss(2, 2, variant="deepcc").double()(
        torch.as_tensor(block), None, rows, columns
    )
    soft_joint = rows.numpy() @ columns.numpy().T
    soft_joint /= soft_joint.sum()
    pooled = np.eye(2)[rows.numpy().argmax(1)].T @ soft_joint @ np.eye(2)[columns.numpy().argmax(1)]
    expected = math.log1p(abs(1.0 - _numpy_mi(pooled) / _numpy_mi(soft_joint)))
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-8)


def _gaussian_blocks(seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 3, 60)
    cols = rng.integers(0, 2, 40)
    means = np.array([[1.0, -1.0], [-0.5, 0.8], [0.2, -0.3]])
    values = means[rows][:, cols] + rng.normal(0.0, 1.0, (60, 40))
    return values, rows, cols


def test_variance_variant_equals_one_minus_kept_share():
    values, rows, cols = _gaussian_blocks()
    loss = MutualInformationLoss(3, 2, variant="variance")
    got = loss(torch.tensor(values), None, _one_hot(rows, 3), _one_hot(cols, 2)).item()
    kept = sum(
        values[np.ix_(rows == a, cols == b)].sum() ** 2 / ((rows == a).sum() * (cols == b).sum())
        for a in range(3)
        for b in range(2)
    )
    assert got == pytest.approx(1.0 - kept / (values**2).sum(), rel=1e-6)


def test_variance_variant_ranks_the_true_partition_first():
    values, rows, cols = _gaussian_blocks(1)
    block = torch.tensor(values)
    true_loss = MutualInformationLoss(3, 2, variant="variance")(
        block, None, _one_hot(rows, 3), _one_hot(cols, 2)
    )
    rng = np.random.default_rng(5)
    for _ in range(5):
        shuffled = MutualInformationLoss(3, 2, variant="variance")(
            block, None, _one_hot(rng.permutation(rows), 3), _one_hot(rng.permutation(cols), 2)
        )
        assert true_loss < shuffled - 0.1
