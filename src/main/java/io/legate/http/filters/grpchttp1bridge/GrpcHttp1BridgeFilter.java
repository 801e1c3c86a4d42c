package io.legate.http.filters.grpchttp1bridge;

import io.legate.http.HttpHeaderNames;
import io.legate.http.LocalReplies;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.EncoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;

/**
 * Envoy's gRPC HTTP/1.1 bridge on one stream. Bridges gRPC requests from HTTP/1.x clients: holds
 * the response headers and body until the end, then sends them with the trailers' {@code
 * grpc-status} and {@code grpc-message} as headers, status 503 for a status other than 0, and a
 * content-length. Responses to HTTP/2 clients pass untouched.
 */
final class GrpcHttp1BridgeFilter implements HttpFilter {
  static final AsciiString PROTOBUF = AsciiString.cached("application/x-protobuf");
  static final AsciiString GRPC = AsciiString.cached("application/grpc");
  static final AsciiString TRAILERS = AsciiString.cached("trailers");
  static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
  static final AsciiString GRPC_MESSAGE = AsciiString.cached("grpc-message");
  static final AsciiString UNAVAILABLE = AsciiString.cached("503");
  static final int FRAME_HEADER = 5;

  private final boolean upgradeProtobuf;
  private final boolean ignoreQuery;
  private DecoderCallbacks decoder;
  private EncoderCallbacks encoder;
  private boolean bridging;
  private boolean framing;
  private CompositeByteBuf requestBody;
  private Http2Headers responseHeaders;
  private CompositeByteBuf responseBody;

  GrpcHttp1BridgeFilter(boolean upgradeProtobuf, boolean ignoreQuery) {
    this.upgradeProtobuf = upgradeProtobuf;
    this.ignoreQuery = ignoreQuery;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public void setEncoderCallbacks(EncoderCallbacks callbacks) {
    this.encoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    CharSequence ct = headers.get(HttpHeaderNames.CONTENT_TYPE);
    if (upgradeProtobuf && ct != null && PROTOBUF.contentEquals(ct)) {
      framing = true;
      headers.set(HttpHeaderNames.CONTENT_TYPE, GRPC);
      headers.set(HttpHeaderNames.TE, TRAILERS);
      // The message's length goes in the gRPC frame header.
      headers.remove(HttpHeaderNames.CONTENT_LENGTH);
      decoder.clearRouteCache();
    }
    bridging = LocalReplies.isGrpc(headers) && decoder.streamInfo().protocol().startsWith("HTTP/1");
    if (bridging && ignoreQuery) {
      CharSequence path = headers.path();
      int q = path == null ? -1 : AsciiString.indexOf(path, '?', 0);
      if (q >= 0) {
        headers.path(path.subSequence(0, q));
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public Status decodeData(ByteBuf data, boolean endStream) {
    if (!bridging || !framing) {
      return Status.CONTINUE;
    }
    if (requestBody == null) {
      requestBody = data.alloc().compositeBuffer();
    }
    if (data.isReadable()) {
      requestBody.addComponent(true, data.retainedSlice());
    }
    if (requestBody.readableBytes() > decoder.bufferLimit()) {
      decoder.sendLocalReply(413, "Payload Too Large", null, "request_payload_too_large");
      return Status.STOP_ITERATION_NO_BUFFER;
    }
    if (!endStream) {
      return Status.STOP_ITERATION_NO_BUFFER;
    }
    CompositeByteBuf body = requestBody;
    requestBody = null;
    ByteBuf header = data.alloc().buffer(FRAME_HEADER).writeByte(0).writeInt(body.readableBytes());
    body.addComponent(true, 0, header);
    decoder.injectDecodedData(body, true);
    return Status.STOP_ITERATION_NO_BUFFER;
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (!bridging) {
      return Status.CONTINUE;
    }
    if (endStream) {
      // A trailers-only response: its status is in the headers already.
      CharSequence status = headers.get(GRPC_STATUS);
      if (status != null && !isOk(status)) {
        headers.status(UNAVAILABLE);
      }
      headers.setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
      return Status.CONTINUE;
    }
    responseHeaders = headers;
    return Status.STOP_ITERATION_NO_BUFFER;
  }

  @Override
  public Status encodeData(ByteBuf data, boolean endStream) {
    if (responseHeaders == null) {
      return Status.CONTINUE;
    }
    if (responseBody == null) {
      responseBody = data.alloc().compositeBuffer();
    }
    if (data.isReadable()) {
      responseBody.addComponent(true, data.retainedSlice());
    }
    if (responseBody.readableBytes() > decoder.bufferLimit()) {
      decoder.resetStream();
      return Status.STOP_ITERATION_NO_BUFFER;
    }
    if (endStream) {
      release(null);
    }
    return Status.STOP_ITERATION_NO_BUFFER;
  }

  @Override
  public Status encodeTrailers(Http2Headers trailers) {
    if (responseHeaders == null) {
      return Status.CONTINUE;
    }
    release(trailers);
    return Status.STOP_ITERATION_NO_BUFFER;
  }

  /** Sends the held response with the trailers' gRPC status as headers (trailers may be null). */
  private void release(Http2Headers trailers) {
    Http2Headers h = responseHeaders;
    responseHeaders = null;
    ByteBuf body = responseBody;
    responseBody = null;
    if (framing && body != null) {
      body.skipBytes(Math.min(FRAME_HEADER, body.readableBytes()));
    }
    if (trailers != null) {
      CharSequence status = trailers.get(GRPC_STATUS);
      if (status != null) {
        if (!isOk(status)) {
          h.status(UNAVAILABLE);
        }
        h.set(GRPC_STATUS, status);
      }
      CharSequence message = trailers.get(GRPC_MESSAGE);
      if (message != null) {
        h.set(GRPC_MESSAGE, message);
      }
    }
    int length = body == null ? 0 : body.readableBytes();
    h.setInt(HttpHeaderNames.CONTENT_LENGTH, length);
    if (length == 0) {
      if (body != null) {
        body.release();
      }
      encoder.injectEncodedHeaders(h, true);
      return;
    }
    encoder.injectEncodedHeaders(h, false);
    encoder.injectEncodedData(body, true);
  }

  private static boolean isOk(CharSequence grpcStatus) {
    return grpcStatus.length() == 1 && grpcStatus.charAt(0) == '0';
  }

  @Override
  public void onDestroy() {
    if (requestBody != null) {
      requestBody.release();
      requestBody = null;
    }
    if (responseBody != null) {
      responseBody.release();
      responseBody = null;
    }
  }
}
