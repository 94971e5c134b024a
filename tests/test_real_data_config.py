"""The real-data chapter's configuration: presets, and the values it refuses."""

import math

import pytest

from repalign.data import native_shape, real_split
from repalign.presets import CHAPTERS, RealDataConfig
from repalign.threshold import reference_size


def test_registered_and_smoke_uses_the_scikit_learn_sets():
    assert CHAPTERS["real_data"] is RealDataConfig
    smoke = RealDataConfig.from_preset("smoke")
    assert (smoke.class_data, smoke.reg_data) == ("digits", "diabetes")
    assert RealDataConfig.from_preset("paper") == RealDataConfig()
    assert (RealDataConfig().class_data, RealDataConfig().reg_data) == ("fashion-mnist", "concrete")


@pytest.mark.parametrize("kwargs, name", [
    ({"class_d": 1}, "class_d"), ({"class_d": 785}, "class_d"), ({"class_data": "digits", "class_d": 65}, "class_d"),
    ({"members": 2}, "members"), ({"repeats": 1}, "repeats"), ({"reg_width": 0}, "reg_width"),
    ({"n_ratios": (0.5, 1.0)}, "n_ratios"), ({"snr_ratios": ()}, "snr_ratios"), ({"snrs": (1.0,)}, "snrs"),
    ({"noises": ("labels", "labels")}, "noises"), ({"snr": 0.0}, "snr"), ({"boot": 5}, "boot"),
    ({"lr": math.inf}, "lr"), ({"n_probe": 5}, "n_probe"),
])
def test_bad_values_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        RealDataConfig.from_preset("paper", **kwargs)


def test_unknown_data_set_is_a_type_error():
    with pytest.raises(TypeError, match="class_data"):
        RealDataConfig.from_preset("paper", class_data="cifar10")


def test_smoke_sample_grid_fits_the_training_pools():
    """Every N of the smoke preset's sample-size sweep exists in the scikit-learn pools."""
    cfg = RealDataConfig.from_preset("smoke")
    for data, d, width, classes in ((cfg.class_data, cfg.class_d, cfg.class_width, 10),
                                    (cfg.reg_data, native_shape(cfg.reg_data)[0], cfg.reg_width, None)):
        ref = reference_size("mlp1", d=d, width=width, n_classes=classes)
        pool = len(real_split(data, d).x_pool)
        assert max(cfg.n_ratios) * ref <= pool
