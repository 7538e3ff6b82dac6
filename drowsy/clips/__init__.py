"""Event clips: the seconds around every alert as browser-playable video (``video``: H.264
MP4 through PyAV; ``recorder``: the ring of recent frames and the clips cut from it, off the
frame loop's thread; ``store``: where live clips go and the disk budget)."""
