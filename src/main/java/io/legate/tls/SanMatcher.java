package io.legate.tls;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.legate.config.ConfigException;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One of Envoy's subject-alt-name matchers: a string matcher over the SANs of one type (DNS, URI,
 * IP address, email), or over every SAN for the deprecated {@code match_subject_alt_names}.
 */
public record SanMatcher(int sanType, Kind kind, String value, Pattern regex, boolean ignoreCase) {
  /** Any SAN type (the deprecated {@code match_subject_alt_names}). */
  public static final int ANY = 0;
  /** The X.509 GeneralName tags Java reports. */
  public static final int EMAIL = 1;
  public static final int DNS = 2;
  public static final int URI = 6;
  public static final int IP = 7;

  /** The string-matcher kinds. */
  public enum Kind {
    EXACT,
    PREFIX,
    SUFFIX,
    CONTAINS,
    REGEX
  }

  /** Builds a typed matcher ({@code match_typed_subject_alt_names[i]}). */
  public static SanMatcher typed(SubjectAltNameMatcher m, String path) {
    int type =
        switch (m.getSanType()) {
          case DNS -> DNS;
          case URI -> URI;
          case IP_ADDRESS -> IP;
          case EMAIL -> EMAIL;
          case OTHER_NAME -> throw new ConfigException(path + ".san_type", "OTHER_NAME SAN matching is not supported");
          default -> throw new ConfigException(path + ".san_type", "value must not be in list [SAN_TYPE_UNSPECIFIED]");
        };
    return of(type, m.getMatcher(), path + ".matcher");
  }

  /** Builds an untyped matcher ({@code match_subject_alt_names[i]}), which tries every SAN. */
  public static SanMatcher any(StringMatcher m, String path) {
    return of(ANY, m, path);
  }

  private static SanMatcher of(int type, StringMatcher m, String path) {
    boolean ic = m.getIgnoreCase();
    return switch (m.getMatchPatternCase()) {
      case EXACT -> new SanMatcher(type, Kind.EXACT, lower(m.getExact(), ic), null, ic);
      case PREFIX -> new SanMatcher(type, Kind.PREFIX, lower(m.getPrefix(), ic), null, ic);
      case SUFFIX -> new SanMatcher(type, Kind.SUFFIX, lower(m.getSuffix(), ic), null, ic);
      case CONTAINS -> new SanMatcher(type, Kind.CONTAINS, lower(m.getContains(), ic), null, ic);
      case SAFE_REGEX -> {
        String re = m.getSafeRegex().getRegex();
        try {
          yield new SanMatcher(type, Kind.REGEX, re, Pattern.compile(re), false);
        } catch (PatternSyntaxException e) {
          throw new ConfigException(path + ".safe_regex.regex", "invalid regex '" + re + "': " + e.getDescription());
        }
      }
      default -> throw new ConfigException(path, "one of exact, prefix, suffix, contains, safe_regex must be set");
    };
  }

  private static String lower(String s, boolean ic) {
    return ic ? s.toLowerCase(Locale.ROOT) : s;
  }

  /** Returns whether a SAN of GeneralName tag {@code type} with text {@code san} matches. */
  public boolean matches(int type, String san) {
    if (sanType != ANY && sanType != type) {
      return false;
    }
    if (type == DNS && kind == Kind.EXACT && san.startsWith("*.")) {
      // As Envoy: an exact matcher accepts a wildcard certificate name covering it.
      return dnsNameMatch(value, ignoreCase ? san.toLowerCase(Locale.ROOT) : san);
    }
    if (kind == Kind.REGEX) {
      return regex.matcher(san).matches();
    }
    String in = ignoreCase ? san.toLowerCase(Locale.ROOT) : san;
    return switch (kind) {
      case EXACT -> in.equals(value);
      case PREFIX -> in.startsWith(value);
      case SUFFIX -> in.endsWith(value);
      case CONTAINS -> in.contains(value);
      case REGEX -> false;
    };
  }

  /** Envoy's dnsNameMatch: {@code *.example.com} covers exactly one label. */
  static boolean dnsNameMatch(String name, String pattern) {
    if (pattern.equalsIgnoreCase(name)) {
      return true;
    }
    if (pattern.startsWith("*.")) {
      int dot = name.indexOf('.');
      return dot > 0 && name.substring(dot).equalsIgnoreCase(pattern.substring(1));
    }
    return false;
  }
}
