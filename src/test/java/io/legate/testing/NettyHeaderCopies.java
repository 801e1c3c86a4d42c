package io.legate.testing;

import io.legate.http.HttpHeaderNames;
import io.legate.http.codec.HeaderUtil;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.Map;

/**
 * The copies between Netty's HTTP/1 header objects and the proxy's header map that the HTTP/1.1
 * path made before the codecs parsed into and wrote from the header map directly: the baseline the
 * codec benchmarks measure the codecs against.
 */
public final class NettyHeaderCopies {
  private NettyHeaderCopies() {}

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
      if (HeaderUtil.isHopByHop(name)) {
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
      if (HeaderUtil.isHopByHop(name)) {
        continue;
      }
      out.add(name, e.getValue());
    }
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
