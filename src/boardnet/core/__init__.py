"""boardnet.core: what every family shares (errors, ModelSpec, registry, config, atomic io, convert, verify).

It never imports a family: families are reached through the registry's ``"module:attr"`` strings."""
