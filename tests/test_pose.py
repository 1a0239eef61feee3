"""lessons.pose: stick figures, Gaussian heat maps, their decoding, and PCK."""

from __future__ import annotations

import pytest
import torch

from lessons.pose import (
    KEYPOINT_NAMES,
    SKELETON,
    decode_heatmaps,
    encode_heatmaps,
    make_figures,
    pck,
    torso_length,
)

# ---------------------------------------------------------------------------------------------- figures


def test_figures_shapes_range_and_determinism():
    images, keypoints = make_figures(6, size=24, seed=3)
    assert images.shape == (6, 1, 24, 24) and images.dtype == torch.float32
    assert keypoints.shape == (6, len(KEYPOINT_NAMES), 2) and keypoints.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    again = make_figures(6, size=24, seed=3)
    assert torch.equal(again[0], images) and torch.equal(again[1], keypoints)
    assert not torch.equal(make_figures(6, size=24, seed=4)[1], keypoints)


def test_figures_keypoints_inside_and_scaled():
    _, keypoints = make_figures(200, size=32, scale=(0.25, 0.3), seed=0)
    assert keypoints.min() >= 1.5 - 1e-4 and keypoints.max() <= 32 - 1.5 + 1e-4
    length = torso_length(keypoints)
    assert length.max() <= 0.3 * 32 + 1e-4 and length.min() > 0.1 * 32  # shrunk only when it does not fit
    assert (length > 0.25 * 32 - 1e-4).float().mean() > 0.5


def test_figures_draw_the_limbs():
    images, keypoints = make_figures(20, size=32, seed=1)
    extreme = []
    for image, kp in zip(images[:, 0], keypoints, strict=True):
        for a, b in SKELETON:
            mid = (kp[a] + kp[b]) / 2  # the middle of a limb is drawn: very light or very dark
            value = image[int(mid[1]), int(mid[0])]
            extreme.append(bool(value > 0.8 or value < 0.2))
    assert sum(extreme) > 0.9 * len(extreme)  # the rest: a light limb crossing a dark one


def test_figures_bad_arguments():
    with pytest.raises(ValueError, match="n"):
        make_figures(0)
    with pytest.raises(ValueError, match="size"):
        make_figures(2, size=8)
    with pytest.raises(ValueError, match="scale"):
        make_figures(2, scale=(0.3, 0.2))
    with pytest.raises(ValueError, match="scale"):
        make_figures(2, scale=(0.3, 0.5))
    with pytest.raises(ValueError, match="scale"):
        make_figures(2, scale=0.3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        make_figures(2, seed=1.5)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------- heat maps


def test_encode_peak_and_gaussian_value():
    kp = torch.tensor([[[5.0, 9.0]]])  # stride 2: cell coordinates (2.0, 4.0), a cell centre
    h = encode_heatmaps(kp, size=8, stride=2, sigma=1.5)
    assert h.shape == (1, 1, 8, 8)
    assert h[0, 0, 4, 2] == 1.0 and h.argmax() == 4 * 8 + 2
    torch.testing.assert_close(h[0, 0, 4, 5], torch.exp(torch.tensor(-(3.0**2) / (2 * 1.5**2))))
    torch.testing.assert_close(h[0, 0, 1, 0], torch.exp(torch.tensor(-(2.0**2 + 3.0**2) / (2 * 1.5**2))))


@pytest.mark.parametrize("method", ["argmax", "quarter", "soft"])
def test_decode_cell_centres_exactly(method):
    cells = torch.tensor([[[2.0, 4.0], [0.0, 0.0], [5.0, 3.0]]])
    kp = (cells + 0.5) * 4  # keypoints on cell centres, stride 4
    decoded = decode_heatmaps(encode_heatmaps(kp, size=8, stride=4, sigma=1.0), stride=4, method=method)
    if method == "soft":  # at the border, the window is cut: the centroid moves inwards
        torch.testing.assert_close(decoded[:, [0, 2]], kp[:, [0, 2]])
        assert (decoded[0, 1] >= kp[0, 1]).all()
    else:
        torch.testing.assert_close(decoded, kp)


def test_decode_errors_bounded_and_refinement_helps():
    _, kp = make_figures(300, size=32, seed=2)
    h = encode_heatmaps(kp, size=16, stride=2, sigma=1.0)
    err = {m: (decode_heatmaps(h, stride=2, method=m) - kp).abs() for m in ("argmax", "quarter", "soft")}
    assert err["argmax"].max() <= 1.0 + 1e-5  # half a cell of 2 pixels
    assert err["quarter"].mean() < 0.7 * err["argmax"].mean()
    assert err["soft"].mean() < 0.5 * err["argmax"].mean()


def test_heatmap_bad_arguments():
    kp = torch.zeros(2, 3, 2)
    with pytest.raises(ValueError, match="keypoints"):
        encode_heatmaps(torch.zeros(2, 3), size=8, stride=2, sigma=1.0)
    with pytest.raises(ValueError, match="sigma"):
        encode_heatmaps(kp, size=8, stride=2, sigma=0.0)
    with pytest.raises(ValueError, match="stride"):
        encode_heatmaps(kp, size=8, stride=0, sigma=1.0)
    with pytest.raises(TypeError, match="keypoints"):
        encode_heatmaps([[0.0, 0.0]], size=8, stride=2, sigma=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="heatmaps"):
        decode_heatmaps(torch.zeros(2, 8, 8), stride=2)
    with pytest.raises(ValueError, match="method"):
        decode_heatmaps(torch.zeros(1, 1, 8, 8), stride=2, method="mean")
    with pytest.raises(ValueError, match="window"):
        decode_heatmaps(torch.zeros(1, 1, 8, 8), stride=2, method="soft", window=0)


# -------------------------------------------------------------------------------------------------- PCK


def test_pck_by_hand_and_threshold_inclusive():
    true = torch.zeros(2, 2, 2)
    pred = torch.tensor([[[1.0, 0.0], [3.0, 4.0]], [[0.0, 2.0], [0.0, 0.5]]])  # distances 1, 5, 2, 0.5
    ref = torch.tensor([10.0, 5.0])  # alpha 0.2: thresholds 2 and 1
    assert pck(pred, true, ref, alpha=0.2) == 0.5  # 1 <= 2 yes, 5 no, 2 > 1 no, 0.5 yes
    torch.testing.assert_close(
        pck(pred, true, ref, alpha=0.2, per_keypoint=True), torch.tensor([0.5, 0.5], dtype=torch.float64)
    )
    assert pck(pred, true, 5.0, alpha=0.2) == 0.5  # threshold 1 for both: distances 1 and 0.5 count
    assert pck(pred, true, 25.0, alpha=0.2) == 1.0


def test_pck_and_torso_bad_arguments():
    a = torch.zeros(2, 3, 2)
    with pytest.raises(ValueError, match="same shape"):
        pck(a, torch.zeros(2, 4, 2), 1.0)
    with pytest.raises(ValueError, match="ref_length"):
        pck(a, a, torch.ones(3))
    with pytest.raises(ValueError, match="ref_length"):
        pck(a, a, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="ref_length"):
        pck(a, a, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        pck(a, a, 1.0, alpha=0.0)
    with pytest.raises(ValueError, match="pred"):
        pck(torch.zeros(2, 3), a, 1.0)
    with pytest.raises(ValueError, match="K >= 3"):
        torso_length(torch.zeros(2, 2, 2))
    torch.testing.assert_close(torso_length(torch.tensor([[[0.0, 0], [0, 0], [3, 4]]])), torch.tensor([5.0]))
