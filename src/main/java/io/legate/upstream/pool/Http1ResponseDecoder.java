package io.legate.upstream.pool;

import io.legate.http.HttpHeaderNames;
import io.legate.http.codec.HeaderUtil;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses HTTP/1.x responses straight into the proxy's header map, for the upstream HTTP/1.1 pool.
 *
 * <p>Emits, per response: one {@link Head} (after skipping 1xx interim responses other than 101),
 * then for a body any number of {@link ByteBuf}s (retained slices the receiver owns) and one {@link
 * Last} (whose {@code data} the receiver owns). A head with {@link Head#endStream} has no body and
 * no {@link Last}. After a 101, or a 2xx to CONNECT, the bytes that follow are passed on raw as
 * {@link ByteBuf}s. A malformed response emits {@link #FAILURE} once, after which input is dropped.
 *
 * <p>Header names are lowercased; values are {@link AsciiString} views over one byte array copied
 * per header section. Hop-by-hop headers, the headers named by {@code connection}, and {@code host}
 * are dropped; {@code te} survives only as "trailers"; with {@code transfer-encoding} any {@code
 * content-length} is dropped.
 */
final class Http1ResponseDecoder extends ByteToMessageDecoder {
  /** A response's status line and headers. */
  static final class Head {
    final int status;
    final Http2Headers headers;
    final boolean keepAlive;
    final boolean endStream;
    /** The {@code upgrade} header's value (dropped from {@link #headers}), or null. */
    final AsciiString upgrade;

    Head(int status, Http2Headers headers, boolean keepAlive, boolean endStream, AsciiString upgrade) {
      this.status = status;
      this.headers = headers;
      this.keepAlive = keepAlive;
      this.endStream = endStream;
      this.upgrade = upgrade;
    }
  }

  /** The end of a response body: its last data (owned by the receiver) and trailers (or null). */
  static final class Last {
    final ByteBuf data;
    final Http2Headers trailers;

    Last(ByteBuf data, Http2Headers trailers) {
      this.data = data;
      this.trailers = trailers;
    }
  }

  /** Emitted once for a malformed response. */
  static final Object FAILURE = new Object() {
    @Override
    public String toString() {
      return "malformed HTTP/1 response";
    }
  };

  private enum State {
    HEAD,
    FIXED,
    CHUNK_SIZE,
    CHUNK_DATA,
    CHUNK_END,
    TRAILERS,
    UNTIL_CLOSE,
    RAW,
    BAD
  }

  private final int maxInitialLine;
  private final int maxHeaderSize;
  /** The cluster's max_headers_count: more header (or trailer) fields fail the response. */
  private final int maxHeadersCount;
  private State state = State.HEAD;
  private long remaining;
  private boolean headRequest;
  private boolean connectRequest;
  /** How far the search for the end of a header section got, from the reader index; -1: not begun. */
  private int scanned = -1;

  Http1ResponseDecoder(int maxInitialLine, int maxHeaderSize, int maxHeadersCount) {
    this.maxHeadersCount = maxHeadersCount;
    this.maxInitialLine = maxInitialLine;
    this.maxHeaderSize = maxHeaderSize;
  }

  /** Tells the decoder the method of the request whose response comes next. */
  void expectResponse(boolean head, boolean connect) {
    headRequest = head;
    connectRequest = connect;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    while (in.isReadable()) {
      switch (state) {
        case HEAD -> {
          if (!readHead(in, out)) {
            return;
          }
        }
        case FIXED -> {
          int n = (int) Math.min(in.readableBytes(), remaining);
          remaining -= n;
          if (remaining == 0) {
            state = State.HEAD;
            out.add(new Last(in.readRetainedSlice(n), null));
          } else {
            out.add(in.readRetainedSlice(n));
          }
        }
        case UNTIL_CLOSE, RAW -> out.add(in.readRetainedSlice(in.readableBytes()));
        case CHUNK_SIZE -> {
          if (!readChunkSize(in, out)) {
            return;
          }
        }
        case CHUNK_DATA -> {
          int n = (int) Math.min(in.readableBytes(), remaining);
          remaining -= n;
          out.add(in.readRetainedSlice(n));
          if (remaining == 0) {
            state = State.CHUNK_END;
          }
        }
        case CHUNK_END -> {
          int r = in.readerIndex();
          byte b = in.getByte(r);
          if (b == '\n') {
            in.skipBytes(1);
          } else if (b == '\r') {
            if (in.readableBytes() < 2) {
              return;
            }
            if (in.getByte(r + 1) != '\n') {
              fail(in, out);
              return;
            }
            in.skipBytes(2);
          } else {
            fail(in, out);
            return;
          }
          state = State.CHUNK_SIZE;
        }
        case TRAILERS -> {
          if (!readTrailers(in, out)) {
            return;
          }
        }
        case BAD -> {
          in.skipBytes(in.readableBytes());
          return;
        }
        default -> throw new IllegalStateException(state.toString());
      }
    }
  }

  @Override
  protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
    if (in.isReadable()) {
      decode(ctx, in, out);
    }
    if (state == State.UNTIL_CLOSE) {
      // The body ends with the connection; a response cut short in any other state is left
      // unfinished (the receiver sees the connection close).
      state = State.HEAD;
      out.add(new Last(Unpooled.EMPTY_BUFFER, null));
    }
  }

  private void fail(ByteBuf in, List<Object> out) {
    state = State.BAD;
    in.skipBytes(in.readableBytes());
    out.add(FAILURE);
  }

  /**
   * Returns the index just past the blank line ending a header section starting at the reader
   * index, or -1 if it has not all arrived. Lines end with LF, optionally preceded by CR. The search
   * resumes where it stopped ({@link #scanned}, relative to the reader index, which stays put while
   * a section is incomplete).
   */
  private int findSectionEnd(ByteBuf in) {
    int start = in.readerIndex();
    int end = in.writerIndex();
    if (scanned < 0) {
      // An empty section: the blank line comes first.
      byte b = in.getByte(start);
      if (b == '\n') {
        return start + 1;
      }
      if (b == '\r') {
        if (end - start < 2) {
          return -1;
        }
        if (in.getByte(start + 1) == '\n') {
          return start + 2;
        }
      }
      scanned = 0;
    }
    int i = start + scanned;
    while (true) {
      int lf = in.indexOf(i, end, (byte) '\n');
      if (lf < 0) {
        scanned = end - start;
        return -1;
      }
      if (lf + 1 >= end) {
        scanned = lf - start;
        return -1;
      }
      byte next = in.getByte(lf + 1);
      if (next == '\n') {
        scanned = -1;
        return lf + 2;
      }
      if (next == '\r') {
        if (lf + 2 >= end) {
          scanned = lf - start;
          return -1;
        }
        if (in.getByte(lf + 2) == '\n') {
          scanned = -1;
          return lf + 3;
        }
      }
      i = lf + 1;
    }
  }

  private boolean readHead(ByteBuf in, List<Object> out) {
    if (scanned < 0) {
      // Skip stray line ends and whitespace before a status line.
      while (in.isReadable()) {
        byte b = in.getByte(in.readerIndex());
        if (b != '\r' && b != '\n' && b != ' ' && b != '\t') {
          break;
        }
        in.skipBytes(1);
      }
      if (!in.isReadable()) {
        return false;
      }
    }
    int start = in.readerIndex();
    int end = findSectionEnd(in);
    if (end < 0) {
      int firstLf = in.indexOf(start, Math.min(in.writerIndex(), start + maxInitialLine + 1), (byte) '\n');
      if ((firstLf < 0 && in.readableBytes() > maxInitialLine)
          || in.readableBytes() > maxInitialLine + maxHeaderSize + 4) {
        scanned = -1;
        fail(in, out);
        return false;
      }
      return false;
    }
    byte[] bytes = new byte[end - start];
    in.readBytes(bytes);
    if (!parseHead(bytes, out)) {
      fail(in, out);
      return false;
    }
    return true;
  }

  /** Returns the end of the line starting at {@code from} (the LF's index, or {@code limit}). */
  private static int lineEnd(byte[] b, int from, int limit) {
    for (int i = from; i < limit; i++) {
      if (b[i] == '\n') {
        return i;
      }
    }
    return limit;
  }

  /** Returns the length of the line {@code [from, lf)} without a trailing CR. */
  private static int contentEnd(byte[] b, int from, int lf) {
    return lf > from && b[lf - 1] == '\r' ? lf - 1 : lf;
  }

  private boolean parseHead(byte[] b, List<Object> out) {
    int lf = lineEnd(b, 0, b.length);
    int lineEnd = contentEnd(b, 0, lf);
    if (lineEnd > maxInitialLine || b.length - lf > maxHeaderSize + 4) {
      return false;
    }
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (lineEnd < 12 || b[0] != 'H' || b[1] != 'T' || b[2] != 'T' || b[3] != 'P' || b[4] != '/'
        || b[5] != '1' || b[6] != '.' || (b[7] != '0' && b[7] != '1') || b[8] != ' ') {
      return false;
    }
    boolean http11 = b[7] == '1';
    int status = 0;
    for (int i = 9; i < 12; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) {
        return false;
      }
      status = status * 10 + d;
    }
    if (status < 100 || (lineEnd > 12 && b[12] != ' ')) {
      return false;
    }
    for (int i = 12; i < lineEnd; i++) {
      if (HeaderUtil.isCtl(b[i] & 0xff)) {
        return false;
      }
    }
    Http2Headers h = new DefaultHttp2Headers(false, 16);
    boolean isInterim = status < 200 && status != 101;
    if (!isInterim) {
      h.status(HttpResponseStatus.valueOf(status).codeAsText());
    }
    Http2Headers section = isInterim ? null : h;
    Framing f = new Framing();
    if (!parseFields(b, lf + 1, section, f)) {
      return false;
    }
    if (isInterim) {
      // 1xx interim responses are not forwarded (100-continue is answered by the proxy itself).
      state = State.HEAD;
      return true;
    }
    boolean keepAlive = !f.close && (http11 || f.keepAlive);
    if (f.removals != null) {
      for (AsciiString name : f.removals) {
        h.remove(name);
      }
    }
    if (status == 101 || (connectRequest && status >= 200 && status < 300)) {
      state = State.RAW;
      out.add(new Head(status, h, false, false, f.upgrade));
      return true;
    }
    if (headRequest || status == 204 || status == 304) {
      state = State.HEAD;
      out.add(new Head(status, h, keepAlive, true, f.upgrade));
      return true;
    }
    if (f.transferEncoding) {
      h.remove(HttpHeaderNames.CONTENT_LENGTH);
      if (f.chunked) {
        state = State.CHUNK_SIZE;
      } else {
        // A transfer coding other than chunked last: the body runs until close (RFC 9112 §6.3).
        state = State.UNTIL_CLOSE;
        keepAlive = false;
      }
    } else if (f.contentLength >= 0) {
      if (f.contentLength == 0) {
        state = State.HEAD;
        out.add(new Head(status, h, keepAlive, true, f.upgrade));
        return true;
      }
      state = State.FIXED;
      remaining = f.contentLength;
    } else {
      state = State.UNTIL_CLOSE;
      keepAlive = false;
    }
    out.add(new Head(status, h, keepAlive, false, f.upgrade));
    return true;
  }

  /** What a header section says about framing and the connection. */
  private static final class Framing {
    long contentLength = -1;
    boolean transferEncoding;
    boolean chunked;
    boolean close;
    boolean keepAlive;
    AsciiString upgrade;
    List<AsciiString> removals;
  }

  /**
   * Parses header fields from {@code from} to the blank line into {@code h} (null: parse and
   * validate only), lowercasing names in place; framing fields go to {@code f} when not null.
   * False on a malformed field or more than max_headers_count of them.
   */
  private boolean parseFields(byte[] b, int from, Http2Headers h, Framing f) {
    int pos = from;
    int fields = 0;
    while (pos < b.length) {
      int ls = pos;
      int lf = lineEnd(b, pos, b.length);
      int end = contentEnd(b, pos, lf);
      if (end == pos) {
        return true; // the blank line
      }
      int colon = -1;
      for (int i = pos; i < end; i++) {
        byte c = b[i];
        if (c == ':') {
          colon = i;
          break;
        }
        if (!HeaderUtil.isTokenChar(c & 0xff)) {
          return false; // includes obs-fold continuation lines and whitespace before the colon
        }
        if (c >= 'A' && c <= 'Z') {
          b[i] = (byte) (c + 32);
        }
      }
      if (colon <= pos || ++fields > maxHeadersCount) {
        return false;
      }
      int vs = colon + 1;
      int ve = end;
      while (vs < ve && (b[vs] == ' ' || b[vs] == '\t')) {
        vs++;
      }
      while (ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t')) {
        ve--;
      }
      for (int i = vs; i < ve; i++) {
        if (HeaderUtil.isCtl(b[i] & 0xff)) {
          return false;
        }
      }
      pos = lf + 1;
      if (h == null) {
        continue;
      }
      AsciiString name = new AsciiString(b, ls, colon - ls, false);
      AsciiString value = new AsciiString(b, vs, ve - vs, false);
      if (f != null && !field(name, value, h, f)) {
        return false;
      } else if (f == null) {
        h.add(name, value);
      }
    }
    return true;
  }

  /** Adds a response header to {@code h} unless it is about framing or the connection. */
  private static boolean field(AsciiString name, AsciiString value, Http2Headers h, Framing f) {
    switch (name.length()) {
      case 14 -> {
        if (name.contentEquals(HttpHeaderNames.CONTENT_LENGTH)) {
          long n = parseContentLength(value);
          if (n < 0 || (f.contentLength >= 0 && f.contentLength != n)) {
            return false;
          }
          if (f.contentLength < 0) {
            h.add(HttpHeaderNames.CONTENT_LENGTH, value);
          }
          f.contentLength = n;
          return true;
        }
      }
      case 17 -> {
        if (name.contentEquals(HttpHeaderNames.TRANSFER_ENCODING)) {
          f.transferEncoding = true;
          // The final coding decides: chunked only if the last listed coding is chunked.
          int comma = value.lastIndexOf(",");
          AsciiString last = comma < 0 ? value : value.subSequence(comma + 1, value.length(), false).trim();
          f.chunked = last.contentEqualsIgnoreCase("chunked");
          return true;
        }
      }
      case 10 -> {
        if (name.contentEquals(HttpHeaderNames.CONNECTION)) {
          connectionTokens(value, f);
          return true;
        }
        if (name.contentEquals(HttpHeaderNames.KEEP_ALIVE)) {
          return true;
        }
      }
      case 16 -> {
        if (name.contentEquals(HttpHeaderNames.PROXY_CONNECTION)) {
          return true;
        }
      }
      case 7 -> {
        if (name.contentEquals(HttpHeaderNames.UPGRADE)) {
          if (f.upgrade == null) {
            f.upgrade = value;
          }
          return true;
        }
      }
      case 4 -> {
        if (name.contentEquals(HttpHeaderNames.HOST)) {
          return true;
        }
      }
      case 2 -> {
        if (name.contentEquals(HttpHeaderNames.TE)) {
          if (value.contentEqualsIgnoreCase("trailers")) {
            h.add(HttpHeaderNames.TE, "trailers");
          }
          return true;
        }
      }
      default -> {}
    }
    h.add(name, value);
    return true;
  }

  private static void connectionTokens(AsciiString value, Framing f) {
    int i = 0;
    int n = value.length();
    while (i < n) {
      int comma = value.indexOf(',', i);
      int end = comma < 0 ? n : comma;
      AsciiString token = value.subSequence(i, end, false).trim();
      if (token.contentEqualsIgnoreCase("close")) {
        f.close = true;
      } else if (token.contentEqualsIgnoreCase("keep-alive")) {
        f.keepAlive = true;
      } else if (!token.isEmpty()) {
        if (f.removals == null) {
          f.removals = new ArrayList<>(2);
        }
        f.removals.add(token.toLowerCase());
      }
      i = end + 1;
    }
  }

  /** Returns the value as a non-negative decimal (a list of equal values allowed), or -1. */
  private static long parseContentLength(AsciiString value) {
    long result = -1;
    int i = 0;
    int n = value.length();
    while (i <= n) {
      int comma = value.indexOf(',', i);
      int end = comma < 0 ? n : comma;
      AsciiString part = value.subSequence(i, end, false).trim();
      if (part.isEmpty() || part.length() > 18) {
        return -1;
      }
      long v = 0;
      for (int k = 0; k < part.length(); k++) {
        int d = part.byteAt(k) - '0';
        if (d < 0 || d > 9) {
          return -1;
        }
        v = v * 10 + d;
      }
      if (result >= 0 && result != v) {
        return -1;
      }
      result = v;
      if (comma < 0) {
        break;
      }
      i = end + 1;
    }
    return result;
  }

  private boolean readChunkSize(ByteBuf in, List<Object> out) {
    int start = in.readerIndex();
    int lf = in.indexOf(start, in.writerIndex(), (byte) '\n');
    if (lf < 0) {
      if (in.readableBytes() > maxInitialLine) {
        fail(in, out);
      }
      return false;
    }
    long size = 0;
    int digits = 0;
    int i = start;
    for (; i < lf; i++) {
      byte c = in.getByte(i);
      int d = Character.digit(c, 16);
      if (d < 0) {
        break;
      }
      if (++digits > 15) {
        fail(in, out);
        return false;
      }
      size = size * 16 + d;
    }
    // What may follow the digits: whitespace, chunk extensions, CR.
    if (digits == 0) {
      fail(in, out);
      return false;
    }
    for (; i < lf; i++) {
      byte c = in.getByte(i);
      if (c == ';') {
        break;
      }
      if (c == '\r' && i == lf - 1) {
        break;
      }
      if (c != ' ' && c != '\t') {
        fail(in, out);
        return false;
      }
    }
    for (; i < lf; i++) {
      byte c = in.getByte(i);
      if (HeaderUtil.isCtl(c & 0xff) && !(c == '\r' && i == lf - 1)) {
        fail(in, out);
        return false;
      }
    }
    in.readerIndex(lf + 1);
    if (size == 0) {
      state = State.TRAILERS;
    } else {
      state = State.CHUNK_DATA;
      remaining = size;
    }
    return true;
  }

  private boolean readTrailers(ByteBuf in, List<Object> out) {
    int start = in.readerIndex();
    int end = findSectionEnd(in);
    if (end < 0) {
      if (in.readableBytes() > maxHeaderSize) {
        scanned = -1;
        fail(in, out);
      }
      return false;
    }
    if (end - start > maxHeaderSize) {
      fail(in, out);
      return false;
    }
    Http2Headers trailers = null;
    if (end - start > 2) {
      byte[] bytes = new byte[end - start];
      in.readBytes(bytes);
      trailers = new DefaultHttp2Headers(false, 4);
      if (!parseFields(bytes, 0, trailers, null)) {
        fail(in, out);
        return false;
      }
      if (trailers.isEmpty()) {
        trailers = null;
      }
    } else {
      in.readerIndex(end);
    }
    state = State.HEAD;
    out.add(new Last(Unpooled.EMPTY_BUFFER, trailers));
    return true;
  }
}
