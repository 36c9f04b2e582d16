"""Kernel side: collectors, sampler, run recorder, magic and monitor API."""
