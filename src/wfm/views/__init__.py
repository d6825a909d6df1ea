"""How a sample is cut into views: mask geometries on the (frequency x time) grid and channel sampling.

One small class per geometry (:class:`RegionMask`, :class:`FrequencyMask`, :class:`TimeMask`,
:class:`RandomMask`; :class:`MixedMask` composes them), chosen in configs by ``class_path``; channel
sampling and holdout in :mod:`wfm.views.channels`. A new geometry is one subclass of :class:`MaskGeometry`
(its ``targets``) in its own module and one line here.
"""

from wfm.views.bands import BandMask, FrequencyMask, TimeMask
from wfm.views.masks import MaskGeometry, Masks, mask_to_indices
from wfm.views.mixed import MixedMask
from wfm.views.random import RandomMask
from wfm.views.region import RegionMask

#: the paper's geometries (Table III), by name: what ``wfm-ablate`` grids over and mask examples compare with
STANDARD: dict[str, type[MaskGeometry]] = {
    cls.name: cls for cls in (RegionMask, FrequencyMask, TimeMask, RandomMask)
}


def class_path(name: str) -> str:
    """The config ``class_path`` of a standard geometry named ``name`` (``region`` -> ``wfm.views.RegionMask``)."""
    if name not in STANDARD:
        raise ValueError(f"unknown mask geometry {name!r}; the standard ones are {list(STANDARD)}")
    return f"wfm.views.{STANDARD[name].__name__}"


__all__ = ["STANDARD", "BandMask", "FrequencyMask", "MaskGeometry", "Masks", "MixedMask", "RandomMask", "RegionMask",
           "TimeMask", "class_path", "mask_to_indices"]
