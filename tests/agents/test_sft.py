"""Supervised fine-tuning: loading demonstrations, the env's prompt format, response-only
loss, full / LoRA / PolicyWithValue training, bad input."""

from __future__ import annotations

import warnings

import pytest
import torch

from agents.sft import (
    SFTConfig,
    collate,
    encode_demonstration,
    load_demonstrations,
    response_logprobs,
    supervised_finetune,
)
from agents.token_ppo import PolicyWithValue
from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.feedback import Comparison, Correction, Demonstration
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.models import encode_prompt

PROMPTS = ["Say something.", "Write a short review.", "Describe your day.", "Tell me about food.",
           "How was the movie?", "Greet a friend.", "Write a note.", "Describe the weather.",
           "Say thanks.", "Rate the hotel.", "Talk about music.", "Describe a trip."]
DEMOS = [(p, "good great happy love") for p in PROMPTS]
"""Twelve demonstrations with one response: easy to learn, and to generalise to held-out."""

FAST = {"batch_size": 4, "learning_rate": 3e-3, "progress_bar": False}


@pytest.fixture
def lm():
    """A fresh tiny Llama (tests train it, so never the session-wide one)."""
    from rlhf_env.models import load_causal_lm

    return load_causal_lm("tiny-random-llama", seed=0)


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    after = module.state_dict()
    return {k for k, v in before.items() if not torch.equal(v, after[k])}


# -- training ------------------------------------------------------------------------------
def test_training_lowers_the_loss_and_raises_held_out_logprob(lm, tiny_tok):
    result = supervised_finetune(lm, tiny_tok, DEMOS,
                                 SFTConfig(epochs=4, eval_fraction=0.25, **FAST))
    assert (result.num_train, result.num_eval, result.logprob_split) == (9, 3, "held-out")
    assert result.steps == 4 * 3
    assert len(result.train_loss) == 4
    assert result.train_loss[-1] < result.train_loss[0] - 1.0
    assert result.eval_loss_after < result.eval_loss_before - 1.0
    assert result.logprob_after > result.logprob_before + 5.0  # 5 tokens, EOS included
    assert result.model is lm


def test_only_response_tokens_carry_labels(tiny_tok):
    config = SFTConfig()
    examples = [encode_demonstration(tiny_tok, p, r, config)
                for p, r in [("Hi.", "good"), ("Describe your day in detail.", "great day !")]]
    batch = collate(examples, pad_id=tiny_tok.pad_token_id)
    for row, e in enumerate(examples):
        n = len(e.response_ids)
        assert e.response_ids[-1] == tiny_tok.eos_token_id
        assert batch.labels[row, -n:].tolist() == list(e.response_ids)
        assert (batch.labels[row, :-n] == -100).all()  # prompt and padding
        assert batch.attention_mask[row].sum() == len(e.prompt_ids) + n
    assert batch.n_response == max(len(e.response_ids) for e in examples)


def test_response_logprobs_equal_unpadded_forwards(lm, tiny_tok):
    """Left padding, positions and the response mask give each example's own log-prob."""
    config = SFTConfig()
    examples = [encode_demonstration(tiny_tok, p, r, config)
                for p, r in [("Hi.", "good"), ("Describe your day in detail.", "great day !")]]
    with torch.no_grad():
        logp, mask = response_logprobs(lm, collate(examples, tiny_tok.pad_token_id))
        for row, e in enumerate(examples):
            ids = torch.tensor([[*e.prompt_ids, *e.response_ids]])
            full = lm(input_ids=ids).logits[0, :-1].log_softmax(-1)
            targets = ids[0, 1:]
            own = full.gather(-1, targets[:, None]).squeeze(-1)[-len(e.response_ids):]
            assert torch.allclose(logp[row][mask[row]], own, atol=1e-4)
            assert int(mask[row].sum()) == len(e.response_ids)


def test_prompts_are_encoded_as_the_env_shows_them(tiny_tok):
    from rlhf_env.text.core import TextBanditCore, TextEnvConfig

    for chat in (None, False):
        core = TextBanditCore(TextEnvConfig(task="keyword", model="tiny-random-llama",
                                            prompts=PROMPTS[:3], use_chat_template=chat,
                                            system_prompt="Be kind." if chat is None else None))
        for i, prompt in enumerate(PROMPTS[:3]):
            ours = encode_prompt(tiny_tok, prompt, use_chat_template=chat,
                                 system_prompt=core.config.system_prompt)
            assert ours.ids.tolist() == core.encode_prompt(i)[0].tolist()
    assert "<|im_start|>" in tiny_tok.decode(encode_prompt(tiny_tok, "Hi.").ids)  # chat default


@pytest.mark.parametrize("max_prompt_tokens", [64, 12])
def test_sft_trains_on_the_exact_ids_the_env_observes(tiny_tok, max_prompt_tokens):
    """SFT and the env share one prompt encoder: same ids, same truncation, for each prompt."""
    import gymnasium as gym
    import numpy as np

    import rlhf_env  # noqa: F401

    env = gym.make("RLHF-Text-v0", task="keyword", model="tiny-random-llama",
                   prompts=PROMPTS[:4], system_prompt="Be brief.",
                   max_prompt_tokens=max_prompt_tokens)
    config = SFTConfig(max_prompt_tokens=max_prompt_tokens, system_prompt="Be brief.")
    cut = []
    for i, prompt in enumerate(PROMPTS[:4]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the env warns once about truncated prompts
            obs, info = env.reset(options={"prompt_index": i})
        observed = obs["input_ids"][obs["attention_mask"] == 1]
        demo = encode_demonstration(tiny_tok, prompt, "hello", config)
        np.testing.assert_array_equal(np.asarray(demo.prompt_ids), observed)
        assert demo.truncated == info["prompt_truncated"]
        cut.append(demo.truncated)
    assert any(cut) == (max_prompt_tokens == 12)  # the short limit does cut the chat prompts


def test_full_finetuning_changes_the_weights(lm, tiny_tok):
    before = _weights(lm)
    supervised_finetune(lm, tiny_tok, DEMOS[:4], SFTConfig(epochs=1, **FAST))
    changed = _changed(before, lm)
    assert "model.embed_tokens.weight" in changed
    assert any(".self_attn.o_proj." in k for k in changed)


def test_lora_trains_only_the_adapters_and_merges_them(lm, tiny_tok):
    from rlhf_env.models import load_causal_lm

    unmerged = supervised_finetune(
        load_causal_lm("tiny-random-llama", seed=0), tiny_tok, DEMOS[:4],
        SFTConfig(epochs=2, lora_r=4, merge_lora=False, **FAST))
    base = _weights(lm)
    peft_model = unmerged.model
    changed = {k for k, v in peft_model.state_dict().items()
               if "lora_" not in k and not torch.equal(v, base[k.replace("base_model.model.", "")
                                                           .replace(".base_layer", "")])}
    assert not changed  # base weights frozen
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in peft_model.state_dict().items())

    merged = supervised_finetune(lm, tiny_tok, DEMOS[:4],
                                 SFTConfig(epochs=2, lora_r=4, **FAST)).model
    assert not hasattr(merged, "peft_config")  # a plain LM again
    moved = _changed(base, merged)
    assert moved and all(".q_proj." in k or ".v_proj." in k for k in moved)
    assert merged.state_dict().keys() == base.keys()


def test_policy_with_value_trains_its_lm_only_and_reanchors_the_reference(lm, tiny_tok):
    policy = PolicyWithValue(lm)
    head, reference = _weights(policy.value_head), _weights(policy.reference)
    lm_before = _weights(policy.lm)
    result = supervised_finetune(policy, tiny_tok, DEMOS[:4], SFTConfig(epochs=1, **FAST))
    assert result.model is policy
    assert not _changed(head, policy.value_head)
    assert _changed(lm_before, policy.lm)
    assert _changed(reference, policy.reference)  # now the fine-tuned model
    assert not _changed(_weights(policy.lm), policy.reference)

    kept = PolicyWithValue(lm)
    reference = _weights(kept.reference)
    supervised_finetune(kept, tiny_tok, DEMOS[:4],
                        SFTConfig(epochs=1, sync_reference=False, **FAST))
    assert not _changed(reference, kept.reference)


def test_lora_policy_gets_fresh_adapters_on_the_fine_tuned_base(lm, tiny_tok):
    policy = PolicyWithValue(lm, lora_r=4)
    ids = torch.tensor([encode_prompt(tiny_tok, "Say something.").ids.tolist()])
    with torch.no_grad():
        logits_before = policy.lm(input_ids=ids).logits
    supervised_finetune(policy, tiny_tok, DEMOS[:4], SFTConfig(epochs=2, **FAST))
    state = policy.lm.state_dict()
    assert all(v.abs().sum() == 0 for k, v in state.items() if "lora_B" in k)  # fresh
    with torch.no_grad():
        logits = policy.lm(input_ids=ids).logits
        with policy.lm.disable_adapter():
            reference_logits = policy.lm(input_ids=ids).logits
    assert not torch.allclose(logits, logits_before)  # the base weights learned
    assert torch.allclose(logits, reference_logits)  # reference = the fine-tuned model
    with pytest.raises(ConfigError, match="own LoRA"):
        supervised_finetune(policy, tiny_tok, DEMOS[:2], SFTConfig(lora_r=4, **FAST))


def test_the_result_plugs_into_the_ppo_trainer(lm, tiny_tok):
    import gymnasium as gym

    import rlhf_env  # noqa: F401
    from agents.token_ppo import TokenPPOConfig, TokenPPOTrainer

    config = SFTConfig(epochs=5, **{**FAST, "learning_rate": 1e-2})
    tuned = supervised_finetune(lm, tiny_tok, DEMOS, config).model
    env = gym.make_vec("RLHF-Text-v0", num_envs=4, task="keyword", model="tiny-random-llama",
                       prompts=PROMPTS, max_prompt_tokens=32, max_response_tokens=6)
    trainer = TokenPPOTrainer(TokenPPOConfig(model="tiny-random-llama", batch_size=4,
                                             minibatch_size=4, max_new_tokens=6,
                                             progress_bar=False), env=env, policy=tuned)
    metrics = trainer.step()
    trainer.close()
    assert metrics["rlhf/kl"] < 1e-3  # the reference is the SFT model itself
    assert metrics["rlhf/score"] > 1.0  # random tiny-model text almost never has a keyword


def test_save_to_writes_a_loadable_model(lm, tiny_tok, tmp_path):
    from rlhf_env.models import load_causal_lm

    result = supervised_finetune(lm, tiny_tok, DEMOS[:4],
                                 SFTConfig(epochs=1, lora_r=4, merge_lora=False, **FAST),
                                 save_to=tmp_path / "sft")
    loaded = load_causal_lm(str(tmp_path / "sft"))
    ids = torch.tensor([encode_prompt(tiny_tok, "Hi.").ids.tolist()])
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids).logits, result.model(input_ids=ids).logits,
                              atol=1e-5)
    assert (tmp_path / "sft" / "tokenizer_config.json").exists()


# -- loading -------------------------------------------------------------------------------
def test_store_demonstrations_and_corrections(tmp_path):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as store:
        store.add(Demonstration("p1", "r1", task="t", timestamp=1.0))
        store.add(Correction("p2", "bad", "fixed", task="t", timestamp=2.0))
        store.add(Comparison("p3", "x", "y", "a", task="t", timestamp=3.0))
        store.add(Demonstration("p4", "r4", task="other", timestamp=4.0))
        gone = Demonstration("p5", "r5", task="t", timestamp=5.0)
        store.add(gone)
        store.retract(gone.id)
        assert load_demonstrations(store) == [("p1", "r1"), ("p2", "fixed"), ("p4", "r4")]
        assert load_demonstrations(store, task="t", include_corrections=False) == [("p1", "r1")]
    assert load_demonstrations(path, task="t") == [("p1", "r1"), ("p2", "fixed")]
    with pytest.raises(FeedbackError, match="no demonstrations for task 'nope'"):
        load_demonstrations(path, task="nope", include_corrections=False)


def test_jsonl_plain_and_exported_records(tmp_path):
    from rlhf_env.feedback import export_jsonl

    plain = tmp_path / "demos.jsonl"
    plain.write_text('{"prompt": "a", "response": "b"}\n\n{"prompt": "c", "response": "d", '
                     '"task": "x"}\n', encoding="utf-8")
    assert load_demonstrations(plain) == [("a", "b"), ("c", "d")]
    exported = tmp_path / "records.jsonl"
    export_jsonl([Demonstration("p", "r"), Correction("q", "old", "new"),
                  Comparison("s", "x", "y", "b")], exported)
    assert load_demonstrations(exported) == [("p", "r"), ("q", "new")]
    assert load_demonstrations(exported, include_corrections=False) == [("p", "r")]


def test_jsonl_task_filter_keeps_lines_without_a_task(tmp_path):
    path = tmp_path / "demos.jsonl"
    path.write_text('{"prompt": "a", "response": "b"}\n'
                    '{"prompt": "c", "response": "d", "task": "x"}\n'
                    '{"prompt": "e", "response": "f", "task": "y"}\n', encoding="utf-8")
    assert load_demonstrations(path, task="x") == [("a", "b"), ("c", "d")]


@pytest.mark.parametrize(("text", "match"), [
    ('{"prompt": "a", "response": "b"}\n{"prompt": "c"}\n',
     r"demos.jsonl:2: missing key 'response'"),
    ('{"prompt": "a", "response": "b"}\nnot json\n', r"demos.jsonl:2: not valid JSON"),
    ('["a", "b"]\n', r"demos.jsonl:1: expected a JSON object"),
    ('{"prompt": "a", "response": "  "}\n', r"demos.jsonl:1: the response must be a non-empty"),
    ("", r"holds no demonstrations or corrections"),
    ("\n\n", r"holds no demonstrations or corrections"),
], ids=["missing-key", "bad-json", "not-an-object", "blank-response", "empty", "blank-lines"])
def test_bad_jsonl_names_the_line(tmp_path, text, match):
    path = tmp_path / "demos.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FeedbackError, match=match):
        load_demonstrations(path)


def test_iterables_of_pairs_records_and_mappings():
    items = [("a", "b"), ["c", "d"], {"prompt": "e", "response": "f"},
             Demonstration("g", "h", task="t"), Correction("i", "j", "k")]
    assert load_demonstrations(items) == [("a", "b"), ("c", "d"), ("e", "f"), ("g", "h"),
                                          ("i", "k")]
    assert load_demonstrations(items, task="t") == [("a", "b"), ("c", "d"), ("e", "f"),
                                                    ("g", "h")]


@pytest.mark.parametrize(("source", "match"), [
    ([], "holds no demonstrations"),
    ([("a", "b", "c")], "item 0: expected a"),
    ([("a", "b"), ("", "x")], "item 1: the prompt must be a non-empty string"),
    ([("a", 3)], "item 0: the response must be"),
    (42, "cannot read demonstrations from int"),
    ("missing.jsonl", "does not exist"),
])
def test_bad_demonstrations_raise(source, match):
    with pytest.raises(FeedbackError, match=match):
        load_demonstrations(source)


def test_a_file_that_is_neither_jsonl_nor_a_store(tmp_path):
    path = tmp_path / "demos.json"
    path.write_text('{"prompt": "a", "response": "b"}\n', encoding="utf-8")
    with pytest.raises(FeedbackError, match=r"neither a \.jsonl file nor a feedback store"):
        load_demonstrations(path)


def test_docstring_examples():
    import doctest

    import agents.sft

    result = doctest.testmod(agents.sft)
    assert result.attempted > 0 and result.failed == 0


# -- bad input and limits --------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"epochs": 0}, "epochs must be ≥ 1"),
    ({"batch_size": 0}, "batch_size must be ≥ 1"),
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ({"eval_fraction": 1.0}, r"eval_fraction must lie in \[0, 1\)"),
    ({"lora_r": -1}, "lora_r must be ≥ 0"),
    ({"weight_decay": -0.1}, "weight_decay must be a finite number"),
])
def test_config_is_validated(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SFTConfig(**kwargs)


def test_empty_demonstrations_and_a_lone_held_out_split(lm, tiny_tok):
    with pytest.raises(FeedbackError, match="at least one"):
        supervised_finetune(lm, tiny_tok, [], SFTConfig(**FAST))
    with pytest.raises(ConfigError, match="needs at least 2 demonstrations"):
        supervised_finetune(lm, tiny_tok, DEMOS[:1], SFTConfig(eval_fraction=0.5, **FAST))


def test_a_tokenizer_without_pad_token_trains_the_same(tiny_tok):
    from rlhf_env.models import load_causal_lm, tiny_tokenizer

    raw = tiny_tokenizer()
    assert raw.pad_token is None
    config = SFTConfig(epochs=1, **FAST)
    with_pad = supervised_finetune(load_causal_lm("tiny-random-llama"), tiny_tok, DEMOS[:6],
                                   config)
    without = supervised_finetune(load_causal_lm("tiny-random-llama"), raw, DEMOS[:6], config)
    assert without.train_loss == pytest.approx(with_pad.train_loss, abs=1e-5)


def test_a_frozen_model_is_refused(lm, tiny_tok):
    lm.requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        supervised_finetune(lm, tiny_tok, DEMOS[:2], SFTConfig(**FAST))


def test_a_tokenizer_without_eos_is_refused(lm):
    from rlhf_env.models import tiny_tokenizer

    tok = tiny_tokenizer()
    tok.eos_token = None
    with pytest.raises(ConfigError, match="no EOS token"):
        supervised_finetune(lm, tok, DEMOS[:2], SFTConfig(**FAST))


def test_long_prompts_and_responses_are_cut_like_the_env(lm, tiny_tok):
    config = SFTConfig(max_prompt_tokens=5, max_response_tokens=3, epochs=1, **FAST)
    full = encode_demonstration(tiny_tok, "Describe your day.", "good great happy love",
                                SFTConfig())
    cut = encode_demonstration(tiny_tok, "Describe your day.", "good great happy love", config)
    assert cut.truncated and not full.truncated
    assert cut.prompt_ids == full.prompt_ids[-5:]  # the end of the prompt stays, as in the env
    assert cut.response_ids == full.response_ids[:3]
    assert tiny_tok.eos_token_id not in cut.response_ids  # never teach a premature stop
    with pytest.warns(UserWarning, match="12 of 12 demonstrations exceed"):
        result = supervised_finetune(lm, tiny_tok, DEMOS, config)
    assert result.truncated == 12


def test_a_nan_loss_stops_sft_before_the_weights_change(lm, tiny_tok):
    from rlhf_env.errors import TrainingError

    with torch.no_grad():
        lm.model.norm.weight.fill_(float("nan"))  # every logit NaN → NaN loss
    before = _weights(lm)
    with pytest.raises(TrainingError, match="SFT: the loss is nan"):
        supervised_finetune(lm, tiny_tok, DEMOS[:4], SFTConfig(epochs=1, **FAST))
    assert not _changed(before, lm) - {"model.norm.weight"}
