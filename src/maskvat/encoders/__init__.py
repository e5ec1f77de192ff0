"""Visual and audio encoders: a registry of named, swappable feature extractors
(``maskvat.encoders.registry``: ``ENCODERS``, ``load_encoder``). Import the module you need;
this package imports nothing, so that one encoder does not pull in every other's dependencies."""
