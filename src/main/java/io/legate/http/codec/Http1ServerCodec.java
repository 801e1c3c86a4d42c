package io.legate.http.codec;

import io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions.HeadersWithUnderscoresAction;
import io.legate.http.HcmConfig;
import io.legate.http.HttpHeaderNames;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;

/**
 * The downstream HTTP/1.1 request decoder. It parses the request line and header section straight
 * into the proxy's header map: the section is copied once into a byte array, names are lowercased
 * in place, and every name and value is an {@link AsciiString} view of that array (no String or
 * intermediate header map per request). The body follows as slices of the received buffers, framed
 * by content-length or chunked (with trailers).
 *
 * <p>It makes the checks Envoy's codec makes, with Envoy's statuses: request line or header section
 * too large (431), too many headers (431), obsolete line folding, invalid characters in names,
 * values, method or target, an HTTP version other than 1.0 and 1.1, both Content-Length and
 * Transfer-Encoding, several or invalid Content-Length values (400), a transfer coding other than
 * a final {@code chunked} (501), HTTP/1.0 when {@code accept_http_10} is off (426), a missing Host
 * (400, or {@code default_host_for_http_10}), headers with underscores (as configured).
 *
 * <p>Emits {@link Request} (the header map and what the handler needs to know about framing and
 * the connection), {@link Body} (content, the last one with any trailers) and {@link BodyError}.
 * After an upgrade or CONNECT request it parses nothing more: the bytes wait in the cumulation
 * until the codec leaves the pipeline ({@link #switchToTunnel}) and they go on, raw, to the next
 * handler. After an error everything is discarded.
 */
final class Http1ServerCodec extends ByteToMessageDecoder {
  /** A decoded request head, or (when {@link #error} is set) one that must be refused. */
  static final class Request {
    /** 0, or the status the request is refused with. */
    int error;
    /** Whether the refusal is for size (counted as {@code downstream_rq_too_large}). */
    boolean tooLarge;
    Http2Headers headers;
    boolean http10;
    boolean keepAlive;
    boolean head;
    boolean bodyless;
    boolean expectContinue;
    /** "connect" for CONNECT, else the Upgrade value lowercased, for a request leaving HTTP; else null. */
    String upgradeType;
    /** The Upgrade header's value as the client sent it (null for CONNECT). */
    String upgradeValue;

    static Request error(int status, boolean tooLarge) {
      Request r = new Request();
      r.error = status;
      r.tooLarge = tooLarge;
      return r;
    }
  }

  /** Request content; the last one of a request carries its trailers, if any. */
  static final class Body extends DefaultByteBufHolder {
    final boolean last;
    final Http2Headers trailers;

    Body(ByteBuf data, boolean last, Http2Headers trailers) {
      super(data);
      this.last = last;
      this.trailers = trailers;
    }
  }

  /** The body of the request in progress is malformed (chunk framing, trailers): 400. */
  static final class BodyError {
    static final BodyError INSTANCE = new BodyError();

    private BodyError() {}
  }

  private static final AsciiString HTTP = AsciiString.cached("http");
  private static final AsciiString HTTPS = AsciiString.cached("https");
  private static final AsciiString TRAILERS = AsciiString.cached("trailers");
  private static final AsciiString SLASH = AsciiString.cached("/");
  private static final AsciiString UPGRADE_TOKEN = AsciiString.cached("upgrade");
  private static final AsciiString[] METHODS = {
    AsciiString.cached("GET"), AsciiString.cached("HEAD"), AsciiString.cached("POST"), AsciiString.cached("PUT"),
    AsciiString.cached("DELETE"), AsciiString.cached("CONNECT"), AsciiString.cached("OPTIONS"),
    AsciiString.cached("TRACE"), AsciiString.cached("PATCH")
  };

  // Kinds of header fields the decoder looks at.
  private static final byte OTHER = 0;
  private static final byte HOST = 1;
  private static final byte CONTENT_LENGTH = 2;
  private static final byte TRANSFER_ENCODING = 3;
  private static final byte CONNECTION = 4;
  private static final byte HOP_BY_HOP = 5; // keep-alive, proxy-connection
  private static final byte UPGRADE = 6;
  private static final byte TE = 7;
  private static final byte EXPECT = 8;

  private static final int ST_START = 0;
  private static final int ST_HEADERS = 1;
  private static final int ST_LENGTH = 2;
  private static final int ST_CHUNK_SIZE = 3;
  private static final int ST_CHUNK_DATA = 4;
  private static final int ST_CHUNK_END = 5;
  private static final int ST_TRAILERS = 6;
  private static final int ST_UPGRADED = 7;
  private static final int ST_DISCARD = 8;

  private final boolean tls;
  private final int maxLine;
  private final int maxHeader;
  private final int maxHeadersCount;
  private final boolean acceptHttp10;
  private final String defaultHostForHttp10;
  private final HeadersWithUnderscoresAction underscoresAction;
  private int state = ST_START;

  // Header-section scan, relative to the reader index (nothing is consumed while scanning).
  private int scanned;
  private int lineStart;
  private int startLineEnd = -1;

  /** Remaining bytes of the content-length body or of the chunk in progress. */
  private long remaining;

  // Header fields of the section being parsed: name start/length, value start/length (reused).
  private int[] fields = new int[4 * 32];
  private byte[] kinds = new byte[32];
  private int fieldCount;

  Http1ServerCodec(HcmConfig config, boolean tls) {
    this(
        config.maxRequestHeadersBytes,
        config.maxHeadersCount,
        config.acceptHttp10,
        config.defaultHostForHttp10,
        config.headersWithUnderscoresAction,
        tls);
  }

  /** A codec with the HTTP connection manager's limits and HTTP/1 options. */
  Http1ServerCodec(
      int maxRequestHeadersBytes,
      int maxHeadersCount,
      boolean acceptHttp10,
      String defaultHostForHttp10,
      HeadersWithUnderscoresAction underscoresAction,
      boolean tls) {
    this.tls = tls;
    this.maxLine = Math.max(4096, maxRequestHeadersBytes);
    this.maxHeader = maxRequestHeadersBytes;
    this.maxHeadersCount = maxHeadersCount;
    this.acceptHttp10 = acceptHttp10;
    this.defaultHostForHttp10 = defaultHostForHttp10;
    this.underscoresAction = underscoresAction;
  }

  /**
   * Leaves HTTP: removes this codec from the pipeline after the response that switched protocols
   * was written. Bytes the decoder held go on, raw, to the next handler.
   */
  void switchToTunnel(io.netty.channel.ChannelPipeline pipeline) {
    pipeline.remove(this);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    switch (state) {
      case ST_START -> {
        // Empty lines before a request line are ignored (RFC 9112 §2.2).
        while (in.isReadable()) {
          byte b = in.getByte(in.readerIndex());
          if (b != '\r' && b != '\n') {
            state = ST_HEADERS;
            scanned = 0;
            lineStart = 0;
            startLineEnd = -1;
            decodeHead(in, out);
            return;
          }
          in.skipBytes(1);
        }
      }
      case ST_HEADERS -> decodeHead(in, out);
      case ST_LENGTH -> {
        int n = (int) Math.min(remaining, in.readableBytes());
        if (n == 0) {
          return;
        }
        remaining -= n;
        boolean last = remaining == 0;
        out.add(new Body(in.readRetainedSlice(n), last, null));
        if (last) {
          state = ST_START;
        }
      }
      case ST_CHUNK_SIZE -> decodeChunkSize(in, out);
      case ST_CHUNK_DATA -> {
        int n = (int) Math.min(remaining, in.readableBytes());
        if (n == 0) {
          return;
        }
        remaining -= n;
        out.add(new Body(in.readRetainedSlice(n), false, null));
        if (remaining == 0) {
          state = ST_CHUNK_END;
        }
      }
      case ST_CHUNK_END -> {
        // CRLF after a chunk's data (a bare LF is tolerated).
        if (!in.isReadable()) {
          return;
        }
        byte b = in.getByte(in.readerIndex());
        if (b == '\n') {
          in.skipBytes(1);
          state = ST_CHUNK_SIZE;
        } else if (b != '\r') {
          bodyError(in, out);
        } else if (in.readableBytes() >= 2) {
          if (in.getByte(in.readerIndex() + 1) != '\n') {
            bodyError(in, out);
          } else {
            in.skipBytes(2);
            state = ST_CHUNK_SIZE;
          }
        }
      }
      case ST_TRAILERS -> decodeTrailers(in, out);
      case ST_UPGRADED -> {
        // Held until the codec leaves the pipeline (tunnel) or the connection closes.
      }
      default -> in.skipBytes(in.readableBytes());
    }
  }

  private void bodyError(ByteBuf in, List<Object> out) {
    state = ST_DISCARD;
    in.skipBytes(in.readableBytes());
    out.add(BodyError.INSTANCE);
  }

  private void refuse(ByteBuf in, List<Object> out, int status, boolean tooLarge) {
    state = ST_DISCARD;
    in.skipBytes(in.readableBytes());
    out.add(Request.error(status, tooLarge));
  }

  /**
   * Scans for the end of a header section from where the last call stopped; returns the offset
   * just after its empty line (relative to the reader index), or -1. With {@code startLine}, the
   * first line is a request line and cannot end the section.
   */
  private int scanSection(ByteBuf in, boolean startLine) {
    int base = in.readerIndex();
    int readable = in.readableBytes();
    while (scanned < readable) {
      int lf = in.indexOf(base + scanned, base + readable, (byte) '\n');
      if (lf < 0) {
        scanned = readable;
        return -1;
      }
      int p = lf - base;
      scanned = p + 1;
      if (startLine && startLineEnd < 0) {
        startLineEnd = p + 1;
        lineStart = p + 1;
        if (startLineEnd > maxLine) {
          return -1; // the caller refuses it
        }
        continue;
      }
      int len = p - lineStart;
      if (len == 0 || (len == 1 && in.getByte(lf - 1) == '\r')) {
        return p + 1;
      }
      lineStart = p + 1;
    }
    return -1;
  }

  private void decodeHead(ByteBuf in, List<Object> out) {
    int end = scanSection(in, true);
    if (end < 0) {
      if (startLineEnd < 0 ? in.readableBytes() > maxLine : startLineEnd > maxLine || in.readableBytes() - startLineEnd > maxHeader) {
        refuse(in, out, 431, true);
      }
      return;
    }
    if (startLineEnd > maxLine || end - startLineEnd > maxHeader) {
      refuse(in, out, 431, true);
      return;
    }
    byte[] a = new byte[end];
    in.readBytes(a);
    Request r = parseHead(a, startLineEnd, end);
    if (r.error != 0) {
      state = ST_DISCARD;
      in.skipBytes(in.readableBytes());
      out.add(r);
      return;
    }
    out.add(r);
    if (r.upgradeType != null) {
      state = ST_UPGRADED;
    } else if (r.bodyless) {
      state = ST_START;
    } else if (remaining >= 0) {
      state = ST_LENGTH;
    } else {
      state = ST_CHUNK_SIZE;
    }
  }

  private static int lineEnd(byte[] a, int from, int lf) {
    return lf > from && a[lf - 1] == '\r' ? lf - 1 : lf;
  }

  private static int indexOf(byte[] a, int from, int to, byte b) {
    for (int i = from; i < to; i++) {
      if (a[i] == b) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Parses the header fields of {@code a[from, to)} (lines ending in LF or CRLF, the last one
   * empty) into {@link #fields}; lowercases the names in place. Returns 0 or 400.
   */
  private int parseFields(byte[] a, int from, int to) {
    fieldCount = 0;
    int ls = from;
    while (ls < to) {
      int lf = indexOf(a, ls, to, (byte) '\n');
      int le = lineEnd(a, ls, lf);
      if (le == ls) {
        return 0; // the empty line ending the section
      }
      byte first = a[ls];
      if (first == ' ' || first == '\t') {
        return 400; // obsolete line folding (RFC 9112 §5.2): refused, never joined
      }
      int c = ls;
      while (c < le && a[c] != ':') {
        int b = a[c] & 0xff;
        if (!HeaderUtil.isTokenChar(b)) {
          return 400;
        }
        if (b >= 'A' && b <= 'Z') {
          a[c] = (byte) (b + 32);
        }
        c++;
      }
      if (c == le || c == ls) {
        return 400;
      }
      int vs = c + 1;
      while (vs < le && (a[vs] == ' ' || a[vs] == '\t')) {
        vs++;
      }
      int ve = le;
      while (ve > vs && (a[ve - 1] == ' ' || a[ve - 1] == '\t')) {
        ve--;
      }
      for (int i = vs; i < ve; i++) {
        if (HeaderUtil.isCtl(a[i] & 0xff)) {
          return 400; // CR, LF, NUL and other controls (RFC 9110 §5.5)
        }
      }
      int i = fieldCount;
      if (4 * i + 4 > fields.length) {
        fields = java.util.Arrays.copyOf(fields, fields.length * 2);
        kinds = java.util.Arrays.copyOf(kinds, kinds.length * 2);
      }
      fields[4 * i] = ls;
      fields[4 * i + 1] = c - ls;
      fields[4 * i + 2] = vs;
      fields[4 * i + 3] = ve - vs;
      kinds[i] = kind(a, ls, c - ls);
      fieldCount++;
      ls = lf + 1;
    }
    return 0;
  }

  private static boolean eq(byte[] a, int off, int len, AsciiString lower) {
    if (len != lower.length()) {
      return false;
    }
    byte[] b = lower.array();
    int bo = lower.arrayOffset();
    for (int i = 0; i < len; i++) {
      if (a[off + i] != b[bo + i]) {
        return false;
      }
    }
    return true;
  }

  private static boolean eqIgnoreCase(byte[] a, int off, int len, AsciiString lower) {
    if (len != lower.length()) {
      return false;
    }
    byte[] b = lower.array();
    int bo = lower.arrayOffset();
    for (int i = 0; i < len; i++) {
      int x = a[off + i];
      if (x >= 'A' && x <= 'Z') {
        x += 32;
      }
      if (x != b[bo + i]) {
        return false;
      }
    }
    return true;
  }

  private static byte kind(byte[] a, int off, int len) {
    return switch (len) {
      case 2 -> eq(a, off, len, HttpHeaderNames.TE) ? TE : OTHER;
      case 4 -> eq(a, off, len, HttpHeaderNames.HOST) ? HOST : OTHER;
      case 6 -> eq(a, off, len, HttpHeaderNames.EXPECT) ? EXPECT : OTHER;
      case 7 -> eq(a, off, len, HttpHeaderNames.UPGRADE) ? UPGRADE : OTHER;
      case 10 -> eq(a, off, len, HttpHeaderNames.CONNECTION)
          ? CONNECTION
          : eq(a, off, len, HttpHeaderNames.KEEP_ALIVE) ? HOP_BY_HOP : OTHER;
      case 14 -> eq(a, off, len, HttpHeaderNames.CONTENT_LENGTH) ? CONTENT_LENGTH : OTHER;
      case 16 -> eq(a, off, len, HttpHeaderNames.PROXY_CONNECTION) ? HOP_BY_HOP : OTHER;
      case 17 -> eq(a, off, len, HttpHeaderNames.TRANSFER_ENCODING) ? TRANSFER_ENCODING : OTHER;
      default -> OTHER;
    };
  }

  private static AsciiString view(byte[] a, int off, int len) {
    return len == 0 ? AsciiString.EMPTY_STRING : new AsciiString(a, off, len, false);
  }

  private static AsciiString method(byte[] a, int len) {
    for (AsciiString m : METHODS) {
      if (eq(a, 0, len, m)) {
        return m;
      }
    }
    return view(a, 0, len);
  }

  /** Whether a comma-separated list value has {@code token} (case-insensitive). */
  private static boolean hasToken(byte[] a, int off, int len, AsciiString token) {
    int end = off + len;
    int s = off;
    while (s <= end) {
      int comma = indexOf(a, s, end, (byte) ',');
      int e = comma < 0 ? end : comma;
      int ts = s;
      int te = e;
      while (ts < te && (a[ts] == ' ' || a[ts] == '\t')) ts++;
      while (te > ts && (a[te - 1] == ' ' || a[te - 1] == '\t')) te--;
      if (eqIgnoreCase(a, ts, te - ts, token)) {
        return true;
      }
      if (comma < 0) {
        break;
      }
      s = comma + 1;
    }
    return false;
  }

  private static final AsciiString CLOSE = AsciiString.cached("close");
  private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
  private static final AsciiString CHUNKED = AsciiString.cached("chunked");
  private static final AsciiString H2C = AsciiString.cached("h2c");
  private static final AsciiString CONTINUE = AsciiString.cached("100-continue");

  /** Parses a request head {@code a[0, end)} whose request line ends at {@code lineEnd}. */
  private Request parseHead(byte[] a, int lineEnd, int end) {
    // Request line: method SP request-target SP HTTP-version.
    int rl = lineEnd(a, 0, lineEnd - 1);
    int sp1 = indexOf(a, 0, rl, (byte) ' ');
    if (sp1 <= 0) {
      return Request.error(400, false);
    }
    for (int i = 0; i < sp1; i++) {
      if (!HeaderUtil.isTokenChar(a[i] & 0xff)) {
        return Request.error(400, false);
      }
    }
    int sp2 = indexOf(a, sp1 + 1, rl, (byte) ' ');
    if (sp2 < 0 || sp2 == sp1 + 1) {
      return Request.error(400, false);
    }
    for (int i = sp1 + 1; i < sp2; i++) {
      int b = a[i] & 0xff;
      if (b <= 0x20 || b == 0x7f) {
        return Request.error(400, false);
      }
    }
    boolean http10;
    if (rl - sp2 - 1 != 8 || a[sp2 + 1] != 'H' || a[sp2 + 2] != 'T' || a[sp2 + 3] != 'T' || a[sp2 + 4] != 'P'
        || a[sp2 + 5] != '/' || a[sp2 + 6] != '1' || a[sp2 + 7] != '.' || (a[sp2 + 8] != '1' && a[sp2 + 8] != '0')) {
      // Envoy's codec speaks HTTP/1.0 and HTTP/1.1 only.
      return Request.error(400, false);
    }
    http10 = a[sp2 + 8] == '0';
    if (parseFields(a, lineEnd, end) != 0) {
      return Request.error(400, false);
    }
    if (http10 && !acceptHttp10) {
      return Request.error(426, false);
    }
    int n = fieldCount;
    if (n > maxHeadersCount) {
      return Request.error(431, false);
    }
    HeadersWithUnderscoresAction underscores = underscoresAction;
    boolean dropUnderscores = false;
    if (underscores != HeadersWithUnderscoresAction.ALLOW) {
      for (int i = 0; i < n; i++) {
        if (indexOf(a, fields[4 * i], fields[4 * i] + fields[4 * i + 1], (byte) '_') >= 0) {
          if (underscores == HeadersWithUnderscoresAction.REJECT_REQUEST) {
            return Request.error(400, false);
          }
          kinds[i] = -1; // dropped
          dropUnderscores = true;
        }
      }
    }
    // Framing and connection headers.
    int host = -1;
    int upgrade = -1;
    long contentLength = -1;
    boolean sawLength = false;
    boolean sawCoding = false;
    boolean chunked = false;
    boolean close = false;
    boolean keepAliveToken = false;
    boolean upgradeToken = false;
    boolean expectContinue = false;
    List<AsciiString> nominated = null;
    for (int i = 0; i < n; i++) {
      int vs = fields[4 * i + 2];
      int vl = fields[4 * i + 3];
      switch (kinds[i]) {
        case HOST -> {
          if (host < 0) {
            host = i;
          }
        }
        case CONTENT_LENGTH -> {
          if (sawLength || vl == 0 || vl > 18) {
            return Request.error(400, false); // several, empty, a list, or too long
          }
          sawLength = true;
          long v = 0;
          for (int j = vs; j < vs + vl; j++) {
            int d = a[j] - '0';
            if (d < 0 || d > 9) {
              return Request.error(400, false);
            }
            v = v * 10 + d;
          }
          contentLength = v;
        }
        case TRANSFER_ENCODING -> {
          // The codings of every Transfer-Encoding line, in order: only a final chunked is known.
          int e = vs + vl;
          int s = vs;
          while (s <= e) {
            int comma = indexOf(a, s, e, (byte) ',');
            int te = comma < 0 ? e : comma;
            int ts = s;
            while (ts < te && (a[ts] == ' ' || a[ts] == '\t')) ts++;
            while (te > ts && (a[te - 1] == ' ' || a[te - 1] == '\t')) te--;
            if (te > ts) {
              if (chunked) {
                return Request.error(501, false); // chunked must be the last coding
              }
              sawCoding = true;
              if (eqIgnoreCase(a, ts, te - ts, CHUNKED)) {
                chunked = true;
              }
            }
            if (comma < 0) {
              break;
            }
            s = comma + 1;
          }
        }
        case CONNECTION -> {
          int e = vs + vl;
          int s = vs;
          while (s <= e) {
            int comma = indexOf(a, s, e, (byte) ',');
            int te = comma < 0 ? e : comma;
            int ts = s;
            while (ts < te && (a[ts] == ' ' || a[ts] == '\t')) ts++;
            while (te > ts && (a[te - 1] == ' ' || a[te - 1] == '\t')) te--;
            if (eqIgnoreCase(a, ts, te - ts, CLOSE)) {
              close = true;
            } else if (eqIgnoreCase(a, ts, te - ts, KEEP_ALIVE)) {
              keepAliveToken = true;
            } else if (te > ts) {
              if (eqIgnoreCase(a, ts, te - ts, UPGRADE_TOKEN)) {
                upgradeToken = true;
              }
              if (nominated == null) {
                nominated = new ArrayList<>(2);
              }
              nominated.add(new AsciiString(a, ts, te - ts, true).toLowerCase());
            }
            if (comma < 0) {
              break;
            }
            s = comma + 1;
          }
        }
        case UPGRADE -> {
          if (upgrade < 0) {
            upgrade = i;
          }
        }
        case EXPECT -> {
          if (!http10 && eqIgnoreCase(a, vs, vl, CONTINUE)) {
            expectContinue = true;
          }
        }
        default -> {}
      }
    }
    if (sawCoding && sawLength) {
      return Request.error(400, false);
    }
    if (sawCoding && !chunked) {
      return Request.error(501, false); // the final transfer coding must be chunked
    }
    Request r = new Request();
    r.http10 = http10;
    r.keepAlive = !close && (!http10 || keepAliveToken);
    AsciiString method = method(a, sp1);
    r.head = method == METHODS[1];
    AsciiString uri = view(a, sp1 + 1, sp2 - sp1 - 1);
    AsciiString path = uri;
    AsciiString authority = host >= 0 ? view(a, fields[4 * host + 2], fields[4 * host + 3]) : null;
    if (uri.byteAt(0) != '/' && !(uri.length() == 1 && uri.byteAt(0) == '*')) {
      // absolute-form: http://host:port/path
      int scheme = uri.indexOf("://", 0);
      if (scheme > 0) {
        int pathStart = uri.indexOf('/', scheme + 3);
        authority = pathStart < 0 ? uri.subSequence(scheme + 3, uri.length(), false) : uri.subSequence(scheme + 3, pathStart, false);
        path = pathStart < 0 ? SLASH : uri.subSequence(pathStart, uri.length(), false);
      }
    }
    if (authority == null || authority.isEmpty()) {
      if (http10 && !defaultHostForHttp10.isEmpty()) {
        authority = new AsciiString(defaultHostForHttp10);
      } else if (!http10 || !acceptHttp10) {
        return Request.error(400, false);
      }
    }
    remaining = chunked ? -1 : Math.max(contentLength, 0);
    r.bodyless = !chunked && contentLength <= 0;
    r.expectContinue = expectContinue;
    // A request leaving HTTP/1.1: CONNECT, or Connection: upgrade with an Upgrade other than h2c
    // (ignored, as Envoy), on an HTTP/1.1 request without a body.
    boolean isConnect = method == METHODS[5];
    if (!http10 && r.bodyless) {
      if (isConnect) {
        r.upgradeType = "connect";
      } else if (upgrade >= 0 && upgradeToken) {
        AsciiString up = view(a, fields[4 * upgrade + 2], fields[4 * upgrade + 3]);
        if (!up.isEmpty() && !up.contentEqualsIgnoreCase(H2C)) {
          r.upgradeValue = up.toString();
          r.upgradeType = r.upgradeValue.toLowerCase(java.util.Locale.ROOT);
        }
      }
    }
    Http2Headers h = new DefaultHttp2Headers(false, n + 4);
    h.method(method);
    if (r.upgradeType != null && r.upgradeValue == null) {
      // CONNECT: the authority-form request target is the :authority, and there is no :path.
      h.scheme(tls ? HTTPS : HTTP);
      h.authority(uri);
    } else {
      h.path(path);
      h.scheme(tls ? HTTPS : HTTP);
      if (authority != null) {
        h.authority(authority);
      }
    }
    for (int i = 0; i < n; i++) {
      byte k = kinds[i];
      if (k == OTHER || k == CONTENT_LENGTH) {
        h.add(view(a, fields[4 * i], fields[4 * i + 1]), view(a, fields[4 * i + 2], fields[4 * i + 3]));
      } else if (k == TE) {
        // te survives only as "trailers" (as Envoy).
        if (eqIgnoreCase(a, fields[4 * i + 2], fields[4 * i + 3], TRAILERS)) {
          h.add(HttpHeaderNames.TE, TRAILERS);
        }
      } else if (k == EXPECT && !expectContinue) {
        h.add(HttpHeaderNames.EXPECT, view(a, fields[4 * i + 2], fields[4 * i + 3]));
      }
      // host is :authority; hop-by-hop headers, a 100-continue expectation (answered here or by
      // the proxy) and dropped underscore names are not forwarded.
    }
    if (nominated != null) {
      // Headers named by Connection are hop-by-hop too.
      for (AsciiString name : nominated) {
        if (name.length() > 0 && name.byteAt(0) != ':') {
          h.remove(name);
        }
      }
    }
    if (r.upgradeValue != null) {
      h.set(HttpHeaderNames.UPGRADE, new AsciiString(r.upgradeValue));
      h.set(HttpHeaderNames.CONNECTION, UPGRADE_TOKEN);
    }
    r.headers = h;
    return r;
  }

  private void decodeChunkSize(ByteBuf in, List<Object> out) {
    int base = in.readerIndex();
    int lf = in.indexOf(base, base + Math.min(in.readableBytes(), 4096), (byte) '\n');
    if (lf < 0) {
      if (in.readableBytes() >= 4096) {
        bodyError(in, out);
      }
      return;
    }
    // chunk-size [ chunk-ext ] CRLF
    long size = 0;
    int digits = 0;
    int i = base;
    for (; i < lf; i++) {
      int b = in.getByte(i);
      int d = b >= '0' && b <= '9' ? b - '0' : b >= 'a' && b <= 'f' ? b - 'a' + 10 : b >= 'A' && b <= 'F' ? b - 'A' + 10 : -1;
      if (d < 0) {
        break;
      }
      if (++digits > 15) {
        bodyError(in, out); // larger than any body this proxy would take
        return;
      }
      size = size << 4 | d;
    }
    if (digits == 0) {
      bodyError(in, out);
      return;
    }
    // What follows the size: optional whitespace and extensions (ignored), then CR? LF.
    for (int j = i; j < lf; j++) {
      int b = in.getByte(j);
      if (b == ';') {
        break;
      }
      if (b == '\r' && j == lf - 1) {
        break;
      }
      if (b != ' ' && b != '\t') {
        bodyError(in, out);
        return;
      }
    }
    for (int j = i; j < lf - 1; j++) {
      if (HeaderUtil.isCtl(in.getByte(j) & 0xff)) {
        bodyError(in, out);
        return;
      }
    }
    in.readerIndex(lf + 1);
    if (size == 0) {
      state = ST_TRAILERS;
      scanned = 0;
      lineStart = 0;
      return;
    }
    remaining = size;
    state = ST_CHUNK_DATA;
  }

  private void decodeTrailers(ByteBuf in, List<Object> out) {
    int end = scanSection(in, false);
    if (end < 0) {
      if (in.readableBytes() > maxHeader) {
        bodyError(in, out);
      }
      return;
    }
    if (end > maxHeader + 2) {
      bodyError(in, out);
      return;
    }
    Http2Headers trailers = null;
    if (end > 2 || (end == 2 && in.getByte(in.readerIndex()) != '\r')) {
      byte[] a = new byte[end];
      in.readBytes(a);
      if (parseFields(a, 0, end) != 0) {
        bodyError(in, out);
        return;
      }
      trailers = new DefaultHttp2Headers(false, fieldCount);
      for (int i = 0; i < fieldCount; i++) {
        trailers.add(view(a, fields[4 * i], fields[4 * i + 1]), view(a, fields[4 * i + 2], fields[4 * i + 3]));
      }
      if (trailers.isEmpty()) {
        trailers = null;
      }
    } else {
      in.skipBytes(end);
    }
    state = ST_START;
    out.add(new Body(Unpooled.EMPTY_BUFFER, true, trailers));
  }
}
