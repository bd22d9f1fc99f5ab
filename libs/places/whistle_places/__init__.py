"""Where an incident is: grid polygons, coordinate systems, addresses, city onboarding."""
