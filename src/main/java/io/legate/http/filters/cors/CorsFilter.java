package io.legate.http.filters.cors;

import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.Route;
import io.legate.stats.Counter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;

/**
 * Envoy's CORS filter on one stream. A request with a non-empty {@code origin} is a CORS request:
 * its origin is counted valid or invalid; a preflight ({@code OPTIONS} with {@code
 * access-control-request-method}) is answered here with 200 and the policy's headers; the response
 * to any other CORS request from an allowed origin gets {@code access-control-allow-origin} (and
 * credentials, expose-headers).
 */
final class CorsFilter implements HttpFilter {
  static final AsciiString ORIGIN = AsciiString.cached("origin");
  static final AsciiString REQUEST_METHOD = AsciiString.cached("access-control-request-method");
  static final AsciiString REQUEST_HEADERS = AsciiString.cached("access-control-request-headers");
  static final AsciiString REQUEST_PRIVATE_NETWORK = AsciiString.cached("access-control-request-private-network");
  static final AsciiString ALLOW_ORIGIN = AsciiString.cached("access-control-allow-origin");
  static final AsciiString ALLOW_CREDENTIALS = AsciiString.cached("access-control-allow-credentials");
  static final AsciiString ALLOW_METHODS = AsciiString.cached("access-control-allow-methods");
  static final AsciiString ALLOW_HEADERS = AsciiString.cached("access-control-allow-headers");
  static final AsciiString MAX_AGE = AsciiString.cached("access-control-max-age");
  static final AsciiString EXPOSE_HEADERS = AsciiString.cached("access-control-expose-headers");
  static final AsciiString ALLOW_PRIVATE_NETWORK = AsciiString.cached("access-control-allow-private-network");
  static final AsciiString TRUE = AsciiString.cached("true");
  static final AsciiString OPTIONS = AsciiString.cached("OPTIONS");
  static final String DETAILS = "cors_response";

  private final String filterName;
  private final Counter originValid;
  private final Counter originInvalid;
  private DecoderCallbacks decoder;
  private CorsPolicyConfig policy;
  private CharSequence latchedOrigin;

  CorsFilter(String filterName, Counter originValid, Counter originInvalid) {
    this.filterName = filterName;
    this.originValid = originValid;
    this.originInvalid = originInvalid;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    Route route = decoder.route();
    if (route == null || !(route.perFilterConfig(filterName) instanceof CorsPolicyConfig p)) {
      return Status.CONTINUE;
    }
    boolean enabled = p.enabled();
    if (!enabled && !p.shadowEnabled()) {
      return Status.CONTINUE;
    }
    CharSequence origin = headers.get(ORIGIN);
    if (origin == null || origin.length() == 0) {
      return Status.CONTINUE;
    }
    boolean allowed = p.originAllowed(origin);
    if (allowed) {
      originValid.inc();
      latchedOrigin = origin;
    } else {
      originInvalid.inc();
    }
    if (!enabled) {
      return Status.CONTINUE;
    }
    policy = p;
    if (!OPTIONS.contentEquals(headers.method())) {
      return Status.CONTINUE;
    }
    CharSequence requestMethod = headers.get(REQUEST_METHOD);
    if (requestMethod == null || requestMethod.length() == 0) {
      return Status.CONTINUE;
    }
    if (!allowed && p.forwardNotMatchingPreflights()) {
      return Status.CONTINUE;
    }
    Http2Headers r = new DefaultHttp2Headers(false).status(AsciiString.of("200"));
    if (allowed) {
      r.set(ALLOW_ORIGIN, origin);
    }
    if (p.allowCredentials()) {
      r.set(ALLOW_CREDENTIALS, TRUE);
    }
    if (!p.allowMethods().isEmpty()) {
      r.set(ALLOW_METHODS, p.allowMethods().equals("*") ? requestMethod : p.allowMethods());
    }
    if (!p.allowHeaders().isEmpty()) {
      CharSequence requested = headers.get(REQUEST_HEADERS);
      r.set(ALLOW_HEADERS, p.allowHeaders().equals("*") ? (requested == null ? "" : requested) : p.allowHeaders());
    }
    if (!p.maxAge().isEmpty()) {
      r.set(MAX_AGE, p.maxAge());
    }
    CharSequence pna = headers.get(REQUEST_PRIVATE_NETWORK);
    if (p.allowPrivateNetworkAccess() && pna != null && TRUE.contentEquals(pna)) {
      r.set(ALLOW_PRIVATE_NETWORK, TRUE);
    }
    latchedOrigin = null;
    decoder.streamInfo().setResponseCodeDetails(DETAILS);
    decoder.encodeHeaders(r, true);
    return Status.STOP_ITERATION;
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    CorsPolicyConfig p = policy;
    if (p == null || latchedOrigin == null) {
      return Status.CONTINUE;
    }
    headers.set(ALLOW_ORIGIN, latchedOrigin);
    if (p.allowCredentials()) {
      headers.set(ALLOW_CREDENTIALS, TRUE);
    }
    if (!p.exposeHeaders().isEmpty()) {
      headers.set(EXPOSE_HEADERS, p.exposeHeaders());
    }
    return Status.CONTINUE;
  }
}
