//! Client-credentials access tokens: cached, refreshed early, one request in flight.
