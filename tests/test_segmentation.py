"""lessons.segmentation (scenes, scores, loss, training loop) and lessons.models.segmentation (FCN, U-Net)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, jaccard_score

from lessons.models.resnet import BasicBlock, ResNet, resnet18
from lessons.models.segmentation import FCN, ResNetUNet, UNet
from lessons.segmentation import (
    SCENE_CLASSES,
    make_scenes,
    predict_masks,
    segmentation_scores,
    soft_dice_loss,
    train_segmenter,
)

# ----------------------------------------------------------------------------------------------- scenes


def test_scenes_shapes_range_and_determinism():
    images, masks = make_scenes(8, size=24, seed=3)
    assert images.shape == (8, 1, 24, 24) and images.dtype == torch.float32
    assert masks.shape == (8, 24, 24) and masks.dtype == torch.int64
    assert images.min() >= 0 and images.max() <= 1
    assert set(masks.unique().tolist()) <= set(range(len(SCENE_CLASSES)))
    again = make_scenes(8, size=24, seed=3)
    assert torch.equal(again[0], images) and torch.equal(again[1], masks)
    assert not torch.equal(make_scenes(8, size=24, seed=4)[1], masks)


def test_scenes_every_image_has_an_object_and_objects_are_flat():
    images, masks = make_scenes(20, seed=0)
    assert ((masks > 0).flatten(1).sum(1) > 0).all()
    for image, mask in zip(images[:, 0], masks, strict=True):
        inside = image[mask > 0]
        assert ((inside - 0.1).abs() < 1e-6).logical_or((inside - 0.9).abs() < 1e-6).all()  # 0.5 -/+ 0.2 * 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 0}, ValueError, "n must"),
        ({"n": 2, "size": 8}, ValueError, "size"),
        ({"n": 2, "max_shapes": 0}, ValueError, "max_shapes"),
        ({"n": 2, "contrast": -1.0}, ValueError, "contrast"),
        ({"n": 2.0}, TypeError, "n must"),
        ({"n": 2, "seed": -1}, ValueError, "seed"),
    ],
)
def test_scenes_bad_arguments(kwargs, error, match):
    n = kwargs.pop("n")
    with pytest.raises(error, match=match):
        make_scenes(n, **kwargs)


# ----------------------------------------------------------------------------------------------- scores


def test_scores_equal_sklearn():
    g = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 4, (3, 16, 16), generator=g)
    pred = torch.where(
        torch.rand(3, 16, 16, generator=g) < 0.7, truth, torch.randint(0, 4, (3, 16, 16), generator=g)
    )
    s = segmentation_scores(pred, truth, num_classes=4)
    t, p = truth.flatten().numpy(), pred.flatten().numpy()
    np.testing.assert_allclose(s.iou, jaccard_score(t, p, average=None))
    np.testing.assert_allclose(s.dice, f1_score(t, p, average=None))
    assert np.isclose(s.mean_iou, jaccard_score(t, p, average="macro"))
    assert np.isclose(s.mean_dice, f1_score(t, p, average="macro"))
    assert np.isclose(s.pixel_accuracy, (t == p).mean())
    assert s.confusion.sum() == truth.numel()


def test_scores_take_logits_and_skip_absent_classes():
    truth = torch.tensor([[[0, 0, 1, 1]]])
    logits = torch.nn.functional.one_hot(torch.tensor([[[0, 1, 1, 1]]]), 3).permute(0, 3, 1, 2).float()
    s = segmentation_scores(logits, truth, num_classes=3)
    assert s.iou[:2].tolist() == [0.5, 2 / 3] and torch.isnan(s.iou[2]) and torch.isnan(s.dice[2])
    assert s.mean_iou == pytest.approx((0.5 + 2 / 3) / 2)
    assert s.pixel_accuracy == 0.75


def test_scores_errors():
    truth = torch.zeros(2, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="outside"):
        segmentation_scores(torch.full((2, 4, 4), 5), truth, num_classes=4)
    with pytest.raises(TypeError, match="targets"):
        segmentation_scores(truth, truth.float(), num_classes=4)
    with pytest.raises(ValueError, match="no pixels"):
        segmentation_scores(truth[:0], truth[:0], num_classes=4)
    with pytest.raises(TypeError, match="targets"):
        segmentation_scores(truth, [0, 1], num_classes=4)


# ------------------------------------------------------------------------------------------- Dice loss


def test_soft_dice_loss_bounds_and_errors():
    truth = torch.randint(0, 3, (2, 8, 8), generator=torch.Generator().manual_seed(1))
    perfect = 50.0 * torch.nn.functional.one_hot(truth, 3).permute(0, 3, 1, 2).float()
    assert soft_dice_loss(perfect, truth).item() == pytest.approx(0.0, abs=1e-6)
    assert 0 < soft_dice_loss(torch.zeros(2, 3, 8, 8), truth).item() < 1
    with pytest.raises(ValueError, match="do not match"):
        soft_dice_loss(torch.zeros(2, 3, 8, 8), truth[:, :4])
    with pytest.raises(TypeError, match="targets"):
        soft_dice_loss(torch.zeros(2, 3, 8, 8), truth.float())
    with pytest.raises(ValueError, match="eps"):
        soft_dice_loss(perfect, truth, eps=-1.0)


# ----------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize(
    "model",
    [
        FCN(4, width=4, depth=2),
        FCN(4, width=4, depth=3, upsample="bilinear"),
        UNet(4, channels=(4, 8)),
        UNet(4, channels=(4, 8, 16), skip=False, upsample="bilinear"),
        ResNetUNet(4, width=4, layers=(1, 1, 1, 1)),
        ResNetUNet(4, width=4, layers=(1, 1, 1, 1), stem="imagenet"),
        ResNetUNet(3, encoder=resnet18(in_channels=1, stem="small", width=4)),
    ],
    ids=["fcn", "fcn-bilinear", "unet", "unet-noskip", "resnet-small", "resnet-imagenet", "resnet18"],
)
def test_models_keep_the_size(model):
    x = torch.randn(2, 1, 32, 32)
    assert model(x).shape == (2, model.num_classes, 32, 32)


def test_fcn_transposed_starts_as_bilinear():
    fcn = FCN(2, width=4, depth=2)
    coarse = torch.randn(1, 2, 4, 4)
    up = fcn.up(coarse)[0, :, 2:-2, 2:-2]  # away from the border, where zero padding enters
    ref = torch.nn.functional.interpolate(coarse, scale_factor=4, mode="bilinear", align_corners=False)[
        0, :, 2:-2, 2:-2
    ]
    torch.testing.assert_close(up, ref, atol=1e-5, rtol=1e-5)


def test_unet_skips_matter():
    torch.manual_seed(0)
    with_skip, without = UNet(3, channels=(4, 8)), UNet(3, channels=(4, 8), skip=False)
    assert with_skip.blocks[0][0].in_channels == 8 and without.blocks[0][0].in_channels == 4


def test_resnet_unet_reuses_the_encoder():
    encoder = ResNet(BasicBlock, (1, 1, 1, 1), in_channels=1, stem="small", width=4)
    model = ResNetUNet(4, encoder=encoder)
    assert model.encoder is encoder


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: FCN(1), ValueError, "num_classes"),
        (lambda: FCN(3, upsample="nearest"), ValueError, "upsample"),
        (lambda: UNet(3, channels=(8,)), ValueError, "two levels"),
        (lambda: UNet(3, channels=()), ValueError, "channels"),
        (lambda: UNet(3, skip=1), TypeError, "skip"),
        (lambda: ResNetUNet(3, encoder=torch.nn.Conv2d(1, 1, 1)), TypeError, "encoder"),
        (lambda: ResNetUNet(3, stem="tiny"), ValueError, "stem"),
    ],
)
def test_model_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("model", [FCN(3, width=4), UNet(3, channels=(4, 8, 16)), ResNetUNet(3, width=4)])
def test_models_reject_bad_inputs(model):
    with pytest.raises(ValueError, match="divisible"):
        model(torch.zeros(1, 1, 30, 30))
    with pytest.raises(ValueError, match="x must"):
        model(torch.zeros(1, 3, 32, 32))
    with pytest.raises(TypeError, match="x"):
        model([[0.0]])


# --------------------------------------------------------------------------------------------- training


def test_training_lowers_the_loss_and_predicts_masks():
    images, masks = make_scenes(32, size=16, seed=0)
    torch.manual_seed(0)
    model = UNet(4, channels=(4, 8))
    history = train_segmenter(model, images, masks, epochs=3, batch_size=8, dice=0.5)
    assert len(history) == 3 and history[-1] < history[0]
    pred = predict_masks(model, images, batch_size=5)
    assert pred.shape == masks.shape and pred.dtype == torch.int64


def test_training_errors():
    images, masks = make_scenes(4, size=16, seed=0)
    model = UNet(4, channels=(4, 8))
    with pytest.raises(ValueError, match="masks must have shape"):
        train_segmenter(model, images, masks[:, :8])
    with pytest.raises(TypeError, match="masks"):
        train_segmenter(model, images, masks.float())
    with pytest.raises(ValueError, match="images"):
        train_segmenter(model, images[:, 0], masks)
    with pytest.raises(ValueError, match="epochs"):
        train_segmenter(model, images, masks, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        train_segmenter(model, images, masks, lr=0.0)
    with pytest.raises(ValueError, match="dice"):
        train_segmenter(model, images, masks, dice=-1.0)
    with pytest.raises(ValueError, match="images"):
        predict_masks(model, images[0])
    with pytest.raises(ValueError, match="batch_size"):
        predict_masks(model, images, batch_size=0)
