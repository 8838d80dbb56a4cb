"""The built-in benchmark algorithms, found by the harness through entry points.

Each is a generator ``fn(trial) -> Iterator[EvalPoint]`` registered in the
``rlhf_env.algorithms`` group of ``pyproject.toml`` (never imported by ``rlhf_env``). All
are judged by :mod:`rlhf_env.bench.evaluation`.

====================  =======  ===========================================================
name                  kind     what it is
====================  =======  ===========================================================
``sb3-ppo``           text     stock SB3 PPO, MLP policy on the bandit (task action vocab)
``sb3-a2c``           text     stock SB3 A2C, same setting
``sb3-ppo-token``     text     stock SB3 PPO with ``CausalLMPolicy`` on the token env
``token-ppo-gae``     text     ``TokenPPOTrainer``, value head + GAE
``token-ppo-rloo``    text     ``TokenPPOTrainer``, RLOO baseline (group of 4)
``token-ppo-grpo``    text     ``TokenPPOTrainer``, group-relative advantages (group of 4)
``best-of-n``         text     best-of-k reranking by the proxy for k = 1 … n (non-RL
                               reference; KL = log k − (k−1)/k)
``random``            both     uniform random actions (no training)
``ppo-learned``       control  PPO on the reward learned from segment preferences
``sac-learned``       control  SAC on the learned reward (continuous actions only)
``ppo-true``          control  PPO on the true reward (the normalisation's 1)
``sac-true``          control  SAC on the true reward (continuous actions only)
====================  =======  ===========================================================

Options (``Trial.options``, set per algorithm by a suite): text algorithms read ``model``
(the policy, default SmolLM2-135M-Instruct) and ``max_response_tokens``; the token-PPO
trainers take any :class:`~agents.token_ppo.TokenPPOConfig` field; SB3 ones take constructor
keyword arguments under ``"sb3"`` and ``num_envs``.
"""

from __future__ import annotations
