package io.legate.router;

import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/** One route's compiled match conditions plus the route it yields. */
final class RouteEntry {
  enum PathKind {
    PREFIX,
    PATH,
    REGEX,
    PATH_SEPARATED_PREFIX,
    /** {@code connect_matcher}: any CONNECT request (which has no path). */
    CONNECT
  }

  private static final AsciiString CONTENT_TYPE = AsciiString.cached("content-type");

  final int index;
  final PathKind kind;
  final String pathValue; // lowercased when !caseSensitive
  final boolean caseSensitive;
  final Pattern regex;
  final long runtimeNumerator; // -1: no runtime_fraction
  final long runtimeDenominator;
  final boolean grpc;
  final List<HeaderMatch> headers;
  final List<QueryMatch> queryParameters;
  final Route route;

  RouteEntry(int index, PathKind kind, String pathValue, boolean caseSensitive, Pattern regex,
      long runtimeNumerator, long runtimeDenominator, boolean grpc, List<HeaderMatch> headers,
      List<QueryMatch> queryParameters, Route route) {
    this.index = index;
    this.kind = kind;
    this.pathValue = pathValue;
    this.caseSensitive = caseSensitive;
    this.regex = regex;
    this.runtimeNumerator = runtimeNumerator;
    this.runtimeDenominator = runtimeDenominator;
    this.grpc = grpc;
    this.headers = List.copyOf(headers);
    this.queryParameters = List.copyOf(queryParameters);
    this.route = route;
  }

  /** Returns the index where the path ends (first '?' or '#', else length). */
  static int pathEnd(String path) {
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '?' || c == '#') {
        return i;
      }
    }
    return path.length();
  }

  /**
   * Returns true if the request matches every condition. pathOnly is the path without query and
   * fragment (and without path parameters if so configured); lowerPath its lowercase form.
   */
  boolean matches(Http2Headers request, String pathOnly, String lowerPath, String query, long random) {
    if (runtimeNumerator >= 0
        && Long.remainderUnsigned(random, runtimeDenominator) >= runtimeNumerator) {
      return false;
    }
    if (grpc && !isGrpc(request)) {
      return false;
    }
    for (HeaderMatch h : headers) {
      if (!h.matches(request)) {
        return false;
      }
    }
    for (QueryMatch q : queryParameters) {
      if (!q.matches(query)) {
        return false;
      }
    }
    String p = caseSensitive ? pathOnly : lowerPath;
    return switch (kind) {
      case PREFIX -> p.startsWith(pathValue);
      case PATH -> p.equals(pathValue);
      case REGEX -> regex.matcher(pathOnly).matches();
      case PATH_SEPARATED_PREFIX ->
          p.startsWith(pathValue)
              && (p.length() == pathValue.length() || p.charAt(pathValue.length()) == '/');
      case CONNECT -> true;
    };
  }

  static boolean isGrpc(Http2Headers request) {
    CharSequence ct = request.get(CONTENT_TYPE);
    if (ct == null || request.path() == null) {
      return false;
    }
    String s = ct.toString();
    String g = "application/grpc";
    if (!s.regionMatches(true, 0, g, 0, g.length())) {
      return false;
    }
    return s.length() == g.length() || s.charAt(g.length()) == '+' || s.charAt(g.length()) == ';';
  }

  static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }
}
