"""Reinforcement learning, enough for RLHF: DQN, policy gradients, PPO and the Atari pipeline.

Chapter 12.6 writes each piece out in the page first; these are the same pieces for later use:

* tabular planning: `value_iteration` (the Bellman optimality equation, solved exactly);
* DQN (Mnih et al. 2013, 2015): `ReplayBuffer`, `mlp_q_network`, `NatureDQN`, `linear_schedule`,
  `dqn_loss`, `train_dqn`, `evaluate_policy`;
* policy gradients: `discounted_returns`, `gae`, `ppo_clip_loss`, `kl_estimate`, `train_ppo`;
* Atari frames: `area_resize`, `preprocess_frames`, `AtariFrameStack`.

Examples:
    >>> import torch
    >>> discounted_returns(torch.tensor([1.0, 1.0, 1.0]), gamma=0.5)
    tensor([1.7500, 1.5000, 1.0000])
    >>> buffer = ReplayBuffer(capacity=3, obs_shape=(2,))
    >>> for t in range(5):
    ...     buffer.push([t, t], action=t % 2, reward=1.0, next_obs=[t + 1, t + 1], done=False)
    >>> len(buffer)  # the oldest two were overwritten
    3
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_choice, check_float, check_int, check_tensor

__all__ = [
    "AtariFrameStack",
    "DQNResult",
    "NatureDQN",
    "PPOResult",
    "ReplayBuffer",
    "area_resize",
    "discounted_returns",
    "dqn_loss",
    "evaluate_policy",
    "gae",
    "greedy_policy",
    "kl_estimate",
    "linear_schedule",
    "mlp_q_network",
    "ppo_clip_loss",
    "preprocess_frames",
    "train_dqn",
    "train_ppo",
    "value_iteration",
]


# ----------------------------------------------------------------------------------------------- planning
def value_iteration(
    P: np.ndarray, R: np.ndarray, gamma: float, *, tol: float = 1e-10, max_iters: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """Solve a finite MDP exactly by repeating the Bellman optimality backup until it stops moving.

    ``Q(s, a) = R(s, a) + gamma * sum_s' P(s, a, s') * max_a' Q(s', a')``.

    Args:
        P: (states, actions, states) transition probabilities; each ``P[s, a]`` sums to 1.
        R: (states, actions) expected immediate rewards.
        gamma: the discount, in [0, 1).
        tol: stop when no value moves by more than this.
        max_iters: give up after this many sweeps.

    Returns:
        ``(V, Q)``: (states,) optimal values and (states, actions) optimal action values.

    Raises:
        ValueError: shapes disagree, a row of `P` is not a distribution, or `gamma` is outside [0, 1).
        RuntimeError: no convergence within `max_iters` sweeps.

    Examples:
        >>> P = np.ones((1, 1, 1)); R = np.ones((1, 1))  # one state, reward 1 for ever
        >>> V, Q = value_iteration(P, R, gamma=0.5)
        >>> round(float(V[0]), 6)  # 1 + 0.5 + 0.25 + ... = 2
        2.0
    """
    gamma = check_float("gamma", gamma, ge=0, lt=1)
    P, R = np.asarray(P, dtype=np.float64), np.asarray(R, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape (states, actions, states), got {P.shape}")
    if R.shape != P.shape[:2]:
        raise ValueError(f"R must have shape (states, actions) = {P.shape[:2]}, got {R.shape}")
    if (P < 0).any() or not np.allclose(P.sum(-1), 1):
        raise ValueError("P[s, a] must be probability distributions over next states (>= 0, summing to 1)")
    Q = np.zeros_like(R)
    for _ in range(check_int("max_iters", max_iters, ge=1)):
        Q_new = R + gamma * P @ Q.max(1)
        if np.abs(Q_new - Q).max() <= tol:
            return Q_new.max(1), Q_new
        Q = Q_new
    raise RuntimeError(f"value iteration did not converge to tol={tol} in {max_iters} sweeps")


# -------------------------------------------------------------------------------------------- DQN parts
class ReplayBuffer:
    """A ring buffer of transitions ``(obs, action, reward, next_obs, done)``, sampled uniformly.

    Sampling old and new transitions together breaks the correlation between consecutive steps, and each
    transition is reused in many updates (Lin 1992; Mnih et al. 2013).

    Args:
        capacity: how many transitions to keep; the oldest is overwritten first.
        obs_shape: the shape of one observation, e.g. ``(4,)`` for CartPole, ``(4, 84, 84)`` for Atari.
        dtype: NumPy dtype to store observations in (``np.uint8`` keeps Atari frames small).
        seed: seed of the sampling generator.

    Raises:
        ValueError: `capacity` < 1.
    """

    def __init__(
        self, capacity: int, obs_shape: Sequence[int], *, dtype: type = np.float32, seed: int = 0
    ) -> None:
        self.capacity = check_int("capacity", capacity, ge=1)
        self.obs_shape = tuple(int(n) for n in obs_shape)
        self.obs = np.zeros((self.capacity, *self.obs_shape), dtype=dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=np.float32)
        self.position = 0  # where the next transition goes
        self.size = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def push(self, obs: object, action: int, reward: float, next_obs: object, done: bool) -> None:
        """Store one transition; `done` is True only when the episode *terminated* (not when truncated).

        Raises:
            ValueError: `obs` or `next_obs` does not have the buffer's `obs_shape`.
        """
        for name, o in (("obs", obs), ("next_obs", next_obs)):
            if np.shape(o) != self.obs_shape:
                raise ValueError(f"{name} must have shape {self.obs_shape}, got {np.shape(o)}")
        i = self.position
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.actions[i], self.rewards[i], self.dones[i] = action, reward, float(done)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """Draw `batch_size` stored transitions uniformly, with replacement.

        Returns:
            A dict of tensors: ``obs`` and ``next_obs`` (batch, *obs_shape) float32, ``actions`` (batch,)
            int64, ``rewards`` and ``dones`` (batch,) float32.

        Raises:
            ValueError: `batch_size` < 1, or the buffer is empty.
        """
        batch_size = check_int("batch_size", batch_size, ge=1)
        if self.size == 0:
            raise ValueError("cannot sample from an empty ReplayBuffer: push transitions first")
        idx = self.rng.integers(0, self.size, batch_size)
        return {
            "obs": torch.as_tensor(self.obs[idx], dtype=torch.float32),
            "actions": torch.as_tensor(self.actions[idx]),
            "rewards": torch.as_tensor(self.rewards[idx]),
            "next_obs": torch.as_tensor(self.next_obs[idx], dtype=torch.float32),
            "dones": torch.as_tensor(self.dones[idx]),
        }


def mlp_q_network(obs_dim: int, n_actions: int, hidden: int = 128) -> nn.Sequential:
    """A two-hidden-layer MLP: (batch, obs_dim) observations -> (batch, n_actions) action values.

    Raises:
        ValueError: a size < 1.
    """
    obs_dim, n_actions = check_int("obs_dim", obs_dim, ge=1), check_int("n_actions", n_actions, ge=1)
    hidden = check_int("hidden", hidden, ge=1)
    return nn.Sequential(
        nn.Linear(obs_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_actions),
    )


class NatureDQN(nn.Module):
    """The convolutional Q-network of Mnih et al. (2015, *Nature*).

    (batch, frames, 84, 84) uint8 or float frames in [0, 255] -> (batch, n_actions) action values:
    conv 32@8x8/4 -> conv 64@4x4/2 -> conv 64@3x3/1 -> 512 -> n_actions, ReLU between. The 2013 paper's
    smaller net (16@8x8/4, 32@4x4/2, 256) is ``NatureDQN(n, channels=(16, 32), hidden=256)``.

    Args:
        n_actions: the number of actions (6 for Pong, 4 for Breakout).
        frames: stacked frames per observation.
        channels: output channels of the conv layers: 3 (Nature) or 2 (2013) numbers.
        hidden: width of the fully connected layer.

    Raises:
        ValueError: a size < 1, or `channels` has neither 2 nor 3 entries.
    """

    def __init__(
        self, n_actions: int, *, frames: int = 4, channels: Sequence[int] = (32, 64, 64), hidden: int = 512
    ) -> None:
        super().__init__()
        n_actions, frames = check_int("n_actions", n_actions, ge=1), check_int("frames", frames, ge=1)
        hidden = check_int("hidden", hidden, ge=1)
        channels = tuple(check_int(f"channels[{i}]", c, ge=1) for i, c in enumerate(channels))
        if len(channels) not in (2, 3):
            raise ValueError(f"channels must have 3 (Nature 2015) or 2 (2013) entries, got {channels}")
        specs = [(8, 4), (4, 2), (3, 1)][: len(channels)]
        layers: list[nn.Module] = []
        c_in, size = frames, 84
        for c_out, (k, s) in zip(channels, specs, strict=True):
            layers += [nn.Conv2d(c_in, c_out, k, stride=s), nn.ReLU()]
            c_in, size = c_out, (size - k) // s + 1
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(c_in * size * size, hidden), nn.ReLU(), nn.Linear(hidden, n_actions)
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 84, 84) -> (batch, n_actions); pixels are scaled from [0, 255] to [0, 1] here."""
        if frames.dim() != 4 or frames.shape[-2:] != (84, 84):
            raise ValueError(f"frames must have shape (batch, frames, 84, 84), got {tuple(frames.shape)}")
        return self.head(self.features(frames.float() / 255.0))


def linear_schedule(step: int, start: float, end: float, duration: int) -> float:
    """Go linearly from `start` to `end` over `duration` steps, then stay at `end` (epsilon-greedy's epsilon).

    Examples:
        >>> [round(linear_schedule(t, 1.0, 0.1, 10), 2) for t in (0, 5, 10, 50)]
        [1.0, 0.55, 0.1, 0.1]
    """
    duration = check_int("duration", duration, ge=1)
    return end + (start - end) * max(0.0, 1.0 - step / duration)


def dqn_loss(
    q_net: nn.Module,
    target_net: nn.Module,
    batch: dict[str, torch.Tensor],
    gamma: float,
    *,
    double: bool = False,
) -> torch.Tensor:
    """The Huber (smooth L1) loss of Q(s, a) against the TD target ``r + gamma (1 - done) max_a' Q'(s', a')``.

    Args:
        q_net: (batch, *obs) -> (batch, actions), the network being trained.
        target_net: the same shape; a frozen copy (or `q_net` itself, for no target network).
        batch: as returned by `ReplayBuffer.sample`.
        gamma: the discount, in [0, 1].
        double: pick a' with `q_net` and evaluate it with `target_net` (double DQN, van Hasselt et al. 2016).

    Returns:
        A scalar loss; gradients flow into `q_net` only (the target is computed without grad).

    Raises:
        ValueError: `batch` lacks a key, or `gamma` is outside [0, 1].
    """
    gamma = check_float("gamma", gamma, ge=0, le=1)
    missing = {"obs", "actions", "rewards", "next_obs", "dones"} - set(batch)
    if missing:
        raise ValueError(f"batch is missing {sorted(missing)}")
    q = q_net(batch["obs"]).gather(1, batch["actions"].long().unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        q_next = target_net(batch["next_obs"])
        if double:
            a_next = q_net(batch["next_obs"]).argmax(1, keepdim=True)
            best_next = q_next.gather(1, a_next).squeeze(1)
        else:
            best_next = q_next.max(1).values
        target = batch["rewards"] + gamma * (1 - batch["dones"]) * best_next
    return F.smooth_l1_loss(q, target)


def _make_env(env: str | object, seed: int | None):
    import gymnasium as gym

    return gym.make(env) if isinstance(env, str) else env


def evaluate_policy(
    env: str | object, policy: Callable[[np.ndarray], int] | None, *, episodes: int = 10, seed: int = 0
) -> np.ndarray:
    """Run whole episodes and return their undiscounted returns.

    Args:
        env: a gymnasium environment id (e.g. ``"CartPole-v1"``) or an environment.
        policy: observation (NumPy array) -> action; ``None`` draws uniformly random actions.
        episodes: how many episodes; episode ``i`` is reset with seed ``seed + i``.
        seed: the first reset seed (also seeds the random policy's action space).

    Returns:
        (episodes,) float array of returns.

    Raises:
        ValueError: `episodes` < 1.
    """
    episodes = check_int("episodes", episodes, ge=1)
    env = _make_env(env, seed)
    env.action_space.seed(seed)
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            action = env.action_space.sample() if policy is None else policy(obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            returns[i] += float(reward)
            done = terminated or truncated
    return returns


def greedy_policy(q_net: nn.Module) -> Callable[[np.ndarray], int]:
    """Observation (NumPy) -> the action with the largest Q-value under `q_net`."""

    def act(obs: np.ndarray) -> int:
        with torch.no_grad():
            return int(q_net(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0)).argmax(1))

    return act


@dataclass
class DQNResult:
    """What `train_dqn` returns.

    Attributes:
        q_net: the trained (batch, obs_dim) -> (batch, actions) network.
        episode_returns: the return of every training episode, in order (with exploration on).
        losses: the loss of every update.
        eval_steps: the steps at which the greedy policy was evaluated.
        eval_returns: its mean return over `eval_episodes` episodes at each of those steps.
        best_step: the step whose network `q_net` is (the best evaluation; the last step if none ran).
    """

    q_net: nn.Module
    episode_returns: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_returns: list[float] = field(default_factory=list)
    best_step: int = 0


def train_dqn(
    env: str | object = "CartPole-v1",
    *,
    steps: int = 20_000,
    seed: int = 0,
    hidden: int = 128,
    lr: float = 1e-3,
    gamma: float = 0.99,
    batch_size: int = 64,
    buffer_size: int = 20_000,
    learning_starts: int = 1_000,
    train_every: int = 1,
    target_update: int = 500,
    eps_start: float = 1.0,
    eps_end: float = 0.05,
    eps_steps: int = 10_000,
    use_target: bool = True,
    use_replay: bool = True,
    eval_every: int = 0,
    eval_episodes: int = 3,
) -> DQNResult:
    """Deep Q-learning on an environment with a vector observation and discrete actions.

    Each step: act epsilon-greedily, store the transition, and every `train_every` steps take one Adam step
    on `dqn_loss` over a minibatch from the replay buffer; copy the online network into the target network
    every `target_update` steps.

    Args:
        env: a gymnasium id or environment with a ``Box`` observation (obs_dim,) and ``Discrete`` actions.
        steps: environment steps in all.
        seed: seeds torch, the buffer, the action space and the first reset.
        hidden: width of the two hidden layers of `mlp_q_network`.
        lr: Adam's learning rate.
        gamma: the discount.
        batch_size: transitions per update.
        buffer_size: capacity of the replay buffer.
        learning_starts: steps of pure exploration before the first update.
        train_every: steps between updates.
        target_update: steps between copies into the target network.
        eps_start: epsilon at step 0.
        eps_end: epsilon after `eps_steps` steps.
        eps_steps: how long epsilon decays.
        use_target: False bootstraps from the online network itself (the ablation).
        use_replay: False trains on the last `batch_size` transitions only, in order (the ablation).
        eval_every: every this many steps, run `eval_episodes` greedy episodes (reset seeds 10_000 + i) and
            keep the network with the best mean return, as a checkpoint callback would; 0 keeps the last one.
        eval_episodes: episodes per evaluation.

    Returns:
        A `DQNResult`; its `q_net` is the best evaluated network (or the last one when `eval_every` is 0).

    Raises:
        ValueError: a count or rate out of range.
    """
    steps, batch_size = check_int("steps", steps, ge=1), check_int("batch_size", batch_size, ge=1)
    learning_starts = check_int("learning_starts", learning_starts, ge=batch_size)
    train_every, target_update = (
        check_int("train_every", train_every, ge=1),
        check_int("target_update", target_update, ge=1),
    )
    lr, gamma = check_float("lr", lr, gt=0), check_float("gamma", gamma, ge=0, le=1)
    eval_every, eval_episodes = (
        check_int("eval_every", eval_every, ge=0),
        check_int("eval_episodes", eval_episodes, ge=1),
    )
    env = _make_env(env, seed)
    torch.manual_seed(seed)
    obs_dim, n_actions = int(np.prod(env.observation_space.shape)), int(env.action_space.n)
    q_net = mlp_q_network(obs_dim, n_actions, hidden)
    target_net = copy.deepcopy(q_net) if use_target else q_net
    optimizer = torch.optim.Adam(q_net.parameters(), lr=lr)
    buffer = ReplayBuffer(buffer_size if use_replay else batch_size, (obs_dim,), seed=seed)
    rng = np.random.default_rng(seed)
    act = greedy_policy(q_net)
    result = DQNResult(q_net)
    obs, _ = env.reset(seed=seed)
    episode_return = 0.0
    for step in range(steps):
        eps = linear_schedule(step, eps_start, eps_end, eps_steps)
        action = int(rng.integers(n_actions)) if rng.random() < eps else act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.push(obs, action, float(reward), next_obs, terminated)  # truncation is not a terminal state
        obs, episode_return = next_obs, episode_return + float(reward)
        if terminated or truncated:
            result.episode_returns.append(episode_return)
            obs, _ = env.reset()
            episode_return = 0.0
        if step >= learning_starts and step % train_every == 0:
            if use_replay:
                batch = buffer.sample(batch_size)
            else:  # the last batch_size transitions, in the order they happened
                order = (np.arange(buffer.size) + buffer.position) % buffer.size
                batch = {k: torch.as_tensor(v[order]) for k, v in (
                    ("obs", buffer.obs), ("actions", buffer.actions), ("rewards", buffer.rewards),
                    ("next_obs", buffer.next_obs), ("dones", buffer.dones))}  # fmt: skip
            loss = dqn_loss(q_net, target_net, batch, gamma)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            result.losses.append(loss.item())
        if use_target and step % target_update == 0:
            target_net.load_state_dict(q_net.state_dict())
        if eval_every and (step + 1) % eval_every == 0:
            score = float(evaluate_policy(env.spec.id, act, episodes=eval_episodes, seed=10_000).mean())
            if not result.eval_returns or score > max(result.eval_returns):
                best, result.best_step = copy.deepcopy(q_net.state_dict()), step + 1
            result.eval_steps.append(step + 1)
            result.eval_returns.append(score)
    if result.eval_returns:
        q_net.load_state_dict(best)
    else:
        result.best_step = steps
    return result


# ------------------------------------------------------------------------------------ policy gradients
def discounted_returns(
    rewards: torch.Tensor, gamma: float, dones: torch.Tensor | None = None
) -> torch.Tensor:
    """The return from each step on: ``G_t = r_t + gamma * G_{t+1}``, restarted after each done step.

    Args:
        rewards: (T,) rewards of consecutive steps.
        gamma: the discount, in [0, 1].
        dones: optional (T,) flags; ``dones[t] = 1`` ends an episode after step t.

    Returns:
        (T,) returns, same dtype as `rewards`.

    Raises:
        ValueError: `rewards` is not 1-D, or `dones` has another shape.
    """
    check_tensor("rewards", rewards)
    gamma = check_float("gamma", gamma, ge=0, le=1)
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D (T,), got shape {tuple(rewards.shape)}")
    if dones is not None and dones.shape != rewards.shape:
        raise ValueError(
            f"dones must have the shape of rewards {tuple(rewards.shape)}, got {tuple(dones.shape)}"
        )
    out = torch.zeros_like(rewards)
    running = torch.zeros((), dtype=rewards.dtype)
    for t in reversed(range(len(rewards))):
        if dones is not None and dones[t]:
            running = torch.zeros((), dtype=rewards.dtype)
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float = 0.99,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over a rollout of parallel environments.

    ``delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t)``,
    ``A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}``.

    Args:
        rewards: (T, envs) rewards.
        values: (T, envs) V(s_t) of the critic.
        dones: (T, envs) 1 where the episode ended at step t (its next state is a fresh reset).
        last_value: (envs,) V of the state after the last step.
        gamma: the discount.
        lam: GAE's lambda: 0 gives the one-step TD error, 1 the Monte Carlo return minus V.

    Returns:
        ``(advantages, returns)``, both (T, envs); ``returns = advantages + values`` (the critic's target).

    Raises:
        ValueError: the shapes disagree.
    """
    for name, t in (("rewards", rewards), ("values", values), ("dones", dones), ("last_value", last_value)):
        check_tensor(name, t)
    if rewards.dim() != 2 or values.shape != rewards.shape or dones.shape != rewards.shape:
        raise ValueError(
            f"rewards, values and dones must share one (T, envs) shape, got {tuple(rewards.shape)}, "
            f"{tuple(values.shape)}, {tuple(dones.shape)}"
        )
    if last_value.shape != rewards.shape[1:]:
        raise ValueError(
            f"last_value must have shape (envs,) = {tuple(rewards.shape[1:])}, got {tuple(last_value.shape)}"
        )
    gamma, lam = check_float("gamma", gamma, ge=0, le=1), check_float("lam", lam, ge=0, le=1)
    advantages = torch.zeros_like(rewards)
    next_adv, next_value = torch.zeros_like(last_value), last_value
    for t in reversed(range(len(rewards))):
        alive = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * next_value * alive - values[t]
        next_adv = delta + gamma * lam * alive * next_adv
        advantages[t] = next_adv
        next_value = values[t]
    return advantages, advantages + values


def ppo_clip_loss(
    logp: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, clip_eps: float = 0.2
) -> torch.Tensor:
    """PPO's clipped surrogate (Schulman et al. 2017), as a loss to minimise.

    ``ratio = exp(logp - logp_old)``; ``loss = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))``.
    When A > 0 the ratio gets no gradient above 1 + eps; when A < 0, none below 1 - eps.

    Args:
        logp: (N,) log-probabilities of the taken actions under the policy being trained.
        logp_old: (N,) the same under the policy that collected the data (no gradient needed).
        advantages: (N,) advantage estimates.
        clip_eps: epsilon, in (0, 1).

    Returns:
        A scalar loss.

    Raises:
        ValueError: shapes differ, or `clip_eps` is outside (0, 1).
    """
    for name, t in (("logp", logp), ("logp_old", logp_old), ("advantages", advantages)):
        check_tensor(name, t)
    if logp.shape != logp_old.shape or logp.shape != advantages.shape:
        raise ValueError(
            f"logp, logp_old and advantages must have one shape, got {tuple(logp.shape)}, "
            f"{tuple(logp_old.shape)}, {tuple(advantages.shape)}"
        )
    clip_eps = check_float("clip_eps", clip_eps, gt=0, lt=1)
    ratio = torch.exp(logp - logp_old.detach())
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages
    return -torch.min(unclipped, clipped).mean()


def kl_estimate(logp: torch.Tensor, logp_ref: torch.Tensor, kind: str = "k3") -> torch.Tensor:
    """Per-sample estimates of KL(pi || pi_ref) from actions drawn from pi (Schulman 2020).

    With ``log_ratio = logp_ref - logp``: ``k1 = -log_ratio`` (unbiased, can be negative),
    ``k2 = log_ratio**2 / 2`` (biased, low variance), ``k3 = exp(log_ratio) - 1 - log_ratio``
    (unbiased and never negative). Their means over samples from pi estimate the KL.

    Args:
        logp: (N,) log pi(a) of sampled actions a ~ pi.
        logp_ref: (N,) log pi_ref(a) of the same actions.
        kind: ``"k1"``, ``"k2"`` or ``"k3"``.

    Returns:
        (N,) estimates; take ``.mean()``.

    Raises:
        ValueError: shapes differ, or `kind` is unknown.
    """
    check_tensor("logp", logp)
    check_tensor("logp_ref", logp_ref)
    if logp.shape != logp_ref.shape:
        raise ValueError(
            f"logp and logp_ref must have one shape, got {tuple(logp.shape)}, {tuple(logp_ref.shape)}"
        )
    check_choice("kind", kind, ("k1", "k2", "k3"))
    log_ratio = logp_ref - logp
    if kind == "k1":
        return -log_ratio
    if kind == "k2":
        return log_ratio**2 / 2
    return torch.expm1(log_ratio) - log_ratio


class _ActorCritic(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.actor = nn.Sequential(
            nn.Linear(obs_dim, hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, n_actions),
        )
        self.critic = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )

    def forward(self, obs: torch.Tensor) -> tuple[torch.distributions.Categorical, torch.Tensor]:
        return torch.distributions.Categorical(logits=self.actor(obs)), self.critic(obs).squeeze(-1)


@dataclass
class PPOResult:
    """What `train_ppo` returns.

    Attributes:
        model: the actor-critic; ``model(obs)`` with obs (batch, obs_dim) gives ``(Categorical, value)``.
        episode_returns: the return of every finished training episode, in order.
        approx_kl: the mean k3 estimate of KL(new || old) after each update.
    """

    model: nn.Module
    episode_returns: list[float] = field(default_factory=list)
    approx_kl: list[float] = field(default_factory=list)

    def policy(self) -> Callable[[np.ndarray], int]:
        """Observation -> the most probable action (greedy evaluation)."""

        def act(obs: np.ndarray) -> int:
            with torch.no_grad():
                dist, _ = self.model(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
            return int(dist.probs.argmax(1))

        return act


def train_ppo(
    env_id: str = "CartPole-v1",
    *,
    updates: int = 40,
    num_envs: int = 8,
    rollout: int = 128,
    epochs: int = 4,
    minibatches: int = 4,
    seed: int = 0,
    hidden: int = 64,
    lr: float = 2.5e-3,
    gamma: float = 0.99,
    lam: float = 0.95,
    clip_eps: float = 0.2,
    value_coef: float = 0.5,
    entropy_coef: float = 0.0,
    kl_coef: float = 0.0,
) -> PPOResult:
    """PPO with a clipped objective on `num_envs` vectorised copies of a discrete-action environment.

    Each update collects ``rollout`` steps from every copy with the current policy, computes `gae`
    advantages (normalised per minibatch), and takes `epochs` passes of `minibatches` Adam steps on
    ``ppo_clip_loss + value_coef * MSE(value) - entropy_coef * entropy + kl_coef * KL(new || old)``.

    Args:
        env_id: a gymnasium id with a ``Box`` observation and ``Discrete`` actions.
        updates: rollouts-then-optimise rounds; ``updates * num_envs * rollout`` environment steps in all.
        num_envs: parallel environments (``gymnasium.make_vec``).
        rollout: steps per environment per update.
        epochs: passes over each rollout.
        minibatches: minibatches per pass.
        seed: seeds torch and the environments.
        hidden: width of the actor's and the critic's hidden layers.
        lr: Adam's learning rate (annealed linearly to 0).
        gamma: the discount.
        lam: GAE's lambda.
        clip_eps: PPO's epsilon.
        value_coef: weight of the critic's loss.
        entropy_coef: weight of the entropy bonus.
        kl_coef: weight of the k3 KL penalty to the rollout's policy (0 for plain clipped PPO).

    Returns:
        A `PPOResult`.

    Raises:
        ValueError: a count or coefficient out of range.
    """
    import gymnasium as gym

    updates, num_envs = check_int("updates", updates, ge=1), check_int("num_envs", num_envs, ge=1)
    rollout, epochs = check_int("rollout", rollout, ge=1), check_int("epochs", epochs, ge=1)
    minibatches = check_int("minibatches", minibatches, ge=1, le=num_envs * rollout)
    lr = check_float("lr", lr, gt=0)
    for name, value in (("value_coef", value_coef), ("entropy_coef", entropy_coef), ("kl_coef", kl_coef)):
        check_float(name, value, ge=0)
    torch.manual_seed(seed)
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    obs_dim, n_actions = int(np.prod(envs.single_observation_space.shape)), int(envs.single_action_space.n)
    model = _ActorCritic(obs_dim, n_actions, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-5)
    result = PPOResult(model)
    obs_np, _ = envs.reset(seed=seed)
    obs = torch.as_tensor(obs_np, dtype=torch.float32)
    running = np.zeros(num_envs)
    batch = num_envs * rollout
    for update in range(updates):
        for group in optimizer.param_groups:
            group["lr"] = lr * (1 - update / updates)
        buf_obs = torch.zeros(rollout, num_envs, obs_dim)
        buf_act = torch.zeros(rollout, num_envs, dtype=torch.long)
        buf_logp, buf_val, buf_rew, buf_done = (torch.zeros(rollout, num_envs) for _ in range(4))
        for t in range(rollout):
            with torch.no_grad():
                dist, value = model(obs)
                action = dist.sample()
            next_obs, reward, terminated, truncated, _ = envs.step(action.numpy())
            buf_obs[t], buf_act[t], buf_logp[t], buf_val[t] = obs, action, dist.log_prob(action), value
            buf_rew[t] = torch.as_tensor(reward, dtype=torch.float32)
            done = np.logical_or(terminated, truncated)
            buf_done[t] = torch.as_tensor(done, dtype=torch.float32)
            running += reward
            for i in np.flatnonzero(done):
                result.episode_returns.append(float(running[i]))
                running[i] = 0.0
            obs = torch.as_tensor(next_obs, dtype=torch.float32)
        with torch.no_grad():
            _, last_value = model(obs)
        advantages, returns = gae(buf_rew, buf_val, buf_done, last_value, gamma, lam)
        flat = [x.reshape(batch, *x.shape[2:]) for x in (buf_obs, buf_act, buf_logp, advantages, returns)]
        b_obs, b_act, b_logp, b_adv, b_ret = flat
        for _ in range(epochs):
            for idx in torch.randperm(batch).chunk(minibatches):
                dist, value = model(b_obs[idx])
                logp = dist.log_prob(b_act[idx])
                adv = b_adv[idx]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                loss = ppo_clip_loss(logp, b_logp[idx], adv, clip_eps) + value_coef * F.mse_loss(
                    value, b_ret[idx]
                )
                loss = loss - entropy_coef * dist.entropy().mean()
                if kl_coef:
                    loss = loss + kl_coef * kl_estimate(logp, b_logp[idx]).mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                optimizer.step()
        with torch.no_grad():
            dist, _ = model(b_obs)
            result.approx_kl.append(kl_estimate(dist.log_prob(b_act), b_logp).mean().item())
    envs.close()
    return result


# ------------------------------------------------------------------------------------------ Atari frames
def _area_weights(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) matrix whose row i averages the input cells that output cell i covers, by overlap."""
    scale = n_in / n_out
    edges = np.arange(n_out + 1) * scale  # output cell i covers [edges[i], edges[i+1]) of the input axis
    cells = np.arange(n_in)
    overlap = np.clip(np.minimum(edges[1:, None], cells + 1) - np.maximum(edges[:-1, None], cells), 0, None)
    return overlap / scale


def area_resize(image: np.ndarray, height: int = 84, width: int = 84) -> np.ndarray:
    """Shrink a grey image by area averaging (what OpenCV's ``INTER_AREA`` computes), rounded to uint8.

    Each output pixel is the mean of the input pixels under it, a partly covered pixel counting by the
    share of it that is covered.

    Args:
        image: (H, W) grey image, any real dtype; H >= height and W >= width.
        height: output rows.
        width: output columns.

    Returns:
        (height, width) uint8 image.

    Raises:
        ValueError: `image` is not 2-D, or the output is larger than the input.

    Examples:
        >>> area_resize(np.array([[0, 10], [20, 30]]), 1, 1)
        array([[15]], dtype=uint8)
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D grey image (H, W), got shape {image.shape}")
    height, width = check_int("height", height, ge=1), check_int("width", width, ge=1)
    if height > image.shape[0] or width > image.shape[1]:
        raise ValueError(f"area_resize only shrinks: {image.shape} -> ({height}, {width})")
    out = (
        _area_weights(height, image.shape[0])
        @ image.astype(np.float64)
        @ _area_weights(width, image.shape[1]).T
    )
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def preprocess_frames(previous: np.ndarray, last: np.ndarray, size: int = 84) -> np.ndarray:
    """One frame of Mnih et al. (2015): the pixel-wise max of the last two grey frames, shrunk to size x size.

    The max removes the flicker of Atari sprites drawn only on every other frame.

    Args:
        previous: (210, 160) grey frame before the last one.
        last: (210, 160) last grey frame.
        size: the output side (84).

    Returns:
        (size, size) uint8.

    Raises:
        ValueError: the two frames differ in shape or are not 2-D.
    """
    previous, last = np.asarray(previous), np.asarray(last)
    if previous.shape != last.shape or last.ndim != 2:
        raise ValueError(
            f"previous and last must be 2-D grey frames of one shape, got {previous.shape}, {last.shape}"
        )
    return area_resize(np.maximum(previous, last), size, size)


class AtariFrameStack:
    """The Atari pipeline of Mnih et al., by hand, around a gymnasium ALE environment with ``frameskip=1``.

    ``step(a)`` repeats `a` for `frame_skip` frames, sums their rewards, takes the max of the last two grey
    frames, shrinks it to 84x84 (`preprocess_frames`) and pushes it onto a stack of the last `stack` such
    frames. After ``reset()`` the stack holds the first frame and `stack` - 1 frames of zeros.

    Args:
        env: a gymnasium ALE environment with ``frameskip=1`` and ``obs_type="grayscale"``.
        frame_skip: frames per action (4).
        stack: frames per observation (4).

    Raises:
        ValueError: `frame_skip` < 2 (the max needs two frames) or `stack` < 1, or the environment's
            observations are not (210, 160) grey frames.
    """

    def __init__(self, env: object, *, frame_skip: int = 4, stack: int = 4) -> None:
        self.env = env
        self.frame_skip = check_int("frame_skip", frame_skip, ge=2)
        self.stack = check_int("stack", stack, ge=1)
        shape = getattr(getattr(env, "observation_space", None), "shape", None)
        if shape is None or len(shape) != 2:
            raise ValueError(
                f"env must give 2-D grey frames (make it with obs_type='grayscale'), got shape {shape}"
            )
        self.frames = np.zeros((self.stack, 84, 84), dtype=np.uint8)

    def reset(self, *, seed: int | None = None) -> np.ndarray:
        """Reset the game; returns the (stack, 84, 84) uint8 observation."""
        frame, _ = self.env.reset(seed=seed)
        self.frames[:] = 0
        self.frames[-1] = area_resize(frame)
        return self.frames.copy()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool]:
        """Repeat `action` `frame_skip` times; return ``(observation, reward sum, terminated, truncated)``."""
        total, grabbed = 0.0, []
        terminated = truncated = False
        for _ in range(self.frame_skip):
            frame, reward, terminated, truncated, _ = self.env.step(action)
            total += float(reward)
            grabbed.append(frame)
            if terminated or truncated:
                break
        previous = grabbed[-2] if len(grabbed) > 1 else grabbed[-1]
        self.frames = np.roll(self.frames, -1, axis=0)
        self.frames[-1] = preprocess_frames(previous, grabbed[-1])
        return self.frames.copy(), total, terminated, truncated
