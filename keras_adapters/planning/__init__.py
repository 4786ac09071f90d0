"""The planner's toolkit: the model's backbone and blocks, slot lookup, target
matching and the sites where adapters go. Every method plans with it; nothing
here changes a model until a site's `insert` runs.
"""
