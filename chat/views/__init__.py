"""HTTP views: parse, authorize, call a service, answer."""
