package io.legate.router;

import io.legate.upstream.XxHash64;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Envoy's request hash for ring hash and Maglev ({@code RouteAction.hash_policy}): each policy that
 * finds its input contributes {@code xxHash64(value)}, combined as {@code rotl(hash, 1) ^ next};
 * a {@code terminal} policy that produced a value ends the evaluation.
 */
public final class RequestHash {
  private static final AsciiString COOKIE = AsciiString.cached("cookie");

  private RequestHash() {}

  /** Returns the request's hash, or -1 when no policy found its input (the balancer then picks at random). */
  public static long compute(List<ForwardAction.HashPolicy> policies, Http2Headers request, InetSocketAddress remote) {
    return compute(policies, request, remote, null, null);
  }

  /**
   * Returns the request's hash as {@link #compute(List, Http2Headers, InetSocketAddress)}, generating
   * the cookie of a cookie policy with a {@code ttl} when the request has none, as Envoy: its value
   * is the hex xxHash64 of the connection's remote and local addresses (so every stream of one
   * connection gets the same cookie), the hash is of that value, and the {@code set-cookie} value
   * ({@code name="value"; Max-Age=s; Path=p; HttpOnly}) is appended to {@code setCookies}.
   *
   * @param local the connection's local address (null: no cookie is generated)
   * @param setCookies where generated {@code set-cookie} values go (null: none is generated)
   */
  public static long compute(List<ForwardAction.HashPolicy> policies, Http2Headers request,
      InetSocketAddress remote, InetSocketAddress local, List<String> setCookies) {
    return compute(policies, request, remote, local, setCookies, null);
  }

  /**
   * Returns the request's hash as {@link #compute(List, Http2Headers, InetSocketAddress,
   * InetSocketAddress, List)}; a {@code filter_state} policy takes the hash of the object under its
   * key in {@code filterState} when that object is {@link io.legate.http.FilterState.Hashable} (no
   * object, or one that is not hashable: no input, as Envoy).
   *
   * @param filterState the stream's filter state (null: none)
   */
  public static long compute(List<ForwardAction.HashPolicy> policies, Http2Headers request,
      InetSocketAddress remote, InetSocketAddress local, List<String> setCookies,
      io.legate.http.FilterState filterState) {
    if (policies.isEmpty()) {
      return -1;
    }
    boolean have = false;
    long hash = 0;
    for (ForwardAction.HashPolicy p : policies) {
      String value =
          switch (p.kind()) {
            case "header" -> joined(request.getAll(p.name()));
            case "connection_properties" -> remote == null ? null : remote.getAddress().getHostAddress();
            case "query_parameter" -> queryParameter(request.path(), p.name());
            case "cookie" -> {
              String c = cookie(request, p.name());
              if ((c == null || c.isEmpty()) && p.cookieTtlMs() >= 0 && setCookies != null
                  && remote != null && local != null) {
                c = generateCookie(p, remote, local, setCookies);
              }
              yield c == null || c.isEmpty() ? null : c;
            }
            default -> null;
          };
      long next;
      if (p.kind().equals("filter_state")) {
        Object o = filterState == null ? null : filterState.get(p.name());
        if (!(o instanceof io.legate.http.FilterState.Hashable h)) {
          continue;
        }
        next = h.hash();
      } else if (value == null) {
        continue;
      } else {
        next = XxHash64.hash(value);
      }
      hash = have ? (Long.rotateLeft(hash, 1) ^ next) : next;
      have = true;
      if (p.terminal()) {
        break;
      }
    }
    // -1 means "no hash" to the balancers; keep a real hash of -1 distinct.
    return have ? (hash == -1 ? -2 : hash) : -1;
  }

  private static String generateCookie(ForwardAction.HashPolicy p, InetSocketAddress remote,
      InetSocketAddress local, List<String> setCookies) {
    String conn = remote.getAddress().getHostAddress() + ":" + remote.getPort()
        + local.getAddress().getHostAddress() + ":" + local.getPort();
    String value = String.format("%016x", XxHash64.hash(conn));
    StringBuilder sb = new StringBuilder(p.name()).append("=\"").append(value).append('"');
    long maxAge = p.cookieTtlMs() / 1000;
    if (maxAge != 0) {
      sb.append("; Max-Age=").append(maxAge);
    }
    if (!p.cookiePath().isEmpty()) {
      sb.append("; Path=").append(p.cookiePath());
    }
    sb.append("; HttpOnly");
    setCookies.add(sb.toString());
    return value;
  }

  private static String joined(List<CharSequence> values) {
    if (values.isEmpty()) {
      return null;
    }
    if (values.size() == 1) {
      return values.get(0).toString();
    }
    StringBuilder sb = new StringBuilder();
    for (CharSequence v : values) {
      sb.append(v);
    }
    return sb.toString();
  }

  static String queryParameter(CharSequence path, String name) {
    if (path == null) {
      return null;
    }
    String p = path.toString();
    int q = p.indexOf('?');
    if (q < 0) {
      return null;
    }
    for (String kv : p.substring(q + 1).split("&")) {
      int eq = kv.indexOf('=');
      String k = eq < 0 ? kv : kv.substring(0, eq);
      if (k.equals(name)) {
        return eq < 0 ? "" : kv.substring(eq + 1);
      }
    }
    return null;
  }

  static String cookie(Http2Headers request, String name) {
    for (CharSequence header : request.getAll(COOKIE)) {
      for (String part : header.toString().split(";")) {
        String c = part.trim();
        int eq = c.indexOf('=');
        if (eq > 0 && c.substring(0, eq).equals(name)) {
          String v = c.substring(eq + 1);
          return v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"") ? v.substring(1, v.length() - 1) : v;
        }
      }
    }
    return null;
  }
}
