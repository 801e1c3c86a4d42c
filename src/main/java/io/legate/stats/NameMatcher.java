package io.legate.stats;

import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.legate.config.ConfigException;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** A compiled {@code envoy.type.matcher.v3.StringMatcher} over stat names. */
final class NameMatcher {
  private NameMatcher() {}

  /** Returns a predicate equivalent to {@code m}; {@code path} names the field in errors. */
  static Predicate<String> compile(StringMatcher m, String path) {
    boolean ic = m.getIgnoreCase();
    switch (m.getMatchPatternCase()) {
      case EXACT -> {
        String v = m.getExact();
        return ic ? s -> s.equalsIgnoreCase(v) : v::equals;
      }
      case PREFIX -> {
        String v = lower(m.getPrefix(), ic);
        return ic ? s -> s.toLowerCase(Locale.ROOT).startsWith(v) : s -> s.startsWith(v);
      }
      case SUFFIX -> {
        String v = lower(m.getSuffix(), ic);
        return ic ? s -> s.toLowerCase(Locale.ROOT).endsWith(v) : s -> s.endsWith(v);
      }
      case CONTAINS -> {
        String v = lower(m.getContains(), ic);
        return ic ? s -> s.toLowerCase(Locale.ROOT).contains(v) : s -> s.contains(v);
      }
      case SAFE_REGEX -> {
        String regex = m.getSafeRegex().getRegex();
        try {
          Pattern p = Pattern.compile(regex);
          return s -> p.matcher(s).matches();
        } catch (PatternSyntaxException e) {
          throw new ConfigException(path + ".safe_regex.regex",
              "invalid regex '" + regex + "': " + e.getDescription());
        }
      }
      default -> throw new ConfigException(path, "one of exact, prefix, suffix, contains or safe_regex is required");
    }
  }

  private static String lower(String s, boolean ic) {
    return ic ? s.toLowerCase(Locale.ROOT) : s;
  }
}
