"""The sweeps behind the book's figures, declared in one place.

Each chapter runs its own sweeps from here, and the decoupling chapter reads all of them back
(from the result cache: the same Experiments are cache hits). A sweep is a ``Job`` of
``repalign.sweep``: ``(labels, base experiment, grid)``; every label set names its
chapter. Sample sizes are ratios of N_ref, always from ``repalign.threshold.reference_size``.
"""

from __future__ import annotations

from .experiment import Experiment
from .metrics import METRICS
from .data import native_shape, real_split
from .presets import DecouplingConfig, DipConfig, LinearConfig, RealDataConfig, SampleSizeConfig, SNRConfig
from .sweep import Job
from .threshold import n_parameters, network, network_name, reference_size
from .trends import flip_for_snr

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


def snr_sample_sizes(cfg: SNRConfig, net: str, task: str) -> dict[int, float]:
    """N -> N / N_ref for the chapter's ratios (N >= 2)."""
    ref = reference_size(net, d=cfg.d, width=cfg.width, n_classes=cfg.n_classes if task == "classification" else None)
    return {max(2, round(r * ref)): r for r in cfg.n_ratios}


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


def teacher_mlp(cfg: SampleSizeConfig | DipConfig, task: str, depth: int, metrics: tuple[str, ...]) -> Experiment:
    """A ReLU MLP on the linear teacher (label noise at ``cfg.snr``; flips at the equivalent S for
    classification), fitted with the squared loss by constant-rate full-batch Adam: the
    sample-size chapter's network, and the reference of the nonlinear-regimes chapter."""
    noise = dict(snr=cfg.snr) if task == "regression" else dict(flip=flip_for_snr(cfg.snr, cfg.n_classes))
    return Experiment(data=TEACHERS[task], d=cfg.d, noise="labels", n_classes=cfg.n_classes, model="mlp",
                      depth=depth, width=cfg.width, members=cfg.members, optimizer="adam", lr=cfg.lr, loss="mse",
                      steps=cfg.steps, tol=cfg.tol, n_probe=cfg.n_probe, metrics=metrics, **noise)


def mlp_reference_size(cfg: SampleSizeConfig | DipConfig, task: str, depth: int) -> float:
    """N_ref of that MLP: P for regression, P / C for classification (N C = P)."""
    return reference_size(network_name("mlp", depth), d=cfg.d, width=cfg.width,
                          n_classes=cfg.n_classes if task == "classification" else None)


def ratio_sizes(ratios, n_ref: float) -> list[int]:
    """The sample sizes ``ratios`` x N_ref, N >= 2, each once."""
    return sorted({max(2, round(r * n_ref)) for r in ratios})


def sample_size_base(cfg: SampleSizeConfig, task: str) -> Experiment:
    return teacher_mlp(cfg, task, cfg.depth, (cfg.metric,))


def sample_size_parameters(cfg: SampleSizeConfig, width: int, task: str) -> int:
    """P of one member of the chapter's MLP at this width."""
    return n_parameters(network_name("mlp", cfg.depth), d=cfg.d, width=width,
                        n_outputs=sample_size_outputs(cfg, task))


def sample_size_reference(cfg: SampleSizeConfig, task: str) -> float:
    """N_ref of the chapter's MLP: P for regression, P / C for classification (N C = P)."""
    return mlp_reference_size(cfg, task, cfg.depth)


def sample_size_sizes(cfg: SampleSizeConfig, task: str) -> list[int]:
    """The sample sizes: the chapter's ratios times N_ref, N >= 2."""
    return ratio_sizes(cfg.n_ratios, sample_size_reference(cfg, task))


def sample_size_jobs(cfg: SampleSizeConfig) -> list[Job]:
    """Sample-wise sweeps (both tasks) and the model-wise width sweep (regression)."""
    jobs = [({"chapter": "sample_size", "task": task, "sweep": "samples"}, sample_size_base(cfg, task),
             {"n_train": sample_size_sizes(cfg, task), "seed": repeat_seeds(cfg)}) for task in TEACHERS]
    jobs.append(({"chapter": "sample_size", "task": "regression", "sweep": "widths"},
                 sample_size_base(cfg, "regression").replace(n_train=cfg.width_sweep_n),
                 {"width": list(cfg.widths), "seed": repeat_seeds(cfg)}))
    return jobs


# --- real data -------------------------------------------------------------------------------------

REAL_TASKS = ("classification", "regression")
REAL_SOURCES = ("real", "synthetic")  # the real data set, and the teacher with the same D, H and grids


def real_data_sets(cfg: RealDataConfig) -> dict[str, dict]:
    """Per task: the real and synthetic data names, D, H, classes, the training pool's size and the
    probe count (the held-out split can hold fewer points than ``n_probe``)."""
    classes = native_shape(cfg.class_data)[1]
    sets = {"classification": {"real": cfg.class_data, "synthetic": "teacher-linear-class", "d": cfg.class_d,
                               "width": cfg.class_width, "classes": classes},
            "regression": {"real": cfg.reg_data, "synthetic": "teacher-linear", "d": native_shape(cfg.reg_data)[0],
                           "width": cfg.reg_width, "classes": None}}
    for s in sets.values():
        split = real_split(s["real"], s["d"])
        s["pool"], s["probes"] = len(split.x_pool), min(cfg.n_probe, len(split.x_heldout))
        s["n_ref"] = reference_size("mlp1", d=s["d"], width=s["width"], n_classes=s["classes"])
    return sets


def real_data_base(cfg: RealDataConfig, sets: dict, task: str, source: str, noise: str = "labels") -> Experiment:
    s = sets[task]
    d = None if (source == "real" and task == "regression") else s["d"]  # real regression: native features
    return Experiment(data=s[source], d=d, noise=noise, n_classes=sets["classification"]["classes"], model="mlp",
                      depth=1, width=s["width"], members=cfg.members, optimizer="adam", lr=cfg.lr, loss="mse",
                      steps=cfg.steps, tol=cfg.tol, n_probe=s["probes"], metrics=(cfg.metric,))


def real_data_sizes(sets: dict, task: str, ratios) -> dict[int, float]:
    """N -> N / N_ref, N >= 2 and at most the training pool."""
    sizes = {}
    for r in sorted(ratios):
        sizes.setdefault(min(sets[task]["pool"], max(2, round(r * sets[task]["n_ref"]))), r)
    return sizes


def real_data_jobs(cfg: RealDataConfig, sets: dict | None = None) -> list[Job]:
    """Per source and task: a sample-size sweep with label noise at ``cfg.snr``, and an SNR sweep
    at ``cfg.snr_ratios`` for each noise location (S = inf computed once, under label noise)."""
    sets = sets or real_data_sets(cfg)
    classes = sets["classification"]["classes"]
    flip = flip_for_snr(cfg.snr, classes)
    share_clean = "labels" in cfg.noises and float("inf") in cfg.snrs
    finite = [s for s in cfg.snrs if s != float("inf")]
    jobs = []
    for source in REAL_SOURCES:
        for task in REAL_TASKS:
            knob = {"snr": cfg.snr} if task == "regression" else {"flip": flip}
            jobs.append(({"chapter": "real_data", "source": source, "task": task, "sweep": "samples",
                          "noise_location": "labels"},
                         real_data_base(cfg, sets, task, source).replace(**knob),
                         {"n_train": list(real_data_sizes(sets, task, cfg.n_ratios)), "seed": repeat_seeds(cfg)}))
            for noise in cfg.noises:
                levels = finite if (noise == "inputs" and share_clean) else list(cfg.snrs)
                if not levels:
                    continue
                knob = ({"flip": [flip_for_snr(s, classes) for s in levels]}
                        if (task, noise) == ("classification", "labels") else {"snr": levels})
                jobs.append(({"chapter": "real_data", "source": source, "task": task, "sweep": "snr",
                              "noise_location": noise},
                             real_data_base(cfg, sets, task, source, noise),
                             {"n_train": list(real_data_sizes(sets, task, cfg.snr_ratios)), **knob,
                              "seed": repeat_seeds(cfg)}))
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
    return ratio_sizes(cfg.n_ratios, dip_reference_size(cfg, regime))


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


# Chapter -> its sweeps, for checking every experiment before a chapter runs (``repalign.book``).
# The decoupling chapter's own sweep is its robustness grid (it reads every other chapter's back).
CHAPTER_JOBS = {"linear": linear_jobs, "snr": snr_jobs, "sample_size": sample_size_jobs, "dip": dip_jobs,
                "real_data": real_data_jobs, "decoupling": robustness_jobs}
