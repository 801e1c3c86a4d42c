package io.legate.rbac;

import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.legate.config.ConfigException;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Envoy's StringMatcher (exact, prefix, suffix, contains, safe_regex as a full match, ignore_case),
 * compiled once. Matching does not allocate except with ignore_case.
 */
public final class StringMatch {
  private enum Kind {
    EXACT,
    PREFIX,
    SUFFIX,
    CONTAINS,
    REGEX
  }

  private final Kind kind;
  private final String value;
  private final Pattern regex;
  private final boolean ignoreCase;

  private StringMatch(Kind kind, String value, Pattern regex, boolean ignoreCase) {
    this.kind = kind;
    this.value = value;
    this.regex = regex;
    this.ignoreCase = ignoreCase;
  }

  /** Compiles a StringMatcher; errors name {@code path}. */
  public static StringMatch build(StringMatcher m, String path) {
    boolean ic = m.getIgnoreCase();
    switch (m.getMatchPatternCase()) {
      case EXACT:
        return new StringMatch(Kind.EXACT, lower(m.getExact(), ic), null, ic);
      case PREFIX:
        return new StringMatch(Kind.PREFIX, nonEmpty(m.getPrefix(), path + ".prefix", ic), null, ic);
      case SUFFIX:
        return new StringMatch(Kind.SUFFIX, nonEmpty(m.getSuffix(), path + ".suffix", ic), null, ic);
      case CONTAINS:
        return new StringMatch(Kind.CONTAINS, nonEmpty(m.getContains(), path + ".contains", ic), null, ic);
      case SAFE_REGEX:
        String re = m.getSafeRegex().getRegex();
        String rp = path + ".safe_regex.regex";
        if (re.isEmpty()) {
          throw new ConfigException(rp, "regex must not be empty");
        }
        try {
          return new StringMatch(Kind.REGEX, null, Pattern.compile(re), false);
        } catch (PatternSyntaxException e) {
          throw new ConfigException(rp, "invalid regex '" + re + "': " + e.getDescription());
        }
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

  /** Returns whether {@code input} matches. */
  public boolean matches(CharSequence input) {
    if (kind == Kind.REGEX) {
      return regex.matcher(input).matches();
    }
    String in = ignoreCase ? input.toString().toLowerCase(Locale.ROOT) : input.toString();
    return switch (kind) {
      case EXACT -> in.equals(value);
      case PREFIX -> in.startsWith(value);
      case SUFFIX -> in.endsWith(value);
      case CONTAINS -> in.contains(value);
      default -> false;
    };
  }
}
