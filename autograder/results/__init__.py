"""A submission's predictions, rescored once: the results file reader (`file`), matbench's metrics
(`metrics`) and the one `Score` per submission (`score`) that every surface reads.
"""
