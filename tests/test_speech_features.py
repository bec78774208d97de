"""The speech front end (deepnet/data/audio.py) and the FSDD loader (deepnet/data/fsdd.py)."""

import struct
import wave

import numpy as np
import pytest
import scipy.fft
import torch

from deepnet.data import audio
from deepnet.errors import DataError

from conftest import shared_data_dir


def _write_wav(path, samples, rate=8000, width=2, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


# ---------------------------------------------------------------------------------------------
# Reading


def test_read_wav_16_bit_mono_and_first_channel_of_stereo(tmp_path):
    x = np.array([0, 16384, -32768, 32767, -1], dtype="<i2")
    _write_wav(tmp_path / "mono.wav", x)
    s, rate = audio.read_wav(tmp_path / "mono.wav")
    assert rate == 8000 and s.dtype == np.float32
    np.testing.assert_allclose(s, x / 32768.0)
    stereo = np.stack([x, -x], 1)  # (n, 2): the first channel is x
    _write_wav(tmp_path / "stereo.wav", stereo, rate=16000, channels=2)
    s, rate = audio.read_wav(tmp_path / "stereo.wav")
    assert rate == 16000
    np.testing.assert_allclose(s, x / 32768.0)


def test_read_wav_8_bit_is_unsigned(tmp_path):
    _write_wav(tmp_path / "u8.wav", np.array([128, 255, 0], dtype=np.uint8), width=1)
    s, _ = audio.read_wav(tmp_path / "u8.wav")
    np.testing.assert_allclose(s, [0.0, 127 / 128, -1.0])


def _one_line_naming(err, path):
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg, msg


def test_read_wav_truncated_file_is_a_one_line_data_error(tmp_path):
    path = tmp_path / "cut.wav"
    _write_wav(path, (np.arange(1000) % 200 - 100).astype("<i2"))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 500])  # the header still declares 1,000 frames
    with pytest.raises(DataError) as err:
        audio.read_wav(path)
    _one_line_naming(err, path)
    assert "truncated" in str(err.value)
    path.write_bytes(data[:20])  # cut inside the header
    with pytest.raises(DataError) as err:
        audio.read_wav(path)
    _one_line_naming(err, path)


def test_read_wav_float_samples_and_non_audio_are_one_line_data_errors(tmp_path):
    # a WAVE file of IEEE float samples (format tag 3): not integer PCM
    samples = np.zeros(10, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    path = tmp_path / "float.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    with pytest.raises(DataError) as err:
        audio.read_wav(path)
    _one_line_naming(err, path)
    text = tmp_path / "notes.wav"
    text.write_text("these are not the samples you are looking for\n" * 10)
    with pytest.raises(DataError) as err:
        audio.read_wav(text)
    _one_line_naming(err, text)


def test_read_raw(tmp_path):
    x = np.array([1, -2, 300], dtype="<i2")
    (tmp_path / "a.raw").write_bytes(x.tobytes())
    s, rate = audio.read_raw(tmp_path / "a.raw")
    assert rate == 16000
    np.testing.assert_allclose(s, x / 32768.0)
    s, _ = audio.read_raw(tmp_path / "a.raw", byteorder=">")  # the same bytes read big-endian
    np.testing.assert_allclose(s, x.byteswap() / 32768.0)
    (tmp_path / "odd.raw").write_bytes(b"\x00\x01\x02")
    with pytest.raises(DataError) as err:
        audio.read_raw(tmp_path / "odd.raw")
    _one_line_naming(err, tmp_path / "odd.raw")


def test_resample_keeps_a_tone_and_scales_the_length():
    rate, f = 8000, 440.0
    t = np.arange(rate) / rate  # 1 s
    x = np.sin(2 * np.pi * f * t).astype(np.float32)
    y = audio.resample(x, rate, 16000)
    assert len(y) == 2 * len(x) and y.dtype == np.float32
    peak = np.abs(np.fft.rfft(y)).argmax() * 16000 / len(y)
    assert abs(peak - f) <= 1.0
    np.testing.assert_allclose(y[2000:-2000], np.sin(2 * np.pi * f * np.arange(len(y)) / 16000)[2000:-2000], atol=2e-3)
    z = audio.resample(y, 16000, 8000)  # and back down
    np.testing.assert_allclose(z[1000:-1000], x[1000:-1000], atol=2e-3)
    assert audio.resample(x, rate, rate) is not None and len(audio.resample(x, rate, rate)) == len(x)


# ---------------------------------------------------------------------------------------------
# Features


def test_mel_filterbank_properties():
    rate, n_fft, n_mels = 8000, 256, 20
    fb = audio.mel_filterbank(n_fft, rate, n_mels, fmin=100.0, fmax=3500.0)
    assert fb.shape == (n_fft // 2 + 1, n_mels) and (fb >= 0).all() and fb.max() <= 1 + 1e-6
    hz = np.arange(n_fft // 2 + 1) * rate / n_fft
    assert (fb[hz < 100.0] == 0).all() and (fb[hz > 3500.0] == 0).all()  # nothing outside [fmin, fmax]
    centres = fb.argmax(0)
    assert (np.diff(centres) >= 0).all()  # the filters go up in frequency
    widths = (fb > 0).sum(0)
    assert widths[-1] > widths[0]  # equal spacing in mel: wider in Hz as frequency rises
    # neighbouring triangles meet at each other's centres: between the first and last centre they sum to 1
    edges = audio.mel_to_hz(np.linspace(audio.hz_to_mel(100.0), audio.hz_to_mel(3500.0), n_mels + 2))
    inside = (hz >= edges[1]) & (hz <= edges[-2])
    np.testing.assert_allclose(fb[inside].sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(audio.mel_to_hz(audio.hz_to_mel([0.0, 700.0, 4000.0])), [0.0, 700.0, 4000.0])
    assert abs(audio.hz_to_mel(1000.0) - 1000.0) < 0.1  # the scale is pinned near 1000 mel at 1 kHz


def _numpy_mfcc(x, rate, n_ceps=13, n_mels=40, win_ms=25.0, hop_ms=10.0):
    """MFCCs computed directly with NumPy and SciPy, independently of audio.py."""
    win, hop = int(rate * win_ms / 1000), int(rate * hop_ms / 1000)
    x = np.concatenate([x[:1], x[1:] - 0.97 * x[:-1]]).astype(np.float64)
    n = 1 + (len(x) - win) // hop
    frames = np.stack([x[i * hop:i * hop + win] for i in range(n)])
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hamming (torch's default)
    power = np.abs(np.fft.rfft(frames * window, n=win)) ** 2  # (T, bins)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    inv = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = inv(np.linspace(mel(0.0), mel(rate / 2), n_mels + 2))
    hz = np.arange(win // 2 + 1) * rate / win
    fb = np.zeros((len(hz), n_mels))
    for m in range(n_mels):
        lo, c, hi = edges[m:m + 3]
        fb[:, m] = np.clip(np.minimum((hz - lo) / (c - lo), (hi - hz) / (hi - c)), 0, None)
    return scipy.fft.dct(np.log(power @ fb + 1e-10), type=2, norm="ortho", axis=1)[:, :n_ceps]


def test_mfcc_equals_a_direct_numpy_computation():
    rng = np.random.default_rng(0)
    rate = 8000
    t = np.arange(int(0.5 * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 300 * t) * np.sin(2 * np.pi * 3 * t) + 0.05 * rng.standard_normal(len(t)))
    x = x.astype(np.float32)
    ours = audio.mfcc(x, rate).numpy()
    ref = _numpy_mfcc(x, rate)
    assert ours.shape == ref.shape == (1 + (len(x) - 200) // 80, 13)
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=1e-4)
    lm = audio.log_mel(x, rate, n_mels=40)
    assert lm.shape == (len(ours), 40) and torch.isfinite(lm).all()
    assert audio.mfcc(x[:50], rate).shape == (1, 13)  # shorter than one window: one zero-padded frame


def test_deltas_of_a_ramp_are_its_slope():
    t = torch.arange(20, dtype=torch.float32)[:, None]
    feat = torch.cat([3 * t + 1, -0.5 * t, torch.full_like(t, 7.0)], 1)  # (20, 3)
    for width in (1, 2, 3):
        d = audio.deltas(feat, width)
        assert d.shape == feat.shape
        inner = d[width:-width]
        torch.testing.assert_close(inner, torch.tensor([3.0, -0.5, 0.0]).expand_as(inner))
    assert (audio.deltas(feat)[:, 2] == 0).all()  # a constant has no deltas, ends included


def test_cmvn():
    feat = torch.randn(50, 4) * torch.tensor([1.0, 5.0, 0.1, 2.0]) + torch.tensor([3.0, -2.0, 0.0, 10.0])
    out = audio.cmvn(feat)
    torch.testing.assert_close(out.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(0, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)
    mean_only = audio.cmvn(feat, variance=False)
    torch.testing.assert_close(mean_only, feat - feat.mean(0))
    assert torch.isfinite(audio.cmvn(torch.ones(5, 2))).all()  # a constant coefficient: no division by 0


def test_pad_utterances_mask_and_padding():
    feats = [torch.ones(3, 2), 2 * torch.ones(5, 2), 3 * torch.ones(1, 2)]
    x = audio.pad_utterances(feats)
    assert x.shape == (3, 5, 3) and x.dtype == torch.float32
    assert x[..., 0].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]
    assert audio.lengths(x).tolist() == [3, 5, 1]
    assert (x[0, 3:, 1:] == 0).all() and (x[0, :3, 1:] == 1).all() and (x[1, :, 1:] == 2).all()
    cut = audio.pad_utterances(feats, max_frames=2)
    assert cut.shape == (3, 2, 3) and audio.lengths(cut).tolist() == [2, 2, 1]


# ---------------------------------------------------------------------------------------------
# The Sphinx front end against PocketSphinx's reference pair


def _goforward():
    root = shared_data_dir()
    if root is None or not (root / "sphinx_frontend/goforward.raw").is_file():
        pytest.skip("data absent: sphinx_frontend")
    x, rate = audio.read_raw(root / "sphinx_frontend/goforward.raw")
    return x, rate, audio.read_sphinx_mfc(root / "sphinx_frontend/goforward.mfc")


EN_US = dict(n_filt=25, lowerf=130.0, upperf=6800.0, transform="dct", lifter=22)  # the en-us model's feat.params


def test_sphinx_mfcc_against_goforward_mfc():
    """goforward.mfc was made (2015) by sphinxbase's front end with PocketSphinx's en-us settings (25 filters,
    130-6800 Hz, orthonormal DCT, lifter 22) and sphinxbase's defaults of the time: -remove_noise yes,
    -remove_silence yes, -dither no (so nothing random).

    With the noise removal (fe_noise.c's spectral subtraction) and the voice-activity detector, and rounding to
    float32 where sphinxbase does (single_precision), sphinx_mfcc reproduces the file bit for bit: all 264
    frames, all 13 coefficients. In float64 throughout it agrees to 2.8e-5 (measured max 2.77e-5, mean 4.9e-6;
    the reference's coefficients reach 71). Without the noise removal the frames drift apart (mean |diff| 1.70).
    The 264 frames: the detector passes frames 0-263 of the 277 and ends speech on frame 264, the 50th
    non-speech frame after the last speech frame (214); the rest of the recording is silence.
    """
    x, rate, ref = _goforward()
    assert ref.shape == (264, 13)
    exact = audio.sphinx_mfcc(x, rate, **EN_US, remove_noise=True, remove_silence=True, single_precision=True)
    assert exact.shape == (264, 13) and torch.equal(exact, ref)

    ours = audio.sphinx_mfcc(x, rate, **EN_US, remove_noise=True, remove_silence=True)
    torch.testing.assert_close(ours, ref, atol=3e-5, rtol=0)  # measured max 2.77e-5 (c10, lifter weight 11.9)
    assert (ours - ref).abs().mean() < 1e-5  # measured 4.9e-6

    # the detector only drops frames: without it, 277 frames whose first 264 are the same
    every = audio.sphinx_mfcc(x, rate, **EN_US, remove_noise=True)
    assert every.shape == (277, 13) and torch.equal(every[:264], ours)

    # without the noise removal: the first frame agrees in c1..c12, the rest drift
    plain = audio.sphinx_mfcc(x, rate, **EN_US, remove_silence=True)
    assert plain.shape == (264, 13)
    torch.testing.assert_close(plain[0, 1:], ref[0, 1:], atol=1e-4, rtol=0)
    assert (plain - ref).abs().mean() > 1.0  # measured 1.703
    for i in range(13):
        r = np.corrcoef(plain[:, i].numpy(), ref[:, i].numpy())[0, 1]
        assert r > 0.9, (i, r)  # measured 0.913 (c2) to 0.999 (c11)


def test_sphinx_noise_removal_first_frame_moves_only_c0():
    """On the first frame the tracker starts at P = e, N = F = e / 20, no peak: every filter's gain is
    1 - (0.995 / 20 + 0.005) = 0.94525, so the log energies all drop by log(0.94525) and, with the orthonormal
    DCT, only c0 moves, by sqrt(25) log(0.94525) = -0.2815 (lifter weight 1 for c0)."""
    x, rate, _ = _goforward()
    plain = audio.sphinx_mfcc(x, rate, **EN_US)
    cleaned = audio.sphinx_mfcc(x, rate, **EN_US, remove_noise=True)
    assert cleaned.shape == plain.shape == (277, 13)
    torch.testing.assert_close(cleaned[0, 1:], plain[0, 1:], atol=1e-5, rtol=0)
    assert abs((cleaned[0, 0] - plain[0, 0]).item() - 5 * np.log(0.94525)) < 1e-5
    assert (cleaned[1:] - plain[1:]).abs().mean() > 0.5  # later frames are changed for real
    assert torch.equal(audio.sphinx_mfcc(x, rate, **EN_US, remove_noise=False), plain)  # the default is off


def test_sphinx_vad_frames_hangover_rule():
    """sphinxbase's rule: 21 frames wait before speech, 10 speech frames in a row start it (releasing them),
    50 non-speech frames in a row end it (the 50th is dropped), and 3 speech frames are not enough to restart."""
    speech = np.array([False] * 25 + [True] * 12 + [False] * 60 + [True] * 3)
    kept = audio._sphinx_vad_frames(speech)
    # speech starts on frame 34 (25 + 9): frames 14..34 are in the buffer; it ends on frame 86 (37 + 49)
    assert kept.tolist() == list(range(14, 86))
    assert audio._sphinx_vad_frames(np.zeros(30, dtype=bool)).tolist() == []
    assert audio._sphinx_vad_frames(np.ones(30, dtype=bool)).tolist() == list(range(30))


def test_sphinx_single_precision_is_for_the_dct_only():
    x, rate, _ = _goforward()
    with pytest.raises(ValueError):
        audio.sphinx_mfcc(x, rate, single_precision=True)  # AN4's legacy transform: not implemented
    a = audio.sphinx_mfcc(x, rate, **EN_US)
    b = audio.sphinx_mfcc(x, rate, **EN_US, single_precision=True)
    assert 0 < (a - b).abs().max() < 1e-4  # only rounding differs


def test_sphinx_mfcc_an4_settings_and_resampling():
    x, rate, _ = _goforward()
    an4 = audio.sphinx_mfcc(x, rate)  # AN4's feat.params: 40 filters 133.33-6855.50 Hz, legacy DCT
    assert an4.shape == (277, 13) and torch.isfinite(an4).all()
    # the legacy c0 is the mean log filter energy (first filter counted half); c1.. a cosine transform of them
    assert 0 < an4[:, 0].mean() < 30
    at_8k = audio.sphinx_mfcc(audio.resample(x, 16000, 8000), 8000)  # resampled back to 16 kHz inside
    assert at_8k.shape[1] == 13 and abs(len(at_8k) - 277) <= 1


# ---------------------------------------------------------------------------------------------
# FSDD


@pytest.fixture(scope="module")
def fsdd_data():
    root = shared_data_dir()
    if root is None or not (root / "fsdd/recordings").is_dir():
        pytest.skip("data absent: fsdd")
    mp = pytest.MonkeyPatch()
    mp.setenv("DEEPNET_DATA", str(root))
    from deepnet.data import fsdd

    yield fsdd
    mp.undo()


def test_fsdd_official_split(fsdd_data):
    fsdd = fsdd_data
    d = fsdd.load()
    assert len(d.train) + len(d.val) == 2700 and len(d.test) == 300 and len(d.val) == 300
    assert d.input_shape[1] == 1 + 39 and d.train.x.shape[2] == 40
    assert d.extra["features"]["name"] == "mfcc" and d.extra["features"]["rate"] == 8000
    for part in (d.train, d.val, d.test):
        assert torch.bincount(part.y, minlength=10).min() > 0
        mask = part.x[..., 0]
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        assert (part.x[..., 1:][mask == 0] == 0).all()  # padding holds zeros
    assert torch.bincount(d.test.y).tolist() == [30] * 10  # 5 recordings of each digit by each of 6 speakers
    assert torch.bincount(d.val.y).tolist() == [30] * 10  # stratified by digit (and speaker)
    logmel = fsdd.load(features="logmel")
    assert logmel.input_shape[1] == 41 and torch.equal(logmel.test.y, d.test.y)
    again = fsdd.load(seed=1)
    assert not torch.equal(again.val.x, d.val.x) and torch.equal(again.test.x, d.test.x)


def test_fsdd_heldout_speaker(fsdd_data):
    fsdd = fsdd_data
    d = fsdd.load(heldout_speaker="theo", n_val=200)
    assert len(d.test) == 500 and len(d.train) + len(d.val) == 2500 and len(d.val) == 200
    assert d.extra["speakers"]["test"] == ["theo"]
    assert "theo" not in d.extra["speakers"]["train"] and "theo" not in d.extra["speakers"]["val"]
    assert d.extra["heldout_speaker"] == "theo"
    by_index = fsdd.load(heldout_speaker=4, n_val=200)  # speakers by position: SPEAKERS[4] is theo
    assert torch.equal(by_index.test.y, d.test.y)
    from deepnet.errors import ConfigError

    with pytest.raises(ConfigError):
        fsdd.load(heldout_speaker="nobody")
    with pytest.raises(ConfigError):
        fsdd.load(features="spectrogram")


def test_fsdd_context_stacks_neighbouring_frames(fsdd_data):
    d0, d2 = fsdd_data.load(), fsdd_data.load(context=2)
    assert d2.input_shape[1] == 1 + 5 * 39
    x0, x2 = d0.test.x[0], d2.test.x[0]  # (T, 40), (T, 196)
    n = int(x0[:, 0].sum())
    f = x0[:n, 1:]
    # frame 3's window is frames 1..5; frame 0's repeats frame 0 for the two before it
    torch.testing.assert_close(x2[3, 1:].view(5, 39), f[1:6])
    torch.testing.assert_close(x2[0, 1:].view(5, 39), f[[0, 0, 0, 1, 2]])
