"""amtfl_tf.tensor: unfold/fold/mode_dot, the ε rank rule, HOSVD, TT-SVD,
LAF, rank validation, layer-format initial factors, sharing strength ρ and
parameter counts. NumPy only (no TensorFlow import)."""

import math

import numpy as np
import pytest

from amtfl_tf import tensor as tn

SEEDS = range(12)


def _random_shape(rng, order, low=1, high=5):
    return tuple(int(d) for d in rng.integers(low, high + 1, size=order))


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# --------------------------------------------------------------------------
# Basic algebra


@pytest.mark.parametrize("seed", SEEDS)
def test_unfold_fold_mode_dot(seed):
    rng = np.random.default_rng(seed)
    order = int(rng.integers(2, 6))
    shape = _random_shape(rng, order)
    w = rng.normal(size=shape)
    for n in range(order):
        mat = tn.unfold(w, n)
        assert mat.shape == (shape[n], w.size // shape[n])
        # columns are the mode-n fibres
        idx = tuple(rng.integers(0, d) for d in shape)
        fibre = w[idx[:n] + (slice(None),) + idx[n + 1:]]
        assert any(np.allclose(fibre, mat[:, j]) for j in range(mat.shape[1]))
        np.testing.assert_array_equal(tn.fold(mat, n, shape), w)
        m = rng.normal(size=(3, shape[n]))
        letters = "abcdef"[:order]
        expr = f"{letters},z{letters[n]}->" + letters.replace(letters[n], "z")
        np.testing.assert_allclose(tn.mode_dot(w, m, n),
                                   np.einsum(expr, w, m), rtol=1e-12)
        np.testing.assert_allclose(tn.mode_dot(w, m.T, n, transpose=True),
                                   tn.mode_dot(w, m, n), rtol=1e-12)


def test_mode_dot_vector_and_errors():
    w = np.arange(24.0).reshape(2, 3, 4)
    v = np.array([1.0, -1.0, 2.0])
    np.testing.assert_allclose(tn.mode_dot(w, v, 1),
                               np.einsum("abc,b->ac", w, v))
    with pytest.raises(ValueError, match="mode=3"):
        tn.unfold(w, 3)
    with pytest.raises(ValueError, match="columns"):
        tn.mode_dot(w, np.ones((2, 5)), 1)
    with pytest.raises(ValueError, match="shape=\\(2, 3, 5\\)"):
        tn.fold(tn.unfold(w, 0), 0, (2, 3, 5))


# --------------------------------------------------------------------------
# Truncated SVD and the rank rule


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("eps", [0.0, 0.05, 0.1, 0.3, 0.6])
def test_truncated_svd_rank_rule(seed, eps):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 12, size=2)
    # decaying spectrum so truncation actually happens
    a = rng.normal(size=(m, n)) * (0.6 ** np.arange(n))
    u, s, vt = tn.truncated_svd(a, eps=eps)
    r = s.shape[0]
    err = np.linalg.norm(a - (u * s) @ vt)
    assert err <= eps * np.linalg.norm(a) + 1e-10
    if r > 1:  # minimal: one rank fewer breaks the bound
        u2, s2, vt2 = tn.truncated_svd(a, rank=r - 1)
        assert np.linalg.norm(a - (u2 * s2) @ vt2) > \
            eps * np.linalg.norm(a)


def test_truncation_rank_examples():
    s = np.array([3.0, 2.0, 1.0])  # ||A||_F = sqrt(14)
    assert tn.truncation_rank(s, 0.0) == 3
    assert tn.truncation_rank(s, 1 / math.sqrt(14)) == 2   # tail 1
    assert tn.truncation_rank(s, math.sqrt(5 / 14)) == 1   # tail sqrt(5)
    assert tn.truncation_rank(np.zeros(4), 0.1) == 1


@pytest.mark.parametrize("kwargs,match", [
    ({}, "exactly one of eps and rank"),
    ({"eps": 0.1, "rank": 2}, "exactly one of eps and rank"),
    ({"eps": 1.0}, "eps=1.0"),
    ({"eps": -0.1}, "eps=-0.1"),
    ({"rank": 0}, "rank=0"),
    ({"rank": 5}, "rank=5"),
    ({"rank": 2.0}, "rank=2.0"),
])
def test_truncated_svd_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tn.truncated_svd(np.ones((3, 4)), **kwargs)


# --------------------------------------------------------------------------
# Tucker / HOSVD


@pytest.mark.parametrize("seed", SEEDS)
def test_hosvd_exact_at_full_rank(seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=_random_shape(rng, int(rng.integers(2, 6))))
    core, factors = tn.hosvd(w, eps=0.0)
    assert core.shape == tuple(f.shape[1] for f in factors)
    np.testing.assert_allclose(tn.tucker_to_tensor(core, factors), w,
                               atol=1e-10 * max(1, np.abs(w).max()))
    # Eq. 5: the core is W contracted with every U^(n)ᵀ
    np.testing.assert_allclose(
        core, tn.multi_mode_dot(w, factors, transpose=True), atol=1e-12)
    for f in factors:
        np.testing.assert_allclose(f.T @ f, np.eye(f.shape[1]), atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("eps", [0.05, 0.1, 0.3])
def test_hosvd_respects_eps(seed, eps):
    rng = np.random.default_rng(seed)
    shape = _random_shape(rng, int(rng.integers(3, 5)), low=2, high=6)
    # low-rank plus noise, so ranks really drop
    w = tn.tucker_to_tensor(rng.normal(size=(2,) * len(shape)),
                            [rng.normal(size=(d, 2)) for d in shape])
    w = w + 0.05 * rng.normal(size=shape) * np.linalg.norm(w) / w.size ** .5
    core, factors = tn.hosvd(w, eps=eps)
    for n, f in enumerate(factors):
        # each unfolding's projection error is within eps (authors' rule)
        un = tn.unfold(w, n)
        assert np.linalg.norm(un - f @ (f.T @ un)) <= \
            eps * np.linalg.norm(w) + 1e-10
    # and so the total is within sqrt(N) eps
    assert _rel(tn.tucker_to_tensor(core, factors), w) <= \
        math.sqrt(len(shape)) * eps + 1e-10


def test_hosvd_explicit_ranks():
    w = np.random.default_rng(0).normal(size=(4, 5, 3))
    core, factors = tn.hosvd(w, ranks=(2, 3, 1))
    assert core.shape == (2, 3, 1)
    assert [f.shape for f in factors] == [(4, 2), (5, 3), (3, 1)]


# --------------------------------------------------------------------------
# Tensor train


@pytest.mark.parametrize("seed", SEEDS)
def test_tt_svd_exact_at_full_rank(seed):
    rng = np.random.default_rng(seed)
    shape = _random_shape(rng, int(rng.integers(2, 6)))
    w = rng.normal(size=shape)
    cores = tn.tt_svd(w, eps=0.0)
    assert cores[0].shape[0] == 1 and cores[-1].shape[-1] == 1
    assert [c.shape[1] for c in cores] == list(shape)
    bounds = tn.tt_rank_bounds(shape)
    assert all(c.shape[-1] <= b for c, b in zip(cores[:-1], bounds))
    np.testing.assert_allclose(tn.tt_to_tensor(cores), w,
                               atol=1e-10 * max(1, np.abs(w).max()))


def _tt_low_rank(rng, shape, rank=2, noise=0.05):
    full = (1,) + (rank,) * (len(shape) - 1) + (1,)
    cores = [rng.normal(size=(full[k], d, full[k + 1]))
             for k, d in enumerate(shape)]
    w = tn.tt_to_tensor(cores)
    return w + noise * rng.normal(size=shape) * np.linalg.norm(w) / \
        w.size ** .5


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("eps", [0.05, 0.1, 0.3])
def test_tt_svd_bounds(seed, eps):
    rng = np.random.default_rng(seed)
    shape = _random_shape(rng, int(rng.integers(3, 6)), low=2, high=5)
    w = _tt_low_rank(rng, shape)
    n = len(shape)
    # authors' rule: every step within eps of its own matrix; total within
    # sqrt(N - 1) eps (and possibly above eps)
    cores, errors = tn.tt_svd(w, eps=eps, return_errors=True)
    assert len(errors) == n - 1
    assert max(errors) <= eps + 1e-12
    assert _rel(tn.tt_to_tensor(cores), w) <= math.sqrt(n - 1) * eps + 1e-10
    # the first step is the plain first unfolding: check it independently
    first = w.reshape(shape[0], -1)
    u = cores[0][0]
    assert np.linalg.norm(first - u @ (u.T @ first)) <= \
        eps * np.linalg.norm(w) + 1e-10
    # Oseledets' split: the global bound ||W - Ŵ|| <= eps ||W||
    cores_o = tn.tt_svd(w, eps=eps, eps_split="oseledets")
    assert _rel(tn.tt_to_tensor(cores_o), w) <= eps + 1e-10
    assert all(co.shape[-1] >= c.shape[-1]
               for co, c in zip(cores_o, cores))


def test_tt_per_unfolding_can_exceed_eps():
    """Pitfall 3: the authors' per-step ε is not a global budget."""
    worst = 0.0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        w = rng.normal(size=(4, 4, 4, 4, 4))
        worst = max(worst, _rel(tn.tt_to_tensor(tn.tt_svd(w, eps=0.3)), w))
    assert 0.3 < worst <= 2 * 0.3


def test_tt_svd_explicit_ranks_and_errors():
    w = np.random.default_rng(1).normal(size=(3, 4, 5))
    cores = tn.tt_svd(w, ranks=(2, 3))
    assert [c.shape for c in cores] == [(1, 3, 2), (2, 4, 3), (3, 5, 1)]
    with pytest.raises(ValueError, match="eps_split='global'"):
        tn.tt_svd(w, eps=0.1, eps_split="global")


# --------------------------------------------------------------------------
# LAF


@pytest.mark.parametrize("seed", SEEDS)
def test_laf_svd(seed):
    rng = np.random.default_rng(seed)
    shape = _random_shape(rng, int(rng.integers(2, 5)), low=2, high=6)
    w = rng.normal(size=shape)
    shared, task = tn.laf_svd(w, eps=0.0)
    k = task.shape[0]
    assert shared.shape == (w.size // shape[-1], k)
    assert k <= min(w.size // shape[-1], shape[-1])
    np.testing.assert_allclose(tn.laf_to_tensor(shared, task, shape), w,
                               atol=1e-10 * max(1, np.abs(w).max()))
    # L orthonormal, S = diag(s) Vᵀ (rows orthogonal, norms = s)
    np.testing.assert_allclose(shared.T @ shared, np.eye(k), atol=1e-10)
    gram = task @ task.T
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-10)
    for eps in (0.1, 0.4):
        shared, task = tn.laf_svd(w, eps=eps)
        assert _rel(tn.laf_to_tensor(shared, task, shape), w) <= eps + 1e-10


# --------------------------------------------------------------------------
# Rank validation (table-driven)


@pytest.mark.parametrize("func,shape,ranks,match", [
    (tn.validate_tucker_rank, (4, 5, 3), (2, 2), "3 entries"),
    (tn.validate_tucker_rank, (4, 5, 3), (2, 2, 2, 2), "3 entries"),
    (tn.validate_tucker_rank, (4, 5, 3), (5, 2, 2), "K_1 = 5"),
    (tn.validate_tucker_rank, (4, 5, 3), (2, 2, 4), "K_3 = 4"),
    (tn.validate_tucker_rank, (512, 1, 10), (11, 1, 10), "K_1 = 11"),
    (tn.validate_tucker_rank, (4, 5, 3), (0, 2, 2), "ints >= 1"),
    (tn.validate_tucker_rank, (4, 5, 3), 3, "sequence of 3"),
    (tn.validate_tt_rank, (4, 5, 3), (2,), "2 entries"),
    (tn.validate_tt_rank, (4, 5, 3), (2, 2, 2), "2 entries"),
    (tn.validate_tt_rank, (4, 5, 3), (5, 2), "K_1 = 5"),
    (tn.validate_tt_rank, (4, 5, 3), (4, 4), "K_2 = 4"),
    (tn.validate_tt_rank, (2, 3, 4), (1, 4), "neighbours"),
    (tn.validate_laf_rank, (4, 5, 3), 4, "K = 4"),
    (tn.validate_laf_rank, (2, 1, 7), 3, "K = 3"),
    (tn.validate_laf_rank, (4, 5, 3), 0, "ranks=0"),
])
def test_rank_validation(func, shape, ranks, match):
    with pytest.raises(ValueError, match=match):
        func(shape, ranks)


def test_rank_bounds():
    assert tn.tucker_rank_bounds((1024, 512, 10)) == (1024, 512, 10)
    assert tn.tucker_rank_bounds((512, 1, 10)) == (10, 1, 10)
    assert tn.tt_rank_bounds((5, 5, 1, 32, 10)) == (5, 25, 25, 10)


# --------------------------------------------------------------------------
# Layer-format initial factors


@pytest.mark.parametrize("method", tn.METHODS)
@pytest.mark.parametrize("shape", [(6, 4, 3), (3, 3, 2, 4, 5)])
def test_initial_factors_layer_format(method, shape):
    w = np.random.default_rng(3).normal(size=shape)
    ranks, factors = tn.initial_factors(method, w, eps=0.0)
    assert {k: v.shape for k, v in factors.items()} == \
        tn.layer_factor_shapes(method, shape, ranks)
    np.testing.assert_allclose(tn.factors_to_tensor(method, factors, shape),
                               w, atol=1e-10)
    # explicit ranks: truncated decomposition at those ranks
    small = {"tucker": (2,) * len(shape), "tt": (2,) * (len(shape) - 1),
             "laf": 2}[method]
    got, factors = tn.initial_factors(method, w, ranks=small)
    assert got == small
    assert _rel(tn.factors_to_tensor(method, factors, shape), w) < 1
    with pytest.raises(ValueError, match="method='cp'"):
        tn.initial_factors("cp", w)


def test_uncorrelated_weights_keep_full_rank_at_eps_0_1():
    """Pitfall 4: T independent Glorot-like draws are (nearly) full rank at
    ε = 0.1, e.g. (5, 5, 1, 32, 10) for DMTRL's MNIST conv1."""
    rng = np.random.default_rng(0)
    limit = math.sqrt(6 / (25 + 25 * 32))
    w = rng.uniform(-limit, limit, size=(5, 5, 1, 32, 10))
    assert tn.initial_factors("tucker", w)[0] == (5, 5, 1, 32, 10)
    assert tn.initial_factors("tt", w)[0] == (5, 25, 25, 10)
    assert tn.initial_factors("laf", w)[0] == 10
    # a rank-1 task structure plus small noise compresses the task mode
    base = rng.uniform(-limit, limit, size=(5, 5, 1, 32, 1))
    w = base * rng.normal(1, 0.02, size=(1, 1, 1, 1, 10)) + \
        0.001 * rng.normal(size=w.shape)
    assert tn.initial_factors("laf", w)[0] == 1


# --------------------------------------------------------------------------
# Sharing strength ρ (Eq. 9)


@pytest.mark.parametrize("t", [2, 3, 10, 50])
def test_sharing_strength_end_points(t):
    ud_mtl = np.zeros((3, t))
    ud_mtl[0] = 1.0
    assert tn.sharing_strength(np.eye(t), "l1") == pytest.approx(0, abs=1e-12)
    assert tn.sharing_strength(ud_mtl, "l1") == pytest.approx(1)
    assert tn.sharing_strength(ud_mtl, "softmax") == pytest.approx(1)
    expected = (2 * math.e + t - 2) / (math.e ** 2 + t - 1)
    assert tn.sharing_strength(np.eye(t)) == pytest.approx(expected)
    assert tn.softmax_identity_strength(t) == pytest.approx(expected)


def test_sharing_strength_values():
    assert tn.softmax_identity_strength(10) == pytest.approx(0.820, abs=5e-4)
    assert tn.softmax_identity_strength(2) == pytest.approx(0.648, abs=5e-4)
    assert tn.softmax_identity_strength(50) == pytest.approx(0.948, abs=5e-4)
    s = np.random.default_rng(0).normal(size=(4, 6))
    # signs are ignored (|S|); the pairwise matrix is symmetric, unit diagonal
    assert tn.sharing_strength(s) == pytest.approx(tn.sharing_strength(-s))
    sim = tn.task_similarity(s, "l1")
    np.testing.assert_allclose(sim, sim.T)
    np.testing.assert_allclose(np.diag(sim), 1)
    assert 0 <= tn.sharing_strength(s, "l1") <= 1


@pytest.mark.parametrize("factor,kwargs,match", [
    (np.eye(3), {"normalization": "l2"}, "normalization='l2'"),
    (np.ones((3, 1)), {}, "T >= 2"),
    (np.ones(3), {}, "T >= 2"),
    (np.array([[1.0, 0.0], [1.0, 0.0]]), {"normalization": "l1"}, "zero"),
])
def test_sharing_strength_bad_arguments(factor, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tn.sharing_strength(factor, **kwargs)


# --------------------------------------------------------------------------
# Parameter counts


def test_param_counts():
    shape = (1024, 512, 10)
    assert tn.stl_param_count(shape) == 1024 * 512 * 10 + 5120
    assert tn.factorised_param_count("laf", shape, 4) == \
        1024 * 512 * 4 + 4 * 10 + 5120
    assert tn.factorised_param_count("tucker", shape, (8, 6, 3)) == \
        8 * 6 * 3 + 1024 * 8 + 512 * 6 + 10 * 3 + 5120
    assert tn.factorised_param_count("tt", shape, (8, 3),
                                     use_bias=False) == \
        1024 * 8 + 8 * 512 * 3 + 3 * 10
    # the DMTRL MNIST LeNet with valid padding: 558,977 per network
    rng = np.random.default_rng(0)
    stacked = {"conv1": rng.normal(size=(5, 5, 1, 32, 2)),
               "conv2": rng.normal(size=(4, 4, 32, 64, 2)),
               "fc1": rng.normal(size=(1024, 512, 2)),
               "fc2": rng.normal(size=(512, 1, 2))}
    counts = tn.network_param_counts(stacked, eps=0.1, methods=("laf",))
    assert counts["stl"]["per_network"] == 558_977
    assert counts["laf"]["layers"]["fc2"]["ranks"] == 2
    assert counts["laf"]["layers"]["fc1"]["rel_error"] < 1e-10


def test_tt_svd_wide_step_takes_gram_route_and_matches_svd():
    """A wide step matrix (1st unfolding 24 × 240, n ≥ 4 m) is truncated
    through its Gram matrix; the cores' product, the ranks and the step
    errors equal the plain-SVD result."""
    from amtfl_tf.tensor import svd as svd_mod
    from amtfl_tf.tensor.tensor_train import tt_svd, tt_to_tensor

    rng = np.random.default_rng(3)
    low = np.einsum("ir,jr,kr->ijk", rng.normal(size=(24, 3)),
                    rng.normal(size=(40, 3)), rng.normal(size=(6, 3)))
    w = low + 1e-3 * rng.normal(size=low.shape)
    assert svd_mod.is_wide(w.reshape(24, -1))
    cores, errs = tt_svd(w, eps=0.05, return_errors=True)
    # the same decomposition with the Gram route switched off
    orig = svd_mod.is_wide
    try:
        svd_mod.is_wide = lambda a: False
        ref, ref_errs = tt_svd(w, eps=0.05, return_errors=True)
    finally:
        svd_mod.is_wide = orig
    assert [c.shape for c in cores] == [c.shape for c in ref]
    np.testing.assert_allclose(tt_to_tensor(cores), tt_to_tensor(ref),
                               rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(errs, ref_errs, rtol=1e-6, atol=1e-9)


def test_left_truncation_rank_check_names_the_limit():
    from amtfl_tf.tensor.svd import left_truncation
    with pytest.raises(ValueError, match="rank must be <= min"):
        left_truncation(np.ones((3, 20)), rank=4)


def _spectrum_matrix(values, seed=1, shape=(40, 30)):
    rng = np.random.default_rng(seed)
    k = len(values)
    u, _ = np.linalg.qr(rng.normal(size=(shape[0], k)))
    v, _ = np.linalg.qr(rng.normal(size=(shape[1], k)))
    return u @ np.diag(values) @ v.T


def test_interpolative_rank_is_scipys_and_scale_free():
    from scipy.linalg import interpolative

    few = _spectrum_matrix([1.0, 0.2, 0.11, 0.11, 0.01])
    many = _spectrum_matrix([1.0] + [0.09] * 20)
    for a in (few, many):
        assert tn.interpolative_rank(a, 0.1) == len(
            interpolative.svd(a, 0.1, rand=False)[1])
        assert tn.interpolative_rank(1e3 * a, 0.1) == \
            tn.interpolative_rank(a, 0.1)
        assert tn.interpolative_rank(a, 0.01) >= tn.interpolative_rank(a, 0.3)
    assert tn.interpolative_rank(np.zeros((4, 3)), 0.1) == 1


def test_initial_factors_interpolative_rule_ranks_each_unfolding():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 5, 1, 20, 1))
    w = base + 0.15 * rng.normal(size=(5, 5, 1, 20, 10))
    ranks, f = tn.initial_factors("tucker", w, eps=0.1,
                               rank_rule="interpolative")
    assert ranks == tuple(tn.interpolative_rank(tn.unfold(w, n), 0.1)
                          for n in range(w.ndim))
    assert ranks[-1] == 1  # one shared direction dominates the task mode
    rank, f = tn.initial_factors("laf", w, eps=0.1, rank_rule="interpolative")
    assert rank == tn.interpolative_rank(w.reshape(-1, 10), 0.1) == 10
    # the rules differ: the Frobenius tail keeps 5 of the 10 directions
    assert tn.initial_factors("laf", w, eps=0.1)[0] == 5
    ranks, f = tn.initial_factors("tt", w, eps=0.1, rank_rule="interpolative")
    assert ranks[0] == tn.interpolative_rank(w.reshape(5, -1), 0.1)
    full = tn.factors_to_tensor("tt", f, w.shape)
    assert np.linalg.norm(full - w) / np.linalg.norm(w) < 0.2
    with pytest.raises(ValueError, match="rank_rule='svd'"):
        tn.initial_factors("laf", w, rank_rule="svd")
    with pytest.raises(ValueError, match="eps_split='oseledets'"):
        tn.tt_svd(w, eps=0.1, eps_split="oseledets", rank_rule="interpolative")


def test_kernel_sharing_is_gauge_free_with_the_right_end_points():
    rng = np.random.default_rng(3)
    # identical tasks: 1; a sign flip counts as shared for the spectrum
    one = rng.normal(size=(5, 5, 3, 8, 1))
    same = np.repeat(one, 6, axis=-1)
    assert tn.kernel_sharing(same, "cosine") == pytest.approx(1.0)
    assert tn.kernel_sharing(same, "spectrum") == pytest.approx(1.0)
    flipped = same * np.array([1, -1, 1, -1, 1, -1])
    assert tn.kernel_sharing(flipped, "spectrum") == pytest.approx(1.0)
    # independent zero-mean draws: about 0 (O(sqrt(T / D)), D = 2,000)
    indep = rng.normal(size=(50, 40, 10))
    assert abs(tn.kernel_sharing(indep, "cosine")) < 0.02
    assert tn.kernel_sharing(indep, "spectrum") < 0.1
    # orthogonal kernels of equal norm: exactly 0 on both
    eye = np.eye(6).reshape(2, 3, 6)
    assert tn.kernel_sharing(eye, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert tn.kernel_sharing(eye, "spectrum") == pytest.approx(0.0,
                                                               abs=1e-12)
    # the gauge: rotate a Tucker task factor by Q and the core by Qᵀ. The
    # weights are unchanged and so is kernel_sharing; ρ is not.
    w = one + 0.5 * rng.normal(size=(5, 5, 3, 8, 6))
    core, factors = tn.hosvd(w, eps=0.0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rotated = factors[:-1] + [factors[-1] @ q]
    core_q = tn.mode_dot(core, q.T, w.ndim - 1)
    w_q = tn.tucker_to_tensor(core_q, rotated)
    np.testing.assert_allclose(w_q, w, atol=1e-9)
    for measure in tn.KERNEL_MEASURES:
        assert tn.kernel_sharing(w_q, measure) == pytest.approx(
            tn.kernel_sharing(w, measure), abs=1e-9)
    rho = tn.sharing_strength(factors[-1].T, "l1")
    rho_q = tn.sharing_strength(rotated[-1].T, "l1")
    assert abs(rho - rho_q) > 0.01
    with pytest.raises(ValueError, match="measure='rho'"):
        tn.kernel_sharing(w, "rho")
    with pytest.raises(ValueError, match="zero kernels for tasks \\[1\\]"):
        tn.kernel_sharing(np.stack([np.ones(4), np.zeros(4)], -1))
