package io.legate.http.codec;

import io.legate.http.HttpHeaderNames;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;

/** Header rules shared by the codecs: hop-by-hop headers, connection headers in HTTP/2 blocks. */
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

  /** Copies an HTTP/2 header block (from an upstream or downstream peer) dropping connection headers. */
  public static Http2Headers sanitizeHttp2(Http2Headers h) {
    h.remove(HttpHeaderNames.CONNECTION);
    h.remove(HttpHeaderNames.KEEP_ALIVE);
    h.remove(HttpHeaderNames.PROXY_CONNECTION);
    h.remove(HttpHeaderNames.TRANSFER_ENCODING);
    h.remove(HttpHeaderNames.UPGRADE);
    return h;
  }
}
