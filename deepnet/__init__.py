"""deepnet: an executable companion to "Deep learning" (LeCun, Bengio & Hinton, Nature 2015)."""

__version__ = "0.1.0"


def load_run(run_dir, which="best", device="cpu"):
    """Rebuild the trained model of a run folder (config.json + best.pt/checkpoint.pt), ready for use."""
    from deepnet.systems import load_run as _load_run

    return _load_run(run_dir, which=which, device=device)
