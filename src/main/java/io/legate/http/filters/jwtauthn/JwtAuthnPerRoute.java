package io.legate.http.filters.jwtauthn;

/** A route's {@code PerRouteConfig}: jwt_authn disabled, or the name of a requirement to apply. */
record JwtAuthnPerRoute(boolean disabled, String requirementName) {}
