"""Answer assembly: candidate sentences, the learned scorer and its calibration, evidence assembly."""
