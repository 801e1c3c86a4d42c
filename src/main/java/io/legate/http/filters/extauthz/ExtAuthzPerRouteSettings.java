package io.legate.http.filters.extauthz;

import java.util.Map;

/** A route's {@code ExtAuthzPerRoute}: checks disabled, or context extensions to send. */
record ExtAuthzPerRouteSettings(boolean disabled, Map<String, String> contextExtensions) {}
