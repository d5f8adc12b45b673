"""Measuring the answers: `eval` over QA files and `calibrate` of the confidence."""
