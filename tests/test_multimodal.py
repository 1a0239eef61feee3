"""Unit tests of lessons.multimodal: scenes and captions, the towers, InfoNCE and recall@k."""

import math

import pytest
import torch
import torch.nn.functional as F
from transformers.models.clip.modeling_clip import image_text_contrastive_loss

from lessons.multimodal import (
    TEMPLATES,
    CaptionVocab,
    ImageTower,
    TextTower,
    TwoTower,
    caption,
    digit_scenes,
    info_nce,
    random_captions,
    recall_at_k,
)


def test_digit_scenes_places_the_digit_by_its_attributes():
    images = torch.rand(64, 1, 28, 28)
    labels = torch.randint(0, 10, (64,))
    scenes, attrs = digit_scenes(images, labels, generator=torch.Generator().manual_seed(0))
    assert scenes.shape == (64, 1, 16, 32) and attrs.shape == (64, 4)
    assert torch.equal(attrs[:, 0], labels)
    left, right = scenes[..., :16], scenes[..., 16:]
    side = attrs[:, 3].bool()
    assert (left[side] == 0).all() and (right[~side] == 0).all()  # the other half is empty
    filled = torch.where(side.view(-1, 1, 1, 1), right, left)
    large = attrs[:, 1].bool()
    assert (filled[~large][..., :4, :] == 0).all()  # a small digit leaves a border
    peak = filled.flatten(1).amax(1)
    assert (peak[attrs[:, 2] == 0] <= 0.35 + 1e-6).all()  # dim digits are scaled by 0.35
    # all attribute values occur
    assert all(set(attrs[:, j].tolist()) == {0, 1} for j in (1, 2, 3))


def test_digit_scenes_is_seeded():
    images, labels = torch.rand(8, 1, 28, 28), torch.arange(8)
    a = digit_scenes(images, labels, generator=torch.Generator().manual_seed(3))
    b = digit_scenes(images, labels, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (torch.rand(2, 28, 28), torch.tensor([1, 2]), "images"),
        (torch.rand(2, 1, 16, 16), torch.tensor([1, 2]), "images"),
        (torch.rand(2, 1, 28, 28), torch.tensor([1]), "labels"),
        (torch.rand(2, 1, 28, 28), torch.tensor([1.0, 2.0]), "labels"),
        (torch.rand(2, 1, 28, 28), torch.tensor([1, 10]), "labels"),
    ],
)
def test_digit_scenes_rejects_bad_input(images, labels, match):
    with pytest.raises(ValueError, match=match):
        digit_scenes(images, labels)


def test_digit_scenes_rejects_non_tensors():
    with pytest.raises(TypeError, match="images"):
        digit_scenes([[0.0]], torch.tensor([1]))


def test_caption_phrasings_and_errors():
    assert caption((7, 1, 1, 0)) == "a large bright 7 on the left"
    assert caption((3, 0, 0, 1), template=2, numeral=False) == "right side : a dim three , small"
    for t in range(len(TEMPLATES)):
        words = caption((5, 0, 1, 1), t).split()
        assert {"5", "small", "bright", "right"} <= set(words)
    with pytest.raises(ValueError, match="attributes"):
        caption((10, 0, 0, 0))
    with pytest.raises(ValueError, match="attributes"):
        caption((1, 2, 0, 0))
    with pytest.raises(ValueError, match="template"):
        caption((1, 0, 0, 0), template=len(TEMPLATES))


def test_random_captions():
    attrs = torch.tensor([[1, 0, 0, 0], [2, 1, 1, 1]])
    assert random_captions(attrs, seed=1) == random_captions(attrs, seed=1)
    many = random_captions(attrs.repeat(50, 1), seed=0)
    assert len(set(many)) > 4  # several phrasings and digit spellings
    with pytest.raises(ValueError, match="attributes"):
        random_captions(torch.tensor([1, 0, 0, 0]))


def test_caption_vocab():
    vocab = CaptionVocab(["a large 7", "a small 3"])
    assert len(vocab) == 7  # <pad>, <unk>, a, large, 7, small, 3
    ids = vocab.encode(["a large 3", "a red 7", "a"])
    assert ids.tolist() == [[2, 3, 6], [2, 1, 4], [2, 0, 0]]
    with pytest.raises(ValueError, match="texts"):
        vocab.encode("a large 7")
    with pytest.raises(ValueError, match="texts"):
        CaptionVocab([])


def test_towers_shapes_and_errors():
    image_tower = ImageTower(embed_dim=12, width=4)
    assert image_tower(torch.rand(3, 1, 16, 32)).shape == (3, 12)
    assert image_tower.features(torch.rand(3, 1, 16, 32)).shape == (3, 8, 4, 8)
    with pytest.raises(ValueError, match="x"):
        image_tower(torch.rand(3, 1, 28, 28))
    with pytest.raises(ValueError, match="embed_dim"):
        ImageTower(embed_dim=0)
    text_tower = TextTower(vocab_size=10, embed_dim=12)
    assert text_tower(torch.tensor([[2, 3, 0], [4, 0, 0]])).shape == (2, 12)
    with pytest.raises(ValueError, match="ids"):
        text_tower(torch.tensor([[2, 10]]))
    with pytest.raises(ValueError, match="ids"):
        text_tower(torch.tensor([2, 3]))
    with pytest.raises(ValueError, match="vocab_size"):
        TextTower(vocab_size=1)


def test_text_tower_ignores_padding_and_order():
    torch.manual_seed(0)
    tower = TextTower(vocab_size=10, embed_dim=8).eval()
    e = tower(torch.tensor([[2, 3, 4, 0, 0], [4, 3, 2, 0, 0], [2, 3, 4, 0, 0]]))
    assert torch.allclose(e[0], e[1]) and torch.allclose(e[0], e[2])
    assert torch.allclose(e[0], tower(torch.tensor([[2, 3, 4]]))[0])


def test_two_tower_normalises_and_clamps():
    model = TwoTower(ImageTower(embed_dim=8, width=4), TextTower(10, embed_dim=8))
    u, v, scale = model(torch.rand(4, 1, 16, 32), torch.randint(1, 10, (4, 5)))
    assert torch.allclose(u.norm(dim=-1), torch.ones(4)) and torch.allclose(v.norm(dim=-1), torch.ones(4))
    assert math.isclose(scale.exp().item(), 1 / 0.07, rel_tol=1e-5)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert math.isclose(
        model(torch.rand(2, 1, 16, 32), torch.randint(1, 10, (2, 3)))[2].exp().item(), 100.0, rel_tol=1e-5
    )
    with pytest.raises(ValueError, match="init_temperature"):
        TwoTower(ImageTower(), TextTower(10), init_temperature=0.0)


def test_info_nce_matches_transformers_and_limits():
    torch.manual_seed(0)
    u = F.normalize(torch.randn(16, 8), dim=-1)
    v = F.normalize(torch.randn(16, 8), dim=-1)
    scale = torch.tensor(1.5)
    logits = scale.exp() * u @ v.T
    assert torch.allclose(info_nce(u, v, scale), image_text_contrastive_loss(logits.T))
    same = F.normalize(torch.ones(16, 8), dim=-1)
    assert math.isclose(info_nce(same, same, torch.tensor(2.0)).item(), math.log(16), rel_tol=1e-6)
    assert info_nce(u, u, torch.tensor(math.log(100.0))).item() < 0.1  # perfect pairs, sharp softmax


def test_info_nce_gradient_flows_to_scale():
    u = F.normalize(torch.randn(6, 4), dim=-1)
    scale = torch.tensor(1.0, requires_grad=True)
    info_nce(u, u, scale).backward()
    assert scale.grad is not None and scale.grad < 0  # matched pairs: a sharper softmax lowers the loss


@pytest.mark.parametrize(
    ("u", "v", "scale", "match"),
    [
        (torch.randn(4, 8), torch.randn(4, 7), torch.tensor(1.0), "text_embeds"),
        (torch.randn(4), torch.randn(4), torch.tensor(1.0), "image_embeds"),
        (torch.randn(0, 8), torch.randn(0, 8), torch.tensor(1.0), "image_embeds"),
        (torch.randn(4, 8), torch.randn(4, 8), torch.ones(2), "logit_scale"),
    ],
)
def test_info_nce_rejects_bad_shapes(u, v, scale, match):
    with pytest.raises(ValueError, match=match):
        info_nce(u, v, scale)


def test_recall_at_k_with_duplicate_keys():
    sim = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.1], [0.0, 0.1, 0.2]])
    keys = torch.tensor([0, 1, 0])  # items 0 and 2 share a key
    assert recall_at_k(sim, keys, keys, k=1) == pytest.approx(1.0)  # row 2 retrieves item 2, key 0
    assert recall_at_k(sim, torch.tensor([1, 0, 1]), keys, k=1) == pytest.approx(0.0)
    assert recall_at_k(sim, torch.tensor([1, 0, 1]), keys, k=3) == pytest.approx(1.0)
    rows = torch.tensor([[1, 2], [3, 4], [1, 2]])  # multi-column keys compare whole rows
    assert recall_at_k(sim, rows, rows, k=1) == pytest.approx(1.0)


def test_recall_at_k_errors():
    sim = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="k"):
        recall_at_k(sim, torch.tensor([0, 1]), torch.tensor([0, 1, 2]), k=4)
    with pytest.raises(ValueError, match="keys"):
        recall_at_k(sim, torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]), k=1)
    with pytest.raises(ValueError, match="similarity"):
        recall_at_k(torch.zeros(3), torch.tensor([0]), torch.tensor([0]), k=1)
