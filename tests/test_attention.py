"""lessons.attention: tiled attention with the online softmax equals F.scaled_dot_product_attention."""

import pytest
import torch
import torch.nn.functional as F

from lessons.attention import sliding_window_mask, sliding_window_mask_mod, tiled_attention


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("n", "block_size"), [(64, 64), (70, 16), (5, 64), (33, 1)])
def test_tiled_equals_sdpa(n, block_size, causal):
    q, k, v = torch.randn(3, 2, 3, n, 8).unbind(0)
    out = tiled_attention(q, k, v, causal=causal, block_size=block_size)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal))


def test_cross_attention_and_value_width():
    q, k, v = torch.randn(4, 10, 8), torch.randn(4, 25, 8), torch.randn(4, 25, 5)
    out = tiled_attention(q, k, v, block_size=7)
    assert out.shape == (4, 10, 5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


@pytest.mark.parametrize(("window", "block_size"), [(1, 8), (5, 8), (16, 4), (100, 16)])
def test_sliding_window_equals_masked_sdpa(window, block_size):
    q, k, v = torch.randn(3, 2, 50, 8).unbind(0)
    mask = sliding_window_mask(50, window)
    out = tiled_attention(q, k, v, causal=True, window=window, block_size=block_size)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_sliding_window_mask():
    mask = sliding_window_mask(4, 2)
    assert mask.tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [False, True, True, False],
        [False, False, True, True],
    ]
    assert torch.equal(sliding_window_mask(6, 10), torch.ones(6, 6, dtype=torch.bool).tril())
    mod = sliding_window_mask_mod(2)
    i, j = torch.arange(4).unsqueeze(1), torch.arange(4).unsqueeze(0)
    assert torch.equal(mod(0, 0, i, j), mask)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"q": "x"}, TypeError, "q must be a torch.Tensor"),
        ({"causal": 1}, TypeError, "causal must be a bool"),
        ({"block_size": 0}, ValueError, "block_size must be an int >= 1"),
        ({"block_size": 2.0}, TypeError, "block_size must be an int"),
        ({"window": 4}, ValueError, "window needs causal=True"),
        ({"window": 0, "causal": True}, ValueError, "window must be an int >= 1"),
        ({"k": torch.randn(2, 6, 4)}, ValueError, "same last dim d"),
        ({"v": torch.randn(2, 5, 4)}, ValueError, "k and v must have the same length"),
        ({"k": torch.randn(3, 6, 8)}, ValueError, "share their leading dims"),
        ({"q": torch.randn(8)}, ValueError, "same number of dims"),
        ({"q": torch.randn(2, 4, 8), "causal": True}, ValueError, "causal needs as many queries as keys"),
    ],
)
def test_errors_name_the_argument(kwargs, error, match):
    args = {"q": torch.randn(2, 6, 8), "k": torch.randn(2, 6, 8), "v": torch.randn(2, 6, 4)} | kwargs
    q, k, v = args.pop("q"), args.pop("k"), args.pop("v")
    with pytest.raises(error, match=match):
        tiled_attention(q, k, v, **args)


def test_mask_arguments_are_checked():
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        sliding_window_mask(4, 0)
    with pytest.raises(TypeError, match="n must be an int"):
        sliding_window_mask(4.0, 2)
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        sliding_window_mask_mod(0)
