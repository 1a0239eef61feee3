"""Unit tests of lessons.rl: each piece against a case whose answer is known, and the error paths."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lessons import rl


def test_value_iteration_solves_a_two_state_chain() -> None:
    # state 0 --a0--> state 1 (reward 0); state 1 loops with reward 1; a1 stays put with reward 0.5
    P = np.zeros((2, 2, 2))
    P[0, 0, 1] = P[0, 1, 0] = P[1, 0, 1] = P[1, 1, 1] = 1
    R = np.array([[0.0, 0.5], [1.0, 1.0]])
    V, Q = rl.value_iteration(P, R, gamma=0.9)
    np.testing.assert_allclose(V, [9.0, 10.0], atol=1e-8)  # V1 = 1 / (1 - 0.9); V0 = 0.9 V1 > 0.5 / 0.1
    np.testing.assert_allclose(Q, R + 0.9 * P @ V, atol=1e-8)  # the Bellman optimality equation


def test_value_iteration_errors() -> None:
    P, R = np.ones((2, 1, 2)) / 2, np.zeros((2, 1))
    with pytest.raises(ValueError, match="gamma"):
        rl.value_iteration(P, R, gamma=1.0)
    with pytest.raises(ValueError, match="P must have shape"):
        rl.value_iteration(np.ones((2, 2)), R, gamma=0.5)
    with pytest.raises(ValueError, match="R must have shape"):
        rl.value_iteration(P, np.zeros((3, 1)), gamma=0.5)
    with pytest.raises(ValueError, match="distributions"):
        rl.value_iteration(P * 2, R, gamma=0.5)
    with pytest.raises(RuntimeError, match="converge"):
        rl.value_iteration(P, np.ones((2, 1)), gamma=0.99, max_iters=3)


def test_replay_buffer_ring_and_sample() -> None:
    buffer = rl.ReplayBuffer(4, (2,), seed=0)
    for t in range(6):
        buffer.push(np.full(2, t), t % 2, float(t), np.full(2, t + 1), done=t == 5)
    assert len(buffer) == 4
    assert sorted(buffer.obs[:, 0].tolist()) == [2, 3, 4, 5]  # 0 and 1 were overwritten
    batch = buffer.sample(32)
    assert batch["obs"].shape == (32, 2) and batch["obs"].dtype == torch.float32
    assert batch["actions"].dtype == torch.int64 and batch["rewards"].shape == (32,)
    torch.testing.assert_close(batch["next_obs"], batch["obs"] + 1)  # transitions stay whole
    torch.testing.assert_close(batch["dones"], (batch["rewards"] == 5).float())
    assert set(batch["rewards"].tolist()) <= {2.0, 3.0, 4.0, 5.0}


def test_replay_buffer_errors() -> None:
    with pytest.raises(ValueError, match="capacity"):
        rl.ReplayBuffer(0, (2,))
    buffer = rl.ReplayBuffer(2, (2,))
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1)
    with pytest.raises(ValueError, match="next_obs must have shape"):
        buffer.push(np.zeros(2), 0, 0.0, np.zeros(3), False)
    buffer.push(np.zeros(2), 0, 0.0, np.zeros(2), False)
    with pytest.raises(ValueError, match="batch_size"):
        buffer.sample(0)


def test_dqn_loss_is_huber_to_the_td_target() -> None:
    torch.manual_seed(0)
    q_net, target_net = rl.mlp_q_network(3, 2, 8), rl.mlp_q_network(3, 2, 8)
    batch = {
        "obs": torch.randn(5, 3),
        "actions": torch.tensor([0, 1, 1, 0, 1]),
        "rewards": torch.randn(5),
        "next_obs": torch.randn(5, 3),
        "dones": torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0]),
    }
    with torch.no_grad():
        target = batch["rewards"] + 0.9 * (1 - batch["dones"]) * target_net(batch["next_obs"]).max(1).values
        a_star = q_net(batch["next_obs"]).argmax(1)
        double_target = (
            batch["rewards"] + 0.9 * (1 - batch["dones"]) * target_net(batch["next_obs"])[range(5), a_star]
        )
    q = q_net(batch["obs"])[range(5), batch["actions"]]
    loss = rl.dqn_loss(q_net, target_net, batch, 0.9)
    torch.testing.assert_close(loss, F.smooth_l1_loss(q, target))
    torch.testing.assert_close(
        rl.dqn_loss(q_net, target_net, batch, 0.9, double=True), F.smooth_l1_loss(q, double_target)
    )
    loss.backward()
    assert all(p.grad is None for p in target_net.parameters())  # no gradient into the target
    with pytest.raises(ValueError, match="missing"):
        rl.dqn_loss(q_net, target_net, {"obs": batch["obs"]}, 0.9)
    with pytest.raises(ValueError, match="gamma"):
        rl.dqn_loss(q_net, target_net, batch, 1.5)


def test_linear_schedule() -> None:
    assert rl.linear_schedule(0, 1.0, 0.0, 4) == 1.0
    assert rl.linear_schedule(2, 1.0, 0.0, 4) == 0.5
    assert rl.linear_schedule(9, 1.0, 0.0, 4) == 0.0
    with pytest.raises(ValueError, match="duration"):
        rl.linear_schedule(0, 1.0, 0.0, 0)


def test_nature_dqn_shapes_and_parameters() -> None:
    net = rl.NatureDQN(6)
    out = net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8))
    assert out.shape == (2, 6)
    conv = (4 * 32 * 64 + 32) + (32 * 64 * 16 + 64) + (64 * 64 * 9 + 64)
    assert sum(p.numel() for p in net.parameters()) == conv + 7 * 7 * 64 * 512 + 512 + 512 * 6 + 6
    small = rl.NatureDQN(4, channels=(16, 32), hidden=256)  # Mnih et al. 2013: 9x9x32 features
    assert small.head[0].in_features == 9 * 9 * 32
    with pytest.raises(ValueError, match="channels"):
        rl.NatureDQN(4, channels=(16,))
    with pytest.raises(ValueError, match="frames must have shape"):
        net(torch.zeros(4, 84, 84))


def test_evaluate_policy_random_and_constant() -> None:
    random_returns = rl.evaluate_policy("CartPole-v1", None, episodes=20, seed=0)
    assert random_returns.shape == (20,) and 10 < random_returns.mean() < 40
    always_left = rl.evaluate_policy("CartPole-v1", lambda obs: 0, episodes=5)
    assert always_left.max() < 15  # pushing one way topples the pole within a few steps
    with pytest.raises(ValueError, match="episodes"):
        rl.evaluate_policy("CartPole-v1", None, episodes=0)


def test_train_dqn_runs_and_keeps_the_best_network() -> None:
    result = rl.train_dqn(
        steps=600, learning_starts=100, batch_size=16, eval_every=200, eval_episodes=1, hidden=16
    )
    assert len(result.losses) == 500 and result.episode_returns
    assert result.eval_steps == [200, 400, 600]
    assert result.best_step == result.eval_steps[int(np.argmax(result.eval_returns))]
    ablation = rl.train_dqn(
        steps=300, learning_starts=50, batch_size=16, use_target=False, use_replay=False, hidden=16
    )
    assert len(ablation.losses) == 250 and ablation.best_step == 300
    with pytest.raises(ValueError, match="learning_starts"):
        rl.train_dqn(steps=10, learning_starts=4, batch_size=8)


def test_discounted_returns() -> None:
    r = torch.tensor([1.0, 2.0, 3.0, 4.0])
    torch.testing.assert_close(rl.discounted_returns(r, 1.0), torch.tensor([10.0, 9.0, 7.0, 4.0]))
    dones = torch.tensor([0, 1, 0, 0])
    torch.testing.assert_close(rl.discounted_returns(r, 1.0, dones), torch.tensor([3.0, 2.0, 7.0, 4.0]))
    with pytest.raises(ValueError, match="1-D"):
        rl.discounted_returns(r.view(2, 2), 0.9)
    with pytest.raises(ValueError, match="dones"):
        rl.discounted_returns(r, 0.9, torch.zeros(3))
    with pytest.raises(TypeError, match="rewards"):
        rl.discounted_returns([1.0, 2.0], 0.9)


def test_gae_limits() -> None:
    torch.manual_seed(0)
    rewards, values = torch.randn(6, 2), torch.randn(6, 2)
    dones = torch.zeros(6, 2)
    dones[2, 0] = 1
    last = torch.randn(2)
    # lambda = 0: the one-step TD error
    adv0, _ = rl.gae(rewards, values, dones, last, gamma=0.9, lam=0.0)
    next_values = torch.cat([values[1:], last[None]]) * (1 - dones)
    torch.testing.assert_close(adv0, rewards + 0.9 * next_values - values)
    # lambda = 1: discounted return (bootstrapped from last_value) minus V
    adv1, ret1 = rl.gae(rewards, values, dones, last, gamma=0.9, lam=1.0)
    for env in range(2):
        r = rewards[:, env].clone()
        r[-1] += 0.9 * last[env] * (1 - dones[-1, env])
        torch.testing.assert_close(ret1[:, env], rl.discounted_returns(r, 0.9, dones[:, env]))
    torch.testing.assert_close(adv1, ret1 - values)
    with pytest.raises(ValueError, match="one \\(T, envs\\) shape"):
        rl.gae(rewards, values[:3], dones, last)
    with pytest.raises(ValueError, match="last_value"):
        rl.gae(rewards, values, dones, torch.zeros(3))


def test_ppo_clip_gradient_stops_outside_the_trust_region() -> None:
    logp_old = torch.zeros(4)
    # ratios 1.5, 0.5, 1.5, 0.5 with advantages +1, +1, -1, -1
    logp = torch.log(torch.tensor([1.5, 0.5, 1.5, 0.5])).requires_grad_()
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0])
    loss = rl.ppo_clip_loss(logp, logp_old, adv, clip_eps=0.2)
    loss.backward()
    grad = logp.grad
    assert grad[0] == 0 and grad[3] == 0  # good action already more likely / bad action already less likely
    torch.testing.assert_close(grad[1], torch.tensor(-0.5 / 4))  # d(-ratio * A)/dlogp = -ratio * A / N
    torch.testing.assert_close(grad[2], torch.tensor(1.5 / 4))
    torch.testing.assert_close(loss, -torch.tensor(1.2 + 0.5 - 1.5 - 0.8) / 4)


def test_ppo_clip_loss_errors() -> None:
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="one shape"):
        rl.ppo_clip_loss(x, x, torch.zeros(2))
    with pytest.raises(ValueError, match="clip_eps"):
        rl.ppo_clip_loss(x, x, x, clip_eps=1.0)
    with pytest.raises(TypeError, match="advantages"):
        rl.ppo_clip_loss(x, x, [0.0, 0.0, 0.0])


def test_kl_estimates_are_exact_in_expectation() -> None:
    p = torch.tensor([0.5, 0.3, 0.2])
    q = torch.tensor([0.2, 0.2, 0.6])
    exact = (p * (p / q).log()).sum()
    logp, logq = p.log(), q.log()
    for kind in ("k1", "k3"):  # the unbiased two: sum over the categorical, weighted by p
        torch.testing.assert_close((p * rl.kl_estimate(logp, logq, kind)).sum(), exact)
    assert (rl.kl_estimate(logp, logq, "k3") >= 0).all() and (rl.kl_estimate(logp, logq, "k1") < 0).any()
    torch.testing.assert_close(rl.kl_estimate(logp, logq, "k2"), (logq - logp) ** 2 / 2)
    with pytest.raises(ValueError, match="kind"):
        rl.kl_estimate(logp, logq, "k4")
    with pytest.raises(ValueError, match="one shape"):
        rl.kl_estimate(logp, logq[:2])


def test_train_ppo_short_run() -> None:
    result = rl.train_ppo(updates=2, num_envs=2, rollout=32, epochs=1, minibatches=2, hidden=8)
    assert len(result.approx_kl) == 2 and all(k >= 0 for k in result.approx_kl)
    assert result.policy()(np.zeros(4, dtype=np.float32)) in (0, 1)
    with pytest.raises(ValueError, match="minibatches"):
        rl.train_ppo(updates=1, num_envs=1, rollout=2, minibatches=3)
    with pytest.raises(ValueError, match="kl_coef"):
        rl.train_ppo(updates=1, kl_coef=-1.0)


def test_area_resize_is_area_averaging() -> None:
    image = np.arange(16, dtype=np.float64).reshape(4, 4)
    # the means 2.5, 4.5, 10.5, 12.5 are rounded to even
    np.testing.assert_array_equal(rl.area_resize(image, 2, 2), [[2, 4], [10, 12]])
    # 3 rows -> 2: each output row covers 1.5 input rows
    tall = np.repeat(np.array([[0.0], [90.0], [180.0]]), 2, axis=1)
    np.testing.assert_array_equal(rl.area_resize(tall, 2, 2)[:, 0], [30, 150])
    with pytest.raises(ValueError, match="2-D"):
        rl.area_resize(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="only shrinks"):
        rl.area_resize(np.zeros((10, 10)), 20, 20)


def test_preprocess_frames_takes_the_max() -> None:
    a, b = np.zeros((210, 160), np.uint8), np.zeros((210, 160), np.uint8)
    a[:105], b[105:] = 200, 200  # each frame lights half the screen
    assert (rl.preprocess_frames(a, b) == 200).all()
    with pytest.raises(ValueError, match="one shape"):
        rl.preprocess_frames(a, b[:100])


def test_atari_frame_stack_equals_ale_vector_env() -> None:
    import ale_py

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0, obs_type="grayscale")
    mine = rl.AtariFrameStack(env)
    ref = ale_py.AtariVectorEnv(
        "pong",
        1,
        num_threads=1,
        noop_max=0,
        use_fire_reset=False,
        reward_clipping=False,
        repeat_action_probability=0.0,
    )
    obs, ref_obs = mine.reset(seed=0), ref.reset(seed=0)[0][0]
    np.testing.assert_array_equal(obs, ref_obs)
    rng = np.random.default_rng(0)
    for action in rng.integers(0, 6, 30):
        obs, reward, *_ = mine.step(int(action))
        ref_obs, ref_reward, *_ = ref.step(np.array([action]))
        assert np.abs(obs.astype(int) - ref_obs[0]).max() <= 1  # equal but for rounding ties
        assert reward == ref_reward[0]
    ref.close()
    with pytest.raises(ValueError, match="grayscale"):
        rl.AtariFrameStack(gym.make("ALE/Pong-v5", frameskip=1))
    with pytest.raises(ValueError, match="frame_skip"):
        rl.AtariFrameStack(env, frame_skip=1)


def test_greedy_policy_picks_argmax() -> None:
    net = torch.nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    act = rl.greedy_policy(copy.deepcopy(net))
    assert act(np.array([0.0, 2.0])) == 1 and act(np.array([3.0, 0.0])) == 0
