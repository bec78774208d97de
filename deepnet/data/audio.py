"""Speech audio: reading wav and raw PCM, resampling, and the acoustic features speech systems use.

No audio library beyond the standard `wave` module, scipy (resampling) and torch (the FFT): the
few steps of a speech front end are written out here, so that each can be read and tested.

Samples are float32 NumPy arrays in [-1, 1] (16-bit PCM divided by 32768); features are float32
torch tensors of shape (T, F), one row per frame of `hop_ms` (10 ms: 100 frames a second).

**How a batch of utterances travels (pad_utterances).** The training engine batches `x` by
slicing its first dimension, so an utterance's length must travel inside `x`. A dataset of N
utterances of F features per frame is one float tensor x of shape (N, T_max, 1 + F):

    x[n, t, 0]   1.0 where frame t is a real frame of utterance n, 0.0 where it is padding
    x[n, t, 1:]  the F features of that frame (zeros on padding)

Channel 0 is the valid-frame mask; the frames of an utterance come first, then its padding.
A model recovers the lengths with `x[..., 0].sum(1)` and must not let padding frames change
its outputs.
"""

import math
import wave
from pathlib import Path

import numpy as np
import torch

from deepnet.errors import DataError

_INT_SCALE = {1: 128.0, 2: 32768.0, 3: 8388608.0, 4: 2147483648.0}


# ---------------------------------------------------------------------------------------------
# Reading


def read_wav(path):
    """(samples float32 in [-1, 1], rate) of a PCM wav file: mono, or its first channel.

    8-bit (unsigned), 16-, 24- and 32-bit integer PCM. A file that is not a wav, a wav whose
    samples are not integer PCM (float, compressed), or one that ends before the number of
    frames its header declares raises DataError naming the file.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except wave.Error as e:  # not RIFF/WAVE, or a format other than integer PCM
        raise DataError(f"{path}: not a readable PCM wav file ({' '.join(str(e).split())})") from None
    except EOFError as e:  # the header itself is cut short
        raise DataError(f"{path}: truncated wav header ({' '.join(str(e).split()) or type(e).__name__})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({' '.join(str(e).split()) or type(e).__name__})") from None
    if width not in _INT_SCALE or channels < 1 or rate <= 0:
        raise DataError(f"{path}: unsupported wav ({channels} channel(s), {8 * width}-bit, {rate} Hz)")
    if len(raw) < n * channels * width:
        raise DataError(f"{path}: truncated: the header declares {n} frames, the file holds "
                        f"{len(raw) // (channels * width)}")
    if width == 1:
        x = np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0
    elif width == 3:  # little-endian 24-bit: sign-extend into int32
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32)
    else:
        x = np.frombuffer(raw, f"<i{width}").astype(np.float32)
    x = x.reshape(-1, channels)[:, 0] / _INT_SCALE[width]  # (n, channels) -> first channel
    return np.ascontiguousarray(x, dtype=np.float32), int(rate)


def read_raw(path, rate=16000, byteorder="<"):
    """(samples float32 in [-1, 1], rate) of a headerless file of 16-bit signed PCM (mono)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({' '.join(str(e).split())})") from None
    if len(raw) % 2:
        raise DataError(f"{path}: {len(raw)} bytes, not a whole number of 16-bit samples")
    x = np.frombuffer(raw, f"{byteorder}i2").astype(np.float32) / 32768.0
    return x, int(rate)


def resample(samples, rate, target):
    """samples at `rate` Hz -> at `target` Hz, by polyphase filtering (scipy's resample_poly)."""
    from scipy.signal import resample_poly

    rate, target = int(rate), int(target)
    if rate == target:
        return np.asarray(samples, dtype=np.float32)
    g = math.gcd(rate, target)
    return resample_poly(np.asarray(samples, dtype=np.float64), target // g, rate // g).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Features


def hz_to_mel(f):
    """The mel scale as HTK and Sphinx write it: m = 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_fft, rate, n_mels=40, fmin=0.0, fmax=None):
    """(n_fft // 2 + 1, n_mels) float32: triangular filters, equally spaced on the mel scale.

    Filter m rises linearly (in Hz) from edge m to edge m + 1 and falls to edge m + 2, the
    n_mels + 2 edges equally spaced in mel from fmin to fmax (default rate / 2); its peak is 1.
    """
    fmax = rate / 2 if fmax is None else fmax
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # (n_mels + 2,) Hz
    hz = np.arange(n_fft // 2 + 1) * rate / n_fft  # (bins,) centre frequency of each FFT bin
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (n_mels, 1) each
    rise = (hz[None] - lo) / (mid - lo)
    fall = (hi - hz[None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(rise, fall)).T.astype(np.float32)  # (bins, n_mels)


def _pre_emphasis(x, alpha):
    """y[t] = x[t] - alpha x[t - 1] (x[-1] = 0)."""
    return np.concatenate([x[:1], x[1:] - alpha * x[:-1]]) if alpha else x


def _power_spectrum(samples, rate, win_ms, hop_ms, preemph):
    """(T, bins) |STFT|^2 with a Hamming window of win_ms every hop_ms, frames of exactly the window.

    T = 1 + (N - win) // hop frames (one frame, zero-padded, for an utterance shorter than the window).
    """
    win, hop = int(round(rate * win_ms / 1000)), int(round(rate * hop_ms / 1000))
    x = _pre_emphasis(np.asarray(samples, dtype=np.float32), preemph)
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    spec = torch.stft(x, n_fft=win, hop_length=hop, win_length=win, window=torch.hamming_window(win),
                      center=False, return_complex=True)  # (bins, T)
    return spec.abs().square().T, win  # (T, bins)


def log_mel(samples, rate, n_mels=40, win_ms=25.0, hop_ms=10.0, fmin=0.0, fmax=None, preemph=0.97):
    """(T, n_mels) float32 log mel filterbank energies: log(sum_k |X_t(k)|^2 H_m(k) + 1e-10).

    Pre-emphasis (0.97), Hamming windows of win_ms every hop_ms, a win-point FFT, the triangular
    filters of mel_filterbank.
    """
    power, n_fft = _power_spectrum(samples, rate, win_ms, hop_ms, preemph)
    fb = torch.from_numpy(mel_filterbank(n_fft, rate, n_mels, fmin, fmax))  # (bins, n_mels)
    return torch.log(power @ fb + 1e-10)  # (T, n_mels)


def dct_matrix(n_in, n_out):
    """(n_in, n_out) orthonormal DCT-II: c_i = sqrt(2 / n) s_i sum_j x_j cos(pi i (j + 1/2) / n), s_0 = 1/sqrt(2)."""
    j = np.arange(n_in)[:, None] + 0.5
    i = np.arange(n_out)[None]
    d = np.sqrt(2.0 / n_in) * np.cos(np.pi * i * j / n_in)
    d[:, 0] /= np.sqrt(2.0)
    return torch.from_numpy(d.astype(np.float32))


def mfcc(samples, rate, n_ceps=13, n_mels=40, win_ms=25.0, hop_ms=10.0, fmin=0.0, fmax=None, preemph=0.97):
    """(T, n_ceps) mel-frequency cepstral coefficients: the orthonormal DCT-II of log_mel, first n_ceps."""
    return log_mel(samples, rate, n_mels, win_ms, hop_ms, fmin, fmax, preemph) @ dct_matrix(n_mels, n_ceps)


def deltas(feat, width=2):
    """(T, F) regression deltas: d_t = sum_{n=1..width} n (c_{t+n} - c_{t-n}) / (2 sum_n n^2).

    Frames beyond either end repeat the first or last frame.
    """
    feat = torch.as_tensor(feat)
    T = len(feat)
    idx = torch.arange(T)
    d = torch.zeros_like(feat)
    for n in range(1, width + 1):
        ahead, behind = feat[(idx + n).clamp(max=T - 1)], feat[(idx - n).clamp(min=0)]
        d = d + n * (ahead - behind)
    return d / (2 * sum(n * n for n in range(1, width + 1)))


def cmvn(feat, variance=True):
    """(T, F) per-utterance cepstral mean (and variance) normalisation: (c - mean_t c) / std_t c."""
    feat = torch.as_tensor(feat)
    out = feat - feat.mean(0, keepdim=True)
    if variance:
        out = out / feat.std(0, unbiased=False, keepdim=True).clamp_min(1e-5)
    return out


# The constants of the Sphinx noise tracker and voice-activity detector, as defined in sphinxbase's
# src/libsphinxbase/fe/fe_noise.c (and, for the tracker, PocketSphinx 5's src/fe/fe_noise.c) and in
# sphinxbase's include/sphinxbase/fe.h (the -vad_* defaults).
_NOISE_SMOOTH_WINDOW = 4  # gains are averaged over filters i - 4 .. i + 4
_NOISE_LAMBDA_POWER = 0.7  # smoothing of the filter energies over time
_NOISE_LAMBDA_A = 0.995  # lower envelope: slow rise ...
_NOISE_LAMBDA_B = 0.5  # ... fast fall
_NOISE_LAMBDA_T = 0.85  # temporal masking: peak decay per frame ...
_NOISE_MU_T = 0.2  # ... and the masked level, a fraction of the decayed peak
_NOISE_MAX_GAIN = 20.0  # gains lie in [1/20, 20]
_VAD_PEAK_LEARN, _VAD_PEAK_FORGET = 0.9, 0.9995  # slow peak of the log signal energy
_VAD_VOLUME_RANGE = 8.0  # a frame 8 (natural log units) below the slow peak is quiet
_VAD_THRESHOLD = 2.0  # -vad_threshold: log SNR the loudest filter must reach
_VAD_PRE_SPEECH, _VAD_START_SPEECH, _VAD_POST_SPEECH = 20, 10, 50  # -vad_prespeech, -vad_startspeech, -vad_postspeech


def _sphinx_track_noise(energies):
    """Run the Sphinx noise tracker over (T, F) float64 mel filter energies (power, before the log).

    Returns (gains, speech): gains (T, F), the per-filter gains of the spectral subtraction (before the
    smoothing across filters), and speech (T,) bool, the frame-level voice decision. The recursion is
    over frames; each step works on all F filters at once. Written from sphinxbase's fe_track_snr
    (fe_noise.c); see sphinx_mfcc for the equations.
    """
    def lower_envelope(level, env):
        # rises slowly (lambda_a) towards a level above it, falls fast (lambda_b) to one below it
        lam = np.where(level >= env, _NOISE_LAMBDA_A, _NOISE_LAMBDA_B)
        return lam * env + (1.0 - lam) * level

    T, F = energies.shape
    gains = np.empty((T, F))
    speech = np.zeros(T, dtype=bool)
    if T == 0:
        return gains, speech
    power = energies[0].copy()
    noise = energies[0] / _NOISE_MAX_GAIN
    floor = energies[0] / _NOISE_MAX_GAIN
    peak = np.zeros(F)
    slow_peak = 0.0
    for t in range(T):
        power = _NOISE_LAMBDA_POWER * power + (1.0 - _NOISE_LAMBDA_POWER) * energies[t]
        noise = lower_envelope(power, noise)
        signal = np.maximum(power - noise, 1.0)

        # voice activity: the best filter's log SNR, and the frame's loudness against a slow peak
        log_snr = max(0.0, float(np.log(power / noise).max()))
        loudness = float(np.log(signal.sum()))
        k = _VAD_PEAK_LEARN if loudness > slow_peak else _VAD_PEAK_FORGET
        slow_peak = k * slow_peak + (1.0 - k) * loudness
        quiet = slow_peak - _VAD_VOLUME_RANGE > loudness
        speech[t] = log_snr >= _VAD_THRESHOLD and not quiet

        floor = lower_envelope(signal, floor)
        # temporal masking: a filter falling below 0.85 x its decayed peak is cut to 0.2 x that peak
        peak = peak * _NOISE_LAMBDA_T
        masked = np.where(signal < _NOISE_LAMBDA_T * peak, _NOISE_MU_T * peak, signal)
        peak = np.maximum(peak, signal)
        signal = np.maximum(masked, floor)
        gains[t] = np.clip(signal / power, 1.0 / _NOISE_MAX_GAIN, _NOISE_MAX_GAIN)
    return gains, speech


def _gain_smoothing_window(n_filt):
    """(near, count): near (F, F) 1.0 where |i - j| <= 4, count (F,) its row sums (5 to 9 filters)."""
    i = np.arange(n_filt)
    near = (np.abs(i[:, None] - i[None]) <= _NOISE_SMOOTH_WINDOW).astype(np.float64)
    return near, near.sum(1)


def _sphinx_dct_float32(logs):
    """(T, 13) float64 holding float32 values: the orthonormal DCT-II of (T, F) float64 log energies,
    rounded where sphinxbase's floating-point build (fe_dct2 in fe_sigproc.c) rounds.

    Its cosine table cos(pi/F i (j + 1/2)) and the factors sqrt(1/F) (c0), sqrt(2/F) (c1..) are
    float32; each coefficient is a float32 running sum over the filters j = 0..F-1 of the double
    product log_j x cos_ij, rounded to float32 after every addition, and is then multiplied by its
    float32 factor in float32.
    """
    T, F = logs.shape
    step = math.pi / F
    table = np.array([[math.cos(step * i * (j + 0.5)) for j in range(F)] for i in range(13)],
                     dtype=np.float32).astype(np.float64)  # (13, F); row 0 is all 1.0
    acc = np.zeros((T, 13), dtype=np.float32)
    for j in range(F):
        acc = (acc + logs[:, j:j + 1] * table[:, j]).astype(np.float32)
    scale = np.full(13, math.sqrt(2.0 / F), dtype=np.float32)
    scale[0] = np.float32(math.sqrt(1.0 / F))
    return torch.from_numpy((acc * scale).astype(np.float64))


def _sphinx_vad_frames(speech):
    """Indices of the frames the Sphinx voice-activity detector lets through (sphinxbase fe_vad_hangover).

    Outside speech, frames wait in a buffer of the last pre_speech + 1 = 21 frames; start_speech = 10
    speech frames in a row switch to speech and release the buffer (the frame that switched included);
    in speech every frame is kept until post_speech = 50 non-speech frames in a row switch back: that
    50th frame is dropped (the 49 before it are kept) and the buffer starts empty again.
    """
    kept, waiting = [], []
    in_speech, n_start, n_end = False, 0, 0
    for t, is_speech in enumerate(speech):
        if not in_speech:
            waiting = (waiting + [t])[-(_VAD_PRE_SPEECH + 1):]
        if is_speech:
            n_end = 0
            if not in_speech:
                n_start += 1
                if n_start >= _VAD_START_SPEECH:
                    in_speech, n_start = True, 0
        else:
            n_start = 0
            if in_speech:
                n_end += 1
                if n_end >= _VAD_POST_SPEECH:
                    in_speech, n_end, waiting = False, 0, []
        if in_speech:
            kept += waiting or [t]
            waiting = []
    return np.asarray(kept, dtype=np.int64)


def sphinx_mfcc(samples, rate=16000, n_filt=40, lowerf=133.33334, upperf=6855.4976, transform="legacy", lifter=0,
                remove_noise=False, remove_silence=False, single_precision=False):
    """(T, 13) MFCCs as the CMU Sphinx front end (sphinxbase's sphinx_fe, default settings) computes them.

    The settings of /work/shared/data/sphinx_frontend/feat.params and sphinx_fe's defaults:
    16 kHz samples on the 16-bit integer scale; pre-emphasis y[t] = x[t] - 0.97 x[t-1] over the
    whole utterance; frames of 410 samples (25.625 ms) every 160 (10 ms), each Hamming-windowed
    (0.54 - 0.46 cos(2 pi i / (N - 1))) and zero-padded to a 512-point FFT; power spectrum; 40
    triangular filters whose corners, equally spaced in mel (2595 log10(1 + f/700)) from 133.33 to
    6855.50 Hz, are rounded to the nearest FFT bin, each of unit area (peak 2 / (f_hi - f_lo));
    natural log; the "legacy" DCT:  c_0 = (x_0 / 2 + sum_{j>0} x_j) / 40,
    c_i = sum_j beta_j x_j cos(pi i (j + 1/2) / 40) / 40 with beta_0 = 1/2, beta_j = 1.
    Samples at another rate are resampled to 16 kHz first. The keywords are sphinx_fe's -nfilt,
    -lowerf, -upperf, -transform ("legacy" above, or "dct": the orthonormal DCT-II) and -lifter
    (c_i *= 1 + L/2 sin(pi i / L)); their defaults are AN4's settings. PocketSphinx's en-us model,
    whose front end made goforward.mfc, uses n_filt=25, lowerf=130, upperf=6800, "dct", lifter=22.
    Newer sphinxbase takes log(energy + 1e-4); so does this.

    remove_noise (sphinx_fe's -remove_noise; False, AN4's setting, leaves the features as above):
    spectral subtraction on the filter energies e_t(m), between the filterbank and the log, as
    sphinxbase's fe_noise.c (2015; PocketSphinx 5's src/fe/fe_noise.c is the same, less the VAD) does it. Its
    constants, from fe_noise.c: lambda_p = 0.7, lambda_a = 0.995, lambda_b = 0.5, lambda_t = 0.85,
    mu_t = 0.2, G = 20 (MAX_GAIN), a smoothing window of 4 filters each side. Per frame t, per filter m:
        smoothed power  P_t = 0.7 P_{t-1} + 0.3 e_t                    (P_{-1} = e_0)
        noise           N_t = env(N_{t-1}, P_t)                        (N_{-1} = e_0 / 20)
        signal          S_t = max(P_t - N_t, 1)
        floor           F_t = env(F_{t-1}, S_t)                        (F_{-1} = e_0 / 20)
        masking         K_t = 0.85 K_{t-1};  S'_t = 0.2 K_t if S_t < 0.85 K_t else S_t;
                        then K_t = max(K_t, S_t)                       (K_{-1} = 0)
        gain            g_t = clip(max(S'_t, F_t) / P_t, 1/20, 20)
        output          e'_t(m) = e_t(m) mean_{|j - m| <= 4, 0 <= j < n_filt} g_t(j)
    where env(E, x) = 0.995 E + 0.005 x if x >= E else 0.5 E + 0.5 x (a lower envelope: slow up, fast
    down). log(e'_t + 1e-4), the DCT and the lifter follow as above. On the first frame every gain is
    0.94525 (P = e, N = 0.05475 e, S = 0.94525 e, wherever e > 1.06), so of that frame only c0 moves,
    by sqrt(n_filt) log(0.94525) with "dct".

    remove_silence (sphinx_fe's -remove_silence; default False): keep only the frames sphinxbase's
    voice-activity detector (fe_noise.c's fe_track_snr, fe_vad_hangover; -vad_threshold 2.0,
    -vad_prespeech 20, -vad_startspeech 10, -vad_postspeech 50) passes. A frame is speech when
    max_m log(P_t / N_t) >= 2 and its loudness L_t = log sum_m S_t(m) is not more than 8 below a slow
    peak Q_t = k Q_{t-1} + (1 - k) L_t (Q_{-1} = 0; k = 0.9 when L_t > Q_{t-1}, else 0.9995); which
    frames pass is in _sphinx_vad_frames, and T is then the number that pass. Sphinxbase (2015) had
    both settings on by default, dither off: goforward.mfc is sphinx_mfcc(..., remove_noise=True,
    remove_silence=True): its 264 frames are frames 0-263 of the 277 here, the detector ending speech
    on frame 264, the 50th non-speech frame after the last speech frame (214). The noise tracker's
    state runs over every frame either way.

    single_precision (default False; transform="dct" only): round where sphinxbase's floating-point
    build keeps float32 (its mfcc_t and float32 variables): the pre-emphasis coefficient 0.97f, the
    filter weights (slopes computed in float32), the DCT (_sphinx_dct_float32) and the lifter weights
    (with sphinxbase's integer lifter / 2) and product. Everything else is float64 there and here.
    With it goforward.mfc is reproduced bit for bit; without it to within 3e-5 (float64 throughout).
    """
    if rate != 16000:
        samples, rate = resample(samples, rate, 16000), 16000
    n_fft, win, hop = 512, 410, 160
    x = np.asarray(samples, dtype=np.float64) * 32768.0  # back to the 16-bit integer scale
    if single_precision and transform != "dct":
        raise ValueError("single_precision is implemented (and checked) for transform='dct' only")
    x = _pre_emphasis(x, float(np.float32(0.97)) if single_precision else 0.97)
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    frames = torch.from_numpy(x).unfold(0, win, hop)  # (T, 410)
    i = torch.arange(win, dtype=torch.float64)
    frames = frames * (0.54 - 0.46 * torch.cos(2 * math.pi * i / (win - 1)))  # Hamming
    power = torch.fft.rfft(frames, n=n_fft).abs().square()  # (T, 257)

    # the filters: corners on mel-spaced points, rounded to FFT bins; unit area
    df = rate / n_fft
    mel = np.linspace(hz_to_mel(lowerf), hz_to_mel(upperf), n_filt + 2)
    corners = np.floor(mel_to_hz(mel) / df + 0.5) * df  # (42,) Hz, on bins
    hz = np.arange(n_fft // 2 + 1) * df
    if single_precision:  # bin frequencies and corners are exact in float32; the slopes are rounded there
        corners, hz = corners.astype(np.float32), hz.astype(np.float32)
    fb = np.zeros((n_fft // 2 + 1, n_filt))
    for m in range(n_filt):
        lo, mid, hi = corners[m], corners[m + 1], corners[m + 2]
        rise = (hz - lo) / (mid - lo)
        fall = (hi - hz) / (hi - mid)
        tri = np.clip(np.minimum(rise, fall), 0, None)
        fb[:, m] = tri * (np.float32(2) / (hi - lo)) if single_precision else tri * 2 / (hi - lo)
    energies = power @ torch.from_numpy(fb)  # (T, 40)
    speech = None
    if remove_noise or remove_silence:
        gains, speech = _sphinx_track_noise(energies.numpy())
        if remove_noise:
            near, count = _gain_smoothing_window(n_filt)
            smoothed = gains @ near.T / count  # (T, F) mean gain of the (up to) 9 nearest filters
            energies = energies * torch.from_numpy(smoothed)
    logs = torch.log(energies + 1e-4)

    if transform == "legacy":
        j = torch.arange(n_filt, dtype=torch.float64) + 0.5
        basis = torch.cos(math.pi * torch.arange(13, dtype=torch.float64)[:, None] * j[None] / n_filt)  # (13, n_filt)
        beta = torch.ones(n_filt, dtype=torch.float64)
        beta[0] = 0.5
        cep = (logs * beta) @ basis.T / n_filt  # (T, 13)
    elif transform == "dct" and single_precision:
        cep = _sphinx_dct_float32(logs.numpy())
    elif transform == "dct":
        cep = logs @ dct_matrix(n_filt, 13).double()  # (T, 13)
    else:
        raise ValueError(f"transform must be legacy or dct, not {transform!r}")
    if lifter and single_precision:  # float32 weights, float32 products; lifter / 2 is C integer division
        weights = np.array([1 + (lifter // 2) * math.sin(i * math.pi / lifter) for i in range(13)], dtype=np.float32)
        cep = torch.from_numpy(cep.numpy().astype(np.float32) * weights).double()
    elif lifter:
        i = torch.arange(13, dtype=torch.float64)
        cep = cep * (1 + lifter / 2 * torch.sin(math.pi * i / lifter))
    if remove_silence:
        cep = cep[torch.from_numpy(_sphinx_vad_frames(speech))]
    return cep.float()


def read_sphinx_mfc(path, byteorder="<", n_ceps=13):
    """(T, n_ceps) float32 of a Sphinx .mfc file: an int32 count of floats, then the float32 values."""
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes, too short for a Sphinx feature file")
    count = int(np.frombuffer(raw[:4], f"{byteorder}i4")[0])
    if count * 4 != len(raw) - 4 or count % n_ceps:
        raise DataError(f"{path}: header declares {count} floats, the file holds {(len(raw) - 4) / 4:g}")
    return torch.from_numpy(np.frombuffer(raw[4:], f"{byteorder}f4").astype(np.float32).reshape(-1, n_ceps))


# ---------------------------------------------------------------------------------------------
# Batching


def pad_utterances(feats, max_frames=None):
    """(N, T_max, 1 + F) float32: channel 0 the valid-frame mask, channels 1.. the features (see the top).

    feats: list of (T_i, F) tensors. T_max is the longest T_i, or max_frames when given (longer
    utterances are cut to their first max_frames frames).
    """
    if not feats:
        raise ValueError("pad_utterances needs at least one utterance")
    F = feats[0].shape[1]
    T_max = max(len(f) for f in feats)
    if max_frames is not None:
        T_max = min(T_max, int(max_frames))
    x = torch.zeros(len(feats), T_max, 1 + F)
    for n, f in enumerate(feats):
        T = min(len(f), T_max)
        x[n, :T, 0] = 1.0
        x[n, :T, 1:] = torch.as_tensor(f[:T], dtype=torch.float32)
    return x


def lengths(x):
    """(N,) int64 number of valid frames of each utterance of a pad_utterances batch."""
    return x[..., 0].sum(1).round().long()
