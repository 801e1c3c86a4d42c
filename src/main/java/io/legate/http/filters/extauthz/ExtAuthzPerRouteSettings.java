package io.legate.http.filters.extauthz;

import java.util.Map;

/**
 * A route's {@code ExtAuthzPerRoute}: checks disabled, or context extensions to send (and whether
 * the request body is left out: {@code disable_request_body_buffering}).
 */
record ExtAuthzPerRouteSettings(boolean disabled, Map<String, String> contextExtensions, boolean disableBodyBuffering) {}
