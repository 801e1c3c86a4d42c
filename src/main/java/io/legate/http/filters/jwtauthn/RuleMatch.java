package io.legate.http.filters.jwtauthn;

import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.legate.config.ConfigException;
import io.legate.router.HeaderMatch;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The {@code match} of a jwt_authn rule: a path prefix, exact path, regex or separated prefix (the
 * query left out, case-sensitive unless {@code case_sensitive: false}) and header matchers.
 * Immutable.
 */
final class RuleMatch {
  private enum Kind {
    PREFIX,
    PATH,
    REGEX,
    SEPARATED_PREFIX
  }

  private final Kind kind;
  private final String value;
  private final Pattern regex;
  private final boolean caseSensitive;
  private final List<HeaderMatch> headers;

  private RuleMatch(Kind kind, String value, Pattern regex, boolean caseSensitive, List<HeaderMatch> headers) {
    this.kind = kind;
    this.value = value;
    this.regex = regex;
    this.caseSensitive = caseSensitive;
    this.headers = List.copyOf(headers);
  }

  static RuleMatch parse(RouteMatch m, String path) {
    boolean cs = !m.hasCaseSensitive() || m.getCaseSensitive().getValue();
    List<HeaderMatch> hs = new ArrayList<>();
    for (int i = 0; i < m.getHeadersCount(); i++) {
      hs.add(HeaderMatch.build(m.getHeaders(i), path + ".headers[" + i + "]"));
    }
    if (m.getQueryParametersCount() > 0) {
      throw new ConfigException(path + ".query_parameters", "query parameter matchers are not supported in jwt_authn rules");
    }
    switch (m.getPathSpecifierCase()) {
      case PREFIX:
        return new RuleMatch(Kind.PREFIX, lower(m.getPrefix(), cs), null, cs, hs);
      case PATH:
        return new RuleMatch(Kind.PATH, lower(m.getPath(), cs), null, cs, hs);
      case PATH_SEPARATED_PREFIX:
        return new RuleMatch(Kind.SEPARATED_PREFIX, lower(m.getPathSeparatedPrefix(), cs), null, cs, hs);
      case SAFE_REGEX:
        try {
          return new RuleMatch(Kind.REGEX, null, Pattern.compile(m.getSafeRegex().getRegex()), cs, hs);
        } catch (PatternSyntaxException e) {
          throw new ConfigException(
              path + ".safe_regex.regex",
              "invalid regex '" + m.getSafeRegex().getRegex() + "': " + e.getDescription());
        }
      default:
        throw new ConfigException(path, "one of prefix, path, safe_regex, path_separated_prefix must be set");
    }
  }

  private static String lower(String s, boolean cs) {
    return cs ? s : s.toLowerCase(Locale.ROOT);
  }

  boolean matches(Http2Headers h) {
    CharSequence raw = h.path();
    if (raw == null) {
      return false;
    }
    String p = raw.toString();
    int q = p.indexOf('?');
    if (q >= 0) {
      p = p.substring(0, q);
    }
    if (!caseSensitive && kind != Kind.REGEX) {
      p = p.toLowerCase(Locale.ROOT);
    }
    boolean ok =
        switch (kind) {
          case PREFIX -> p.startsWith(value);
          case PATH -> p.equals(value);
          case REGEX -> regex.matcher(p).matches();
          case SEPARATED_PREFIX -> p.startsWith(value)
              && (p.length() == value.length() || p.charAt(value.length()) == '/');
        };
    if (!ok) {
      return false;
    }
    for (HeaderMatch m : headers) {
      if (!m.matches(h)) {
        return false;
      }
    }
    return true;
  }
}
