package io.legate.router;

import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;

/**
 * A route that answers with a redirect, computing Location as Envoy's {@code Http::Utility::newUri}.
 */
public final class RedirectAction implements RouteAction {
  static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");

  private final String scheme; // null: keep
  private final String host; // null: keep
  private final String port; // ":8080" or null
  private final String pathRedirect; // null if not set
  private final boolean pathRedirectHasQuery;
  private final String prefixRewrite; // null if not set
  private final int matchedPrefixLength; // for prefix_rewrite; -1 = whole path
  private final Regexes.Substitution regexRewrite;
  private final boolean stripQuery;
  private final int status;
  private final boolean sslRedirect;

  /** Returns the redirect of require_tls: {@code https://<host><path>}, 301. */
  static RedirectAction sslRedirect() {
    return new RedirectAction("https", null, null, null, null, -1, null, false, 301, true);
  }

  RedirectAction(String scheme, String host, String port, String pathRedirect, String prefixRewrite,
      int matchedPrefixLength, Regexes.Substitution regexRewrite, boolean stripQuery, int status) {
    this(scheme, host, port, pathRedirect, prefixRewrite, matchedPrefixLength, regexRewrite,
        stripQuery, status, false);
  }

  private RedirectAction(String scheme, String host, String port, String pathRedirect, String prefixRewrite,
      int matchedPrefixLength, Regexes.Substitution regexRewrite, boolean stripQuery, int status,
      boolean sslRedirect) {
    this.sslRedirect = sslRedirect;
    this.scheme = scheme;
    this.host = host;
    this.port = port;
    this.pathRedirect = pathRedirect;
    this.pathRedirectHasQuery = pathRedirect != null && pathRedirect.indexOf('?') >= 0;
    this.prefixRewrite = prefixRewrite;
    this.matchedPrefixLength = matchedPrefixLength;
    this.regexRewrite = regexRewrite;
    this.stripQuery = stripQuery;
    this.status = status;
  }

  /** Returns the redirect status: 301 (default), 302, 303, 307 or 308. */
  public int status() {
    return status;
  }

  /**
   * Returns the Location for this request. The request's scheme is x-forwarded-proto when present,
   * else {@code https} if tls, else {@code http}.
   */
  public String location(Http2Headers request, boolean tls) {
    if (sslRedirect) {
      CharSequence a = request.authority();
      CharSequence p = request.path();
      return "https://" + (a == null ? "" : a) + (p == null ? "" : p);
    }
    CharSequence xfp = request.get(X_FORWARDED_PROTO);
    String requestScheme = xfp != null ? xfp.toString() : tls ? "https" : "http";
    String finalScheme = scheme != null ? scheme : requestScheme;
    String finalPort = port != null ? port : "";
    String finalHost;
    if (host != null) {
      finalHost = host;
    } else {
      finalHost = processRequestHost(request, requestScheme, finalScheme, finalPort);
    }
    CharSequence p = request.path();
    String currentPath = p == null ? "" : p.toString();
    String finalPath;
    if (pathRedirect != null) {
      if (pathRedirectHasQuery) {
        finalPath = pathRedirect;
      } else {
        int q = currentPath.indexOf('?');
        finalPath = q >= 0 ? pathRedirect + currentPath.substring(q) : pathRedirect;
      }
    } else if (prefixRewrite != null || regexRewrite != null) {
      finalPath = rewritePath(currentPath);
    } else {
      finalPath = currentPath;
    }
    if (!finalPath.startsWith("/")) {
      finalPath = "/" + finalPath;
    }
    if (!pathRedirectHasQuery && stripQuery) {
      int q = finalPath.indexOf('?');
      if (q >= 0) {
        finalPath = finalPath.substring(0, q);
      }
    }
    return finalScheme + "://" + finalHost + finalPort + finalPath;
  }

  private String rewritePath(String path) {
    int end = RouteEntry.pathEnd(path);
    if (regexRewrite != null) {
      return regexRewrite.replaceAll(path.substring(0, end)) + path.substring(end);
    }
    int len = matchedPrefixLength < 0 ? end : Math.min(matchedPrefixLength, path.length());
    return prefixRewrite + path.substring(len);
  }

  private static String processRequestHost(
      Http2Headers request, String requestScheme, String newScheme, String newPort) {
    CharSequence a = request.authority();
    String host = a == null ? "" : a.toString();
    if (host.isEmpty()) {
      return host;
    }
    int hostEnd;
    if (host.charAt(0) == '[') {
      hostEnd = host.lastIndexOf("]:");
      if (hostEnd >= 0) {
        hostEnd += 1;
      }
    } else {
      hostEnd = host.lastIndexOf(':');
    }
    if (hostEnd >= 0) {
      String requestPort = host.substring(hostEnd);
      boolean remove = !newPort.isEmpty();
      if (!newScheme.equals(requestScheme)) {
        remove |= requestScheme.equals("https") && requestPort.equals(":443");
        remove |= requestScheme.equals("http") && requestPort.equals(":80");
      }
      if (remove) {
        return host.substring(0, hostEnd);
      }
    }
    return host;
  }
}
