"""Action vocabularies, prompt sources and tasks."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError, PromptError, UnknownNameError
from rlhf_env.text.prompts import PromptSource
from rlhf_env.text.spaces import ActionVocab
from rlhf_env.text.tasks import Task, get_task, list_tasks, register_task
from rlhf_env.text.words import SENTIMENT_WORDS


def test_task_vocab_holds_every_task_word_and_eos(tiny_tok):
    vocab = ActionVocab.from_spec("task", tiny_tok, candidate_words=SENTIMENT_WORDS)
    assert vocab.size == len(set(SENTIMENT_WORDS)) + 1
    decoded = {tiny_tok.decode([t]).strip() for t in vocab.token_ids if t != vocab.eos_id}
    assert decoded == set(SENTIMENT_WORDS)
    assert vocab.token_ids[vocab.eos_action] == tiny_tok.eos_token_id


def test_top_k_vocab_prefers_task_words_then_frequent_tokens(tiny_tok):
    vocab = ActionVocab.from_spec(8, tiny_tok, candidate_words=["good", "great"],
                                  corpus=["the the the cat"])
    assert vocab.size == 8
    words = [tiny_tok.decode([t]).strip() for t in vocab.token_ids[:3]]
    assert words == ["good", "great", "the"]


def test_word_list_vocab_and_its_errors(tiny_tok):
    vocab = ActionVocab.from_spec(["good", "bad"], tiny_tok)
    assert vocab.size == 3
    np.testing.assert_array_equal(vocab.to_token_ids(np.array([2, 0])),
                                  [tiny_tok.eos_token_id, vocab.token_ids[0]])
    with pytest.raises(ConfigError, match="not single tokens"):
        ActionVocab.from_spec(["good", "antidisestablishmentarianism"], tiny_tok)
    with pytest.raises(ConfigError, match=r"\[0, 2047\]"):
        ActionVocab.from_spec([5, 99999], tiny_tok)
    with pytest.raises(ConfigError, match="too small"):
        ActionVocab.from_spec(1, tiny_tok)
    with pytest.raises(ConfigError, match="'task', an int K"):
        ActionVocab.from_spec("everything", tiny_tok)


def test_prompt_source_specs(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("one\n\ntwo\n", encoding="utf-8")
    assert list(PromptSource.from_spec(path)) == ["one", "two"]
    with pytest.raises(PromptError, match="does not exist"):
        PromptSource.from_spec(tmp_path / "missing.txt")
    with pytest.raises(PromptError, match="must be strings"):
        PromptSource.from_spec(["ok", 3])

    class FakeDataset:
        column_names = ("text",)

        def __getitem__(self, key):
            return ["a", "b"]

    assert list(PromptSource.from_spec((FakeDataset(), "text"))) == ["a", "b"]
    with pytest.raises(PromptError, match="no column 'prompt'"):
        PromptSource.from_spec((FakeDataset(), "prompt"))


def test_task_registry():
    assert {"sentiment", "keyword", "length"} <= set(list_tasks())
    assert get_task("sentiment").gold == "vader"
    assert len(get_task("sentiment").prompt_source()) >= 50
    with pytest.raises(UnknownNameError, match="Did you mean 'keyword'"):
        get_task("keywrd")
    task = Task(name="test-only-task", prompts=["hi"], reward_model="keyword")
    register_task(task)
    with pytest.raises(ConfigError, match="overwrite=True"):
        register_task(task)
    assert get_task("test-only-task") is task
