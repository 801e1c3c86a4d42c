package io.legate.http.codec;

import io.legate.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.Map;

/** Conversions between HTTP/1 header blocks and the proxy's header map (HTTP/2 style). */
public final class HeaderUtil {
  private HeaderUtil() {}

  /** Returns whether a header is hop-by-hop (never forwarded). {@code te} is handled apart. */
  public static boolean isHopByHop(CharSequence name) {
    return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.CONNECTION)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.KEEP_ALIVE)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.PROXY_CONNECTION)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRANSFER_ENCODING)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.UPGRADE);
  }

  /**
   * Copies HTTP/1 headers into {@code out} with lowercase names, dropping hop-by-hop headers, the
   * headers named by {@code Connection}, and {@code host} (carried as {@code :authority}). {@code te}
   * survives only as "trailers" (as Envoy).
   */
  public static void copyFromHttp1(HttpHeaders in, Http2Headers out) {
    String connectionTokens = null;
    Iterator<Map.Entry<CharSequence, CharSequence>> it = in.iteratorCharSequence();
    while (it.hasNext()) {
      Map.Entry<CharSequence, CharSequence> e = it.next();
      CharSequence name = e.getKey();
      if (isHopByHop(name)) {
        if (AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.CONNECTION)) {
          connectionTokens =
              connectionTokens == null ? e.getValue().toString() : connectionTokens + "," + e.getValue();
        }
        continue;
      }
      if (AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.HOST)) {
        continue;
      }
      AsciiString lower = AsciiString.of(name).toLowerCase();
      if (lower.contentEquals(HttpHeaderNames.TE)) {
        if (AsciiString.contentEqualsIgnoreCase(e.getValue().toString().trim(), "trailers")) {
          out.add(HttpHeaderNames.TE, "trailers");
        }
        continue;
      }
      out.add(lower, e.getValue());
    }
    if (connectionTokens != null) {
      for (String token : connectionTokens.split(",")) {
        String t = token.trim();
        if (!t.isEmpty() && !t.equalsIgnoreCase("close") && !t.equalsIgnoreCase("keep-alive")) {
          out.remove(AsciiString.of(t).toLowerCase());
        }
      }
    }
  }

  /** Copies the regular (non-pseudo) headers into HTTP/1 headers, dropping hop-by-hop ones. */
  public static void copyToHttp1(Http2Headers in, HttpHeaders out) {
    for (Map.Entry<CharSequence, CharSequence> e : in) {
      CharSequence name = e.getKey();
      if (name.length() > 0 && name.charAt(0) == ':') {
        continue;
      }
      if (isHopByHop(name)) {
        continue;
      }
      out.add(name, e.getValue());
    }
  }

  /** Copies an HTTP/2 header block (from an upstream or downstream peer) dropping connection headers. */
  public static Http2Headers sanitizeHttp2(Http2Headers h) {
    h.remove(HttpHeaderNames.CONNECTION);
    h.remove(HttpHeaderNames.KEEP_ALIVE);
    h.remove(HttpHeaderNames.PROXY_CONNECTION);
    h.remove(HttpHeaderNames.TRANSFER_ENCODING);
    h.remove(HttpHeaderNames.UPGRADE);
    return h;
  }

  /** Returns trailers as a header map (HTTP/1 chunked trailers). */
  public static Http2Headers trailersFromHttp1(HttpHeaders in) {
    Http2Headers out = new DefaultHttp2Headers(false);
    for (Map.Entry<CharSequence, CharSequence> e : (Iterable<Map.Entry<CharSequence, CharSequence>>) in::iteratorCharSequence) {
      out.add(AsciiString.of(e.getKey()).toLowerCase(), e.getValue());
    }
    return out;
  }
}
