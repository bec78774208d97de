"""DQN (systems/dqn.py): the replay memory that stores each frame once, the Atari agent's wrappers,
the Q-networks, the TD targets, a little learning on CartPole, and the commands."""

import numpy as np
import pytest
import torch

from deepnet.cli import main
from deepnet.systems import dqn


# ---------------------------------------------------------------------------------------------
# The replay memory


def _play_into(buf, episode_lengths, k, rng, frame_shape=(3, 5)):
    """Feed episodes of random frames into buf as the loop does; returns what the agent saw:
    (s, a, r, terminal, s') per transition, states stacked by the agent's own Stacker."""
    seen = []
    st = dqn.Stacker(k)
    for L in episode_lengths:
        f = rng.integers(0, 256, frame_shape, dtype=np.uint8)
        s = st.reset(f)
        buf.start_episode(f)
        assert np.array_equal(buf.current(), s)
        for t in range(L):
            a, r, term = int(rng.integers(4)), float(rng.normal()), t == L - 1
            f = rng.integers(0, 256, frame_shape, dtype=np.uint8)
            s2 = st.push(f)
            buf.add(a, r, term, f)
            seen.append((s, a, np.float32(r), term, s2))
            s = s2
    return seen


@pytest.mark.parametrize("folder", [False, True])
def test_sampled_stacks_equal_the_frames_the_agent_saw_across_episode_boundaries(folder, tmp_path):
    rng = np.random.default_rng(0)
    k, capacity = 4, 50
    buf = dqn.Replay(capacity, (3, 5), np.uint8, k, slack=7, folder=tmp_path / "replay" if folder else None)
    lengths = [1, 2, 3, 9, 1, 30, 4, 17, 1, 1, 25, 6]  # episodes shorter and longer than the stack; wraps around
    seen = _play_into(buf, lengths, k, rng)
    assert buf.T == len(seen) and buf.T > capacity + 7  # the rings wrapped
    assert 0 < len(buf) <= capacity
    t = np.arange(buf.lo, buf.T)
    s, a, r, term, s2 = buf.transitions(t)
    for i, ti in enumerate(t):
        want = seen[ti]
        assert np.array_equal(s[i].numpy(), want[0]), ti
        assert int(a[i]) == want[1] and float(r[i]) == want[2] and bool(term[i]) == want[3]
        assert np.array_equal(s2[i].numpy(), want[4]), ti
    # random draws come from the sampleable window only
    s, a, r, term, s2 = buf.sample(256, generator=torch.Generator().manual_seed(0))
    assert s.shape == (256, k, 3, 5) and s.dtype == torch.uint8 and s2.shape == s.shape
    window = {w[0].tobytes() for w in seen[buf.lo:]}
    assert all(x.numpy().tobytes() in window for x in s)


def test_replay_resumes_from_its_files_and_pointers(tmp_path):
    """A memory-mapped buffer reopened with its pointers gives the same transitions (what resume relies on)."""
    rng = np.random.default_rng(1)
    buf = dqn.Replay(40, (2, 2), np.uint8, 4, slack=5, folder=tmp_path)
    _play_into(buf, [7, 1, 12, 30], 4, rng, (2, 2))
    state = buf.state()
    again = dqn.Replay(40, (2, 2), np.uint8, 4, slack=5, folder=tmp_path, state=state)
    t = np.arange(buf.lo, buf.T)
    for x, y in zip(buf.transitions(t), again.transitions(t)):
        assert torch.equal(x, y)


def test_replay_stores_each_frame_once():
    C, frame = 1000, 84 * 84
    buf = dqn.Replay(C, (84, 84), np.uint8, 4)
    per_transition = buf.nbytes / C
    # one 84x84 frame (plus 4 spare) and 8+8+8+4+1 bytes of indices, action, reward and flag per transition
    assert per_transition == pytest.approx(frame * (C + 4) / C + 29)
    assert per_transition < 2 * 4 * frame / 3  # far below two 4x84x84 stacks (56,448 bytes)


# ---------------------------------------------------------------------------------------------
# The Atari agent's view, on a fake ALE game


class _Space:
    n = 6


class FakeALE:
    """Raw frames numbered from the reset; frame i is all (i * 37) % 251 except a flicker pixel on odd
    frames; +3 reward on every 5th frame; a life lost at frames 40 and 80; game over at frame 120."""

    action_space = _Space()

    def __init__(self):
        self.unwrapped = self
        self.i, self.resets, self.actions = 0, 0, []

    def get_action_meanings(self):
        return ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]

    def frame(self, i):
        f = np.full((210, 160), (i * 37) % 251, np.uint8)
        if i % 2:
            f[0, 0] = 255
        return f

    def lives(self):
        return 3 - (self.i >= 40) - (self.i >= 80)

    def reset(self, seed=None):
        self.i, self.resets = 0, self.resets + 1
        return self.frame(0), {"lives": self.lives()}

    def step(self, a):
        self.i += 1
        self.actions.append(a)
        return self.frame(self.i), 3.0 if self.i % 5 == 0 else 0.0, self.i >= 120, False, {"lives": self.lives()}


def test_atari_wrapper_repeats_takes_the_max_of_two_frames_and_clips_rewards():
    raw = FakeALE()
    env = dqn.AtariAgentEnv(raw, skip=4, noop_max=0, episodic_life=False, clip=True)
    env.reset(seed=0)
    start = raw.i  # FIRE pressed once at the start (the game has a FIRE action)
    assert raw.actions == [1] and start == 1
    frame, r, terminal, trunc, info = env.step(2)
    assert raw.i == start + 4 and raw.actions[1:] == [2, 2, 2, 2]  # the action repeated 4 frames
    want = env.preprocess(np.maximum(raw.frame(start + 3), raw.frame(start + 4)))
    assert frame.shape == (84, 84) and frame.dtype == np.uint8 and np.array_equal(frame, want)
    assert r == 1.0  # +3 seen once in frames 2..5: clipped to its sign
    unclipped = dqn.AtariAgentEnv(FakeALE(), noop_max=0, episodic_life=False, clip=False)
    unclipped.reset(seed=0)
    assert unclipped.step(0)[1] == 3.0


def test_episodic_life_ends_training_episodes_not_the_game_and_scores_the_whole_game():
    raw = FakeALE()
    env = dqn.AtariAgentEnv(raw, skip=4, noop_max=0, episodic_life=True, clip=True)
    env.reset(seed=0)
    ends = []
    for _ in range(200):
        _, _, terminal, trunc, info = env.step(0)
        if terminal or trunc:
            ends.append((raw.i, env.game_over))
            if env.game_over:
                break
            env.reset(seed=0)  # after a lost life: one no-op, no new game
    assert [g for _, g in ends] == [False, False, True]
    assert ends[0][0] >= 40 and ends[1][0] >= 80 and ends[2][0] >= 120
    assert raw.resets == 1
    assert info["score"] == 3.0 * (raw.i // 5)  # the game's unclipped score


def test_noop_starts_draw_their_count_from_the_seed():
    counts = []
    for seed in range(12):
        raw = FakeALE()
        env = dqn.AtariAgentEnv(raw, noop_max=30)
        env.reset(seed=seed)
        n = len(raw.actions) - 1  # the no-ops, then FIRE
        assert raw.actions == [0] * n + [1]
        assert n == np.random.default_rng(seed).integers(1, 31)
        counts.append(n)
    assert 1 <= min(counts) and max(counts) <= 30 and len(set(counts)) > 3


def test_pong_wrapper_on_the_real_ale_with_a_fixed_seed():
    pytest.importorskip("ale_py")
    tc = dqn.TrainConfig(env="ALE/Pong-v5", noop_max=5)
    env = dqn.make_env("ALE/Pong-v5", tc)
    a = env.reset(seed=3)
    frames = [env.step(0)[0] for _ in range(5)]
    env2 = dqn.make_env("ALE/Pong-v5", tc)
    assert np.array_equal(env2.reset(seed=3), a)  # seeded: the same game
    assert all(np.array_equal(env2.step(0)[0], f) for f in frames)
    assert a.shape == (84, 84) and a.dtype == np.uint8 and env.n_actions == 6


# ---------------------------------------------------------------------------------------------
# Networks and targets


def test_q_network_shapes():
    cnn = dqn.make_model(dqn.Config(), [84, 84], 4, 6)
    assert cnn(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 6)
    mlp = dqn.make_model(dqn.Config(hidden=(8, 8)), [4], 1, 2)
    assert mlp(torch.zeros(3, 1, 4)).shape == (3, 2)


def test_td_targets_and_huber_loss_against_a_hand_example():
    r = torch.tensor([1.0, 0.0])
    terminal = torch.tensor([False, True])
    q_next_target = torch.tensor([[2.0, 5.0], [3.0, 1.0]])
    q_next_online = torch.tensor([[9.0, 0.0], [0.0, 9.0]])
    assert torch.allclose(dqn.td_target(r, terminal, q_next_target, 0.5), torch.tensor([1 + 0.5 * 5, 0.0]))
    # Double DQN: the online net picks action 0 in s'_1, the target net values it (2.0)
    assert torch.allclose(dqn.td_target(r, terminal, q_next_target, 0.5, q_next_online), torch.tensor([2.0, 0.0]))
    q = torch.tensor([[0.0, 3.0], [0.5, 0.0]])
    a = torch.tensor([1, 0])
    y = torch.tensor([3.5, 0.0])
    # errors 0.5 (quadratic part: 0.5 * 0.5^2) and 0.5 -> mean 0.125; MSE 0.25
    assert dqn.td_loss(q, a, y, "huber").item() == pytest.approx(0.125)
    assert dqn.td_loss(q, a, torch.tensor([5.0, 0.5]), "huber").item() == pytest.approx((1.5 + 0.0) / 2)
    assert dqn.td_loss(q, a, y, "mse").item() == pytest.approx(0.25)


def test_epsilon_schedule():
    tc = dqn.TrainConfig(steps=100, eps_start=1.0, eps_end=0.1, eps_fraction=0.5)
    assert dqn.epsilon_at(tc, 0) == 1.0 and dqn.epsilon_at(tc, 25) == pytest.approx(0.55)
    assert dqn.epsilon_at(tc, 50) == pytest.approx(0.1) and dqn.epsilon_at(tc, 99) == pytest.approx(0.1)


# ---------------------------------------------------------------------------------------------
# Learning and the commands

FAST = dict(steps=4000, learning_starts=300, train_every=1, target_every=100, batch_size=64, lr=1e-3,
            eps_fraction=0.4, eval_every=1000, eval_episodes=3, checkpoint_every=1000, progress=False)


def test_cartpole_learns_a_little_in_seconds(tmp_path):
    torch.manual_seed(0)
    _, r = dqn.train(dqn.Config(hidden=(64,)), dqn.TrainConfig(**FAST), tmp_path / "run")
    first = r["history"][0]["val_score"]
    assert r["best"]["val_score"] >= 50 and r["best"]["val_score"] > 2 * first, r["history"]


def test_train_then_play_records_a_gif(tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "run"
    code = main(["--threads", "1", "train", "dqn", "--env", "CartPole-v1", "--steps", "600", "--learning-starts",
                 "100", "--eval-every", "300", "--eval-episodes", "2", "--checkpoint-every", "200", "--no-progress",
                 "--out", str(run)])
    assert code == 0, capsys.readouterr().err
    gif = tmp_path / "game.gif"
    assert main(["--threads", "1", "play", "--run", str(run), "--episodes", "2", "--record", str(gif)]) == 0
    out = capsys.readouterr().out
    assert "game 2: score" in out and "mean score" in out
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames >= 2
    assert main(["--threads", "1", "eval", "--run", str(run)]) != 0  # an agent is evaluated by playing
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "deepnet play" in err


def test_bad_input_gives_one_line_errors(tmp_path, capsys):
    assert main(["train", "dqn", "--env", "CartPol-v1", "--out", str(tmp_path / "a")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean CartPole-v1" in err
    assert main(["train", "dqn", "--env", "ALE/Pongg-v5", "--out", str(tmp_path / "b")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean ALE/Pong-v5" in err
    assert main(["play", "--run", str(tmp_path / "nothing")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("deepnet: error:")
    assert main(["play", "--run", str(tmp_path), "--record", "x.png"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ".gif" in err


def test_train_takes_the_recipe_of_the_environment_named(tmp_path, capsys):
    """`deepnet train dqn --env ALE/...` trains with the Nature DQN's recipe, CartPole with its own; flags still win."""
    import json

    run = tmp_path / "pong"
    code = main(["--threads", "1", "train", "dqn", "--env", "ALE/Pong-v5", "--steps", "40", "--learning-starts", "20",
                 "--eval-every", "40", "--eval-episodes", "1", "--max-frames", "200", "--buffer-size", "100",
                 "--no-progress", "--out", str(run)])
    assert code == 0, capsys.readouterr().err
    train = json.loads((run / "config.json").read_text())["train"]
    atari = dqn.TRAIN_CONFIG_FOR["ALE/Pong-v5"]
    assert (train["batch_size"], train["lr"], train["train_every"], train["eps_end"]) == (32, 1e-4, 4, 0.01)
    assert (train["target_every"], train["eval_epsilon"]) == (atari.target_every, atari.eval_epsilon)
    assert (train["steps"], train["buffer_size"]) == (40, 100)  # the flags given
    assert dqn.TRAIN_CONFIG.batch_size == 64 and "CartPole-v1" not in dqn.TRAIN_CONFIG_FOR
