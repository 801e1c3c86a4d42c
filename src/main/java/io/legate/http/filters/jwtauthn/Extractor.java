package io.legate.http.filters.jwtauthn;

import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds JWTs in a request at the locations a set of providers names (Envoy's {@code Extractor}):
 * headers with an optional value prefix, query parameters, cookies. Each token remembers the issuers
 * of the providers that read that location. Immutable.
 */
final class Extractor {
  static final AsciiString AUTHORIZATION = AsciiString.cached("authorization");
  static final String BEARER = "Bearer ";
  static final String ACCESS_TOKEN = "access_token";
  private static final AsciiString COOKIE = AsciiString.cached("cookie");

  /** Where a token may be. */
  sealed interface Location permits HeaderLocation, ParamLocation, CookieLocation {}

  /** A header, its value optionally after a prefix such as {@code Bearer }. */
  record HeaderLocation(AsciiString name, String prefix) implements Location {}

  /** A query parameter. */
  record ParamLocation(String name) implements Location {}

  /** A cookie. */
  record CookieLocation(String name) implements Location {}

  /** A token found at a location that providers with these issuers read ("" means any issuer). */
  record Token(String value, Location location, Set<String> issuers) {
    boolean isIssuerAllowed(String iss) {
      return issuers.contains(iss) || issuers.contains("");
    }

    /** Removes the token from the request (a header is removed; parameters and cookies stay). */
    void remove(Http2Headers headers) {
      if (location instanceof HeaderLocation h) {
        headers.remove(h.name());
      }
    }
  }

  private final Map<Location, Set<String>> locations;
  private final boolean needsQuery;
  private final boolean needsCookies;

  private Extractor(Map<Location, Set<String>> locations) {
    this.locations = locations;
    boolean q = false;
    boolean c = false;
    for (Location l : locations.keySet()) {
      q |= l instanceof ParamLocation;
      c |= l instanceof CookieLocation;
    }
    this.needsQuery = q;
    this.needsCookies = c;
  }

  /** Returns an extractor over the locations of these providers. */
  static Extractor of(List<Provider> providers) {
    Map<Location, Set<String>> m = new LinkedHashMap<>();
    for (Provider p : providers) {
      for (Location l : p.locations()) {
        m.computeIfAbsent(l, k -> new HashSet<>()).add(p.issuer());
      }
    }
    Map<Location, Set<String>> frozen = new LinkedHashMap<>();
    m.forEach((k, v) -> frozen.put(k, Set.copyOf(v)));
    return new Extractor(frozen);
  }

  /** Returns the tokens in the request, in location order. */
  List<Token> extract(Http2Headers headers) {
    List<Token> out = new ArrayList<>(2);
    String query = null;
    String cookies = null;
    if (needsQuery) {
      CharSequence path = headers.path();
      String p = path == null ? "" : path.toString();
      int q = p.indexOf('?');
      query = q < 0 ? "" : p.substring(q + 1);
      int hash = query.indexOf('#');
      if (hash >= 0) {
        query = query.substring(0, hash);
      }
    }
    if (needsCookies) {
      List<CharSequence> all = headers.getAll(COOKIE);
      cookies = all.isEmpty() ? "" : String.join("; ", all);
    }
    for (Map.Entry<Location, Set<String>> e : locations.entrySet()) {
      Location l = e.getKey();
      if (l instanceof HeaderLocation h) {
        for (CharSequence v : headers.getAll(h.name())) {
          String value = v.toString();
          if (!h.prefix().isEmpty()) {
            int pos = value.indexOf(h.prefix());
            if (pos < 0) {
              continue;
            }
            value = jwtAt(value, pos + h.prefix().length());
          }
          if (!value.isEmpty()) {
            out.add(new Token(value, l, e.getValue()));
          }
        }
      } else if (l instanceof ParamLocation p) {
        String v = queryValue(query, p.name());
        if (v != null && !v.isEmpty()) {
          out.add(new Token(v, l, e.getValue()));
        }
      } else if (l instanceof CookieLocation c) {
        String v = cookieValue(cookies, c.name());
        if (v != null && !v.isEmpty()) {
          out.add(new Token(v, l, e.getValue()));
        }
      }
    }
    return out;
  }

  /** Returns the run of JWT characters (base64url, '.', and padding) starting at {@code from}. */
  static String jwtAt(String value, int from) {
    int end = from;
    while (end < value.length() && isJwtChar(value.charAt(end))) {
      end++;
    }
    return value.substring(from, end);
  }

  private static boolean isJwtChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || c == '-' || c == '_' || c == '.' || c == '=' || c == '+' || c == '/';
  }

  static String queryValue(String query, String name) {
    if (query == null || query.isEmpty()) {
      return null;
    }
    int i = 0;
    while (i <= query.length()) {
      int amp = query.indexOf('&', i);
      if (amp < 0) {
        amp = query.length();
      }
      int eq = query.indexOf('=', i);
      if (eq >= 0 && eq < amp && query.regionMatches(i, name, 0, name.length()) && eq - i == name.length()) {
        return query.substring(eq + 1, amp);
      }
      i = amp + 1;
    }
    return null;
  }

  static String cookieValue(String cookies, String name) {
    if (cookies == null || cookies.isEmpty()) {
      return null;
    }
    for (String part : cookies.split(";")) {
      String p = part.trim();
      int eq = p.indexOf('=');
      if (eq > 0 && p.substring(0, eq).equals(name)) {
        String v = p.substring(eq + 1);
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
          v = v.substring(1, v.length() - 1);
        }
        return v;
      }
    }
    return null;
  }
}
