"""The book's sweeps (repalign.book_sweeps): valid grids, sample sizes from N_ref, one clean run per point."""

import math

import pytest

from repalign import book_sweeps
from repalign.data import native_shape, real_split
from repalign.inference.trends import snr_for_flip
from repalign.presets import LinearConfig, RealDataConfig, SampleSizeConfig, SNRConfig
from repalign.sizes import converged_reference_size, reference_size
from repalign.sweep import grid_experiments


def every_job(preset: str):
    return (book_sweeps.linear_jobs(LinearConfig.from_preset(preset))
            + book_sweeps.snr_jobs(SNRConfig.from_preset(preset))
            + book_sweeps.sample_size_jobs(SampleSizeConfig.from_preset(preset))
            + book_sweeps.real_data_jobs(RealDataConfig.from_preset(preset)))


@pytest.mark.parametrize("preset", ["paper", "smoke"])
def test_book_sweeps_declare_valid_grids_for_every_preset(preset):
    """Every job of every chapter builds its experiments (validation happens up front)."""
    jobs = every_job(preset)
    assert {labels["chapter"] for labels, _, _ in jobs} == {"linear", "snr", "sample_size", "real_data"}
    assert sum(len(grid_experiments(base, grid)) for _, base, grid in jobs) > 0


def test_repeat_seeds_count_up_from_the_first_seed():
    assert book_sweeps.repeat_seeds(LinearConfig(seed=5, repeats=3)) == [5, 6, 7]


@pytest.mark.parametrize("net", ["linear", "mlp1", "mlp2"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_snr_sample_sizes_are_the_ratios_times_the_reference_size(net, task):
    cfg = SNRConfig()
    ref = reference_size(net, d=cfg.d, width=cfg.width, n_classes=cfg.n_classes if task == "classification" else None)
    sizes = book_sweeps.snr_sample_sizes(cfg, net, task)
    assert list(sizes.values()) == list(cfg.n_ratios)
    assert all(n == max(2, round(r * ref)) for n, r in sizes.items())


def test_sample_size_grid_follows_the_parameter_count_of_the_chapter_mlp():
    cfg = SampleSizeConfig()
    # one hidden layer with biases: P = H (D + 1) + C (H + 1); trained to convergence on one-hot
    # targets, N_ref = (P - H - 1) / (C - 1)
    assert book_sweeps.sample_size_parameters(cfg, cfg.width, "classification") == 8 * 17 + 3 * 9
    assert book_sweeps.sample_size_reference(cfg, "classification") == pytest.approx((8 * 17 + 2 * 9) / 2)
    assert book_sweeps.sample_size_reference(cfg, "regression") == 8 * 17 + 9
    deeper = SampleSizeConfig(depth=3)  # any depth: "mlp3" is read as three hidden layers
    assert book_sweeps.sample_size_parameters(deeper, 8, "regression") == 8 * 17 + 2 * 8 * 9 + 9
    sizes = book_sweeps.sample_size_sizes(cfg, "regression")
    assert sizes == sorted({max(2, round(r * 145)) for r in cfg.n_ratios})


def test_the_clean_point_is_computed_once_under_label_noise():
    """At S = inf label and input noise are the same run: the input-noise grid leaves it out."""
    cfg = SNRConfig.from_preset("paper", noises=("labels", "inputs"), networks=("linear",))
    jobs = {(labels["task"], labels["noise_location"]): grid for labels, _, grid in book_sweeps.snr_jobs(cfg)}
    assert math.inf in jobs[("regression", "labels")]["snr"]
    assert math.inf not in jobs[("regression", "inputs")]["snr"]
    flips = jobs[("classification", "labels")]["flip"]  # classes: flips at the equivalent SNRs
    assert [snr_for_flip(f, cfg.n_classes) for f in flips] == pytest.approx(list(cfg.snrs))


@pytest.mark.parametrize("preset", ["paper", "smoke"])
def test_real_data_grids_fit_the_training_pools_and_count_parameters_as_trained(preset):
    """Every N of both sweeps exists in the data set's pool, and N_ref is the count for networks
    trained to convergence (P, or the one-hot count for images)."""
    cfg = RealDataConfig.from_preset(preset)
    sets = book_sweeps.real_data_sets(cfg)
    assert list(sets) == [*cfg.class_sets, *cfg.reg_sets]
    for name, s in sets.items():
        d = cfg.class_d if name in cfg.class_sets else native_shape(name)[0]
        assert s["d"] == d and s["pool"] == len(real_split(name, d).x_pool)
        assert s["n_ref"] == converged_reference_size("mlp1", d=d, width=s["width"], n_classes=s["classes"])
        for ratios, parameter in ((cfg.n_ratios, "n_ratios"), (cfg.snr_ratios, "snr_ratios")):
            sizes = book_sweeps.real_data_sizes(sets, name, ratios, parameter)
            assert max(sizes) <= s["pool"] and min(sizes) >= 2


@pytest.mark.parametrize("snr_repeats", [None, 14])
def test_real_data_jobs_share_the_clean_run_and_use_the_snr_repeats(snr_repeats):
    cfg = RealDataConfig.from_preset("paper", snr_repeats=snr_repeats)  # 14: more than the N sweep's 12
    jobs = book_sweeps.real_data_jobs(cfg)
    for labels, base, grid in jobs:
        assert base.optimizer == "lm" and base.activation == "tanh"
        if labels["sweep"] == "samples":
            assert grid["seed"] == book_sweeps.repeat_seeds(cfg)
            assert (base.flip, base.snr) == ((cfg.flip, math.inf) if labels["task"] == "classification"
                                             else (0.0, cfg.snr))
        else:
            assert grid["seed"] == list(range(cfg.seed, cfg.seed + cfg.snr_repeats))
            levels = grid.get("flip") or grid["snr"]
            assert len(levels) == (len(cfg.snrs) - (labels["noise_location"] == "inputs"))
