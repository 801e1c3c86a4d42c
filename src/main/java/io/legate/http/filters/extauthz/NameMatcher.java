package io.legate.http.filters.extauthz;

import io.envoyproxy.envoy.type.matcher.v3.ListStringMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.legate.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A {@code ListStringMatcher} over header names: matches when any pattern does. Names are
 * compared lower-case, as header names are. Immutable.
 */
final class NameMatcher {
  private enum Kind {
    EXACT,
    PREFIX,
    SUFFIX,
    CONTAINS,
    REGEX
  }

  private record Pat(Kind kind, String value, Pattern regex) {
    boolean matches(String name) {
      return switch (kind) {
        case EXACT -> name.equals(value);
        case PREFIX -> name.startsWith(value);
        case SUFFIX -> name.endsWith(value);
        case CONTAINS -> name.contains(value);
        case REGEX -> regex.matcher(name).matches();
      };
    }
  }

  private final List<Pat> patterns;

  private NameMatcher(List<Pat> patterns) {
    this.patterns = List.copyOf(patterns);
  }

  /** Returns a matcher of these exact (lower-case) names. */
  static NameMatcher exact(List<String> names) {
    List<Pat> ps = new ArrayList<>();
    for (String n : names) {
      ps.add(new Pat(Kind.EXACT, n.toLowerCase(Locale.ROOT), null));
    }
    return new NameMatcher(ps);
  }

  static NameMatcher parse(ListStringMatcher m, String path) {
    List<Pat> ps = new ArrayList<>();
    for (int i = 0; i < m.getPatternsCount(); i++) {
      StringMatcher s = m.getPatterns(i);
      String p = path + ".patterns[" + i + "]";
      switch (s.getMatchPatternCase()) {
        case EXACT -> ps.add(new Pat(Kind.EXACT, s.getExact().toLowerCase(Locale.ROOT), null));
        case PREFIX -> ps.add(new Pat(Kind.PREFIX, s.getPrefix().toLowerCase(Locale.ROOT), null));
        case SUFFIX -> ps.add(new Pat(Kind.SUFFIX, s.getSuffix().toLowerCase(Locale.ROOT), null));
        case CONTAINS -> ps.add(new Pat(Kind.CONTAINS, s.getContains().toLowerCase(Locale.ROOT), null));
        case SAFE_REGEX -> {
          try {
            ps.add(new Pat(Kind.REGEX, null, Pattern.compile(s.getSafeRegex().getRegex())));
          } catch (PatternSyntaxException e) {
            throw new ConfigException(
                p + ".safe_regex.regex", "invalid regex '" + s.getSafeRegex().getRegex() + "': " + e.getDescription());
          }
        }
        default -> throw new ConfigException(p, "one of exact, prefix, suffix, contains, safe_regex must be set");
      }
    }
    return new NameMatcher(ps);
  }

  /** Returns a matcher of this one's patterns plus {@code other}'s. */
  NameMatcher plus(NameMatcher other) {
    List<Pat> ps = new ArrayList<>(patterns);
    ps.addAll(other.patterns);
    return new NameMatcher(ps);
  }

  boolean matches(CharSequence name) {
    String n = name.toString();
    for (Pat p : patterns) {
      if (p.matches(n)) {
        return true;
      }
    }
    return false;
  }
}
