"""Shop assistant: data layer, web service, configuration and command line."""
