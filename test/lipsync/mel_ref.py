# Reference log-mel (Wav2Lip / IP_LAP audio.py formula) written directly with numpy, no librosa:
# reads float32 samples from argv[1], writes float32 frames x 80 to argv[2] (frames with m*200+400 <= len).
import sys
import numpy as np

x = np.fromfile(sys.argv[1], dtype=np.float32).astype(np.float64)
y = np.concatenate([[x[0]], x[1:] - 0.97 * x[:-1]])
sr, n_fft, hop, n_mels, fmin, fmax = 16000, 800, 200, 80, 55.0, 7600.0

def hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)

def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)

fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
fdiff = np.diff(mel_f)
ramps = mel_f[:, None] - fftfreqs[None, :]
weights = np.zeros((n_mels, len(fftfreqs)))
for i in range(n_mels):
    lower = -ramps[i] / fdiff[i]
    upper = ramps[i + 2] / fdiff[i + 1]
    weights[i] = np.maximum(0, np.minimum(lower, upper))
weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]

pad = np.pad(y, (n_fft // 2, n_fft // 2), mode="reflect")
window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
frames = (len(y) - n_fft // 2) // hop + 1
out = np.zeros((frames, n_mels), dtype=np.float32)
for m in range(frames):
    seg = pad[m * hop : m * hop + n_fft] * window
    mag = np.abs(np.fft.rfft(seg))
    s = 20 * np.log10(np.maximum(1e-5, weights @ mag)) - 20
    out[m] = np.clip(8 * ((s + 100) / 100) - 4, -4, 4)
out.tofile(sys.argv[2])
