"""The sweeps behind the book's figures, declared in one place.

Each chapter runs its own sweeps from here, and the decoupling chapter reads all of them back
(from the result cache: the same Experiments are cache hits). A sweep is a ``Job`` of
``repalign.sweep``: ``(labels, base experiment, grid)``; every label set names its
chapter. Sample sizes are ratios of N_ref, always from ``repalign.sizes``: ``reference_size`` for
the budget-trained chapters, ``converged_reference_size`` for those trained to convergence.
"""

from __future__ import annotations

import math
from typing import get_origin

from .data import native_shape, real_split, task_of
from .experiment import Experiment, limits_lifted, resources
from .inference.trends import flip_for_snr
from .metrics import METRICS
from .presets import (DecouplingConfig, DipConfig, LinearConfig, RealDataConfig, SampleSizeConfig, SNRConfig,
                      TrackingConfig)
from .sizes import converged_reference_size, n_parameters, network, network_name, reference_size
from .sweep import Job

TEACHERS = {"regression": "teacher-linear", "classification": "teacher-linear-class"}


def repeat_seeds(cfg) -> list[int]:
    """The seeds of the independent ensembles of every grid point."""
    return list(range(cfg.seed, cfg.seed + cfg.repeats))


# --- the linear network ----------------------------------------------------------------------


def linear_base(cfg: LinearConfig) -> Experiment:
    return Experiment(d=cfg.d, members=cfg.members, width=cfg.width, n_probe=cfg.n_probe, tol=cfg.tol,
                      steps=cfg.steps, metrics=("cka",))


def linear_jobs(cfg: LinearConfig) -> list[Job]:
    """Trained against theory: N/D x S x shared or independent inputs."""
    grid = {"n_train": [round(a * cfg.d) for a in cfg.alphas], "snr": list(cfg.snrs),
            "shared_inputs": [True, False], "seed": repeat_seeds(cfg)}
    return [({"chapter": "linear", "network": "linear", "task": "regression", "noise_location": "labels"},
             linear_base(cfg), grid)]


def robustness_base(cfg: DecouplingConfig) -> Experiment:
    """The robustness grid's linear network, measured with every metric, before a setup changes it."""
    return Experiment(d=cfg.d, members=cfg.members, width=cfg.width, n_probe=cfg.n_probe, metrics=tuple(METRICS))


def robustness_grid_values(cfg: DecouplingConfig) -> dict:
    """The robustness grid: N = alpha D x S x the repeats' seeds."""
    return {"n_train": [round(a * cfg.d) for a in cfg.alphas], "snr": list(cfg.snrs), "seed": repeat_seeds(cfg)}


def robustness_setups(cfg: DecouplingConfig) -> dict[str, dict]:
    """Setup label -> what it changes in the robustness grid's baseline."""
    return {
        "label noise, shared inputs (baseline)": {},
        "input noise": {"noise": "inputs"},
        "independent inputs": {"shared_inputs": False},
        f"shared init, std {cfg.large_init:g}": {"init_scale": cfg.large_init, "shared_init": True},
        f"independent init, std {cfg.large_init:g}": {"init_scale": cfg.large_init, "shared_init": False},
    }


def robustness_jobs(cfg: DecouplingConfig) -> list[Job]:
    """The robustness grid, once per setup."""
    base, grid = robustness_base(cfg), robustness_grid_values(cfg)
    return [({"setup": name}, base.replace(**changes), grid) for name, changes in robustness_setups(cfg).items()]


# --- alignment against SNR -------------------------------------------------------------------------


def snr_base(cfg: SNRConfig, net: str, task: str, noise: str) -> Experiment:
    model, depth = network(net)
    training = (dict(optimizer="gd", lr="auto", steps=cfg.linear_steps) if model == "linear"
                else dict(optimizer="adam", lr=cfg.lr, steps=cfg.steps))
    return Experiment(data=TEACHERS[task], d=cfg.d, noise=noise, n_classes=cfg.n_classes, model=model, depth=depth,
                      width=cfg.width, members=cfg.members, loss="mse", tol=cfg.tol, n_probe=cfg.n_probe,
                      metrics=tuple(METRICS), **training)


def sizes_of(name: str, ratios, n_ref: float, where: str, pool: int | None = None) -> list[int]:
    """The sample sizes of ``ratios`` x N_ref, in the ratios' order: N >= 2, at most ``pool``.

    Each ratio must give its own N: two that round (or are clamped) to one N would make the
    chapter's curves shorter than its ratios, or than the minimum its configuration states; the
    ValueError names the parameter ``name``, the sizes and ``where`` (the network and task)."""
    sizes = [max(2, round(r * n_ref)) for r in ratios]
    sizes = [min(pool, n) for n in sizes] if pool is not None else sizes
    if len(set(sizes)) < len(sizes):
        cap = f" and at most the training pool of {pool}" if pool is not None else ""
        raise ValueError(f"{name} {tuple(ratios)} give the sample sizes N = {sizes} for {where} (N_ref = {n_ref:.4g}; "
                         f"N >= 2{cap}): each ratio must give its own N (ratios about 1/N_ref = {1 / n_ref:.2g} apart or more)")
    return sizes


def snr_sample_sizes(cfg: SNRConfig, net: str, task: str) -> dict[int, float]:
    """N -> N / N_ref for the chapter's ratios (N >= 2)."""
    ref = reference_size(net, d=cfg.d, width=cfg.width, n_classes=cfg.n_classes if task == "classification" else None)
    return dict(zip(sizes_of("n_ratios", cfg.n_ratios, ref, f"{net} on {task}"), cfg.n_ratios))


def snr_jobs(cfg: SNRConfig) -> list[Job]:
    """Every network x task x noise location, over N/N_ref x S. Without noise (S = inf) label
    and input noise are the same run, so it is computed once, under label noise."""
    finite = [s for s in cfg.snrs if s != float("inf")]
    share_clean = "labels" in cfg.noises and float("inf") in cfg.snrs
    jobs = []
    for net in cfg.networks:
        for task in cfg.tasks:
            for noise in cfg.noises:
                levels = finite if (noise == "inputs" and share_clean) else list(cfg.snrs)
                knob = ({"flip": [flip_for_snr(s, cfg.n_classes) for s in levels]}
                        if (task, noise) == ("classification", "labels") else {"snr": levels})
                grid = {"n_train": list(snr_sample_sizes(cfg, net, task)), **knob, "seed": repeat_seeds(cfg)}
                labels = {"chapter": "snr", "network": net, "task": task, "noise_location": noise}
                jobs.append((labels, snr_base(cfg, net, task, noise), grid))
    return jobs


# --- sample size and width -------------------------------------------------------------------------


def sample_size_outputs(cfg: SampleSizeConfig, task: str) -> int:
    return 1 if task == "regression" else cfg.n_classes


def label_noise(cfg, task: str) -> dict:
    """The label noise at ``cfg.snr``: Gaussian for regression, flips at the equivalent S for classification."""
    return dict(snr=cfg.snr) if task == "regression" else dict(flip=flip_for_snr(cfg.snr, cfg.n_classes))


def teacher_mlp(cfg: DipConfig, task: str, depth: int, metrics: tuple[str, ...]) -> Experiment:
    """A ReLU MLP on the linear teacher (label noise at ``cfg.snr``; flips at the equivalent S for
    classification), fitted with the squared loss by constant-rate full-batch Adam to a step
    budget: the reference of the nonlinear-regimes chapter."""
    return Experiment(data=TEACHERS[task], d=cfg.d, noise="labels", n_classes=cfg.n_classes, model="mlp",
                      depth=depth, width=cfg.width, members=cfg.members, optimizer="adam", lr=cfg.lr, loss="mse",
                      steps=cfg.steps, tol=cfg.tol, n_probe=cfg.n_probe, metrics=metrics, **label_noise(cfg, task))


def mlp_reference_size(cfg: DipConfig, task: str, depth: int) -> float:
    """N_ref of that MLP: P for regression, P / C for classification (N C = P)."""
    return reference_size(network_name("mlp", depth), d=cfg.d, width=cfg.width,
                          n_classes=cfg.n_classes if task == "classification" else None)


def ratio_sizes(ratios, n_ref: float, where: str = "the network") -> list[int]:
    """The sample sizes ``ratios`` (the parameter n_ratios) x N_ref, N >= 2, in increasing order."""
    return sorted(sizes_of("n_ratios", ratios, n_ref, where))


def converged_mlp(cfg: SampleSizeConfig | TrackingConfig, data: str, task: str, width: int, depth: int,
                  metrics: tuple[str, ...]) -> Experiment:
    """A tanh MLP trained to convergence by Levenberg-Marquardt (squared loss, one-hot targets
    for classification, float64): the networks of the sample-size and tracking chapters."""
    return Experiment(data=data, d=cfg.d, noise="labels", n_classes=cfg.n_classes, model="mlp", width=width,
                      depth=depth, activation="tanh", members=cfg.members, optimizer="lm", loss="mse",
                      dtype="float64", steps=cfg.steps, tol=cfg.tol, n_probe=cfg.n_probe, metrics=metrics,
                      **label_noise(cfg, task))


def sample_size_measurements(cfg: SampleSizeConfig) -> tuple[str, str]:
    """The metric on the hidden layer (the last, for deeper networks) and on the outputs."""
    return cfg.metric, f"{cfg.metric}@output"


def sample_size_base(cfg: SampleSizeConfig, task: str) -> Experiment:
    return converged_mlp(cfg, TEACHERS[task], task, cfg.width, cfg.depth, sample_size_measurements(cfg))


def sample_size_parameters(cfg: SampleSizeConfig, width: int, task: str) -> int:
    """P of one member of the chapter's MLP at this width."""
    return n_parameters(network_name("mlp", cfg.depth), d=cfg.d, width=width,
                        n_outputs=sample_size_outputs(cfg, task))


def sample_size_reference(cfg: SampleSizeConfig, task: str) -> float:
    """N_ref of the chapter's MLP, trained to convergence: P for regression, (P - H - 1) / (C - 1)
    for classification (``sizes.one_hot_reference_size``)."""
    return converged_reference_size(network_name("mlp", cfg.depth), d=cfg.d, width=cfg.width,
                                    n_classes=cfg.n_classes if task == "classification" else None)


def sample_size_sizes(cfg: SampleSizeConfig, task: str) -> list[int]:
    """The sample sizes: the chapter's ratios times N_ref, N >= 2."""
    return ratio_sizes(cfg.n_ratios, sample_size_reference(cfg, task), f"the MLP on {task}")


def sample_size_jobs(cfg: SampleSizeConfig) -> list[Job]:
    """Sample-wise sweeps (both tasks) and the model-wise width sweep (regression)."""
    jobs = [({"chapter": "sample_size", "task": task, "sweep": "samples"}, sample_size_base(cfg, task),
             {"n_train": sample_size_sizes(cfg, task), "seed": repeat_seeds(cfg)}) for task in TEACHERS]
    jobs.append(({"chapter": "sample_size", "task": "regression", "sweep": "widths"},
                 sample_size_base(cfg, "regression").replace(n_train=cfg.width_sweep_n),
                 {"width": list(cfg.widths), "seed": repeat_seeds(cfg)}))
    return jobs


def stopping_rule_jobs(cfg: SampleSizeConfig) -> list[Job]:
    """The stopping rule checked on the same seeds: the regression N sweep with the plateau rule
    looser, and the point N/N_ref = ``stricter_ratio`` with it stricter."""
    looser, stricter = cfg.plateaus
    sizes = dict(zip(cfg.n_ratios, sample_size_sizes(cfg, "regression")))
    base = sample_size_base(cfg, "regression")
    return [({"chapter": "sample_size", "task": "regression", "sweep": "stopping rule"},
             base.replace(plateau=plateau), {"n_train": n_train, "seed": repeat_seeds(cfg)})
            for plateau, n_train in ((looser, list(sizes.values())), (stricter, [sizes[cfg.stricter_ratio]]))]


def sample_size_chapter_jobs(cfg: SampleSizeConfig) -> list[Job]:
    """Everything the sample-size chapter trains (the decoupling chapter reads ``sample_size_jobs``)."""
    return sample_size_jobs(cfg) + stopping_rule_jobs(cfg)


# --- real data -------------------------------------------------------------------------------------


def real_data_sets(cfg: RealDataConfig) -> dict[str, dict]:
    """Per data set, classification sets first: its task, D, H, classes (None for regression),
    the training pool's size, the probe count (the held-out split can hold fewer points than
    ``n_probe``) and N_ref."""
    sets = {}
    for name in cfg.class_sets + cfg.reg_sets:
        native_d, classes = native_shape(name)
        task = task_of(name)
        d, width = (cfg.class_d, cfg.class_width) if task == "classification" else (native_d, cfg.reg_width)
        split = real_split(name, d)
        classes = classes if task == "classification" else None
        sets[name] = {"task": task, "d": d, "width": width, "classes": classes, "pool": len(split.x_pool),
                      "probes": min(cfg.n_probe, len(split.x_heldout)),
                      "n_ref": converged_reference_size("mlp1", d=d, width=width, n_classes=classes)}
    return sets


def real_data_base(cfg: RealDataConfig, sets: dict, name: str, noise: str = "labels") -> Experiment:
    """The converged tanh MLP of the sample-size chapter on one real data set (images: their
    first ``class_d`` principal components; regression: the native features)."""
    s = sets[name]
    return Experiment(data=name, d=s["d"] if s["task"] == "classification" else None, noise=noise,
                      n_classes=s["classes"] or 2, model="mlp", width=s["width"], depth=1, activation="tanh",
                      members=cfg.members, optimizer="lm", loss="mse", dtype="float64", steps=cfg.steps, tol=cfg.tol,
                      n_probe=s["probes"], metrics=(cfg.metric, f"{cfg.metric}@output"))


def real_data_sizes(sets: dict, name: str, ratios, parameter: str = "n_ratios") -> dict[int, float]:
    """N -> N / N_ref, N >= 2 and at most the training pool, in increasing order (``parameter``: the
    one the ratios come from)."""
    ratios = sorted(ratios)
    s = sets[name]
    return dict(zip(sizes_of(parameter, ratios, s["n_ref"], f"{name} ({s['task']})", pool=s["pool"]), ratios))


def real_data_jobs(cfg: RealDataConfig, sets: dict | None = None) -> list[Job]:
    """Per data set: a sample-size sweep with label noise (``cfg.flip`` flipped labels, or target
    noise at ``cfg.snr``), and an SNR sweep at ``cfg.snr_ratios`` for each noise location (label
    flips at the equivalent S; S = inf computed once, under label noise)."""
    sets = sets or real_data_sets(cfg)
    share_clean = "labels" in cfg.noises and math.inf in cfg.snrs
    finite = [s for s in cfg.snrs if s != math.inf]
    jobs = []
    for name, s in sets.items():
        classification = s["task"] == "classification"
        labels = {"chapter": "real_data", "task": s["task"]}
        jobs.append(({**labels, "sweep": "samples", "noise_location": "labels"},
                     real_data_base(cfg, sets, name).replace(**({"flip": cfg.flip} if classification else
                                                                  {"snr": cfg.snr})),
                     {"n_train": list(real_data_sizes(sets, name, cfg.n_ratios)), "seed": repeat_seeds(cfg)}))
        for noise in cfg.noises:
            levels = finite if (noise == "inputs" and share_clean) else list(cfg.snrs)
            if not levels:
                continue
            knob = ({"flip": [flip_for_snr(v, s["classes"]) for v in levels]}
                    if (classification and noise == "labels") else {"snr": levels})
            jobs.append(({**labels, "sweep": "snr", "noise_location": noise},
                         real_data_base(cfg, sets, name, noise),
                         {"n_train": list(real_data_sizes(sets, name, cfg.snr_ratios, "snr_ratios")), **knob,
                          "seed": list(range(cfg.seed, cfg.seed + cfg.snr_repeats))}))
    return jobs


# --- what the nonlinear dip needs ------------------------------------------------------------------

DIP_REFERENCE = "Adam, LeCun init"  # the book's regime: every other regime changes one thing of it
DIP_CLASSIFICATION = ("classification, cross-entropy", "classification, squared loss")


def dip_task(regime: str) -> str:
    return "classification" if regime in DIP_CLASSIFICATION else "regression"


def dip_depth(regime: str) -> int:
    return 2 if regime == "two hidden layers" else 1


def dip_regimes(cfg: DipConfig) -> dict[str, dict]:
    """Regime name -> what it changes in the reference experiment (``dip_base``)."""
    regimes = {DIP_REFERENCE: {}}
    regimes.update({f"Adam, init x{s:g}": {"init_scale": s} for s in cfg.init_scales})
    regimes["Adam, shared init"] = {"shared_init": True}
    regimes["gradient descent"] = {"optimizer": "gd", "lr": cfg.gd_lr, "steps": cfg.gd_steps}
    regimes["independent inputs"] = {"shared_inputs": False}
    regimes["two hidden layers"] = {"depth": 2}
    regimes[DIP_CLASSIFICATION[0]] = {"loss": "cross_entropy"}
    regimes[DIP_CLASSIFICATION[1]] = {"loss": "mse"}
    return regimes


def dip_reference_size(cfg: DipConfig, regime: str) -> float:
    """N_ref of a regime's MLP: P for regression, P / C for classification."""
    return mlp_reference_size(cfg, dip_task(regime), dip_depth(regime))


def dip_sizes(cfg: DipConfig, regime: str) -> list[int]:
    return ratio_sizes(cfg.n_ratios, dip_reference_size(cfg, regime), f"the regime {regime!r}")


def dip_measurements(cfg: DipConfig, depth: int) -> tuple[str, ...]:
    """The metric on the last hidden layer (unsuffixed, the main one), the others, and the outputs."""
    return (cfg.metric, *(f"{cfg.metric}@hidden{i}" for i in range(1, depth)), f"{cfg.metric}@output")


def dip_base(cfg: DipConfig, regime: str) -> Experiment:
    depth = dip_depth(regime)
    base = teacher_mlp(cfg, dip_task(regime), depth, dip_measurements(cfg, depth))
    return base.replace(**dip_regimes(cfg)[regime])


def dip_jobs(cfg: DipConfig) -> list[Job]:
    """Every regime swept in N; the reference also at the shorter budgets (the epoch-wise view:
    with one seed a shorter budget is the same run stopped earlier)."""
    jobs = []
    for regime in dip_regimes(cfg):
        grid = {"n_train": dip_sizes(cfg, regime), "seed": repeat_seeds(cfg)}
        if regime == DIP_REFERENCE:
            grid["steps"] = [*sorted(cfg.budgets), cfg.steps]
        jobs.append(({"chapter": "dip", "regime": regime, "task": dip_task(regime)}, dip_base(cfg, regime), grid))
    return jobs


# --- threshold tracking -----------------------------------------------------------------------------

TRACKING_DATA = {"linear teacher": "teacher-linear", "two-layer teacher": "teacher-mlp",
                 "classification": "teacher-mlp-class"}


def tracking_task(setting: str) -> str:
    return "classification" if setting == "classification" else "regression"


def tracking_base(cfg: TrackingConfig, setting: str, width: int) -> Experiment:
    """A tanh MLP of one hidden layer trained to convergence, with the hidden layer's and the outputs' alignment."""
    return converged_mlp(cfg, TRACKING_DATA[setting], tracking_task(setting), width, 1, ("cka", "cka@output"))


def tracking_reference(cfg: TrackingConfig, setting: str, width: int) -> float:
    """N_ref of one width: P for regression, (P - H - 1) / (C - 1) for classification (its
    one-hot targets sum to one: ``sizes.one_hot_reference_size``)."""
    classes = cfg.n_classes if tracking_task(setting) == "classification" else None
    return converged_reference_size("mlp1", d=cfg.d, width=width, n_classes=classes)


def tracking_sizes(cfg: TrackingConfig, setting: str, width: int) -> list[int]:
    return ratio_sizes(cfg.n_ratios, tracking_reference(cfg, setting, width), f"width {width} ({setting})")


def tracking_jobs(cfg: TrackingConfig) -> list[Job]:
    """Per setting and width, N through that width's threshold, on every repeat's seed."""
    return [({"chapter": "tracking", "setting": setting}, tracking_base(cfg, setting, width),
             {"n_train": tracking_sizes(cfg, setting, width), "seed": repeat_seeds(cfg)})
            for setting in cfg.settings for width in cfg.widths]


# Chapter -> its sweeps, for checking every experiment before a chapter runs (``repalign.book``).
# The decoupling chapter's own sweep is its robustness grid (it reads every other chapter's back).
CHAPTER_JOBS = {"linear": linear_jobs, "snr": snr_jobs, "sample_size": sample_size_chapter_jobs, "dip": dip_jobs,
                "real_data": real_data_jobs, "decoupling": robustness_jobs, "tracking": tracking_jobs}


# --- what a chapter may ask of a machine ------------------------------------------------------------

# The budget of one chapter's sweeps, as ``experiment.resources`` estimates each experiment. The whole
# paper book trains about 6,400 ensembles; its largest chapter holds 1,620 (snr). An estimate counts
# every step a member may take, so for the chapters trained to convergence, whose iteration cap is a
# safety net, it is an upper bound: 5.4e14 multiply-adds for the sample-size chapter, which trains in
# about 8 minutes on two cores. A chapter of 50,000 ensembles is eight times the whole book, and 1e16
# multiply-adds twenty times that bound: hours to days on such a machine, past any working session;
# REPALIGN_LIMITS=off lifts both.
CHAPTER_ENSEMBLES = 50_000
CHAPTER_WORK = 1e16


def grid_parameters(cfg) -> list[str]:
    """The parameters of ``cfg`` that multiply its sweeps' grids: its tuples, and the repeats."""
    listed = [name for name, annotation in cfg.parameters().items() if get_origin(annotation) is tuple]
    return listed + [name for name in ("repeats", "snr_repeats") if hasattr(cfg, name)]


def grid_points(jobs) -> int:
    """The ensembles ``jobs`` ask for: their grid points, counted without building any."""
    return sum(math.prod(len(values) for values in grid.values()) for _, _, grid in jobs)


def training_work(experiments) -> float:
    """The estimated multiply-adds of training ``experiments`` (each distinct one once), by
    ``experiment.resources``."""
    return sum(resources(exp)[1] for exp in set(experiments))


def _lower(cfg) -> str:
    return f"lower {', '.join(grid_parameters(cfg))} or steps, or set REPALIGN_LIMITS=off on a machine that has more"


def check_ensembles(cfg, jobs) -> None:
    """ValueError, in one line with the count, the limit and the parameters to lower, when the
    chapter's sweeps ``jobs`` ask for more than ``CHAPTER_ENSEMBLES`` ensembles (counted before
    any experiment is built: a grid of millions is refused at once)."""
    points = grid_points(jobs)
    if points > CHAPTER_ENSEMBLES and not limits_lifted():
        raise ValueError(f"its sweeps would train {points:,} ensembles, more than a chapter's limit of "
                         f"{CHAPTER_ENSEMBLES:,}: {_lower(cfg)}")


def check_work(cfg, experiments) -> None:
    """ValueError, in one line, when training the chapter's ``experiments`` would take more than
    ``CHAPTER_WORK`` multiply-adds."""
    work = training_work(experiments)
    if work > CHAPTER_WORK and not limits_lifted():
        raise ValueError(f"its sweeps would take about {work:.2g} multiply-adds to train ({len(set(experiments)):,} "
                         f"ensembles), more than a chapter's limit of {CHAPTER_WORK:.0e}: {_lower(cfg)}")


def check_verdict_tables(preset: str) -> None:
    """ValueError, in one line naming the chapters and the commands that make them, unless every
    verdict table the conclusion reads (``presets.CONCLUSION_READS``) exists at ``preset`` and
    passes its checksum (``verdicts.check_table``)."""
    from . import verdicts
    from .presets import CONCLUSION, CONCLUSION_READS

    missing = [name for name in CONCLUSION_READS if not verdicts.table_path(name, preset).exists()]
    if missing:
        option = "" if preset == "paper" else f" ARGS='-p preset {preset}'"
        commands = "; ".join(f"make chapter NAME={name}{option}" for name in missing)
        raise ValueError(f"the {CONCLUSION} chapter reads every chapter's verdict table at preset {preset!r}, and "
                         f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} none in {verdicts.folder()}: "
                         f"run them first ({commands})")
    for name in CONCLUSION_READS:  # TableError, naming the damaged table and the chapter to re-run
        verdicts.check_table(verdicts.table_path(name, preset))


# --- divergence -------------------------------------------------------------------------------------

# Per chapter: the Experiment fields that drive a divergence (the step and the start,
# ``experiment.divergence_message``) -> the chapter parameter that sets them.
DIVERGENCE_DRIVERS = {
    "linear": {"init_scale": "init_scales"},
    "snr": {"lr": "lr"},
    "sample_size": {},
    "dip": {"lr": "lr or gd_lr", "init_scale": "init_scales"},
    "real_data": {},
    "decoupling": {"init_scale": "large_init"},
    "tracking": {},
}


_FIELDS = tuple(f for f in Experiment.__dataclass_fields__ if f != "metrics")  # an ensemble's columns


def _shown(value) -> str:
    """A table's value for a reader: NaN (a None field, its default) as "default", floats with %g."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "default"
    return f"{value:g}" if isinstance(value, float) else str(value)


class DivergedEnsembles(RuntimeError):
    """Some ensembles of a chapter's sweeps diverged in every member: nothing of them can be measured."""


def check_divergence(chapter: str, table) -> None:
    """Raise DivergedEnsembles, in one line naming the chapter parameters that drive it, when an
    ensemble of a sweep table (``sweep.sweep_many``) diverged in every member: its alignment and
    errors are NaN, and the statistics downstream would only say that a curve has no finite entry."""
    ensembles = table.drop_duplicates(subset=[c for c in table.columns if c in _FIELDS])  # one row per metric
    lost = ensembles[ensembles.diverged_fraction == 1]
    if lost.empty:
        return
    first = lost.iloc[0]
    shown = ", ".join(f"{name}={_shown(first[name])}" for name in ("n_train", "lr", "init_scale", "optimizer")
                      if name in lost)
    drivers = DIVERGENCE_DRIVERS.get(chapter, {})
    names = ", ".join(dict.fromkeys(drivers.values())) or "the learning rate or the initial scale"
    raise DivergedEnsembles(f"chapter {chapter!r}: every member diverged (training loss NaN or inf) in "
                            f"{len(lost)} of {len(ensembles)} ensembles, e.g. {shown}: lower {names}")



def chapter_sweep(chapter: str, jobs, *, workers: int = 1):
    """``sweep.sweep_many`` of a chapter's own ``jobs``, refused (DivergedEnsembles, naming the
    chapter parameters to lower) where an ensemble diverged in every member."""
    from .sweep import sweep_many

    table = sweep_many(jobs, workers=workers)
    check_divergence(chapter, table)
    return table
