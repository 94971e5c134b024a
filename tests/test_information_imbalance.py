"""Tests for the information imbalance (Glielmo et al. 2022) and the neighbourhood overlap.

The reference implementation is DADApy (sissa-data-science/DADApy, ``MetricComparisons``), which
does not import next to this project's numpy.  Its test suite publishes expected values on two small
data files; those files are embedded below (float64, little-endian, base64) and the values are
reproduced.  Everything else is checked against a brute-force transcription of the definition.
"""

import base64
import itertools
import tracemalloc
import warnings

import numpy as np
import pytest

from repalign.metrics import mutual_knn
from repalign.metrics.allpairs import _information_imbalance_matrix, information_imbalance_matrix
from repalign.metrics.imbalance import (IMBALANCE_BYTES_PER_ENTRY, _imbalance_rows, information_imbalance,
                                       information_imbalance_alignment)

# DADApy tests/3d_gauss_small_z_var.npy (git blob 709a7a0e, commit d9038b3b of 2026-04-23),
# 100 points in 3-D, the third coordinate of small variance.  Apache-2.0, the DADApy Authors.
GAUSS_3D = (
    "XQZggZ9A8L8KcOuY/VrXP5/uWUOeR3w/gypoY0KO1r8ZzRHlROrNv7tR2hw/m34/2vdZ5+EU8D9rbivengvxvxyQTt4U"
    "XGa/fDp1pGxv9L+ODYC9rbr4v6xfoROCS3q/OAsoIboj8b9/eaCE1ufFP+Ob7IltKpY/SsUQNniS1T/5l84hFIrmP9Jj"
    "2V3Vwow/Ys+u1xcNqD/mvuZfZJfmv0DuwDAvI22/sFishlbA8r/ryCURNF70vxWsblxiQG4/b8T1/iQ2+r+L2g5hn+Lm"
    "vwFke29lfHS/nUp3ovjr77+++pFVaBoFQHBAasUWGZg/N/aZXXb66L9LnZIBFMPyv+nYPpeR5TS/d2eLMY0W7L/sEj0e"
    "nW3dvzORY7jzUHM/z7EtfXGA8z+rrIJHW2Xiv+AZf+8w4G6/AG36TTvs87+6MzPz/fnzP9xZmp3LRXA/xH1NDVr9/D8o"
    "hBXyggrxP4n4GPLyCIM/+DMwzK00uT/AnAq/xSb8v2mlFbde1HY/UOfMxoOE8D+A80fUNXXbv3vTEqOE3ZC/ldVDzjt9"
    "z7+qnVl35k3yvyfgCJiGQmy/+3m+wHNl0b9zbaTLL8fLP9GkNsBz93y/Rqry586Q47/qqDs8r+Tuv4q9V02sTHw/M3R3"
    "apdQ97/+He+HJPbrP3/g4dfrFZg/eqdqwFdnzT/0gZCI2qXTP3wo+vZyYX0/YyAfVrPcwj/dk30oGkXtv4Ods74RE4E/"
    "2reIQeVnwr8Bb5jwQCDRP6PYXhTvaFU/KDO1jeGC8r9q20caj0n+v67+Cv93YXk/vuitoSTC5r/yuVSTp0DWv5VlI3Aw"
    "Nom/QJye3tx12r8N/QGcetD9P0WLJ94CLJW/fPtD0TZEuj+AxZvjV4Xbv78P5oXs8Zy/l05ltevJ8r/rWYMe/mL2v+/X"
    "J1jll4a/ikvQ+LG91z/K9t/fwKPvP4H3Ih63tH8/nAM7WRdB9T8/t+sQIRAAwOcv99T3Wos/f5XsoitT1r9vbTZvqJDn"
    "vwN/+VxE/2A/1D+4Nd9x5L/lbNE/MBfkv/RnBKGBQqC/a+Y8Ihf75r+WEjFZpFJrPwsoG/uio4M/46uJm4vwyb/OkmiG"
    "CFnJvwmZimYzyH+/Jg+8iR+6sb/qg3Srrr72P+XCY3loXi6/f6ULP16slb/Gils37GPRPyXbIR0V4Wg/OR6582OCyj+v"
    "3ixKlxACwAr5OMOEh3U/t8IBD86w179nSJKA3U72P2UUqv0Ex4U/5LxQeo/R579116lqr7HfP5z1wdgCB4g/TnBZsd8c"
    "4z/HT8ivr2fLP8THsGzN23s/qlRsKuey7L/NT+qNHLXkv4ZzH/puHZO/HeJhrQhD4T9tW+hcy0XGP+VQy4Mvj10/Uje6"
    "3tMn/78w9+/iy1LsvwHenQQq/1y/NP/6FIiU9T/52TyDLHr4PzfzdstmtI2/PxUy58VRwL8GVZPNS9jCP7pwZ6qQrJE/"
    "p4OgM8hW/j9DI+K6OlHtP3HDl/JTEoK/LtAI/EJw1r+PHd+yV4rnP2l7sCUigJM/lGRMLZ0d2D85Qs1+/yL3v/z6GMit"
    "k3s/8utivMt46T9uSqoJ95j1P3t3Gysl1IC/hHH3vpsR8j+J1UKMwYfzv9a9wNB+iW0/rnBnaQIv7L8wbAFFyF//P/Wh"
    "tJwxdn8/3DcAdxLI9j9ts0BcRVHhP7mD0HbGGmE/YmUUL+oa3T/F4QgKBXH0P+ExGgYSykI/HCE9uNMU4z+5/neUQIb4"
    "Pz+qXKhr43a/sN+oBtns+T/KpVoTztf/v4x4mInghXi//gEKNv/O8L/bT6PBTgjhv3iwK1tE0Xg/aFtZ6Die7L/R4G+S"
    "bzzxv2M7zZLEB3i/MMU6+ruY4T8OAWxL433rP01F777D6oc/1EKPw0dV+j/wPkIGtMvQPzyD6SJ6Hw4/U10okWYH4b9L"
    "Zz5Arm7bP072kpsGKZG/+zN/anv2+j+q/zjMiPjyv6oVVbSDFmc/Df+gSXQO9r9smrAEEZjFP5jh7YbnVoY/nDu3ZZe4"
    "5z+PZ6l2V9EDQAUZHEAhfpW/5InJ0fz0978h8K74ibL6v5FHWa0iOVS/LxoSMAfp2T91BtIeOenbP17nOwzGg38/xsLc"
    "IVSN2j9+1PkfGYbgPwB/Wg4UTYi/UnHTkhk8wb/xmQsfL6D0vxZGphxkY3o/zlfGR/2Gqz+1JN3hVnzfP7pDnOsxnV0/"
    "JlEKQVTd/z8POKRZALDrP+fKP5zJLZI/NY04swuW3z8Qe4zXfIjUv/fH8i/FwnM/c06r2tDx8L95b/4iqprwP2ztydIw"
    "nX6/CmFV3nE45D+AkRpS/nngv5rKoH9ynIa/t0VT3fb507/fSBjUAIG2v0g998pTj3o/gCDkKrLOAcA0rS+45SfEvyMN"
    "oPVtEF8/KMYdgfiS1z9DBm02uf/Ov4XrDXbH+0s/TtO9sYoQ8b9sutznRsTYvyqpPLWpvnI/JCdJhRBT5j/qKZYoxhgE"
    "wKAIxRzigXk/xM/BSNR64L9s5QCfUn7KP4QBYLrWc5e/EP8rP4IK278incNX3+6yP1Fo3ZKGP3U/nvVD4KNKwr+7rKRi"
    "zgHsP8TpQ4Idr3W/MPdVWfd3+j9nR4tIYFHav4598Z3gu4w/skG0plf3zb9RIPXlmxbyP+/SxZxlMmI/MTGgBBPY5r86"
    "ODVF14y6P63w2IHPiXc/rqX7r3IG/L9cEeHJ477OP4yPS/b6zWG/vn9JApEd2D8T60HcHcrwv8PAxMlDyoK/bEu7zGnF"
    "8j+/g2sV0Dvbv3fIXuyWZG8/ifJI+FMi4T/D39gl+C/1v8DRQsz+y30/nyFfUjFf9L/gXmhFb5DOv3HKJeSLiIY/zST3"
    "hg3U7b8WsQs/V5b6P8zcXXfzPIi/3JYa8rWY6j9YbxEw9eXIvyBNZ51SYog/3Rn733eg+r88kYECHtDzP+RHjykvpI6/"
    "dIfcwelr978RTwvP1CPuv3JU3oW8zH4/EUpE7fjS6D8PX98fZirSv4sdJFzRlXG/RTguZWyr27+tvQofAeLfP7ipjvRE"
    "5GQ/YMi5V9XQhj/xvCy4bATNP00ElxQexm2/DfoIlf746T8orXp9SyfcPykMegeFXpe/bUG6x6J94b8/A4EaajT8P0Np"
    "xHhAL5G/o+aYHAmh3L+3D45XDAXpvxs8qovJvFQ/yQVWISYg8j8DfLQiavDwP6HbND+XnnA/"
)
# DADApy tests/2gaussians_in_2d_overlap.npy (git blob c9725c1c, same commit), 40 points in 2-D.
GAUSS_2D = (
    "x1lZMmAG77+XXXfMo5+6v6unNfo6me2/LMyqvRUUuD8OyA3eJB/zvzpWxlf7qsC/mLmd7EWX77919VcODjGgv7M5o7rh"
    "BvC/ABYZOYLWtb8X8rjgmC/tv+5zk1RW6bM/GwTrW+jJ77/i9dzrfNu8P+Q/Ti8Ege6/LAqUhnX/tb9IXwZb69Huv5Nb"
    "IA0ijLi/1h2Pnl8w7b8cttp3HHN0v94ZSTm4S/C/s9VoNIpusb9qo6d/fhbsv6gUZ5nLpY+/Sw1tbXGv8L8CX6IgfAei"
    "v8lmNazuS+6/SQH+zPK1oj8j2aOy463uvw11q2fbDqY/7w3v8Y8l6b8ciMuA9s6kv5ZcDovQ0fC/141rFSTVtL/9F5DA"
    "Ywfuv+RaiDPV5rw/R4vGQawu8L9wKTWrDIK1v6gYHB+1UfG/2guskrmnsD/rsTzZbzDxP6KLz0s7z6s/fnqmf9De7T8E"
    "sPxD+MWXP7Gq1mTLL/A//DliVMpklj9EVCPu72TxPwSwzlNs5ZY/0FMwPxUW8T+ltVvVLa57P2M4w11sdvA/c8Fu5DUp"
    "sD8eV5tGTFbrP7IH8pv+XaC/EzdptKt+7j/fNG8q81qwvyaM3XyaHu8/9T4Pqp8iwz8KkO0NtjrtP/C2o4K1ybg/LvIX"
    "oWSd6j+qfleyZyWhv58eU+WpQvA/3EtGvLsDrj/1aCCDUSPxPzug9MpHT7Q/nRI+DVPi7j/Sjb8tI6ynv8M1sUptX/E/"
    "IXiUl+2Wk79zMAQw9errP2WrHHAcA72/NnNE4cgO7T8hLVCjYnSpP6GmvWtWOvA/aqdoMSqtsT+57zWg/qHuPxglUdsF"
    "PJA/SnNE6D0A8T903n18Va2fvw=="
)


def embedded(text, columns):
    return np.frombuffer(base64.b64decode("".join(text)), dtype="<f8").reshape(-1, columns).copy()


# --------------------------------------------------------------- brute force
def brute_imbalance(a, b, k=1):
    """Delta(a -> b) transcribed from the definition, one point at a time, distances by
    differences.  Ties: the points tied at the k-th neighbour distance in a share the remaining
    places with equal weights; a rank in b is the mean of the ranks its tied distances span."""
    n = len(a)
    total = 0.0
    for i in range(n):
        da = ((a - a[i]) ** 2).sum(axis=1)
        db = ((b - b[i]) ** 2).sum(axis=1)
        others = [j for j in range(n) if j != i]
        t = sorted(da[others])[k - 1]
        closer = sum(da[j] < t for j in others)
        tied = sum(da[j] == t for j in others)
        for m in others:
            weight = 1.0 if da[m] < t else (k - closer) / tied if da[m] == t else 0.0
            if weight:
                below = sum(db[j] < db[m] for j in others)
                upto = sum(db[j] <= db[m] for j in others)
                total += weight * (below + 1 + upto) / 2  # mean of ranks below+1 .. upto
    return total / (n * k) / (n / 2.0)  # (2/n) x mean rank, written as the reference does


def brute_score(a, b, k=1):
    n = len(a)
    mean = (brute_imbalance(a, b, k) + brute_imbalance(b, a, k)) / 2
    low = (k + 1) / n
    return 1 - (mean - low) / (1 - low)


def random_pair(seed, n, p, q):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    return (z @ rng.standard_normal((2, p)) + 0.7 * rng.standard_normal((n, p)),
            z @ rng.standard_normal((2, q)) + 0.7 * rng.standard_normal((n, q)))


def random_orthogonal(rng, p):
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    return q * np.sign(np.diag(r))


# ------------------------------------------------- reference implementation
def test_reproduces_dadapy_published_imbalances_exactly():
    # DADApy tests/test_metric_comparisons/test_information_imbalance.py,
    # test_information_imbalance_basics: full space against coordinate subsets, k = 1,
    # compared there with ==.  Row 0: Delta(full -> subset), row 1: Delta(subset -> full).
    x = embedded(GAUSS_3D, 3)
    subsets = [[0], [1], [2], [0, 1], [0, 2], [1, 2]]
    expected = [[0.14400000000000002, 0.15, 0.968, 0.02, 0.1426, 0.1492],
                [0.5978, 0.5128, 0.9695999999999999, 0.02, 0.6208, 0.5434]]
    got = np.array([information_imbalance(x, x[:, c]) for c in subsets]).T
    assert got.tolist() == expected
    # test_return_inf_imb_two_selected_coords: ([0] -> [0, 1], [0, 1] -> [0]) = (0.598, 0.144)
    assert information_imbalance(x[:, [0]], x[:, [0, 1]]) == pytest.approx((0.598, 0.144), abs=0.001)
    # test_return_inf_imb_matrix_of_coords on x[:, [0, 1]]: [[0, 1.02], [0.99, 0]] (abs 0.01),
    # entry [i, j] = Delta(coordinate i -> coordinate j)
    matrix = information_imbalance_matrix([x[:, [0]], x[:, [1]]])
    assert matrix[0, 1] == pytest.approx(1.02, abs=0.01)
    assert matrix[1, 0] == pytest.approx(0.99, abs=0.01)


def test_mutual_knn_is_dadapy_neighbourhood_overlap():
    # DADApy tests/test_metric_comparisons/test_neighbour_overlap.py, test_return_data_overlap:
    # return_data_overlap(X[:, 1:], k=30) on the 2-D file = 0.78 (rel 0.001).  DADApy's overlap
    # is mean_i |N_A(i) & N_B(i)| / k over the k nearest neighbours, the point excluded, which is
    # the definition of mutual_knn.
    x = embedded(GAUSS_2D, 2)
    assert mutual_knn(x, x[:, 1:], k=30) == pytest.approx(0.78, rel=0.001)


@pytest.mark.parametrize("k", [1, 4, 15])
def test_mutual_knn_equals_dadapy_overlap_loop(k):
    # transcription of the pure-Python branch of DADApy's return_data_overlap, neighbours from
    # a full argsort of the distances (the point itself first)
    a, b = random_pair(0, 50, 4, 6)

    def neighbours(x):
        return np.argsort(((x[:, None] - x[None]) ** 2).sum(-1), axis=1)

    na, nb = neighbours(a), neighbours(b)
    overlaps = [len(np.intersect1d(na[i, 1:k + 1], nb[i, 1:k + 1])) / k for i in range(len(a))]
    assert mutual_knn(a, b, k=k) == pytest.approx(np.mean(overlaps), abs=1e-15)


# ------------------------------------------------------ the brute-force definition
@pytest.mark.parametrize("n,p,q,k", [(12, 2, 3, 1), (25, 3, 1, 1), (30, 5, 4, 3), (21, 1, 7, 20)])
def test_equals_brute_force_definition_exactly(n, p, q, k):
    a, b = random_pair(n + k, n, p, q)
    forward, backward = information_imbalance(a, b, k=k)
    assert forward == brute_imbalance(a, b, k)
    assert backward == brute_imbalance(b, a, k)


@pytest.mark.parametrize("max_bytes", [None, 1], ids=["default", "one_row_per_block"])
@pytest.mark.parametrize("k", [1, 3])
def test_all_pairs_equal_brute_force_exactly(k, max_bytes):
    rng = np.random.default_rng(k)
    reps = [rng.standard_normal((23, w)) for w in (2, 5, 3)]
    reps.append(reps[0] @ rng.standard_normal((2, 4)))  # a linear image of member 0
    kwargs = {} if max_bytes is None else {"max_bytes": max_bytes}
    matrix = information_imbalance_matrix(reps, k=k, **kwargs)
    expected = [[brute_imbalance(a, b, k) for b in reps] for a in reps]
    assert matrix.tolist() == expected
    scores = _information_imbalance_matrix(reps, k=k, **kwargs)
    np.testing.assert_array_equal(scores, scores.T)
    np.testing.assert_array_equal(np.diag(scores), 1.0)
    for i, j in itertools.combinations(range(len(reps)), 2):
        assert scores[i, j] == pytest.approx(brute_score(reps[i], reps[j], k), abs=1e-12)
        assert scores[i, j] == information_imbalance_alignment(reps[i], reps[j], k=k)


def test_row_blocks_respect_max_bytes():
    assert _imbalance_rows(1000, 32, None) == 125
    assert _imbalance_rows(1000, 32, IMBALANCE_BYTES_PER_ENTRY * 32 * 1000 * 10) == 10
    assert _imbalance_rows(1000, 32, IMBALANCE_BYTES_PER_ENTRY * 32 * 1000 * 10 - 1) == 9
    assert _imbalance_rows(1000, 32, 1) == 1


def test_memory_stays_within_max_bytes_even_with_massive_ties():
    # 295 of 300 points coincide in one member: every point of that group has the 294 others as
    # tied nearest neighbours, the worst case for the neighbour lists
    rng = np.random.default_rng(21)
    n = 300
    tied = np.zeros((n, 4))
    tied[:5] = rng.standard_normal((5, 4))
    reps = [rng.standard_normal((n, 4)), tied, rng.standard_normal((n, 6))]
    max_bytes = IMBALANCE_BYTES_PER_ENTRY * len(reps) * n * 10  # 10 rows per block
    tracemalloc.start()
    try:
        bounded = information_imbalance_matrix(reps, max_bytes=max_bytes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= max_bytes
    np.testing.assert_allclose(bounded, information_imbalance_matrix(reps), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------- ties
def grid_pair(seed, n=24):
    """Points on integer grids: many tied distances and some coincident points; the distances
    are exact integers in float64, so the ties are exact."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, (n, 2)).astype(float), rng.integers(-2, 2, (n, 3)).astype(float)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_ties_equal_brute_force(k):
    a, b = grid_pair(k)
    forward, backward = information_imbalance(a, b, k=k)
    # fractional weights: the order of summation differs, hence 1e-12 rather than ==
    assert forward == pytest.approx(brute_imbalance(a, b, k), abs=1e-12)
    assert backward == pytest.approx(brute_imbalance(b, a, k), abs=1e-12)
    assert information_imbalance_matrix([a, b], k=k)[0, 1] == forward


@pytest.mark.parametrize("k", [1, 2])
def test_ties_are_the_average_over_every_tie_order(k):
    # The reference ranks by the order of its neighbour search, which breaks ties arbitrarily:
    # point i's neighbours and ranks are positions in the list of the others sorted by distance.
    # Average that over every tie-breaking order (a priority permutation of the points, drawn
    # independently for a and b): it equals the imbalance computed here.
    rng = np.random.default_rng(3)
    n = 6
    a = rng.integers(0, 2, (n, 2)).astype(float)
    b = rng.integers(0, 3, (n, 1)).astype(float)

    def positions(x, priority):  # position[i, m] of m in i's list (1 = first after i)
        d = ((x[:, None] - x[None]) ** 2).sum(-1)
        out = np.zeros((n, n))
        for i in range(n):
            order = [j for j in np.lexsort((priority, d[i])) if j != i]
            out[i, order] = np.arange(1, n)
        return out

    perms = list(itertools.permutations(range(n)))
    chosen = np.mean([positions(a, np.array(p)) <= k for p in perms], axis=0)  # P(m is chosen)
    rank = np.mean([positions(b, np.array(p)) for p in perms], axis=0)  # E[rank of m]
    expected = (chosen * rank).sum() / (n * k) / (n / 2.0)
    assert information_imbalance(a, b, k=k)[0] == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------- known cases
@pytest.mark.parametrize("k", [1, 4])
def test_identical_representations(k):
    # every neighbour in a is ranked 1..k in b: Delta = (2/n) (k + 1) / 2 = (k + 1) / n, the
    # minimum (0 as n grows); the score is exactly 1
    x, _ = random_pair(1, 40, 5, 1)
    assert information_imbalance(x, x, k=k) == ((k + 1) / 40, (k + 1) / 40)
    assert information_imbalance_alignment(x, x, k=k) == 1.0


def test_independent_representations_give_about_one():
    # Independent: the rank of i's neighbour is uniform on 1..n-1, mean n/2, so E[Delta] = 1
    # exactly and sd(Delta) ~ (2/n) sqrt((n^2/12)/n) = 1/sqrt(3n) = 0.041 at n = 200 (ranks of
    # different points are nearly independent).  Over 20 seeds the mean must lie within 4 standard
    # errors (from the seeds' own spread) of 1, and that spread within a factor 2 of the theory.
    n, seeds = 200, 20
    values = np.array([information_imbalance(np.random.default_rng(s).standard_normal((n, 5)),
                                             np.random.default_rng(100 + s).standard_normal((n, 4)))
                       for s in range(seeds)])
    spread = values.std(axis=0, ddof=1)
    assert np.all(np.abs(values.mean(axis=0) - 1) < 4 * spread / np.sqrt(seeds))
    assert np.all((0.5 / np.sqrt(3 * n) < spread) & (spread < 2 / np.sqrt(3 * n)))
    scores = [information_imbalance_alignment(np.random.default_rng(s).standard_normal((n, 5)),
                                              np.random.default_rng(100 + s).standard_normal((n, 4)))
              for s in range(5)]
    assert abs(np.mean(scores)) < 4 / np.sqrt(3 * n)


@pytest.mark.parametrize("kept", [1, 2])
def test_coordinate_subset_is_asymmetric_in_the_known_direction(kept):
    # b = the first coordinates of a: a's neighbours are close in b (Delta(a -> b) small), but
    # b's neighbours may be far apart in the dropped coordinates (Delta(b -> a) large)
    a = np.random.default_rng(kept).standard_normal((300, 3))
    forward, backward = information_imbalance(a, a[:, :kept])
    assert forward < 0.25 and backward > 0.3 and backward > 2.5 * forward


def test_linear_image_is_closer_than_independent():
    a, b = random_pair(5, 100, 3, 6)
    related = information_imbalance_alignment(a, b)
    unrelated = information_imbalance_alignment(a, np.random.default_rng(9).standard_normal(b.shape))
    assert related > 0.3 > abs(unrelated)


# --------------------------------------------------------------- invariances
TRANSFORMS = {
    "rotation": lambda rng, x: x @ random_orthogonal(rng, x.shape[1]),
    "isotropic_scale": lambda rng, x: 0.37 * x,
    "translation": lambda rng, x: x + 50.0 * rng.standard_normal(x.shape[1]),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_invariant_to_rotation_scaling_translation(name):
    rng = np.random.default_rng(11)
    a, b = random_pair(11, 60, 4, 5)
    expected = information_imbalance(a, b, k=2)
    assert information_imbalance(a, TRANSFORMS[name](rng, b), k=2) == expected
    assert information_imbalance(TRANSFORMS[name](rng, a), b, k=2) == expected


@pytest.mark.parametrize("ties", [False, True])
def test_invariant_to_permuting_the_points_in_both(ties):
    a, b = grid_pair(4) if ties else random_pair(12, 60, 4, 5)
    order = np.random.default_rng(13).permutation(len(a))
    for k in (1, 3):
        expected = information_imbalance(a, b, k=k)
        assert information_imbalance(a[order], b[order], k=k) == pytest.approx(expected, abs=1e-12)


def test_all_pairs_accepts_a_stacked_array_and_matches_pairwise():
    reps = np.stack(random_pair(14, 30, 4, 4) + random_pair(15, 30, 4, 4))
    matrix = information_imbalance_matrix(reps, k=2)
    for i, j in itertools.permutations(range(4), 2):
        assert matrix[i, j] == information_imbalance(reps[i], reps[j], k=2)[0]


# ----------------------------------------------------------------- bad input
def test_different_n_raises():
    with pytest.raises(ValueError, match=r"x and y must have the same number of rows.*\(10, 3\).*\(12, 3\)"):
        information_imbalance(np.ones((10, 3)), np.ones((12, 3)))
    with pytest.raises(ValueError, match=r"same number of rows.*\(10, 3\).*\(12, 2\)"):
        information_imbalance_matrix([np.ones((10, 3)), np.ones((12, 2))])


@pytest.mark.parametrize("k", [0, -1, 20, 21, 2.5])
def test_k_out_of_range_raises(k):
    x = np.random.default_rng(16).standard_normal((20, 3))
    for call in (lambda: information_imbalance(x, x, k=k),
                 lambda: information_imbalance_alignment(x, x, k=k),
                 lambda: information_imbalance_matrix([x, x], k=k),
                 lambda: _information_imbalance_matrix([x, x], k=k)):
        with pytest.raises(ValueError, match=r"k must be an integer with 1 <= k < n \(n=20\)"):
            call()


def test_score_needs_k_below_n_minus_one():
    x = np.random.default_rng(17).standard_normal((20, 3))
    assert information_imbalance(x, x[:, :1], k=19) == (1.0, 1.0)  # every point is a neighbour
    for call in (lambda: information_imbalance_alignment(x, x, k=19),
                 lambda: _information_imbalance_matrix([x, x], k=19)):
        with pytest.raises(ValueError, match=r"k must be at most n - 2.*n=20.*k=19"):
            call()


def test_constant_representation_gives_nan_with_warning():
    x = np.random.default_rng(18).standard_normal((20, 3))
    constant = np.full((20, 2), 0.1)
    with pytest.warns(RuntimeWarning, match="constant"):
        assert np.isnan(information_imbalance(constant, x)).all()
    with pytest.warns(RuntimeWarning, match="constant"):
        assert np.isnan(information_imbalance_alignment(x, constant))
    with pytest.warns(RuntimeWarning, match=r"constant representations \[1\]"):
        matrix = information_imbalance_matrix([x, constant, 2 * x])
    assert np.isnan(matrix[1]).all() and np.isnan(matrix[:, 1]).all()
    assert matrix[0, 2] == matrix[2, 0] == 2 / 20
    with pytest.warns(RuntimeWarning, match=r"\[1\]"):
        scores = _information_imbalance_matrix([x, constant, 2 * x])
    assert np.isnan(scores[1]).all() and scores[0, 2] == 1.0


@pytest.mark.parametrize("coincident", [2, 15])
def test_coincident_points_are_ties_not_errors(coincident):
    rng = np.random.default_rng(19)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    x[:coincident] = x[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forward, backward = information_imbalance(x, y, k=2)
    assert forward == pytest.approx(brute_imbalance(x, y, 2), abs=1e-12)
    assert backward == pytest.approx(brute_imbalance(y, x, 2), abs=1e-12)
