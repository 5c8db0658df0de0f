"""Audit against the reinforcement-learning code a practitioner starts from: OpenAI Spinning
Up's PyTorch algorithms (spinup/algos/pytorch/{vpg,ppo,ddpg,td3,sac}: core.py's mlp,
MLPCategoricalActor / MLPGaussianActor with a ``log_std`` parameter, SquashedGaussianMLPActor
with ``rsample``, the tanh correction ``2*(log(2) - a - softplus(-2a))``, MLPQFunction;
deepcopy'd target networks frozen with ``requires_grad = False``, polyak averaging with
``mul_`` / ``add_`` under ``no_grad``) and CleanRL (ppo.py and ppo_continuous_action.py: GAE,
the clipped surrogate with ``clamp``, approx_kl, clipfrac, advantage normalisation, value
clipping, the entropy bonus, ``clip_grad_norm_``, Adam with eps=1e-5 and the learning rate
annealed through ``param_groups[0]["lr"]``; dqn.py: a replay buffer, ``gather``, ``max(dim=1)``,
``argmax``, epsilon-greedy, ``load_state_dict`` targets with soft ``copy_`` updates;
td3_continuous_action.py: target-policy smoothing with ``randn_like(...).clamp``;
sac_continuous_action.py: automatic entropy tuning with a ``log_alpha`` leaf). gym is not
used: the environments are small seeded NumPy copies of CartPole-v1's physics and Pendulum.
Each recipe is written once and run with ``torch`` and with ``zeroin`` on the same weights
(copied from torch's), the same batches and the same noise (zeroin on torch's stream):
float64 to ~1e-10, float32 to float resolution. See docs/rl.md."""
import copy
import itertools
import math

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
from zeroin.nn import functional as ZF
from _audit import close, copy_weights, np_of, torch_stream

torch = pytest.importorskip("torch")
LIBS = {"torch": (torch, torch.nn, torch.nn.functional),
        "zeroin": (zeroin, znn, ZF)}
F64 = dict(rtol=1e-10, atol=1e-11)
F32 = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(autouse=True)
def _restore():
    yield
    torch.set_default_dtype(torch.float32)
    zeroin.random.use_torch_stream(False)


def _dtype(name):
    torch.set_default_dtype(getattr(torch, name))
    zeroin.set_default_dtype(getattr(zeroin, name))
    return F64 if name == "float64" else F32


def _close_all(zs, ts, tol):
    assert len(zs) == len(ts)
    for z, t in zip(zs, ts):
        close(z, t, **tol)


def _params(model):
    return [np_of(p) for p in model.parameters()]


# --- environments: seeded NumPy copies, vectorised over n copies ----------------------------

class CartPole:
    """gym's CartPole-v1 physics (Euler, tau 0.02), n copies that reset themselves when an
    episode ends (pole past 12 degrees, cart past 2.4, or ``limit`` steps); reward 1 a step.
    ``returns`` collects each finished episode's return."""

    def __init__(self, n, seed, limit=200):
        self.rng, self.n, self.limit = np.random.default_rng(seed), n, limit
        self.s = self.rng.uniform(-0.05, 0.05, (n, 4))
        self.t, self.ret, self.returns = np.zeros(n, int), np.zeros(n), []

    def step(self, a):
        x, xd, th, thd = self.s.T
        force = np.where(np.asarray(a) == 1, 10.0, -10.0)
        c, s = np.cos(th), np.sin(th)
        temp = (force + 0.05 * thd ** 2 * s) / 1.1
        thacc = (9.8 * s - c * temp) / (0.5 * (4.0 / 3.0 - 0.1 * c ** 2 / 1.1))
        xacc = temp - 0.05 * thacc * c / 1.1
        self.s = np.stack([x + 0.02 * xd, xd + 0.02 * xacc, th + 0.02 * thd,
                           thd + 0.02 * thacc], 1)
        self.t += 1
        self.ret += 1.0
        done = (np.abs(self.s[:, 0]) > 2.4) | (np.abs(self.s[:, 2]) > 0.2095)
        done |= self.t >= self.limit
        for i in np.flatnonzero(done):
            self.returns.append(self.ret[i])
            self.s[i] = self.rng.uniform(-0.05, 0.05, 4)
            self.t[i], self.ret[i] = 0, 0.0
        return self.s.copy(), np.ones(self.n), done.astype(np.float64)


class Pendulum:
    """gym's Pendulum-v1 (g 10, dt 0.05, torque clipped to [-2, 2]); observation
    (cos, sin, angular velocity), reward minus the cost."""

    def __init__(self, n, seed):
        self.rng, self.n = np.random.default_rng(seed), n
        self.th = self.rng.uniform(-np.pi, np.pi, n)
        self.thd = self.rng.uniform(-1, 1, n)

    def obs(self):
        return np.stack([np.cos(self.th), np.sin(self.th), self.thd], 1)

    def step(self, u):
        u = np.clip(np.asarray(u).reshape(self.n), -2.0, 2.0)
        ang = (self.th + np.pi) % (2 * np.pi) - np.pi
        cost = ang ** 2 + 0.1 * self.thd ** 2 + 0.001 * u ** 2
        self.thd = np.clip(self.thd + (15.0 * np.sin(self.th) + 3.0 * u) * 0.05, -8, 8)
        self.th = self.th + self.thd * 0.05
        return self.obs(), -cost, np.zeros(self.n)


def test_envs_are_deterministic_and_cartpole_falls():
    a, b = CartPole(3, 7), CartPole(3, 7)
    for _ in range(60):
        oa, ra, da = a.step(np.ones(3, int))
        ob, rb, db = b.step(np.ones(3, int))
        np.testing.assert_array_equal(oa, ob)
    assert a.returns and max(a.returns) < 60      # always pushing right: it falls early
    p = Pendulum(2, 0)
    o, r, _ = p.step(np.array([0.5, -0.5]))
    assert o.shape == (2, 3) and np.all(r <= 0)


def _transitions(env_cls, n, steps, seed, act_dim=None, n_actions=None):
    """A replay buffer (dict of float arrays) filled with random actions, as the algorithms
    do before ``learning_starts``; CleanRL's ReplayBuffer keeps actions as (B, 1) ints."""
    rng = np.random.default_rng(seed)
    env = env_cls(n, seed)
    obs = env.s.copy() if env_cls is CartPole else env.obs()
    buf = {k: [] for k in ("obs", "act", "rew", "obs2", "done")}
    for _ in range(steps):
        a = (rng.integers(0, n_actions, n) if n_actions else
             rng.uniform(-2, 2, (n, act_dim)))
        o2, r, d = env.step(a if n_actions else a[:, 0])
        for k, v in zip(buf, (obs, a, r, o2, d)):
            buf[k].append(v)
        obs = o2
    out = {k: np.concatenate(v) for k, v in buf.items()}
    if n_actions:
        out["act"] = out["act"].reshape(-1, 1)
    return out


# --- Spinning Up core.py ------------------------------------------------------------------

def _mlp(nn, sizes, activation, output_activation=None):
    output_activation = output_activation or nn.Identity
    layers = []
    for j in range(len(sizes) - 1):
        act = activation if j < len(sizes) - 2 else output_activation
        layers += [nn.Linear(sizes[j], sizes[j + 1]), act()]
    return nn.Sequential(*layers)


def _spinup_ac(lib, nn, F, obs_dim, act, hidden=(32, 32)):
    """spinup/algos/pytorch/ppo/core.py's MLPActorCritic: ``act`` an int is a Discrete space
    (Categorical policy), a tuple a Box (Normal policy with a ``log_std`` parameter)."""
    D = lib.distributions

    class MLPCategoricalActor(nn.Module):
        def __init__(self):
            super().__init__()
            self.logits_net = _mlp(nn, [obs_dim, *hidden, act], nn.Tanh)

        def forward(self, obs, a=None):
            pi = D.Categorical(logits=self.logits_net(obs))
            return pi, None if a is None else pi.log_prob(a)

    class MLPGaussianActor(nn.Module):
        def __init__(self):
            super().__init__()
            # Spinning Up writes dtype=np.float32: a float32 log_std under a float64
            # default, whose entropy both libraries then give in float32 (docs/rl.md)
            dt = np.float64 if lib.get_default_dtype() == lib.float64 else np.float32
            log_std = -0.5 * np.ones(act[0], dtype=dt)
            self.log_std = nn.Parameter(lib.as_tensor(log_std))
            self.mu_net = _mlp(nn, [obs_dim, *hidden, act[0]], nn.Tanh)

        def forward(self, obs, a=None):
            pi = D.Normal(self.mu_net(obs), lib.exp(self.log_std))
            return pi, None if a is None else pi.log_prob(a).sum(axis=-1)

    class MLPCritic(nn.Module):
        def __init__(self):
            super().__init__()
            self.v_net = _mlp(nn, [obs_dim, *hidden, 1], nn.Tanh)

        def forward(self, obs):
            return lib.squeeze(self.v_net(obs), -1)

    class MLPActorCritic(nn.Module):
        def __init__(self):
            super().__init__()
            self.pi = MLPCategoricalActor() if isinstance(act, int) else MLPGaussianActor()
            self.v = MLPCritic()

        def step(self, obs):
            with lib.no_grad():
                pi, _ = self.pi(obs)
                a = pi.sample()
                _, logp_a = self.pi(obs, a)
                return a.numpy(), self.v(obs).numpy(), logp_a.numpy()

    return MLPActorCritic()


def _discount_cumsum(x, discount):
    """Spinning Up's discount_cumsum (scipy.signal.lfilter there; a loop here, NumPy)."""
    out, run = np.zeros_like(x), 0.0
    for t in reversed(range(len(x))):
        run = out[t] = x[t] + discount * run
    return out


def _spinup_ppo_update(lib, ac, pi_opt, v_opt, data, clip_ratio=0.2, iters=4):
    """spinup/algos/pytorch/ppo/ppo.py's compute_loss_pi / compute_loss_v / update (no
    early stopping, so both libraries take the same steps); returns what it logs."""
    obs, act, adv, logp_old, ret = (data[k] for k in ("obs", "act", "adv", "logp", "ret"))
    logs = []
    for _ in range(iters):
        pi_opt.zero_grad()
        pi, logp = ac.pi(obs, act)
        ratio = lib.exp(logp - logp_old)
        clip_adv = lib.clamp(ratio, 1 - clip_ratio, 1 + clip_ratio) * adv
        loss_pi = -(lib.min(ratio * adv, clip_adv)).mean()
        approx_kl = (logp_old - logp).mean().item()
        ent = pi.entropy().mean().item()
        clipped = ratio.gt(1 + clip_ratio) | ratio.lt(1 - clip_ratio)
        clipfrac = lib.as_tensor(clipped, dtype=lib.float32).mean().item()
        loss_pi.backward()
        pi_opt.step()
        v_opt.zero_grad()
        loss_v = ((ac.v(obs) - ret) ** 2).mean()
        loss_v.backward()
        v_opt.step()
        logs.append([loss_pi.item(), loss_v.item(), approx_kl, ent, clipfrac])
    return logs


def _spinup_ppo_batch(ac_t, env_cls, act, n, steps, seed, gamma=0.99, lam=0.97):
    """One PPOBuffer's worth of experience gathered with torch's policy, finished as
    finish_path does (GAE-lambda advantages, rewards-to-go), advantages normalised."""
    env = env_cls(n, seed)
    o = env.s.copy() if env_cls is CartPole else env.obs()
    rows = []
    for _ in range(steps):
        a, v, logp = ac_t.step(torch.as_tensor(o, dtype=torch.get_default_dtype()))
        o2, r, _ = env.step(a if isinstance(act, int) else a[:, 0])
        rows.append((o, a, r, v, logp))
        o = o2
    obs, acts, rews, vals, logps = (np.stack(c) for c in zip(*rows))
    last_v = ac_t.step(torch.as_tensor(o, dtype=torch.get_default_dtype()))[1]
    vals_ext = np.concatenate([vals, last_v[None]])
    deltas = rews + gamma * vals_ext[1:] - vals_ext[:-1]
    adv = np.stack([_discount_cumsum(deltas[:, i], gamma * lam) for i in range(n)], 1)
    ret = np.stack([_discount_cumsum(np.concatenate([rews[:, i], last_v[i:i + 1]]), gamma)[:-1]
                    for i in range(n)], 1)
    adv = (adv - adv.mean()) / adv.std()
    flat = dict(obs=obs.reshape(steps * n, -1), act=acts.reshape(steps * n, *acts.shape[2:]),
                adv=adv.reshape(-1), logp=logps.reshape(-1), ret=ret.reshape(-1))
    return flat


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("space", ["discrete", "box"])
def test_spinup_ppo_update_matches_torch(dtype, space):
    tol = _dtype(dtype)
    torch.manual_seed(0)
    env_cls, act = (CartPole, 2) if space == "discrete" else (Pendulum, (1,))
    obs_dim = 4 if env_cls is CartPole else 3
    ac_t = _spinup_ac(*LIBS["torch"], obs_dim, act)
    ac_z = copy_weights(ac_t, _spinup_ac(*LIBS["zeroin"], obs_dim, act))
    data = _spinup_ppo_batch(ac_t, env_cls, act, n=4, steps=24, seed=1)
    logs = {}
    for name, (lib, _, _) in LIBS.items():
        ac = ac_t if lib is torch else ac_z
        batch = {k: lib.as_tensor(v, dtype=lib.int64 if k == "act" and isinstance(act, int)
                                  else lib.get_default_dtype()) for k, v in data.items()}
        pi_opt = lib.optim.Adam(ac.pi.parameters(), lr=3e-3)
        v_opt = lib.optim.Adam(ac.v.parameters(), lr=1e-2)
        logs[name] = _spinup_ppo_update(lib, ac, pi_opt, v_opt, batch)
    close(np.array(logs["zeroin"]), np.array(logs["torch"]), **tol)
    assert logs["torch"][-1][4] > 0                  # some ratios did get clipped
    _close_all(_params(ac_z), _params(ac_t), tol)


def test_spinup_step_samples_as_torch():
    """MLPActorCritic.step's ``pi.sample()`` on zeroin's torch stream draws torch's actions
    (Categorical and Normal), so whole rollouts can be replayed step for step."""
    _dtype("float64")
    torch_stream()
    for act, env_cls, obs_dim in ((2, CartPole, 4), ((1,), Pendulum, 3)):
        torch.manual_seed(0)
        ac_t = _spinup_ac(*LIBS["torch"], obs_dim, act)
        ac_z = copy_weights(ac_t, _spinup_ac(*LIBS["zeroin"], obs_dim, act))
        out = {}
        for lib, ac in ((torch, ac_t), (zeroin, ac_z)):
            lib.manual_seed(5)
            env = env_cls(3, 2)
            o, rows = (env.s.copy() if env_cls is CartPole else env.obs()), []
            for _ in range(30):
                a, v, logp = ac.step(lib.as_tensor(o))
                o = env.step(a if isinstance(act, int) else a[:, 0])[0]
                rows.append(np.concatenate([np.reshape(a, (3, -1)), v[:, None],
                                            logp[:, None]], 1))
            out[lib.__name__] = np.stack(rows)
        close(out["zeroin"], out["torch"], **F64)


def test_spinup_vpg_policy_gradient_matches_torch():
    """vpg.py's loss_pi = -(logp * adv).mean(): the gradient reaches the log_std parameter."""
    _dtype("float64")
    torch.manual_seed(1)
    ac_t = _spinup_ac(*LIBS["torch"], 3, (2,))
    ac_z = copy_weights(ac_t, _spinup_ac(*LIBS["zeroin"], 3, (2,)))
    rng = np.random.default_rng(0)
    obs, act, adv = rng.standard_normal((16, 3)), rng.standard_normal((16, 2)), rng.random(16)
    for lib, ac in ((torch, ac_t), (zeroin, ac_z)):
        _, logp = ac.pi(lib.tensor(obs), lib.tensor(act))
        (-(logp * lib.tensor(adv)).mean()).backward()
    close(ac_z.pi.log_std.grad, ac_t.pi.log_std.grad, **F64)
    _close_all([p.grad for p in ac_z.parameters() if p.grad is not None],
               [p.grad for p in ac_t.parameters() if p.grad is not None], F64)


# --- CleanRL ppo.py / ppo_continuous_action.py ----------------------------------------------

def _cleanrl_agent(lib, nn, obs_dim, n_act=None, act_dim=None):
    """ppo.py's Agent (Categorical over ``n_act`` actions) or ppo_continuous_action.py's
    (Normal with an ``actor_logstd`` parameter expanded to the mean's shape), with layer_init's
    orthogonal weights and constant biases."""
    D = lib.distributions

    def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
        nn.init.orthogonal_(layer.weight, std)
        nn.init.constant_(layer.bias, bias_const)
        return layer

    def body(out, std):
        return nn.Sequential(layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(),
                             layer_init(nn.Linear(64, 64)), nn.Tanh(),
                             layer_init(nn.Linear(64, out), std=std))

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.critic = body(1, 1.0)
            if n_act:
                self.actor = body(n_act, 0.01)
            else:
                self.actor_mean = body(act_dim, 0.01)
                self.actor_logstd = nn.Parameter(lib.zeros(1, act_dim))

        def get_value(self, x):
            return self.critic(x)

        def get_action_and_value(self, x, action=None):
            if n_act:
                probs = D.Categorical(logits=self.actor(x))
                if action is None:
                    action = probs.sample()
                return action, probs.log_prob(action), probs.entropy(), self.critic(x)
            action_mean = self.actor_mean(x)
            action_std = lib.exp(self.actor_logstd.expand_as(action_mean))
            probs = D.Normal(action_mean, action_std)
            if action is None:
                action = probs.sample()
            return (action, probs.log_prob(action).sum(1), probs.entropy().sum(1),
                    self.critic(x))

    return Agent()


def _Tensor(lib, a):
    """CleanRL's ``torch.Tensor(obs)``: the default dtype. ``zeroin.Tensor(array)`` keeps the
    array's dtype (README's differences), so zeroin's recipe names the dtype."""
    return lib.Tensor(a) if lib is torch else lib.tensor(a, dtype=lib.get_default_dtype())


def _cleanrl_rollout(lib, agent, env, num_steps, gamma=0.99, gae_lambda=0.95):
    """ppo.py's rollout into (num_steps, num_envs) tensors and its GAE loop, run on ``lib``'s
    tensors (``advantages[t] = lastgaelam = ...``)."""
    n = env.n
    obs_space = (4,) if isinstance(env, CartPole) else (3,)
    act_space = () if isinstance(env, CartPole) else (1,)
    obs = lib.zeros((num_steps, n) + obs_space)
    actions = lib.zeros((num_steps, n) + act_space)
    logprobs, rewards, dones, values = (lib.zeros((num_steps, n)) for _ in range(4))
    next_obs = _Tensor(lib, env.s.copy() if isinstance(env, CartPole) else env.obs())
    next_done = lib.zeros(n)
    for step in range(num_steps):
        obs[step] = next_obs
        dones[step] = next_done
        with lib.no_grad():
            action, logprob, _, value = agent.get_action_and_value(next_obs)
            values[step] = value.flatten()
        actions[step] = action
        logprobs[step] = logprob
        a = action.cpu().numpy()
        next_obs, reward, done = env.step(a if not act_space else a[:, 0])
        rewards[step] = lib.tensor(reward).view(-1)
        next_obs, next_done = _Tensor(lib, next_obs), _Tensor(lib, done)
    with lib.no_grad():
        next_value = agent.get_value(next_obs).reshape(1, -1)
        advantages = lib.zeros_like(rewards)
        lastgaelam = 0
        for t in reversed(range(num_steps)):
            if t == num_steps - 1:
                nextnonterminal = 1.0 - next_done
                nextvalues = next_value
            else:
                nextnonterminal = 1.0 - dones[t + 1]
                nextvalues = values[t + 1]
            delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
            advantages[t] = lastgaelam = (delta + gamma * gae_lambda * nextnonterminal
                                          * lastgaelam)
        returns = advantages + values
    return dict(obs=obs.reshape((-1,) + obs_space), logprobs=logprobs.reshape(-1),
                actions=actions.reshape((-1,) + act_space), advantages=advantages.reshape(-1),
                returns=returns.reshape(-1), values=values.reshape(-1))


def _cleanrl_ppo_update(lib, nn, agent, optimizer, b, order, minibatch_size, clip_coef=0.2,
                        ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, discrete=True):
    """ppo.py's update epochs (clipped surrogate, clipped value loss, entropy bonus,
    clip_grad_norm_); ``order`` holds each epoch's shuffled indices. Returns the logs."""
    logs = []
    for b_inds in order:
        for start in range(0, len(b_inds), minibatch_size):
            mb_inds = lib.as_tensor(b_inds[start:start + minibatch_size])
            acts = b["actions"].long()[mb_inds] if discrete else b["actions"][mb_inds]
            _, newlogprob, entropy, newvalue = agent.get_action_and_value(b["obs"][mb_inds],
                                                                          acts)
            logratio = newlogprob - b["logprobs"][mb_inds]
            ratio = logratio.exp()
            with lib.no_grad():
                old_approx_kl = (-logratio).mean()
                approx_kl = ((ratio - 1) - logratio).mean()
                clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean().item()
            mb_adv = b["advantages"][mb_inds]
            mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
            pg_loss1 = -mb_adv * ratio
            pg_loss2 = -mb_adv * lib.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
            pg_loss = lib.max(pg_loss1, pg_loss2).mean()
            newvalue = newvalue.view(-1)
            v_loss_unclipped = (newvalue - b["returns"][mb_inds]) ** 2
            v_clipped = b["values"][mb_inds] + lib.clamp(newvalue - b["values"][mb_inds],
                                                         -clip_coef, clip_coef)
            v_loss_clipped = (v_clipped - b["returns"][mb_inds]) ** 2
            v_loss = 0.5 * lib.max(v_loss_unclipped, v_loss_clipped).mean()
            entropy_loss = entropy.mean()
            loss = pg_loss - ent_coef * entropy_loss + v_loss * vf_coef
            optimizer.zero_grad()
            loss.backward()
            norm = nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()
            logs.append([loss.item(), pg_loss.item(), v_loss.item(), entropy_loss.item(),
                         old_approx_kl.item(), approx_kl.item(), clipfrac, norm.item()])
    return logs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("discrete", [True, False])
def test_cleanrl_ppo_matches_torch(dtype, discrete):
    """Two iterations of ppo.py (rollout, GAE, four epochs of minibatch updates with the
    learning rate annealed): zeroin samples its own actions on torch's stream and gets
    torch's rollouts, losses, KL estimates, clip fractions, gradient norms and weights."""
    tol = _dtype(dtype)
    if dtype == "float32" and not discrete:
        # the pendulum's rollout carries a last-bit difference in a float32 action (the
        # policy's matmul rounds as the BLAS in use does) into later states
        tol = {"rtol": 2e-4, "atol": 2e-5}
    torch_stream()
    torch.manual_seed(1)
    kw = dict(n_act=2) if discrete else dict(act_dim=1)
    env_cls, obs_dim = (CartPole, 4) if discrete else (Pendulum, 3)
    agent_t = _cleanrl_agent(torch, torch.nn, obs_dim, **kw)
    agent_z = copy_weights(agent_t, _cleanrl_agent(zeroin, znn, obs_dim, **kw))
    num_updates, num_envs, num_steps, lr = 2, 4, 16, 2e-2
    out = {}
    for lib, nn, agent in ((torch, torch.nn, agent_t), (zeroin, znn, agent_z)):
        lib.manual_seed(3)
        env, order_rng = env_cls(num_envs, 4), np.random.default_rng(5)
        optimizer = lib.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
        logs, batches = [], []
        for update in range(1, num_updates + 1):
            frac = 1.0 - (update - 1.0) / num_updates
            optimizer.param_groups[0]["lr"] = frac * lr
            b = _cleanrl_rollout(lib, agent, env, num_steps)
            batches.append([np_of(v) for v in b.values()])
            order = [order_rng.permutation(num_envs * num_steps) for _ in range(4)]
            logs += _cleanrl_ppo_update(lib, nn, agent, optimizer, b, order, 16,
                                        discrete=discrete)
        out[lib.__name__] = (logs, batches, _params(agent), optimizer.param_groups[0]["lr"])
    (lz, bz, pz, rz), (lt, bt, pt, rt) = out["zeroin"], out["torch"]
    if dtype == "float64" and discrete:              # the same actions sampled
        np.testing.assert_array_equal(bz[0][2], bt[0][2])
    elif dtype == "float64":    # mean + std * noise: the same noise; the mean's matmul may
        close(bz[0][2], bt[0][2], rtol=1e-14, atol=1e-15)   # round as another BLAS does
    for z, t in zip(bz, bt):
        _close_all(z, t, tol)
    close(np.array(lz), np.array(lt), **tol)
    _close_all(pz, pt, tol)
    assert rz == rt == lr / 2
    assert np.array(lt)[:, 6].max() > 0               # the clipping was exercised


# --- CleanRL dqn.py ---------------------------------------------------------------------------

def _qnetwork(nn, obs_dim, n_act):
    class QNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.network = nn.Sequential(nn.Linear(obs_dim, 120), nn.ReLU(),
                                         nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, n_act))

        def forward(self, x):
            return self.network(x)

    return QNetwork()


def _linear_schedule(start_e, end_e, duration, t):
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e)


def _dqn_run(lib, F, q_network, target_network, steps, loss="mse", tau=1.0, seed=0):
    """dqn.py's loop on the toy CartPole (one env): epsilon-greedy with ``argmax``, a NumPy
    replay buffer, the TD target from ``target(...).max(dim=1)``, ``gather`` of the taken
    actions' Q-values, and the target updated by ``copy_`` of the soft mix every 20 steps.
    The exploration coin and the minibatches come from a NumPy generator, the same for
    both libraries. Returns the losses and the greedy actions."""
    optimizer = lib.optim.Adam(q_network.parameters(), lr=2.5e-3)
    rng, env = np.random.default_rng(seed), CartPole(1, seed)
    obs, buf, losses, greedy = env.s.copy(), [], [], []
    dt = lib.get_default_dtype()
    for global_step in range(steps):
        epsilon = _linear_schedule(1.0, 0.05, steps // 2, global_step)
        q_values = q_network(lib.as_tensor(obs, dtype=dt))
        greedy.append(lib.argmax(q_values, dim=1).cpu().numpy())
        actions = rng.integers(0, 2, 1) if rng.random() < epsilon else greedy[-1]
        next_obs, rewards, dones = env.step(actions)
        buf.append((obs, actions, rewards, next_obs, dones))
        obs = next_obs
        if global_step >= 32 and global_step % 2 == 0:
            rows = [buf[i] for i in rng.integers(0, len(buf), 32)]
            o, a, r, o2, d = (np.concatenate(c) for c in zip(*rows))
            o, o2 = lib.as_tensor(o, dtype=dt), lib.as_tensor(o2, dtype=dt)
            a, r, d = lib.as_tensor(a[:, None]), lib.as_tensor(r, dtype=dt), \
                lib.as_tensor(d, dtype=dt)
            with lib.no_grad():
                target_max, _ = target_network(o2).max(dim=1)
                td_target = r.flatten() + 0.99 * target_max * (1 - d.flatten())
            old_val = q_network(o).gather(1, a).squeeze()
            lossf = F.mse_loss if loss == "mse" else F.smooth_l1_loss
            loss_v = lossf(td_target, old_val)
            optimizer.zero_grad()
            loss_v.backward()
            optimizer.step()
            losses.append(loss_v.item())
            if global_step % 20 == 0:
                for tp, qp in zip(target_network.parameters(), q_network.parameters()):
                    tp.data.copy_(tau * qp.data + (1.0 - tau) * tp.data)
    return losses, np.concatenate(greedy)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss,tau", [("mse", 1.0), ("smooth_l1", 0.5)])
def test_cleanrl_dqn_matches_torch(dtype, loss, tau):
    tol = _dtype(dtype)
    torch.manual_seed(0)
    qt = _qnetwork(torch.nn, 4, 2)
    qz = copy_weights(qt, _qnetwork(znn, 4, 2))
    out = {}
    for lib, nn, F, q in ((torch, torch.nn, torch.nn.functional, qt), (zeroin, znn, ZF, qz)):
        target = _qnetwork(nn, 4, 2)
        target.load_state_dict(q.state_dict())
        out[lib.__name__] = _dqn_run(lib, F, q, target, 120, loss, tau) + (_params(target),)
    (lz, gz, tz), (lt, gt, tt) = out["zeroin"], out["torch"]
    assert len(lt) > 40 and max(lt) > 0
    close(np.array(lz), np.array(lt), **tol)
    np.testing.assert_array_equal(gz, gt)                 # argmax picks the same actions
    _close_all(_params(qz), _params(qt), tol)
    _close_all(tz, tt, tol)


def test_dqn_target_network_is_a_copy():
    """``target.load_state_dict(q.state_dict())`` and ``copy.deepcopy(q)`` copy the values:
    training ``q`` leaves the target alone until the next sync (the state dict's tensors
    share ``q``'s memory, as torch's, but loading copies them in)."""
    torch.manual_seed(0)
    for lib, nn in ((torch, torch.nn), (zeroin, znn)):
        q = _qnetwork(nn, 4, 2)
        target = _qnetwork(nn, 4, 2)
        target.load_state_dict(q.state_dict())
        clone = copy.deepcopy(q)
        sd = q.state_dict()
        with lib.no_grad():
            q.network[0].weight.add_(1.0)
        assert sd["network.0.weight"].sum().item() == q.network[0].weight.sum().item()
        for other in (target, clone):
            diff = (q.network[0].weight - other.network[0].weight).detach()
            np.testing.assert_allclose(np_of(diff), 1.0, rtol=1e-6)
            assert other.network[0].weight.requires_grad
        assert [n for n, _ in clone.named_parameters()] == [n for n, _ in
                                                           q.named_parameters()]


# --- Spinning Up sac / ddpg / td3 core.py, with CleanRL's entropy autotuning ---------------

LOG_STD_MAX, LOG_STD_MIN = 2, -20


def _spinup_sac_ac(lib, nn, F, obs_dim, act_dim, act_limit=2.0, hidden=(32, 32)):
    """sac/core.py's MLPActorCritic: the SquashedGaussianMLPActor (clamped log_std,
    ``rsample``, the tanh correction) and two MLPQFunctions."""
    D = lib.distributions

    class SquashedGaussianMLPActor(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _mlp(nn, [obs_dim, *hidden], nn.ReLU, nn.ReLU)
            self.mu_layer = nn.Linear(hidden[-1], act_dim)
            self.log_std_layer = nn.Linear(hidden[-1], act_dim)

        def forward(self, obs, deterministic=False, with_logprob=True):
            net_out = self.net(obs)
            mu = self.mu_layer(net_out)
            log_std = lib.clamp(self.log_std_layer(net_out), LOG_STD_MIN, LOG_STD_MAX)
            pi_distribution = D.Normal(mu, lib.exp(log_std))
            pi_action = mu if deterministic else pi_distribution.rsample()
            logp_pi = None
            if with_logprob:
                logp_pi = pi_distribution.log_prob(pi_action).sum(axis=-1)
                logp_pi -= (2 * (np.log(2) - pi_action - F.softplus(-2 * pi_action))).sum(
                    axis=1)
            return act_limit * lib.tanh(pi_action), logp_pi

    class MLPQFunction(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = _mlp(nn, [obs_dim + act_dim, *hidden, 1], nn.ReLU)

        def forward(self, obs, act):
            return lib.squeeze(self.q(lib.cat([obs, act], dim=-1)), -1)

    class MLPActorCritic(nn.Module):
        def __init__(self):
            super().__init__()
            self.pi = SquashedGaussianMLPActor()
            self.q1, self.q2 = MLPQFunction(), MLPQFunction()

    return MLPActorCritic()


def _sac_update(lib, ac, ac_targ, opts, data, log_alpha, target_entropy, gamma=0.99,
                polyak=0.995):
    """sac.py's update: Q loss against the min of the two target Qs (entropy-regularised),
    the Q networks frozen for the policy step, polyak averaging with ``mul_`` / ``add_``
    under ``no_grad``; alpha = exp(log_alpha) tuned as sac_continuous_action.py does."""
    pi_opt, q_opt, a_opt = opts
    o, a, r, o2, d = (data[k] for k in ("obs", "act", "rew", "obs2", "done"))
    alpha = log_alpha.exp().item()
    q1, q2 = ac.q1(o, a), ac.q2(o, a)
    with lib.no_grad():
        a2, logp_a2 = ac.pi(o2)
        q_pi_targ = lib.min(ac_targ.q1(o2, a2), ac_targ.q2(o2, a2))
        backup = r + gamma * (1 - d) * (q_pi_targ - alpha * logp_a2)
    loss_q = ((q1 - backup) ** 2).mean() + ((q2 - backup) ** 2).mean()
    q_opt.zero_grad()
    loss_q.backward()
    q_opt.step()
    q_params = list(itertools.chain(ac.q1.parameters(), ac.q2.parameters()))
    for p in q_params:
        p.requires_grad = False
    pi, logp_pi = ac.pi(o)
    loss_pi = (alpha * logp_pi - lib.min(ac.q1(o, pi), ac.q2(o, pi))).mean()
    pi_opt.zero_grad()
    loss_pi.backward()
    pi_opt.step()
    for p in q_params:
        p.requires_grad = True
    assert all(p.grad is not None for p in ac.q1.parameters())    # from the Q step only
    with lib.no_grad():
        _, log_pi = ac.pi(o)
    alpha_loss = (-log_alpha.exp() * (log_pi + target_entropy)).mean()
    a_opt.zero_grad()
    alpha_loss.backward()
    a_opt.step()
    with lib.no_grad():
        for p, p_targ in zip(ac.parameters(), ac_targ.parameters()):
            p_targ.data.mul_(polyak)
            p_targ.data.add_((1 - polyak) * p.data)
    return [loss_q.item(), loss_pi.item(), alpha_loss.item(), log_alpha.item()]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_spinup_sac_with_autotune_matches_torch(dtype):
    """Six SAC updates: ``rsample`` on zeroin's torch stream draws torch's noise, so the
    losses, alpha, the weights and the polyak-averaged (deepcopy'd, frozen) targets match."""
    tol = _dtype(dtype)
    torch_stream()
    torch.manual_seed(2)
    ac_t = _spinup_sac_ac(*LIBS["torch"], 3, 1)
    ac_z = copy_weights(ac_t, _spinup_sac_ac(*LIBS["zeroin"], 3, 1))
    data = _transitions(Pendulum, 4, 16, seed=3, act_dim=1)
    out = {}
    for lib, ac in ((torch, ac_t), (zeroin, ac_z)):
        lib.manual_seed(9)
        ac_targ = copy.deepcopy(ac)
        for p in ac_targ.parameters():
            p.requires_grad = False
        batch = {k: lib.as_tensor(v, dtype=lib.get_default_dtype()) for k, v in data.items()}
        log_alpha = lib.zeros(1, requires_grad=True)
        target_entropy = -lib.prod(lib.Tensor((1,)).to(lib.get_default_dtype())).item()
        opts = (lib.optim.Adam(ac.pi.parameters(), lr=3e-3),
                lib.optim.Adam(itertools.chain(ac.q1.parameters(), ac.q2.parameters()),
                               lr=3e-3),
                lib.optim.Adam([log_alpha], lr=3e-2))
        logs = [_sac_update(lib, ac, ac_targ, opts, batch, log_alpha, target_entropy)
                for _ in range(6)]
        act, _ = ac.pi(batch["obs"], deterministic=True, with_logprob=False)
        assert not any(p.requires_grad for p in ac_targ.parameters())
        out[lib.__name__] = (logs, _params(ac_targ), np_of(act.detach()))
    (lz, tz, az), (lt, tt, at) = out["zeroin"], out["torch"]
    close(np.array(lz), np.array(lt), **tol)
    assert lt[-1][3] != 0.0                                  # alpha moved
    _close_all(_params(ac_z), _params(ac_t), tol)
    _close_all(tz, tt, tol)
    close(az, at, **tol)


def test_squashed_gaussian_log_prob_is_tanh_transformed_normal():
    """Spinning Up's correction 2*(log 2 - u - softplus(-2u)) is log(1 - tanh(u)**2): the
    actor's logp_pi equals TransformedDistribution(Normal, TanhTransform).log_prob of the
    squashed action, and CleanRL's log(1 - y**2 + 1e-6) to 1e-6."""
    zeroin.manual_seed(0)
    D = zeroin.distributions
    mu, std = zeroin.randn(64, 2) * 2, zeroin.rand(64, 2) + 0.1
    base = D.Normal(mu, std)
    u = base.rsample()
    spinup = base.log_prob(u).sum(-1) - (2 * (math.log(2) - u - ZF.softplus(-2 * u))).sum(1)
    squashed = D.TransformedDistribution(base, [D.transforms.TanhTransform(cache_size=1)])
    y = zeroin.tanh(u)
    close(spinup, squashed.log_prob(y).sum(-1), tol=1e-8)
    cleanrl = (base.log_prob(u) - zeroin.log(1 - y.pow(2) + 1e-6)).sum(1)
    close(cleanrl, spinup, tol=1e-3)


def _td3_actor(lib, nn, obs_dim, act_dim, low, high):
    """td3_continuous_action.py's Actor: tanh output rescaled by action_scale / action_bias
    buffers."""
    F = lib.nn.functional

    class Actor(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(obs_dim, 32), nn.Linear(32, 32)
            self.fc_mu = nn.Linear(32, act_dim)
            dt = lib.get_default_dtype()
            self.register_buffer("action_scale", lib.tensor((high - low) / 2.0, dtype=dt))
            self.register_buffer("action_bias", lib.tensor((high + low) / 2.0, dtype=dt))

        def forward(self, x):
            x = F.relu(self.fc2(F.relu(self.fc1(x))))
            return lib.tanh(self.fc_mu(x)) * self.action_scale + self.action_bias

    return Actor()


def _td3_update(lib, actor, qf1, qf2, targets, opts, data, step, polyak_op, tau=0.05):
    """td3_continuous_action.py's step: target-policy smoothing with clamped
    ``randn_like`` noise, clipped double-Q targets, the delayed actor update, soft target
    updates (``copy_`` as CleanRL, ``lerp_`` or ``mul_``/``add_``)."""
    target_actor, qf1_target, qf2_target = targets
    q_optimizer, actor_optimizer = opts
    F = lib.nn.functional
    o, a, r, o2, d = (data[k] for k in ("obs", "act", "rew", "obs2", "done"))
    with lib.no_grad():
        clipped_noise = (lib.randn_like(a) * 0.2).clamp(-0.5, 0.5) * target_actor.action_scale
        next_state_actions = (target_actor(o2) + clipped_noise).clamp(-2.0, 2.0)
        min_q = lib.min(qf1_target(lib.cat([o2, next_state_actions], 1)),
                        qf2_target(lib.cat([o2, next_state_actions], 1)))
        next_q_value = r.flatten() + (1 - d.flatten()) * 0.99 * min_q.view(-1)
    qf1_loss = F.mse_loss(qf1(lib.cat([o, a], 1)).view(-1), next_q_value)
    qf2_loss = F.mse_loss(qf2(lib.cat([o, a], 1)).view(-1), next_q_value)
    q_optimizer.zero_grad()
    (qf1_loss + qf2_loss).backward()
    q_optimizer.step()
    logs = [qf1_loss.item(), qf2_loss.item()]
    if step % 2 == 0:
        actor_loss = -qf1(lib.cat([o, actor(o)], 1)).mean()
        actor_optimizer.zero_grad()
        actor_loss.backward()
        actor_optimizer.step()
        logs.append(actor_loss.item())
        for net, targ in ((actor, target_actor), (qf1, qf1_target), (qf2, qf2_target)):
            for param, target_param in zip(net.parameters(), targ.parameters()):
                if polyak_op == "copy_":
                    target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)
                elif polyak_op == "lerp_":
                    with lib.no_grad():
                        target_param.lerp_(param, tau)
                else:
                    with lib.no_grad():
                        target_param.mul_(1 - tau).add_(param, alpha=tau)
    return logs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("polyak_op", ["copy_", "lerp_", "mul_add_"])
def test_cleanrl_td3_matches_torch(dtype, polyak_op):
    tol = _dtype(dtype)
    torch_stream()
    torch.manual_seed(4)
    low, high = np.array([-2.0]), np.array([2.0])
    nets_t = [_td3_actor(torch, torch.nn, 3, 1, low, high),
              _mlp(torch.nn, [4, 32, 32, 1], torch.nn.ReLU),
              _mlp(torch.nn, [4, 32, 32, 1], torch.nn.ReLU)]
    nets_z = [copy_weights(nets_t[0], _td3_actor(zeroin, znn, 3, 1, low, high)),
              copy_weights(nets_t[1], _mlp(znn, [4, 32, 32, 1], znn.ReLU)),
              copy_weights(nets_t[2], _mlp(znn, [4, 32, 32, 1], znn.ReLU))]
    data = _transitions(Pendulum, 4, 16, seed=5, act_dim=1)
    out = {}
    for lib, (actor, qf1, qf2) in ((torch, nets_t), (zeroin, nets_z)):
        lib.manual_seed(11)
        targets = [copy.deepcopy(n) for n in (actor, qf1, qf2)]
        batch = {k: lib.as_tensor(v, dtype=lib.get_default_dtype()) for k, v in data.items()}
        batch["rew"] = batch["rew"] / 10
        opts = (lib.optim.Adam(list(qf1.parameters()) + list(qf2.parameters()), lr=3e-3),
                lib.optim.Adam(list(actor.parameters()), lr=3e-3))
        logs = sum((_td3_update(lib, actor, qf1, qf2, targets, opts, batch, step, polyak_op)
                    for step in range(6)), [])
        out[lib.__name__] = (logs, [_params(t) for t in targets])
    close(np.array(out["zeroin"][0]), np.array(out["torch"][0]), **tol)
    for net_z, net_t in zip(nets_z, nets_t):
        _close_all(_params(net_z), _params(net_t), tol)
    for tz, tt in zip(out["zeroin"][1], out["torch"][1]):
        _close_all(tz, tt, tol)


# --- checkpoints, discrete SAC's probabilities, argmax ties, end to end ----------------------

def test_resume_from_state_dicts_matches_torch(tmp_path):
    """A checkpoint of agent and optimiser (``copy.deepcopy`` of the state dicts in memory,
    zeroin.save / zeroin.load on disk) resumed into fresh objects continues exactly as the
    uninterrupted run, in zeroin as in torch; the deepcopy of an optimiser is independent."""
    _dtype("float64")
    torch.manual_seed(6)
    agent_t = _cleanrl_agent(torch, torch.nn, 4, n_act=2)
    agent_z = copy_weights(agent_t, _cleanrl_agent(zeroin, znn, 4, n_act=2))
    obs = np.random.default_rng(0).standard_normal((32, 4))
    act = np.random.default_rng(1).integers(0, 2, 32)

    def steps(lib, agent, opt, n):
        for _ in range(n):
            _, logp, ent, v = agent.get_action_and_value(lib.tensor(obs), lib.tensor(act))
            loss = -(logp * v.detach().view(-1)).mean() - 0.01 * ent.mean() + (v ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    finals = {}
    for lib, nn, agent in ((torch, torch.nn, agent_t), (zeroin, znn, agent_z)):
        opt = lib.optim.Adam(agent.parameters(), lr=1e-2, eps=1e-5)
        steps(lib, agent, opt, 3)
        snap = copy.deepcopy({"model": agent.state_dict(), "optimizer": opt.state_dict()})
        opt_copy = copy.deepcopy(opt)
        steps(lib, agent, opt, 3)
        assert opt_copy.state_dict()["state"][0]["step"] == 3
        resumed = []
        for how in ("memory", "disk"):
            ck = copy.deepcopy(snap)    # torch's Adam.load_state_dict keeps the tensors
            if how == "disk":
                path = str(tmp_path / f"{lib.__name__}.pt")
                lib.save(snap, path)
                ck = lib.load(path) if lib is zeroin else lib.load(path, weights_only=True)
            agent2 = _cleanrl_agent(lib, nn, 4, n_act=2)
            agent2.load_state_dict(ck["model"])
            opt2 = lib.optim.Adam(agent2.parameters(), lr=1.0)
            opt2.load_state_dict(ck["optimizer"])
            assert opt2.param_groups[0]["lr"] == 1e-2 and opt2.param_groups[0]["eps"] == 1e-5
            steps(lib, agent2, opt2, 3)
            resumed.append(_params(agent2))
        for r in resumed:
            _close_all(r, _params(agent), dict(rtol=0, atol=0))
        finals[lib.__name__] = _params(agent)
    _close_all(finals["zeroin"], finals["torch"], F64)


def test_spinup_discrete_sac_probs_and_argmax_ties():
    """sac/core.py's CategoricalActor: ``Categorical(probs=softmax(...))``, the log of the
    probabilities with ``(p == 0).float() * 1e-8`` added, ``argmax(dim=1, keepdim=True)``
    for the greedy action; and ``argmax`` / ``max(dim=1)`` give the first index on ties
    (a Q head initialised to zeros), as torch."""
    _dtype("float64")
    logits = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0],
                       [-800.0, 0.0, 0.0]])
    out = {}
    for lib, _, F in LIBS.values():
        x = lib.tensor(logits, requires_grad=True)
        probs = F.softmax(x, dim=-1)
        dist = lib.distributions.Categorical(probs=probs)
        z = (probs == 0).float() * 1e-8
        log_probs = lib.log(probs + z)
        (probs * log_probs).sum().backward()
        values, idx = x.max(dim=1)
        out[lib.__name__] = [np_of(probs), np_of(log_probs), np_of(x.grad), np_of(dist.logits),
                             np_of(dist.entropy()), np_of(values),
                             np_of(lib.argmax(x, dim=1, keepdim=True)), np_of(idx)]
    _close_all(out["zeroin"], out["torch"], F64)
    np.testing.assert_array_equal(out["zeroin"][-1], [2, 0, 0, 1])


def _ppo_cartpole(num_updates=12, num_envs=8, num_steps=64, lr=2.5e-3, seed=0):
    """ppo.py's loop, in zeroin alone (float32, its NumPy stream), on the toy CartPole:
    the mean return of the episodes each rollout finished."""
    zeroin.set_default_dtype(zeroin.float32)
    zeroin.manual_seed(seed)
    agent = _cleanrl_agent(zeroin, znn, 4, n_act=2)
    env, rng = CartPole(num_envs, seed), np.random.default_rng(seed)
    optimizer = zeroin.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
    means = []
    for update in range(1, num_updates + 1):
        optimizer.param_groups[0]["lr"] = (1.0 - (update - 1.0) / num_updates) * lr
        done_before = len(env.returns)
        b = _cleanrl_rollout(zeroin, agent, env, num_steps)
        means.append(np.mean(env.returns[done_before:] or [np.nan]))
        order = [rng.permutation(num_envs * num_steps) for _ in range(4)]
        _cleanrl_ppo_update(zeroin, znn, agent, optimizer, b, order, num_envs * num_steps // 4)
    return means


def test_ppo_learns_cartpole():
    """6144 environment steps of CleanRL's PPO: the mean episode return climbs from about
    20 (random) to well over 100 (the toy's cap is 200); a few seconds."""
    means = _ppo_cartpole()
    assert means[0] < 30
    assert np.nanmean(means[-3:]) > 100
    assert np.nanmean(means[-3:]) > 4 * means[0]


# --- CleanRL c51.py: the distributional projection ------------------------------------------

def _c51_network(lib, nn, obs_dim, n, n_atoms=11, v_min=-10.0, v_max=10.0):
    class QNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_atoms, self.n = n_atoms, n
            self.register_buffer("atoms", lib.linspace(v_min, v_max, steps=n_atoms))
            self.network = nn.Sequential(nn.Linear(obs_dim, 32), nn.ReLU(),
                                         nn.Linear(32, n * n_atoms))

        def get_action(self, x, action=None):
            logits = self.network(x)
            pmfs = lib.softmax(logits.view(len(x), self.n, self.n_atoms), dim=2)
            q_values = (pmfs * self.atoms).sum(2)
            if action is None:
                action = lib.argmax(q_values, 1)
            return action, pmfs[lib.arange(len(x)), action]

    return QNetwork()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cleanrl_c51_matches_torch(dtype):
    """c51.py's update: the target distribution projected onto the atoms with ``floor`` /
    ``ceil`` / ``clamp`` and ``index_add_`` into each row (indices repeat, so the masses
    must add up), the cross-entropy against ``pmfs[arange(B), action]``; and its softmax
    policy drawn with ``multinomial`` (on zeroin's torch stream: torch's actions)."""
    tol = _dtype(dtype)
    torch_stream()
    torch.manual_seed(8)
    v_min, v_max, n_atoms = -10.0, 10.0, 11
    qt = _c51_network(torch, torch.nn, 4, 2)
    qz = copy_weights(qt, _c51_network(zeroin, znn, 4, 2))
    data = _transitions(CartPole, 4, 16, seed=2, n_actions=2)
    out = {}
    for lib, nn, q in ((torch, torch.nn, qt), (zeroin, znn, qz)):
        lib.manual_seed(1)
        target = _c51_network(lib, nn, 4, 2)
        target.load_state_dict(q.state_dict())
        optimizer = lib.optim.Adam(q.parameters(), lr=1e-2, eps=0.01 / 64)
        dt = lib.get_default_dtype()
        o, o2 = (lib.as_tensor(data[k], dtype=dt) for k in ("obs", "obs2"))
        r, d = (lib.as_tensor(data[k], dtype=dt).view(-1, 1) for k in ("rew", "done"))
        actions = lib.as_tensor(data["act"])
        logs, drawn = [], []
        for step in range(4):
            logits = q.network(o2[:8])
            pmfs_all = lib.softmax(logits.view(8, q.n, q.n_atoms), dim=2)
            policy = lib.softmax((pmfs_all * q.atoms).sum(2) / 0.5, dim=1)
            drawn.append(lib.multinomial(policy, 1).squeeze(1).cpu().numpy())
            with lib.no_grad():
                _, next_pmfs = target.get_action(o2)
                next_atoms = r + 0.99 * target.atoms * (1 - d)
                delta_z = target.atoms[1] - target.atoms[0]
                tz = next_atoms.clamp(v_min, v_max)
                b = (tz - v_min) / delta_z
                lo = b.floor().clamp(0, n_atoms - 1)
                up = b.ceil().clamp(0, n_atoms - 1)
                d_m_l = (up + (lo == up).float() - b) * next_pmfs
                d_m_u = (b - lo) * next_pmfs
                target_pmfs = lib.zeros_like(next_pmfs)
                for i in range(target_pmfs.size(0)):
                    target_pmfs[i].index_add_(0, lo[i].long(), d_m_l[i])
                    target_pmfs[i].index_add_(0, up[i].long(), d_m_u[i])
            _, old_pmfs = q.get_action(o, actions.flatten())
            loss = (-(target_pmfs * old_pmfs.clamp(min=1e-5, max=1 - 1e-5).log()).sum(-1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            logs.append([loss.item(), target_pmfs.sum(-1).mean().item()])
        out[lib.__name__] = (logs, np.concatenate(drawn))
    close(np.array(out["zeroin"][0]), np.array(out["torch"][0]), **tol)
    np.testing.assert_array_equal(out["zeroin"][1], out["torch"][1])
    np.testing.assert_allclose(np.array(out["torch"][0])[:, 1], 1.0, rtol=1e-5)   # mass kept
    _close_all(_params(qz), _params(qt), tol)


# --- CleanRL ppo_atari_lstm.py: the recurrent agent, with an MLP for the conv body ------------

def _lstm_agent(lib, nn, obs_dim=4, n_act=2):
    def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
        nn.init.orthogonal_(layer.weight, std)
        nn.init.constant_(layer.bias, bias_const)
        return layer

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.network = nn.Sequential(layer_init(nn.Linear(obs_dim, 32)), nn.ReLU())
            self.lstm = nn.LSTM(32, 16)
            for name, param in self.lstm.named_parameters():
                if "bias" in name:
                    nn.init.constant_(param, 0)
                elif "weight" in name:
                    nn.init.orthogonal_(param, 1.0)
            self.actor = layer_init(nn.Linear(16, n_act), std=0.01)
            self.critic = layer_init(nn.Linear(16, 1), std=1)

        def get_states(self, x, lstm_state, done):
            hidden = self.network(x)
            batch_size = lstm_state[0].shape[1]
            hidden = hidden.reshape((-1, batch_size, self.lstm.input_size))
            done = done.reshape((-1, batch_size))
            new_hidden = []
            for h, d in zip(hidden, done):
                keep = (1.0 - d).view(1, -1, 1)
                h, lstm_state = self.lstm(h.unsqueeze(0),
                                          (keep * lstm_state[0], keep * lstm_state[1]))
                new_hidden += [h]
            return lib.flatten(lib.cat(new_hidden), 0, 1), lstm_state

        def get_action_and_value(self, x, lstm_state, done, action=None):
            hidden, lstm_state = self.get_states(x, lstm_state, done)
            probs = lib.distributions.Categorical(logits=self.actor(hidden))
            if action is None:
                action = probs.sample()
            return (action, probs.log_prob(action), probs.entropy(), self.critic(hidden),
                    lstm_state)

    return Agent()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cleanrl_lstm_agent_matches_torch(dtype):
    """ppo_atari_lstm.py's Agent built on the torch stream (orthogonal LSTM weights): zeroin
    draws torch's initial weights (to QR rounding); then the hidden state reset by
    ``(1.0 - d).view(1, -1, 1) * state`` at episode ends, the per-step LSTM loop, the
    minibatches of whole environments (``initial_lstm_state[0][:, mbenvinds]``) and two
    clipped PPO steps agree with torch's."""
    tol = _dtype(dtype)
    torch_stream()
    agents = {}
    for lib, nn in ((torch, torch.nn), (zeroin, znn)):
        lib.manual_seed(12)
        agents[lib.__name__] = _lstm_agent(lib, nn)
    init_tol = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=0, atol=2e-6)
    _close_all(_params(agents["zeroin"]), _params(agents["torch"]), init_tol)
    agent_t = agents["torch"]
    agent_z = copy_weights(agent_t, agents["zeroin"])
    num_steps, num_envs = 12, 4
    rng = np.random.default_rng(3)
    obs = rng.standard_normal((num_steps * num_envs, 4))
    dones = (rng.random(num_steps * num_envs) < 0.15).astype(float)
    acts = rng.integers(0, 2, num_steps * num_envs)
    adv, old_logp = rng.standard_normal(num_steps * num_envs), -0.7 + 0.1 * rng.random(48)
    flatinds = np.arange(num_steps * num_envs).reshape(num_steps, num_envs)
    out = {}
    for lib, agent in ((torch, agent_t), (zeroin, agent_z)):
        dt = lib.get_default_dtype()
        b_obs, b_dones, b_adv, b_logp = (lib.as_tensor(v, dtype=dt)
                                         for v in (obs, dones, adv, old_logp))
        b_actions = lib.as_tensor(acts)
        state = (lib.zeros(1, num_envs, 16), lib.zeros(1, num_envs, 16))
        optimizer = lib.optim.Adam(agent.parameters(), lr=1e-2, eps=1e-5)
        logs = []
        for mbenvinds in (np.array([2, 0]), np.array([1, 3])):
            mb_inds = flatinds[:, mbenvinds].ravel()
            _, newlogprob, entropy, newvalue, new_state = agent.get_action_and_value(
                b_obs[mb_inds], (state[0][:, mbenvinds], state[1][:, mbenvinds]),
                b_dones[mb_inds], b_actions.long()[mb_inds])
            ratio = (newlogprob - b_logp[mb_inds]).exp()
            mb_adv = b_adv[mb_inds]
            pg_loss = lib.max(-mb_adv * ratio, -mb_adv * lib.clamp(ratio, 0.8, 1.2)).mean()
            loss = pg_loss - 0.01 * entropy.mean() + 0.5 * (newvalue.view(-1) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            norm = lib.nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            optimizer.step()
            logs.append([loss.item(), norm.item()] + list(np_of(new_state[1].detach()).ravel()))
        out[lib.__name__] = logs
    close(np.array(out["zeroin"]), np.array(out["torch"]), **tol)
    _close_all(_params(agent_z), _params(agent_t), tol)


def test_invalid_action_masking_categorical_subclass():
    """CleanRL's gym-microrts CategoricalMasked: a Categorical subclass calling
    ``super().__init__(probs, logits, validate_args)`` positionally, ``masks.type(
    torch.BoolTensor)``, ``torch.where(masks, logits, torch.tensor(-1e8))`` and its own
    entropy over the allowed actions; values and gradients as torch's."""
    _dtype("float64")

    def run(lib):
        class CategoricalMasked(lib.distributions.Categorical):
            def __init__(self, probs=None, logits=None, validate_args=None, masks=()):
                self.masks = masks
                if len(self.masks) == 0:
                    super().__init__(probs, logits, validate_args)
                else:
                    self.masks = masks.type(lib.BoolTensor)
                    logits = lib.where(self.masks, logits, lib.tensor(-1e8))
                    super().__init__(probs, logits, validate_args)

            def entropy(self):
                if len(self.masks) == 0:
                    return super().entropy()
                p_log_p = lib.where(self.masks, self.logits * self.probs, lib.tensor(0.0))
                return -p_log_p.sum(-1)

        logits = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        masks = lib.tensor([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 0]])
        dist = CategoricalMasked(logits=logits, masks=masks)
        ent, logp = dist.entropy(), dist.log_prob(lib.tensor([1, 3, 0]))
        (ent.sum() + logp.sum()).backward()
        assert dist.masks.dtype == lib.bool
        return [ent, logp, logits.grad, dist.probs, CategoricalMasked(logits=logits).entropy()]

    _close_all(run(zeroin), run(torch), F64)


def test_polyak_outside_no_grad_is_refused_as_torch():
    """Forgetting ``with torch.no_grad():`` around the polyak update of a target that still
    requires grad: both libraries refuse the in-place change of a leaf; zeroin's message
    names the op and the fix. ``.data`` (CleanRL's ``target_param.data.copy_``) is allowed."""
    for lib, nn in ((torch, torch.nn), (zeroin, znn)):
        q, q_targ = nn.Linear(2, 2), nn.Linear(2, 2)
        with pytest.raises(RuntimeError) as err:
            q_targ.weight.mul_(0.995)
        if lib is zeroin:
            assert "mul_" in str(err.value) and "no_grad" in str(err.value)
        q_targ.weight.data.copy_(0.005 * q.weight.data + 0.995 * q_targ.weight.data)
        assert q_targ.weight.is_leaf and q_targ.weight.grad_fn is None


def test_spinup_mpi_helpers_write_through_numpy_views():
    """Spinning Up's mpi_pytorch: mpi_avg_grads writes the averaged gradient into
    ``p.grad.numpy()`` in place and sync_params broadcasts into ``p.data.numpy()``;
    setup_pytorch_for_mpi reads and sets the thread count. Two workers stand in for MPI
    (the average of their gradients): the step uses the written values, as in torch."""
    results = {}
    torch.manual_seed(0)
    made = [torch.nn.Linear(3, 1).double() for _ in range(2)]
    for lib, nn in ((torch, torch.nn), (zeroin, znn)):
        workers = made if lib is torch else [copy_weights(m, znn.Linear(3, 1)) for m in made]
        for i, w in enumerate(workers):          # sync_params: worker 0's weights to all
            for p, p0 in zip(w.parameters(), workers[0].parameters()):
                p.data.numpy()[:] = p0.data.numpy()
            x = lib.tensor(np.arange(6.0).reshape(2, 3) + i, dtype=lib.float64)
            w(x).pow(2).mean().backward()
        avg = [np.mean([np_of(w_p.grad) for w_p in ps], axis=0)
               for ps in zip(*(w.parameters() for w in workers))]
        for p, a in zip(workers[1].parameters(), avg):     # mpi_avg_grads on worker 1
            p_grad_numpy = p.grad.numpy()
            p_grad_numpy[:] = a[:]
        lib.optim.SGD(workers[1].parameters(), lr=0.1).step()
        assert lib.get_num_threads() >= 1
        results[lib.__name__] = _params(workers[1])
    _close_all(results["zeroin"], results["torch"], F64)
