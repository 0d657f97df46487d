"""Mastering: album-aware plans (:mod:`.plan`), the processing chain (:mod:`.chain`), the units of work
(:mod:`.run`) and the ``farm master`` driver (:mod:`.driver`)."""
