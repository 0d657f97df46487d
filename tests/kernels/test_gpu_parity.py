"""The meters on CuPy arrays give the NumPy results (skipped where there is no CUDA device)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernels._xp import gpu_available
from kernels.kweighting import kweight
from kernels.loudness import LoudnessMeter
from kernels.stats import SignalStats
from kernels.truepeak import TruePeakMeter

_GPU_OK, _GPU_REASON = gpu_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _GPU_OK, reason=_GPU_REASON)]

# cuSOLVER/cuBLAS and CuPy's sosfilt add in different orders than SciPy/OpenBLAS; in float64 that is
# ~1e-15 relative, so 1e-9 in LU, dB or correlation is a safe and still strict bound.
TOL = 1e-9


def material(rate, seconds, channels=2):
    rng = np.random.default_rng(7)
    n = int(seconds * rate)
    env = np.repeat(10 ** (rng.uniform(-30, 0, size=int(seconds * 4) + 1) / 20), rate // 4)[:n]
    x = 0.3 * rng.standard_normal((channels, n)) * env
    x[:, rng.integers(0, n, size=4)] = 0.9
    return x


def feed(meter, x, block, to_device):
    for start in range(0, x.shape[1], block):
        meter.process(to_device(x[:, start : start + block]))
    return meter.result()


def _close(a, b):
    if isinstance(a, float) and (math.isnan(a) or math.isinf(a)):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return abs(a - b) <= TOL


@pytest.fixture(scope="module")
def cupy():
    import cupy  # noqa: PLC0415 - only importable where the skip above did not trigger

    return cupy


@pytest.mark.parametrize("rate", [44100, 22050])
def test_kweight_parity(cupy, rate):
    x = material(rate, 1.0)
    y_cpu, z_cpu = kweight(x, rate)
    y_gpu, z_gpu = kweight(cupy.asarray(x), rate)
    np.testing.assert_allclose(cupy.asnumpy(y_gpu), y_cpu, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cupy.asnumpy(z_gpu), z_cpu, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rate", [44100, 22050])
def test_loudness_parity(cupy, rate):
    x = material(rate, 4.0)
    cpu = feed(LoudnessMeter(rate, 2), x, 30000, np.asarray)
    gpu = feed(LoudnessMeter(rate, 2), x, 30000, cupy.asarray)
    for name in ("integrated_lufs", "loudness_range_lu", "max_momentary_lufs", "max_short_term_lufs"):
        value = getattr(gpu, name)
        assert type(value) is float, name
        assert _close(value, getattr(cpu, name)), name
    assert isinstance(gpu.momentary_lufs, np.ndarray)
    np.testing.assert_allclose(gpu.momentary_lufs, cpu.momentary_lufs, rtol=0, atol=TOL)
    np.testing.assert_allclose(gpu.short_term_lufs, cpu.short_term_lufs, rtol=0, atol=TOL)


@pytest.mark.parametrize(("rate", "channels"), [(48000, 2), (96000, 1), (44100, 6)])
def test_truepeak_parity(cupy, rate, channels):
    # The GPU path computes every chunk, the CPU path skips; equal values also re-check the skip.
    x = material(rate, 1.0, channels)
    cpu = feed(TruePeakMeter(rate, channels), x, 20000, np.asarray)
    gpu = feed(TruePeakMeter(rate, channels), x, 20000, cupy.asarray)
    assert type(gpu.true_peak_dbtp) is float
    np.testing.assert_allclose(gpu.channel_true_peak_dbtp, cpu.channel_true_peak_dbtp, rtol=0, atol=TOL)
    np.testing.assert_allclose(gpu.channel_sample_peak_dbfs, cpu.channel_sample_peak_dbfs, rtol=0, atol=TOL)


@pytest.mark.parametrize("rate", [44100, 22050])
def test_stats_parity(cupy, rate):
    x = material(rate, 2.0) + 0.001
    cpu = feed(SignalStats(rate, 2), x, 10000, np.asarray)
    gpu = feed(SignalStats(rate, 2), x, 10000, cupy.asarray)
    for name, value in vars(cpu).items():
        other = getattr(gpu, name)
        if isinstance(value, tuple):
            np.testing.assert_allclose(other, value, rtol=0, atol=TOL, err_msg=name)
        elif isinstance(value, int):
            assert other == value, name
        else:
            assert type(other) is float, name
            assert _close(other, value), name


def test_audit_on_gpu_gives_the_cpu_rows(tmp_path):
    """The whole audit with its meters on the GPU (``--gpu on``) gives the CPU audit's row and findings."""
    import soundfile as sf

    from farm.catalogue import discover
    from farm.qc import QCConfig, audit_track

    x = material(48000, 8.0)
    path = tmp_path / "a.wav"
    sf.write(path, x.T, 48000, subtype="FLOAT")
    spec = discover([str(path)])[0]
    cpu = audit_track(spec, QCConfig())
    gpu = audit_track(spec, QCConfig(device="gpu"))
    for k, v in cpu.row.items():
        if isinstance(v, float):
            assert _close(v, gpu.row[k]), k
        else:
            assert v == gpu.row[k], k
    assert [e["kind"] for e in cpu.events] == [e["kind"] for e in gpu.events]
