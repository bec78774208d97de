"""DQN speed: environment steps/s and updates/s of systems/dqn.py's loop against a plain reference loop.

The reference is the same agent written the usual way (CleanRL's dqn_atari.py keeps two stacks
per transition): the same wrapped Pong, the same Nature ConvNet, epsilon-greedy play and the
same updates, but a replay memory of (s, s') stacks in NumPy arrays and no run folder, no
checkpoints, no evaluation. Both play `--play` steps without updates (environment steps/s),
then `--learn` steps with one update every 4 steps (updates/s counted over that phase). Also:
replay sampling throughput, batches of 32, of the frame-once memory against the stacked one.

    .venv/bin/python benchmarks/bench_dqn.py [--play 2000] [--learn 2000] [--threads 1]
"""

import argparse
import json
import tempfile
import time

import numpy as np
import torch

from deepnet.core.runtime import environment
from deepnet.systems import dqn


def reference(play, learn, seed=0):
    """(seconds playing, seconds learning, updates): the plain loop."""
    torch.manual_seed(seed)
    tc = dqn.TrainConfig(env="ALE/Pong-v5", max_frames=400)  # games cut at 400 frames in both loops
    env = dqn.make_env("ALE/Pong-v5", tc)
    q = dqn.make_model(dqn.Config(), [84, 84], 4, env.n_actions)
    target = dqn.make_model(dqn.Config(), [84, 84], 4, env.n_actions)
    target.load_state_dict(q.state_dict())
    opt = torch.optim.Adam(q.parameters(), lr=1e-4)
    N = play + learn
    obs_buf, next_buf = np.zeros((N, 4, 84, 84), np.uint8), np.zeros((N, 4, 84, 84), np.uint8)
    act_buf, rew_buf, done_buf = np.zeros(N, np.int64), np.zeros(N, np.float32), np.zeros(N, np.bool_)
    st = dqn.Stacker(4)
    s = st.reset(env.reset(seed=seed))
    updates, times = 0, []
    t = time.perf_counter()
    for i in range(N):
        if i == play:
            times.append(time.perf_counter() - t)
            t = time.perf_counter()
        a = dqn.act(q, s, 0.1)
        frame, r, term, trunc, _ = env.step(a)
        s2 = st.push(frame)
        obs_buf[i], next_buf[i], act_buf[i], rew_buf[i], done_buf[i] = s, s2, a, r, term
        s = s2
        if term or trunc:
            s = st.reset(env.reset(seed=seed + i))
        if i >= play and i % 4 == 0:
            idx = np.random.randint(0, i + 1, 32)
            with torch.no_grad():
                y = dqn.td_target(torch.from_numpy(rew_buf[idx]), torch.from_numpy(done_buf[idx]),
                                  target(torch.from_numpy(next_buf[idx])), 0.99)
            loss = dqn.td_loss(q(torch.from_numpy(obs_buf[idx])), torch.from_numpy(act_buf[idx]), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            updates += 1
    times.append(time.perf_counter() - t)
    return times[0], times[1], updates


def ours(play, learn, seed=0):
    """(seconds playing, seconds learning, updates): dqn.train, timed from its metrics.jsonl records."""
    N = play + learn
    tc = dqn.TrainConfig(env="ALE/Pong-v5", steps=N, buffer_size=N, batch_size=32, lr=1e-4, learning_starts=play,
                         train_every=4, target_every=1000, eps_start=0.1, eps_end=0.1, eval_every=play,
                         eval_episodes=1, eval_epsilon=0.05, max_frames=400, checkpoint_every=N, seed=seed,
                         progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        _, r = dqn.train(dqn.Config(), tc, f"{tmp}/run", log=lambda s: None)
    h = r["history"]  # evaluations at `play` and at N: one game of at most 100 steps, counted in the play phase
    return h[0]["seconds"], h[-1]["seconds"] - h[0]["seconds"], r["updates"]


def sampling(capacity=20_000, batches=200, batch=32):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (64, 84, 84), dtype=np.uint8)
    buf = dqn.Replay(capacity, (84, 84), np.uint8, 4)
    for t in range(capacity):
        if t % 100 == 0:
            buf.start_episode(frames[t % 64])
        buf.add(0, 0.0, t % 100 == 99, frames[(t * 7) % 64])
    stacked = rng.integers(0, 256, (capacity, 4, 84, 84), dtype=np.uint8)
    t = time.perf_counter()
    for _ in range(batches):
        buf.sample(batch)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(batches):
        idx = np.random.randint(0, capacity, batch)
        torch.from_numpy(stacked[idx]), torch.from_numpy(stacked[(idx + 1) % capacity])
    ref_s = time.perf_counter() - t
    return batch * batches / ours_s, batch * batches / ref_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--play", type=int, default=2000, help="steps without updates")
    ap.add_argument("--learn", type=int, default=2000, help="steps with an update every 4")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ref_play, ref_learn, ref_updates = reference(args.play, args.learn)
    our_play, our_learn, our_updates = ours(args.play, args.learn)
    ours_sps, ref_sps = sampling()
    env = environment(torch.device("cpu"))
    report = {"benchmark": "dqn_speed", "env": "ALE/Pong-v5 (4 frames a step)",
              "env_steps_per_s": args.play / our_play, "reference_env_steps_per_s": args.play / ref_play,
              "env_steps_ratio": ref_play / our_play,
              "updates_per_s": our_updates / our_learn, "reference_updates_per_s": ref_updates / ref_learn,
              "learning_phase_ratio": ref_learn / our_learn,
              "replay_sampled_transitions_per_s": ours_sps, "stacked_replay_sampled_transitions_per_s": ref_sps,
              "threads": torch.get_num_threads(), "cpu": env["cpu"], "torch": env["torch"],
              "note": "updates/s counts the whole learning phase (4 environment steps per update); games are cut at "
                      "400 frames; our play phase also holds one evaluation game (at most 100 steps) and run set-up"}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
