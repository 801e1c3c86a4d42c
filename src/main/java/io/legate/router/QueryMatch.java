package io.legate.router;

import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.legate.config.ConfigException;

/**
 * Envoy's QueryParameterMatcher: looks at the first value of the parameter (not URL-decoded, as
 * Envoy's {@code parseQueryString}). {@code present_match} matches when presence equals its value;
 * no specifier means "present".
 */
record QueryMatch(String name, Boolean present, StringMatch string) {
  static QueryMatch build(QueryParameterMatcher m, String path) {
    if (m.getName().isEmpty()) {
      throw new ConfigException(path + ".name", "must not be empty");
    }
    return switch (m.getQueryParameterMatchSpecifierCase()) {
      case STRING_MATCH -> new QueryMatch(m.getName(), null,
          StringMatch.build(m.getStringMatch(), path + ".string_match"));
      case PRESENT_MATCH -> new QueryMatch(m.getName(), m.getPresentMatch(), null);
      default -> new QueryMatch(m.getName(), null, null);
    };
  }

  /** Returns true if the query (text after '?', without fragment; may be null) matches. */
  boolean matches(String query) {
    String v = firstValue(query, name);
    if (present != null) {
      return (v != null) == present;
    }
    if (v == null) {
      return false;
    }
    return string == null || string.matches(v);
  }

  static String firstValue(String query, String name) {
    if (query == null || query.isEmpty()) {
      return null;
    }
    int i = 0;
    int n = query.length();
    while (i <= n) {
      int amp = query.indexOf('&', i);
      if (amp < 0) {
        amp = n;
      }
      if (amp > i) {
        int eq = query.indexOf('=', i);
        String key;
        String value;
        if (eq < 0 || eq > amp) {
          key = query.substring(i, amp);
          value = "";
        } else {
          key = query.substring(i, eq);
          value = query.substring(eq + 1, amp);
        }
        if (key.equals(name)) {
          return value;
        }
      }
      i = amp + 1;
    }
    return null;
  }
}
