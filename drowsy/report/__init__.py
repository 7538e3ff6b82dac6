"""HTML reports of analysed videos: one self-contained page per video and an index of a run.

Built from what ``analyze`` wrote (summary.json, events.json, frames.csv, alerts/), so a report
can be rebuilt at any time (``drowsy report DIR``) without running any model again.
"""
