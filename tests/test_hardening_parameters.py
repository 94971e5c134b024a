"""Every chapter parameter judged together before any work (the hardening issue, continued):
values at their stated bounds work, combinations that collapse are refused, n_probe is checked
against the width and every metric, a chapter has a budget, workers are capped at the machine,
REPALIGN_LIMITS takes only its documented values, and an ensemble whose every member diverged is
reported as such. Each test failed before its fix."""

import os

import numpy as np
import pytest
from test_hardening import test_a_bad_chapter_parameter_is_one_line_before_the_kernel_starts as refused_in_one_line

from repalign import Experiment, book, book_sweeps, presets, verdicts
from repalign.experiment import EnsembleDiverged, budget_stops_expected, probes_needed, run_experiment
from repalign.metrics import METRICS

SNRS_500 = "[" + ", ".join(map(str, range(1, 501))) + "]"  # 500 SNRs: 180,000 ensembles of the snr chapter

# (chapter, key, value): refused before the kernel starts, in one line naming the key, as BAD_PARAMETERS
# in test_hardening.py. The README states how many there are.
MORE_BAD_PARAMETERS = [
    # a bound that did not work moved: n_alpha^2 pairs of 10^6 points are 931 GiB; mutual_knn needs 11 probes
    ("question", "n_alpha", "1000000"), ("snr", "n_probe", "10"),
    # no more probes than the widest layer measured has features (or fewer than a metric needs)
    ("linear", "n_probe", "4"), ("linear", "n_probe", "20"), ("decoupling", "n_probe", "20"),
    ("sample_size", "n_probe", "24"), ("real_data", "n_probe", "5"),
    # ratios that round (or are capped by the training pool) to one N
    ("snr", "n_ratios", "[0.5, 0.51]"), ("sample_size", "n_ratios", "[0.3, 0.301, 1.0]"),
    ("dip", "n_ratios", "[0.3, 0.301, 1.0]"), ("real_data", "snr_ratios", "[10, 20]"),
    # absurd scales, judged up front
    ("decoupling", "large_init", "1e6"), ("decoupling", "large_init", "3"), ("decoupling", "ridge", "1e300"),
    ("dip", "init_scales", "[0.1, 1e300]"), ("linear", "init_scales", "[0.1, 3]"), ("linear", "ridges", "[1e300]"),
    ("linear", "spreads", "[1, 1e308]"),
    # numerically zero SNRs
    ("linear", "snrs", "[1e-320, 1]"), ("question", "snrs", "[5e-324, 1]"), ("sample_size", "snr", "1e-320"),
    # more workers than any machine has cores
    ("linear", "workers", "100000"), ("snr", "workers", "100000"),
    # the chapter's budget
    ("snr", "snrs", SNRS_500), ("snr", "repeats", "1000"), ("linear", "steps", "2000000"),
    # the conclusion, with no verdict table to read (the result cache is empty here)
    ("verdicts", "preset", "smoke"), ("verdicts", "preset", "paper"),
]


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    """An empty result cache: no chapter's verdict table exists."""
    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REPALIGN_LIMITS", raising=False)


@pytest.mark.parametrize("chapter, key, value", MORE_BAD_PARAMETERS)
def test_more_bad_chapter_parameters_are_one_line_before_the_kernel_starts(no_kernel, capsys, chapter, key, value):
    refused_in_one_line(no_kernel, capsys, chapter, key, value)


# --- values at their stated bounds work --------------------------------------------------------


@pytest.mark.parametrize("chapter, key, at_bound, beyond, stated", [
    ("question", "n_alpha", "10000", "10001", "<= 10000"),
    ("snr", "n_probe", "11", "10", ">= 11"), ("linear", "n_probe", "21", "20", ">= 21"),
    ("decoupling", "n_probe", "21", "20", ">= 21"), ("sample_size", "n_probe", "25", "24", ">= 25"),
    ("dip", "n_probe", "9", "8", ">= 9"),
    ("linear", "spreads", "[1, 1000]", "[1, 1001]", "at most 1000"),
    ("linear", "ridges", "[1e6]", "[1.1e6]", "at most 1e+06"), ("decoupling", "ridge", "1e6", "2e6", "at most 1e+06"),
    ("linear", "init_scales", "[1]", "[1.5]", "at most 1"), ("decoupling", "large_init", "1", "1.5", "at most 1"),
    ("dip", "init_scales", "[0.1, 100]", "[0.1, 101]", "at most 100"),
    ("linear", "snrs", "[1e-12, 1]", "[9e-13, 1]", ">= 1e-12"), ("dip", "snr", "1e-12", "9e-13", ">= 1e-12"),
])
def test_a_value_at_its_stated_bound_is_accepted_and_the_next_is_refused_naming_it(no_kernel, chapter, key,
                                                                                   at_bound, beyond, stated):
    assert book.check_parameters(chapter, [(key, at_bound)])[key] == book.parse_value(at_bound)
    with pytest.raises(book.UsageError, match=key) as refused:
        book.check_parameters(chapter, [(key, beyond)])
    assert stated in str(refused.value)


def test_the_probes_a_chapter_states_are_enough_for_every_metric():
    """The snr chapter's stated minimum (11 probes at width 8) trains and measures every metric."""
    need, _ = probes_needed(tuple(METRICS), 4)
    with budget_stops_expected():
        res = run_experiment(Experiment(d=6, n_train=10, width=4, members=3, n_probe=need, steps=200, snr=2.0,
                                        metrics=tuple(METRICS)))
    assert need == 11 and all(np.isfinite(v) for v in res.alignment.values())


def test_the_largest_spread_still_trains():
    from repalign.multi_output import trained_multi_output
    from repalign.theory import geometric_spectrum

    res = trained_multi_output(20, 40, 2.0, geometric_spectrum(3, presets.SPREAD_MAX), members=2)
    assert np.isfinite([res.hidden, res.output]).all() and res.converged == 1.0


# --- the Experiment refuses what cannot be measured or trained -------------------------------------


@pytest.mark.parametrize("changes, complaint", [
    (dict(n_probe=5, width=20), r"Experiment.n_probe must be an integer >= 21 \(more probes than the 20 features.*"
                                r"width = 20\), got 5"),
    (dict(n_probe=20, width=20), "n_probe must be an integer >= 21"),
    (dict(n_probe=10, width=4, metrics=("cka", "mutual_knn")), r"n_probe must be an integer >= 11 \(mutual_knn needs 11"),
    (dict(data="teacher-linear-class", n_classes=10, model="mlp", optimizer="adam", lr=0.01, width=4, n_probe=8,
          metrics=("cka@output",)), r"n_probe must be an integer >= 11 \(more probes than the 10 features"),
    (dict(snr=1e-320), r"Experiment.snr must be a number >= 1e-12 \(inf allowed\)"),
    (dict(snr=5e-324), "snr must be a number >= 1e-12"),
    (dict(init_scale=1e6), r"Experiment.init_scale must be None or a finite number <= 100 \(in units of LeCun"),
    (dict(init_scale=3.0), r"init_scale must be None or a finite number <= 1 \(lr='auto'"),
    (dict(data="teacher-mlp-class", n_classes=1000, model="mlp", optimizer="adam", lr=0.01),
     r"Experiment.n_classes must be an integer <= 100 \(teacher-mlp-class balances"),
])
def test_the_experiment_refuses_what_cannot_be_measured_or_trained(changes, complaint):
    with pytest.raises(ValueError, match=complaint):
        Experiment(**changes)


def test_the_library_accepts_enough_probes_and_an_explicit_start_within_the_bounds():
    assert Experiment(n_probe=21, width=20).n_probe == 21
    assert Experiment(n_probe=4, width=8, metrics=("cka@output",)).n_probe == 4  # one output: one feature
    assert probes_needed(("cka", "information_imbalance"), 1) == (3, "information_imbalance needs 3")
    assert probes_needed(("cka_debiased@output",), 1)[0] == 4
    assert Experiment(init_scale=1.0).init_scale == 1.0
    assert Experiment(model="mlp", optimizer="adam", lr=0.01, init_scale=100.0).init_scale == 100.0
    assert Experiment(snr=1e-12).snr == 1e-12


def test_classes_of_the_mlp_teacher_are_bounded_and_balanced_fast_to_the_bit():
    from repalign.data import MAX_BALANCED_CLASSES, make_teacher
    from repalign.data import teachers

    with pytest.raises(ValueError, match="n_classes must be an integer <= 100"):
        make_teacher("teacher-mlp-class", d=8, n_classes=MAX_BALANCED_CLASSES + 1)

    def reference(scores):  # the balancing as it was: every rival recomputed for every class
        size, classes = scores.shape
        share, offsets = size // classes, np.zeros(classes)
        for _ in range(100):
            frequency = np.bincount(np.argmax(scores + offsets, axis=1), minlength=classes) / size
            if np.max(np.abs(frequency - 1.0 / classes)) < 1e-3:
                return offsets - offsets.mean()
            for c in range(classes):
                rivals = scores + offsets
                rivals[:, c] = -np.inf
                margin = scores[:, c] - rivals.max(axis=1)
                largest = np.partition(margin, size - share - 1)[size - share - 1:]
                offsets[c] = -(largest[0] + largest[1:].min()) / 2

    rng = np.random.default_rng(0)
    for classes, width in ((2, 5), (10, 8), (25, 3)):  # the same offsets: every teacher, and result, unchanged
        scores = teachers._hidden_scores_sample(rng, rng.standard_normal((width, 6)),
                                                rng.standard_normal((classes, width)), 20000)
        np.testing.assert_array_equal(teachers._balancing_offsets(scores), reference(scores))


# --- the chapter's budget ---------------------------------------------------------------------


def test_the_paper_preset_of_every_chapter_fits_the_budget_ten_times_over():
    from repalign.sweep import grid_experiments

    for name, jobs_of in book_sweeps.CHAPTER_JOBS.items():
        jobs = jobs_of(presets.CHAPTERS[name]())
        experiments = [exp for _, base, grid in jobs for exp in grid_experiments(base, grid)]
        assert book_sweeps.grid_points(jobs) * 10 <= book_sweeps.CHAPTER_ENSEMBLES, name
        assert book_sweeps.training_work(experiments) * 10 <= book_sweeps.CHAPTER_WORK, name


def test_the_chapter_budget_counts_every_ensemble_and_is_lifted_by_the_limits_switch(no_kernel, monkeypatch):
    monkeypatch.setattr(book_sweeps, "CHAPTER_ENSEMBLES", 32)  # the snr chapter's smoke preset: 32 ensembles
    book.check_parameters("snr", [("preset", "smoke")])
    monkeypatch.setattr(book_sweeps, "CHAPTER_ENSEMBLES", 31)
    with pytest.raises(book.UsageError, match=r"chapter 'snr': its sweeps would train 32 ensembles, more than a "
                                              r"chapter's limit of 31: lower .*snrs.*repeats"):
        book.check_parameters("snr", [("preset", "smoke")])
    monkeypatch.setattr(book_sweeps, "CHAPTER_ENSEMBLES", 10**6)
    monkeypatch.setattr(book_sweeps, "CHAPTER_WORK", 4e7)  # the smoke preset's estimate is 4.1e7
    with pytest.raises(book.UsageError, match=r"would take about 4.1e\+07 multiply-adds to train \(32 ensembles\), "
                                              r"more than a chapter's limit of 4e\+07: lower .*steps"):
        book.check_parameters("snr", [("preset", "smoke")])
    monkeypatch.setenv("REPALIGN_LIMITS", "off")
    book.check_parameters("snr", [("preset", "smoke")])


# --- workers, at most the machine's cores ----------------------------------------------------------


def test_workers_are_capped_at_the_machines_cores_unless_the_limits_are_off(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert presets.SNRConfig.from_preset("smoke", workers=4).workers == 4
    with pytest.raises(ValueError, match=r"workers must be an integer in \[1, 4\] \(this machine has 4 cores"):
        presets.SNRConfig.from_preset("smoke", workers=5)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert presets.LinearConfig().workers == presets.DEFAULT_WORKERS  # the paper preset runs on one core too
    monkeypatch.setenv("REPALIGN_LIMITS", "off")
    assert presets.DecouplingConfig.from_preset("smoke", workers=64).workers == 64


# --- REPALIGN_LIMITS takes only its documented values ---------------------------------------------


@pytest.mark.parametrize("value", ["maybe", "0", "false", " off", "off ", "OFF", "no"])
def test_an_undocumented_limits_value_is_refused_where_the_limits_are_read(no_kernel, capsys, monkeypatch, value):
    monkeypatch.setenv("REPALIGN_LIMITS", value)
    with pytest.raises(ValueError, match=r"REPALIGN_LIMITS must be one of \('', 'on', 'off'\) \(unset, empty or "
                                         rf"'on': the size limits hold; 'off': lifted.*\), got {value!r}"):
        Experiment()
    assert book.main(["run", "linear", "-p", "preset", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: chapter 'linear': REPALIGN_LIMITS must be one of")


@pytest.mark.parametrize("value, lifted", [("", False), ("on", False), ("off", True)])
def test_the_documented_limits_values(monkeypatch, value, lifted):
    from repalign.experiment import limits_lifted

    monkeypatch.setenv("REPALIGN_LIMITS", value)
    assert limits_lifted() is lifted
    if lifted:
        assert Experiment(n_train=10**12).n_train == 10**12
    else:
        with pytest.raises(ValueError, match="GiB of memory"):
            Experiment(n_train=10**12)


# --- the conclusion reads the tables the other chapters saved ---------------------------------------


def test_the_conclusion_runs_once_every_table_it_reads_is_there(no_kernel):
    row = verdicts.record("snr", setting="s", metric="cka", statistic="x", value=1.0, verdict="holds", control="c")
    for name in presets.CONCLUSION_READS[:-1]:
        verdicts.save(verdicts.verdict_table(name, [row]), name, "smoke")
    last = presets.CONCLUSION_READS[-1]
    with pytest.raises(book.UsageError, match=rf"and {last} has none in .*: run them first \(make chapter "
                                              rf"NAME={last} ARGS='-p preset smoke'\)"):
        book.check_parameters("verdicts", [("preset", "smoke")])
    verdicts.save(verdicts.verdict_table(last, [row]), last, "smoke")
    assert book.check_parameters("verdicts", [("preset", "smoke")]) == {"preset": "smoke"}


def test_the_check_names_the_chapters_the_conclusion_reads():
    assert set(verdicts.CHAPTER_TITLES) == set(presets.CONCLUSION_READS)


# --- an ensemble whose every member diverged ---------------------------------------------------------

DIVERGING = Experiment(d=6, n_train=8, width=4, members=2, n_probe=10, model="mlp", optimizer="gd", lr=1e4,
                       steps=50)


def test_an_ensemble_whose_every_member_diverged_is_reported_naming_the_step_and_the_start():
    with pytest.warns(EnsembleDiverged, match=r"every member \(2 of 2\) diverged.*optimizer 'gd' with lr=10000 "
                                              r"is unstable from init_scale=1 \(the default\).*lower lr or init_scale"):
        res = run_experiment(DIVERGING)
    assert res.diverged.all()


def test_a_chapter_table_with_an_ensemble_lost_to_divergence_names_the_chapter_parameter():
    from repalign.sweep import results_table

    with budget_stops_expected(), pytest.warns(EnsembleDiverged):
        lost = [(run_experiment(DIVERGING.replace(seed=seed)), False) for seed in (0, 1)]
    with budget_stops_expected():
        fine = [(run_experiment(DIVERGING.replace(lr=0.01, seed=2)), False)]
    table = results_table(lost + fine, ["seed"])
    with pytest.raises(book_sweeps.DivergedEnsembles, match=r"chapter 'dip': every member diverged \(training loss "
                                                            r"NaN or inf\) in 2 of 3 ensembles, e.g. n_train=8, "
                                                            r"lr=10000, init_scale=default, optimizer=gd: "
                                                            r"lower lr or gd_lr, init_scales"):
        book_sweeps.check_divergence("dip", table)
    with pytest.raises(book_sweeps.DivergedEnsembles, match="lower large_init"):
        book_sweeps.check_divergence("decoupling", table)
    book_sweeps.check_divergence("dip", results_table(fine, ["seed"]))  # no ensemble lost: nothing to say
