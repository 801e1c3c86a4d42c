package io.legate.http.codec;

import io.legate.http.HttpHeaderNames;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;

/**
 * Header rules shared by the codecs: hop-by-hop headers, connection headers in HTTP/2 blocks, and
 * which names and values can be carried at all.
 */
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

  /** Token characters (RFC 9110 §5.6.2), by octet. */
  private static final boolean[] TOKEN = new boolean[256];

  static {
    for (char c = '0'; c <= '9'; c++) {
      TOKEN[c] = true;
    }
    for (char c = 'a'; c <= 'z'; c++) {
      TOKEN[c] = true;
      TOKEN[c - 32] = true;
    }
    for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
      TOKEN[c] = true;
    }
  }

  /** Whether octet {@code b} (0..255) is a token character (RFC 9110 §5.6.2). */
  public static boolean isTokenChar(int b) {
    return TOKEN[b];
  }

  /**
   * Whether octet {@code b} (0..255) may not appear in a field value: a control character other than
   * HTAB (CR, LF and NUL among them), or DEL (RFC 9110 §5.5).
   */
  public static boolean isCtl(int b) {
    return (b < 0x20 && b != '\t') || b == 0x7f;
  }

  /** Whether {@code name: value} can be written as a header at all (both checks below). */
  public static boolean isValidHeader(CharSequence name, CharSequence value) {
    return isValidHeaderName(name) && isValidHeaderValue(value);
  }

  /**
   * Returns whether {@code name} can be written as a header name (Envoy's {@code
   * HeaderUtility::headerNameIsValid}): a non-empty token (RFC 9110 §5.6.2), or {@code :} and a token
   * for a pseudo-header.
   */
  public static boolean isValidHeaderName(CharSequence name) {
    int n = name.length();
    int from = n > 0 && name.charAt(0) == ':' ? 1 : 0;
    if (n == from) {
      return false;
    }
    if (name instanceof AsciiString a) {
      byte[] b = a.array();
      for (int i = a.arrayOffset() + from, end = a.arrayOffset() + n; i < end; i++) {
        if (!TOKEN[b[i] & 0xff]) {
          return false;
        }
      }
      return true;
    }
    for (int i = from; i < n; i++) {
      char c = name.charAt(i);
      if (c > 0xff || !TOKEN[c]) {
        return false;
      }
    }
    return true;
  }

  /**
   * Returns whether {@code value} can be written as a header value: octets only (a char above 0xff
   * would be cut to its low byte on the wire, and 0x10a becomes LF), and no control character but
   * HTAB (nghttp2's rule, which Envoy's HTTP/2 codec applied; NUL, CR and LF would end the field or
   * the header section on HTTP/1.1 and are forbidden in HTTP/2, RFC 9113 §8.2.1).
   */
  public static boolean isValidHeaderValue(CharSequence value) {
    if (value instanceof AsciiString a) {
      byte[] b = a.array();
      for (int i = a.arrayOffset(), end = i + a.length(); i < end; i++) {
        if (isCtl(b[i] & 0xff)) {
          return false;
        }
      }
      return true;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c > 0xff || isCtl(c)) {
        return false;
      }
    }
    return true;
  }
}
