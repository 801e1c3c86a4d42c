package io.legate.http.filters.compressor;

import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.Locale;
import java.util.Set;

/** Header helpers shared by the compressor and decompressor filters. */
public final class HeaderValues {
  public static final AsciiString ACCEPT_ENCODING = AsciiString.cached("accept-encoding");
  public static final AsciiString CONTENT_ENCODING = AsciiString.cached("content-encoding");
  public static final AsciiString CONTENT_LENGTH = AsciiString.cached("content-length");
  public static final AsciiString CONTENT_TYPE = AsciiString.cached("content-type");
  public static final AsciiString CACHE_CONTROL = AsciiString.cached("cache-control");
  public static final AsciiString TRANSFER_ENCODING = AsciiString.cached("transfer-encoding");
  public static final AsciiString ETAG = AsciiString.cached("etag");
  public static final AsciiString VARY = AsciiString.cached("vary");
  public static final AsciiString UPGRADE = AsciiString.cached("upgrade");

  private static final Set<String> COMPRESSION_CODINGS = Set.of("gzip", "deflate", "compress", "br", "zstd");

  private HeaderValues() {}

  /** Returns whether the comma-separated {@code value} holds {@code token} (case-insensitive). */
  public static boolean hasToken(CharSequence value, String token) {
    if (value == null) {
      return false;
    }
    for (String t : value.toString().split(",")) {
      if (t.trim().equalsIgnoreCase(token)) {
        return true;
      }
    }
    return false;
  }

  /** Returns whether any {@code name} header holds {@code token} in its comma-separated values. */
  public static boolean anyHasToken(Http2Headers h, AsciiString name, String token) {
    for (CharSequence v : h.getAll(name)) {
      if (hasToken(v, token)) {
        return true;
      }
    }
    return false;
  }

  /** Envoy's {@code Cache-Control: no-transform} check. */
  public static boolean noTransform(Http2Headers h) {
    return anyHasToken(h, CACHE_CONTROL, "no-transform");
  }

  /** Returns false when a transfer-encoding already compresses (Envoy's {@code isTransferEncodingAllowed}). */
  public static boolean transferEncodingAllowed(Http2Headers h, String ownEncoding) {
    for (CharSequence v : h.getAll(TRANSFER_ENCODING)) {
      for (String t : v.toString().split(",")) {
        String c = t.trim().toLowerCase(Locale.ROOT);
        if (c.equals(ownEncoding) || COMPRESSION_CODINGS.contains(c)) {
          return false;
        }
      }
    }
    return true;
  }

  /** Returns the media type of {@code content-type} without parameters, lower-cased, or null. */
  public static String mediaType(Http2Headers h) {
    CharSequence ct = h.get(CONTENT_TYPE);
    if (ct == null || ct.length() == 0) {
      return null;
    }
    String s = ct.toString();
    int semi = s.indexOf(';');
    return (semi < 0 ? s : s.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
  }
}
