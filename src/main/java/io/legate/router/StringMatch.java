package io.legate.router;

import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.legate.config.ConfigException;
import java.util.Locale;
import java.util.regex.Pattern;

/** Envoy's StringMatcher: exact, prefix, suffix, contains, safe_regex (full match), ignore_case. */
record StringMatch(Kind kind, String value, Pattern regex, boolean ignoreCase) {
  enum Kind {
    EXACT,
    PREFIX,
    SUFFIX,
    CONTAINS,
    REGEX
  }

  static StringMatch build(StringMatcher m, String path) {
    boolean ic = m.getIgnoreCase();
    switch (m.getMatchPatternCase()) {
      case EXACT:
        return new StringMatch(Kind.EXACT, lower(m.getExact(), ic), null, ic);
      case PREFIX:
        return new StringMatch(Kind.PREFIX, nonEmpty(m.getPrefix(), path + ".prefix", ic), null, ic);
      case SUFFIX:
        return new StringMatch(Kind.SUFFIX, nonEmpty(m.getSuffix(), path + ".suffix", ic), null, ic);
      case CONTAINS:
        return new StringMatch(
            Kind.CONTAINS, nonEmpty(m.getContains(), path + ".contains", ic), null, ic);
      case SAFE_REGEX:
        if (ic) {
          throw new ConfigException(path + ".ignore_case", "ignore_case has no effect for safe_regex.");
        }
        return new StringMatch(Kind.REGEX, null, Regexes.compile(m.getSafeRegex(), path + ".safe_regex"), false);
      case CUSTOM:
        throw new ConfigException(path + ".custom", "custom string matchers are not supported");
      default:
        throw new ConfigException(path, "one of exact, prefix, suffix, contains, safe_regex must be set");
    }
  }

  private static String nonEmpty(String s, String path, boolean ic) {
    if (s.isEmpty()) {
      throw new ConfigException(path, "must not be empty");
    }
    return lower(s, ic);
  }

  private static String lower(String s, boolean ic) {
    return ic ? s.toLowerCase(Locale.ROOT) : s;
  }

  boolean matches(String input) {
    if (kind == Kind.REGEX) {
      return regex.matcher(input).matches();
    }
    String in = ignoreCase ? input.toLowerCase(Locale.ROOT) : input;
    return switch (kind) {
      case EXACT -> in.equals(value);
      case PREFIX -> in.startsWith(value);
      case SUFFIX -> in.endsWith(value);
      case CONTAINS -> in.contains(value);
      default -> false;
    };
  }
}
