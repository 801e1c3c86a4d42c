package io.legate.http.filters.grpcweb;

import io.legate.grpc.GrpcCallStats;
import io.legate.http.HttpHeaderNames;
import io.legate.http.LocalReplies;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.EncoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Envoy's gRPC-Web filter on one stream. A request whose content-type is one of the gRPC-Web types
 * is turned into gRPC ({@code application/grpc}, {@code te: trailers}, base64 text decoded); its
 * response gets a gRPC-Web content-type, its trailers become a final frame flagged 0x80, and for
 * text clients (accept: application/grpc-web-text) each frame is base64-encoded. A response that
 * is not gRPC (an error page, a local reply) becomes grpc-status and grpc-message headers.
 */
final class GrpcWebFilter implements HttpFilter {
  static final AsciiString GRPC_WEB = AsciiString.cached("application/grpc-web");
  static final AsciiString GRPC_WEB_PROTO = AsciiString.cached("application/grpc-web+proto");
  static final AsciiString GRPC_WEB_TEXT = AsciiString.cached("application/grpc-web-text");
  static final AsciiString GRPC_WEB_TEXT_PROTO = AsciiString.cached("application/grpc-web-text+proto");
  static final AsciiString GRPC = AsciiString.cached("application/grpc");
  static final AsciiString ACCEPT = AsciiString.cached("accept");
  static final AsciiString TRAILERS = AsciiString.cached("trailers");
  static final AsciiString GRPC_ACCEPT_ENCODING = AsciiString.cached("grpc-accept-encoding");
  static final AsciiString GRPC_ACCEPT_ENCODING_DEFAULT = AsciiString.cached("identity,deflate,gzip");
  static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
  static final AsciiString GRPC_MESSAGE = AsciiString.cached("grpc-message");
  static final AsciiString ZERO = AsciiString.cached("0");
  static final String BAD_BASE64 = "Bad gRPC-web request, invalid base64 data.";
  static final int TRAILER_FLAG = 0x80;
  /** The most of a non-gRPC response body kept for its grpc-message (Envoy's limit). */
  static final int MAX_BUFFERED_PLAINTEXT = 16384;

  private final GrpcCallStats stats;
  private DecoderCallbacks decoder;
  private EncoderCallbacks encoder;
  private boolean grpcWeb;
  private boolean textRequest;
  private boolean textResponse;
  private String[] serviceAndMethod;
  /** Base64 characters of the request not yet decoded (fewer than 4). */
  private final byte[] pendingText = new byte[4];
  private int pendingTextLength;
  /** Response bytes of an incomplete gRPC frame (text responses). */
  private ByteBuf pendingFrame;
  /** Response headers held until a non-gRPC response body has been read. */
  private Http2Headers heldHeaders;
  private ByteArrayOutputStream heldBody;
  private ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;

  GrpcWebFilter(GrpcCallStats stats) {
    this.stats = stats;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public void setEncoderCallbacks(EncoderCallbacks callbacks) {
    this.encoder = callbacks;
  }

  static boolean isGrpcWebContentType(CharSequence ct) {
    return ct != null
        && (GRPC_WEB.contentEquals(ct) || GRPC_WEB_PROTO.contentEquals(ct)
            || GRPC_WEB_TEXT.contentEquals(ct) || GRPC_WEB_TEXT_PROTO.contentEquals(ct));
  }

  private static boolean isText(CharSequence ct) {
    return ct != null && (GRPC_WEB_TEXT.contentEquals(ct) || GRPC_WEB_TEXT_PROTO.contentEquals(ct));
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    CharSequence ct = headers.get(HttpHeaderNames.CONTENT_TYPE);
    if (headers.path() == null || !isGrpcWebContentType(ct)) {
      return Status.CONTINUE;
    }
    grpcWeb = true;
    // Its length counted the HTTP/1.1 (maybe base64) body, not what goes upstream.
    headers.remove(HttpHeaderNames.CONTENT_LENGTH);
    serviceAndMethod = GrpcCallStats.serviceAndMethod(headers.path());
    textRequest = isText(ct);
    headers.set(HttpHeaderNames.CONTENT_TYPE, GRPC);
    textResponse = isText(headers.get(ACCEPT));
    headers.set(HttpHeaderNames.TE, TRAILERS);
    if (!headers.contains(GRPC_ACCEPT_ENCODING)) {
      headers.set(GRPC_ACCEPT_ENCODING, GRPC_ACCEPT_ENCODING_DEFAULT);
    }
    return Status.CONTINUE;
  }

  @Override
  public Status decodeData(ByteBuf data, boolean endStream) {
    if (!grpcWeb || !textRequest) {
      return Status.CONTINUE;
    }
    int available = data.readableBytes() + pendingTextLength;
    if (endStream) {
      if (available == 0) {
        return Status.CONTINUE;
      }
      if (available % 4 != 0) {
        decoder.sendLocalReply(400, BAD_BASE64, null, "grpc_base_64_decode_failed_bad_size");
        return Status.STOP_ITERATION_NO_BUFFER;
      }
    } else if (available < 4) {
      data.readBytes(pendingText, pendingTextLength, data.readableBytes());
      pendingTextLength = available;
      return Status.STOP_ITERATION_NO_BUFFER;
    }
    int whole = available / 4 * 4;
    ByteBuf text = data.alloc().buffer(whole);
    ByteBuf decoded = data.alloc().buffer(whole / 4 * 3);
    boolean ok;
    try {
      text.writeBytes(pendingText, 0, pendingTextLength);
      text.writeBytes(data, whole - pendingTextLength);
      pendingTextLength = data.readableBytes();
      data.readBytes(pendingText, 0, pendingTextLength);
      ok = Base64Text.decode(text, decoded);
    } finally {
      text.release();
    }
    if (!ok) {
      decoded.release();
      decoder.sendLocalReply(400, BAD_BASE64, null, "grpc_base_64_decode_failed");
      return Status.STOP_ITERATION_NO_BUFFER;
    }
    decoder.injectDecodedData(decoded, endStream);
    return Status.STOP_ITERATION_NO_BUFFER;
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (!grpcWeb) {
      return Status.CONTINUE;
    }
    CharSequence grpcStatus = headers.get(GRPC_STATUS);
    if (grpcStatus != null) {
      charge(grpcStatus);
    }
    boolean grpcResponse =
        endStream ? grpcStatus != null : isOk(headers) && LocalReplies.isGrpc(headers);
    boolean transform = !grpcResponse && !(isOk(headers) && isProtoGrpcWeb(headers.get(HttpHeaderNames.CONTENT_TYPE)));
    headers.remove(HttpHeaderNames.CONTENT_LENGTH);
    headers.set(HttpHeaderNames.CONTENT_TYPE, textResponse ? GRPC_WEB_TEXT_PROTO : GRPC_WEB_PROTO);
    if (endStream || !transform) {
      return Status.CONTINUE;
    }
    heldHeaders = headers;
    heldBody = new ByteArrayOutputStream();
    return Status.STOP_ITERATION_NO_BUFFER;
  }

  private static boolean isOk(Http2Headers headers) {
    CharSequence s = headers.status();
    return s != null && AsciiString.contentEquals(s, "200");
  }

  private static boolean isProtoGrpcWeb(CharSequence ct) {
    if (ct == null) {
      return false;
    }
    String s = ct.toString();
    int semi = s.indexOf(';');
    s = (semi < 0 ? s : s.substring(0, semi)).stripTrailing();
    return s.equalsIgnoreCase(GRPC_WEB_PROTO.toString()) || s.equalsIgnoreCase(GRPC_WEB.toString());
  }

  @Override
  public Status encodeData(ByteBuf data, boolean endStream) {
    if (!grpcWeb) {
      return Status.CONTINUE;
    }
    alloc = data.alloc();
    if (heldHeaders != null) {
      int keep = Math.min(data.readableBytes(), MAX_BUFFERED_PLAINTEXT - heldBody.size());
      if (keep > 0) {
        byte[] b = new byte[keep];
        data.getBytes(data.readerIndex(), b);
        heldBody.writeBytes(b);
      }
      if (endStream) {
        releaseHeld();
      }
      return Status.STOP_ITERATION_NO_BUFFER;
    }
    if (!textResponse) {
      return Status.CONTINUE;
    }
    ByteBuf src = data;
    if (pendingFrame != null && pendingFrame.isReadable()) {
      pendingFrame.writeBytes(data, data.readerIndex(), data.readableBytes());
      src = pendingFrame;
    }
    ByteBuf out = alloc.buffer(Base64Text.encodedLength(src.readableBytes()));
    int i = src.readerIndex();
    int end = src.writerIndex();
    while (end - i >= 5) {
      long length = src.getUnsignedInt(i + 1);
      if (end - i - 5 < length) {
        break;
      }
      Base64Text.encode(src, i, 5 + (int) length, out);
      i += 5 + (int) length;
    }
    if (src == pendingFrame) {
      pendingFrame.readerIndex(i);
      pendingFrame.discardReadBytes();
    } else if (i < end) {
      if (pendingFrame == null) {
        pendingFrame = alloc.buffer(end - i);
      }
      pendingFrame.writeBytes(data, i, end - i);
    }
    if (!out.isReadable() && !endStream) {
      out.release();
    } else {
      encoder.injectEncodedData(out, endStream);
    }
    return Status.STOP_ITERATION_NO_BUFFER;
  }

  @Override
  public Status encodeTrailers(Http2Headers trailers) {
    if (!grpcWeb) {
      return Status.CONTINUE;
    }
    CharSequence grpcStatus = trailers.get(GRPC_STATUS);
    if (grpcStatus != null) {
      charge(grpcStatus);
    }
    if (heldHeaders != null) {
      releaseHeld();
      return Status.STOP_ITERATION_NO_BUFFER;
    }
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<CharSequence, CharSequence> e : trailers) {
      sb.append(e.getKey()).append(':').append(e.getValue()).append("\r\n");
    }
    byte[] block = sb.toString().getBytes(StandardCharsets.UTF_8);
    ByteBuf frame = alloc.buffer(5 + block.length);
    frame.writeByte(TRAILER_FLAG).writeInt(block.length).writeBytes(block);
    if (textResponse) {
      ByteBuf text = alloc.buffer(Base64Text.encodedLength(frame.readableBytes()));
      Base64Text.encode(frame, frame.readerIndex(), frame.readableBytes(), text);
      frame.release();
      frame = text;
    }
    encoder.injectEncodedData(frame, true);
    return Status.STOP_ITERATION_NO_BUFFER;
  }

  /** Sends the held headers of a non-gRPC response with its body as grpc-message, ending it. */
  private void releaseHeld() {
    Http2Headers h = heldHeaders;
    heldHeaders = null;
    int status = AsciiString.of(h.status()).parseInt();
    h.set(GRPC_MESSAGE, LocalReplies.percentEncode(heldBody.toString(StandardCharsets.UTF_8)));
    h.setInt(GRPC_STATUS, LocalReplies.grpcStatusFor(status));
    h.set(HttpHeaderNames.CONTENT_LENGTH, ZERO);
    heldBody = null;
    encoder.injectEncodedHeaders(h, true);
  }

  private void charge(CharSequence grpcStatus) {
    String[] sm = serviceAndMethod;
    String cluster = encoder.streamInfo().upstreamCluster();
    if (sm == null || cluster == null || cluster.isEmpty()) {
      return;
    }
    stats.counters(cluster, sm[0], sm[1]).charge(grpcStatus);
  }

  @Override
  public void onDestroy() {
    if (pendingFrame != null) {
      pendingFrame.release();
      pendingFrame = null;
    }
  }
}
