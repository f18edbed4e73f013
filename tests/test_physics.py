"""Per-object conditions on flat contents give what awkward's broadcasting gives."""

import awkward as ak
import numpy as np
import pytest

from atlasod.selection.physics import FlatObjects, good_jets


def jets() -> ak.Array:
    """Events with 3, 0, 2 and 1 jets, sliced so that the lists do not start at 0."""
    rng = np.random.default_rng(3)
    counts = np.array([2, 3, 0, 2, 1])
    n = int(counts.sum())
    values = {
        "jet_pt": rng.uniform(20e3, 80e3, n).astype(np.float32),
        "jet_eta": rng.uniform(-3, 3, n).astype(np.float32),
        "jet_jvt": rng.uniform(0, 1, n).astype(np.float32),
    }
    return ak.zip({k: ak.unflatten(v, counts) for k, v in values.items()}, depth_limit=1)[1:]


def test_good_jets_on_flat_contents_equal_awkward_broadcasting() -> None:
    events = jets()
    pt, abs_eta = events.jet_pt, np.abs(events.jet_eta)
    pileup = (pt < 60e3) & (abs_eta < 2.4) & (events.jet_jvt < 0.59)
    expected = (pt > 30e3) & (abs_eta < 2.5) & ~pileup
    result = good_jets(events)
    assert ak.to_list(result) == ak.to_list(expected)
    assert ak.to_list(ak.num(result)) == [3, 0, 2, 1]
    assert ak.sum(result) > 0


def test_flat_objects_take_only_their_collection() -> None:
    flat = FlatObjects(jets(), "jet")
    assert flat.jet_pt.dtype == np.float32 and len(flat.jet_pt) == 6
    with pytest.raises(AttributeError, match="lep_pt is not a branch of the jet collection"):
        _ = flat.lep_pt
