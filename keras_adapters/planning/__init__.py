"""The planner's toolkit: backbone and blocks, slot lookup, target matching, sites.

Every method plans with it; nothing here changes a model until a site's
`insert` runs.
"""
