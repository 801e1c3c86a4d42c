package io.legate.http.filters.csrf;

import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.Route;
import io.legate.stats.Counter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;

/**
 * Envoy's CSRF filter on one stream: compares the host and port of a mutating request's source
 * origin (Origin, else Referer) with its destination (:authority/Host).
 */
final class CsrfFilter implements HttpFilter {
  static final AsciiString ORIGIN = AsciiString.cached("origin");
  static final AsciiString REFERER = AsciiString.cached("referer");
  static final String DETAILS = "csrf_origin_mismatch";

  /** The filter's counters, shared by its streams. */
  record Stats(Counter missingSourceOrigin, Counter requestInvalid, Counter requestValid) {}

  private final String filterName;
  private final CsrfPolicyConfig filterPolicy;
  private final Stats stats;
  private DecoderCallbacks decoder;

  CsrfFilter(String filterName, CsrfPolicyConfig filterPolicy, Stats stats) {
    this.filterName = filterName;
    this.filterPolicy = filterPolicy;
    this.stats = stats;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    CsrfPolicyConfig policy = filterPolicy;
    Route route = decoder.route();
    if (route != null && route.perFilterConfig(filterName) instanceof CsrfPolicyConfig p) {
      policy = p;
    }
    boolean enabled = policy.enabled();
    if (!enabled && !policy.shadowEnabled()) {
      return Status.CONTINUE;
    }
    if (!isModifyMethod(headers.method())) {
      return Status.CONTINUE;
    }
    boolean valid = true;
    String source = hostAndPort(headers.get(ORIGIN));
    if (source.isEmpty()) {
      source = hostAndPort(headers.get(REFERER));
    }
    if (source.isEmpty()) {
      valid = false;
      stats.missingSourceOrigin().inc();
    }
    if (!source.equals(targetOrigin(headers)) && !policy.additionalOriginAllowed(source)) {
      valid = false;
      stats.requestInvalid().inc();
    }
    if (valid) {
      stats.requestValid().inc();
      return Status.CONTINUE;
    }
    if (!enabled) {
      return Status.CONTINUE;
    }
    decoder.sendLocalReply(403, "Invalid origin", null, DETAILS);
    return Status.STOP_ITERATION;
  }

  static boolean isModifyMethod(CharSequence method) {
    return method != null
        && (AsciiString.contentEquals(method, "POST") || AsciiString.contentEquals(method, "PUT")
            || AsciiString.contentEquals(method, "DELETE") || AsciiString.contentEquals(method, "PATCH"));
  }

  /** The request's destination: host and port of {@code <scheme>://<:authority>}. */
  private static String targetOrigin(Http2Headers headers) {
    CharSequence host = headers.authority();
    if (host == null || host.length() == 0) {
      return "";
    }
    CharSequence scheme = headers.scheme();
    return hostAndPort((scheme == null ? "http" : scheme) + "://" + host);
  }

  /**
   * Returns the host and port (as written) of an absolute URL, or the value itself when it is not
   * one (an opaque origin such as {@code null}); "" for an absent or empty value.
   */
  static String hostAndPort(CharSequence value) {
    if (value == null || value.length() == 0) {
      return "";
    }
    String v = value.toString();
    int sep = v.indexOf("://");
    if (sep <= 0 || !validScheme(v, sep)) {
      return v;
    }
    int start = sep + 3;
    int end = v.length();
    for (int i = start; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '/' || c == '?' || c == '#') {
        end = i;
        break;
      }
    }
    String authority = v.substring(start, end);
    int at = authority.lastIndexOf('@');
    if (at >= 0) {
      authority = authority.substring(at + 1);
    }
    return authority.isEmpty() ? v : authority;
  }

  private static boolean validScheme(String v, int end) {
    if (!Character.isLetter(v.charAt(0))) {
      return false;
    }
    for (int i = 1; i < end; i++) {
      char c = v.charAt(i);
      if (!Character.isLetterOrDigit(c) && c != '+' && c != '-' && c != '.') {
        return false;
      }
    }
    return true;
  }
}
