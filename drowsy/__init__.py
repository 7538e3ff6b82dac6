"""drowsy: driver drowsiness and inattention monitor (runtime package; never imports torch)."""

__version__ = "0.1.0"
