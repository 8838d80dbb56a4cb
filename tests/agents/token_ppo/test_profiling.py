"""The trainer's named stages: stage_times collects each stage's seconds, the stages add up
to (nearly) the step, a fixed β = 0 has no reference stage, and torch.profiler sees them."""

from __future__ import annotations

import time

import torch

from agents.token_ppo.profiling import PREFIX, STAGES, stage, stage_times


def test_a_step_runs_every_stage_once_and_they_fill_the_step(make_trainer):
    trainer = make_trainer(kl_coef=0.1, advantage="grpo", group_size=2)
    with stage_times() as seconds:
        metrics = trainer.step()
    assert list(seconds) == list(STAGES)
    assert all(s > 0 for s in seconds.values())
    total = sum(seconds.values())
    assert total <= metrics["time/seconds"] + 1e-3
    assert total > 0.5 * metrics["time/seconds"]  # the stages are where the step goes


def test_a_fixed_zero_beta_has_no_reference_stage(make_trainer):
    trainer = make_trainer(kl_coef=0.0)
    with stage_times() as seconds:
        trainer.step()
    assert "reference" not in seconds and "generate" in seconds


def test_clocks_only_count_inside_their_block():
    with stage("update"):
        pass  # no clock: nothing recorded anywhere
    with stage_times() as outer:
        with stage("score"):
            pass
        with stage_times() as inner, stage("score"):
            pass
    assert set(outer) == {"score"} and set(inner) == {"score"}
    assert outer["score"] >= inner["score"]


def test_the_profiler_sees_the_stages(make_trainer):
    trainer = make_trainer(kl_coef=0.1)
    trainer.step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        trainer.step()
    names = {event.key for event in prof.key_averages()}
    assert {PREFIX + s for s in STAGES} <= names


def test_stage_times_sum_a_repeated_stage():
    with stage_times() as seconds:
        for _ in range(3):
            with stage("update"):
                time.sleep(0.01)
    assert list(seconds) == ["update"] and seconds["update"] >= 0.03
